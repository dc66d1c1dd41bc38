// Waiting in tests on a condition rather than on time: read something until it is what the test waits for. The
// deadline only bounds a hang (a loaded machine is slow, not wrong), so it is generous and never a figure a test
// asserts; a test that promises a latency measures it and asserts it on its own.

export interface UntilOptions {
  /** Bounds a hang, not a promise of the code under test (default 30 s). */
  timeoutMs?: number;
  /** Pause between two reads (default 50 ms). */
  everyMs?: number;
  /** More to say when the wait fails (a state dump), read only then. */
  detail?: () => unknown;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

const DEFAULT_TIMEOUT_MS = 30_000;

/** Reads until the value is truthy, and returns it. */
export function until<T>(what: string, read: () => T | Promise<T>, o?: UntilOptions): Promise<Truthy<T>>;
/** Reads until `ok` accepts the value, and returns it. */
export function until<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, o?: UntilOptions): Promise<T>;
export async function until<T>(what: string, read: () => T | Promise<T>, okOrOptions?: ((v: T) => boolean) | UntilOptions, options?: UntilOptions): Promise<T> {
  const ok = typeof okOrOptions === 'function' ? okOrOptions : (v: T) => Boolean(v);
  const o = (typeof okOrOptions === 'function' ? options : okOrOptions) ?? {};
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) {
      const extra = o.detail === undefined ? '' : `; ${show(await o.detail())}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last read ${show(v)}${extra}`);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 50));
  }
}

/**
 * A condition for `until`: the value read has stopped changing, i.e. it stayed the same over `ms` of reads. For
 * work that stops by itself (a producer held back by backpressure), where the test waits for the standstill
 * before checking that it lasts, instead of guessing how long reaching it takes.
 */
export function unchangedFor<T>(ms: number): (v: T) => boolean {
  let last: { v: T; since: number } | null = null;
  return (v) => {
    const now = Date.now();
    if (last === null || !Object.is(last.v, v)) {
      last = { v, since: now };
      return false;
    }
    return now - last.since >= ms;
  };
}

function show(v: unknown): string {
  try {
    return (JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v)).slice(0, 600);
  } catch {
    return String(v);
  }
}
