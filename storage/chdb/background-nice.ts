// The embedded engine's merges run on threads of this process. On two cores they compete for a core with the
// threads an ack waits for (the event loop, the running insert), and a merge of a few hundred MB holds one for
// seconds. Linux schedules threads one by one, so the merge threads can be given a lower priority (a higher nice
// value) than the rest of the process: they then take the cores the ack path leaves, as a separate clickhouse-server
// niced below Gala would. New merge threads appear as the engine's pools grow, so the threads are looked at again
// every `everyMs`. Linux only; elsewhere, or when /proc cannot be read, it does nothing and says so.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice levels the merge threads get below the rest of the process unless GALA_MERGE_NICE says otherwise. */
export const DEFAULT_MERGE_NICE = 10;

/** Thread names (as /proc shows them, at most 15 characters) of the engine's background merges. */
const BACKGROUND = /^MergeMutate/;

export interface BackgroundNice {
  /** Merge threads set to the lower priority so far. */
  readonly niced: number;
  /** Why nothing is done, or null while it works. */
  readonly off: string | null;
  stop(): void;
}

export function niceBackgroundThreads(nice: number, everyMs = 1000, taskDir = '/proc/self/task'): BackgroundNice {
  const seen = new Set<number>();
  let niced = 0;
  let off: string | null = null;
  const look = () => {
    let tids: number[];
    try {
      tids = readdirSync(taskDir).map(Number);
    } catch (e) {
      off = `${taskDir}: ${(e as Error).message}`;
      return;
    }
    const alive = new Set(tids);
    for (const tid of seen) if (!alive.has(tid)) seen.delete(tid);
    for (const tid of tids) {
      if (seen.has(tid)) continue;
      seen.add(tid);
      try {
        if (!BACKGROUND.test(readFileSync(`${taskDir}/${tid}/comm`, 'latin1'))) continue;
        // On Linux a thread id names that thread alone for setpriority(2).
        setPriority(tid, nice);
        niced++;
      } catch {
        // The thread ended between the listing and here, or the name is not readable: nothing to do.
      }
    }
  };
  if (nice === 0 || process.platform !== 'linux') off = nice === 0 ? 'nice 0: off' : `not Linux (${process.platform})`;
  else look();
  const timer = off === null ? setInterval(look, everyMs) : null;
  timer?.unref();
  return {
    get niced() {
      return niced;
    },
    get off() {
      return off;
    },
    stop() {
      if (timer !== null) clearInterval(timer);
    },
  };
}
