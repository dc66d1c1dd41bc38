// What the benches read of a process from /proc (Linux): its CPU time and resident memory.
import { readFileSync } from 'node:fs';

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
