// Progress of long work (a start restoring the de-duplication window or repairing rollups, a long command): what it
// is doing, how far it has got, its rate and the time left, printed and logged at most about once a second, and
// readable at any moment (a starting node's /healthz).
import type { Log } from './log.ts';

export interface ProgressSnapshot {
  task: string;
  /** What is counted: "fingerprints", "rows compared". */
  unit: string;
  done: number;
  /** Null until a count has told the size of the work. */
  total: number | null;
  /** Units per second since the task began. */
  ratePerSecond: number;
  /** Seconds left at that rate; null while the total or the rate is unknown. */
  etaSeconds: number | null;
  elapsedSeconds: number;
  finished: boolean;
  /** Why it failed, when it did. */
  error?: string;
}

/** What the code doing the work sees: it says how much there is, once counted, and how much it has done. */
export interface Progress {
  setTotal(total: number): void;
  advance(by: number): void;
}

export interface ProgressTask extends Progress {
  /** Ends the task with a last report, saying it failed when given the error; its final figures. */
  finish(error?: unknown): ProgressSnapshot;
}

export interface ProgressReporter {
  start(task: string, unit: string, total?: number | null): ProgressTask;
  /** Runs `work` as a task: started, handed its progress, and finished, or marked failed, whatever happens. */
  run<T>(task: string, unit: string, work: (progress: Progress) => Promise<T>, total?: number | null): Promise<T>;
  /** The task under way (the latest started and not finished), or null. */
  current(): ProgressSnapshot | null;
}

export interface ProgressOptions {
  /** Lines for the operator's console. */
  print?: (line: string) => void;
  /** The same figures as `progress` events. */
  log?: Log;
  /** Least time between two reports of a task (default 1000 ms); its start and finish are always reported. */
  everyMs?: number;
  now?: () => number;
}

interface Task {
  task: string;
  unit: string;
  total: number | null;
  done: number;
  startedAt: number;
  reportedAt: number;
  /** When it finished; null while it runs. */
  endedAt: number | null;
  error?: string;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
/** A duration for a person: "0.4 s", "42 s", "3 h 5 min". */
export function formatDuration(s: number): string {
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  const min = Math.round(s / 60);
  return min < 120 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** "restore.dedup_window: 620,000 / 1,200,000 fingerprints (52%), 410,000/s, 1.4 s left, 1.5 s elapsed" */
export function progressLine(s: ProgressSnapshot): string {
  const of = s.total === null ? '' : ` / ${count(s.total)}`;
  const pct = s.total === null || s.total === 0 ? '' : ` (${Math.min(100, Math.floor((100 * s.done) / s.total))}%)`;
  const left = s.etaSeconds === null ? 'time left unknown' : `${formatDuration(s.etaSeconds)} left`;
  return `${s.task}: ${count(s.done)}${of} ${s.unit}${pct}, ${count(s.ratePerSecond)}/s, ${left}, ${formatDuration(s.elapsedSeconds)} elapsed${s.error !== undefined ? `, failed: ${s.error}` : s.finished ? ', done' : ''}`;
}

export function createProgress(opts: ProgressOptions = {}): ProgressReporter {
  const everyMs = opts.everyMs ?? 1000;
  const now = opts.now ?? (() => performance.now());
  const active: Task[] = [];

  const snapshot = (t: Task): ProgressSnapshot => {
    const elapsedSeconds = Math.max(0, (t.endedAt ?? now()) - t.startedAt) / 1000;
    const ratePerSecond = elapsedSeconds > 0 ? t.done / elapsedSeconds : 0;
    const left = t.total === null ? null : Math.max(0, t.total - t.done);
    const finished = t.endedAt !== null;
    const etaSeconds = finished ? 0 : left === null ? null : left === 0 ? 0 : ratePerSecond > 0 ? left / ratePerSecond : null;
    // Rounded: the figures go to logs and /healthz, where float noise only gets in the way.
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    return {
      task: t.task,
      unit: t.unit,
      done: t.done,
      total: t.total,
      ratePerSecond: Math.round(ratePerSecond),
      etaSeconds: etaSeconds === null ? null : ms(etaSeconds),
      elapsedSeconds: ms(elapsedSeconds),
      finished,
      ...(t.error === undefined ? {} : { error: t.error }),
    };
  };
  const report = (t: Task) => {
    t.reportedAt = now();
    const s = snapshot(t);
    opts.print?.(progressLine(s));
    opts.log?.('progress', { ...s });
  };
  const reportIfDue = (t: Task) => {
    if (t.endedAt === null && now() - t.reportedAt >= everyMs) report(t);
  };

  const reporter: ProgressReporter = {
    start(task, unit, total = null) {
      const t: Task = { task, unit, total, done: 0, startedAt: now(), reportedAt: 0, endedAt: null };
      active.push(t);
      report(t);
      // A long query advances nothing for a while: the timer still says the work goes on, and for how long.
      const timer = setInterval(() => reportIfDue(t), Math.max(10, everyMs / 4));
      timer.unref();
      return {
        setTotal(n) {
          t.total = n;
        },
        advance(by) {
          t.done += by;
          reportIfDue(t);
        },
        finish(error) {
          clearInterval(timer);
          if (t.endedAt === null) {
            t.endedAt = now();
            if (error !== undefined) t.error = String(error);
            active.splice(active.indexOf(t), 1);
            report(t);
          }
          return snapshot(t);
        },
      };
    },
    async run(task, unit, work, total = null) {
      const t = reporter.start(task, unit, total);
      try {
        const result = await work(t);
        t.finish();
        return result;
      } catch (e) {
        t.finish(e);
        throw e;
      }
    },
    current() {
      const t = active.at(-1);
      return t === undefined ? null : snapshot(t);
    },
  };
  return reporter;
}
