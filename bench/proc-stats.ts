// What the benches read of a process from /proc (Linux): its CPU time and resident memory.
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds of a process (every thread) or of one thread: utime and stime from a /proc stat file. */
export function cpuOf(statPath: string): { user: number; system: number } {
  const stat = readFileSync(statPath, 'utf8');
  // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 per second).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
}

/** Resident memory of a process in MB, NaN once it has gone. */
export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds of a process's threads, summed by thread name (chDB names its pools: MergeMutate, QueryPipeline...),
 * so a slow stretch can be matched with the work that took the cores. Threads that ended in between are missed.
 */
export function threadCpuByName(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      // The main thread (the event loop) apart from V8's and libuv's helpers, which share its name.
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const c = cpuOf(`/proc/${pid}/task/${tid}/stat`);
      out.set(name, (out.get(name) ?? 0) + c.user + c.system);
    } catch {
      // the thread ended while being read
    }
  }
  return out;
}

/** The busiest thread names between two samples, as "name 0.42" (cores over `seconds`), at most `top` of them. */
export function busiestThreads(before: Map<string, number>, after: Map<string, number>, seconds: number, top: number): string {
  return [...after]
    .map(([name, s]) => [name, (s - (before.get(name) ?? 0)) / seconds] as const)
    .filter(([, cores]) => cores >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, cores]) => `${name} ${cores.toFixed(2)}`)
    .join(', ');
}
