// The counter's motion: between live updates the shown value glides towards the latest known total so it moves
// every frame at the live rate, never passes the total it knows, never goes backwards, and catches up after a gap
// with an ease-out rather than a jump.

export interface CounterModelOptions {
  /** How long the glide to a new total lasts at most in steady state (ms); about the update interval. */
  glideMs?: number;
  /** A jump larger than this many seconds of the live rate is a catch-up: eased over catchUpMs. */
  catchUpAfterSeconds?: number;
  catchUpMs?: number;
  /** With the connection lost, go on at the last live rate for at most this long (ms); 0 holds the value. */
  extrapolateMs?: number;
}

export class CounterModel {
  private from = 0;
  private to = 0;
  private t0 = 0;
  private duration = 1;
  private ease = false;
  private lastTargetAt: number | null = null;
  /** Exact latest total, hundredths. */
  private target = 0n;
  private ratePerMs = 0;
  private shown = 0;
  /** The last figure shownHundredths returned. */
  private shownExact = 0n;
  private extrapolating = false;
  private holdSince = 0;
  private readonly o: Required<CounterModelOptions>;

  constructor(opts: CounterModelOptions = {}) {
    this.o = { glideMs: 1000, catchUpAfterSeconds: 3, catchUpMs: 1500, extrapolateMs: 0, ...opts };
  }

  /** Jumps straight to a value (the first snapshot: show the current figure at once, never a zero). */
  reset(total: bigint, now: number): void {
    if (total < this.target) return;
    this.target = total;
    this.from = this.to = this.shown = Math.max(this.shown, Number(total));
    this.t0 = now;
    this.duration = 1;
    this.lastTargetAt = now;
  }

  /** A new live total (hundredths) and the live rate (hundredths per second). Older or smaller totals are ignored. */
  setTarget(total: bigint, ratePerSecond: bigint, now: number): void {
    this.ratePerMs = Number(ratePerSecond) / 1000;
    this.extrapolating = false;
    if (total <= this.target) return;
    const current = this.valueAt(now);
    const gap = Number(total) - current;
    const interval = this.lastTargetAt === null ? this.o.glideMs : now - this.lastTargetAt;
    this.lastTargetAt = now;
    this.target = total;
    this.from = current;
    this.to = Math.max(current, Number(total));
    this.t0 = now;
    const catchUp = this.ratePerMs > 0 ? gap > this.ratePerMs * 1000 * this.o.catchUpAfterSeconds : false;
    this.ease = catchUp;
    this.duration = catchUp ? this.o.catchUpMs : Math.min(this.o.glideMs, Math.max(100, interval));
  }

  /** The connection is lost: hold, or go on at the last rate for at most extrapolateMs. */
  disconnected(now: number): void {
    this.extrapolating = this.o.extrapolateMs > 0;
    this.holdSince = now;
  }

  /** Shown value at `now` (hundredths, possibly fractional), never below any value returned before. */
  valueAt(now: number): number {
    let v: number;
    const p = Math.min(1, Math.max(0, (now - this.t0) / this.duration));
    const k = this.ease ? 1 - (1 - p) ** 3 : p;
    v = this.from + (this.to - this.from) * k;
    if (this.extrapolating && p >= 1) v = this.to + this.ratePerMs * Math.min(this.o.extrapolateMs, Math.max(0, now - Math.max(this.holdSince, this.t0 + this.duration)));
    if (v < this.shown) v = this.shown;
    this.shown = v;
    return v;
  }

  /**
   * The exact total once the glide reached it; otherwise the shown value rounded down; never below a figure
   * returned before (after an extrapolation overshot the truth, the figure holds until the truth passes it).
   */
  shownHundredths(now: number): bigint {
    const v = this.valueAt(now);
    // Within a hundredth of the total counts as reached: a double cannot hold every total exactly.
    let h = v >= Number(this.target) && v - Number(this.target) < 1 ? this.target : BigInt(Math.floor(v));
    if (h < this.shownExact) h = this.shownExact;
    this.shownExact = h;
    return h;
  }

  get targetHundredths(): bigint {
    return this.target;
  }
}
