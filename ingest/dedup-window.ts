// The de-duplication window: fingerprints of committed orders kept for at least `windowMs` after first arrival,
// in time-sliced generations so expiry is dropping whole tables, never scanning.
import { FingerprintSet } from './fingerprint-set.ts';

export interface DedupWindowOptions {
  /** How long an id is remembered after its first arrival (contract: at least 10 minutes). */
  windowMs: number;
  /** Time slices the window is cut into; more slices expire closer to the window, at more lookups. */
  slices?: number;
  /** Memory ceiling in entries; past it the oldest slice is dropped early and the effective window shrinks. */
  maxEntries: number;
  /**
   * Orders per second to size the first slice for. Later slices are sized like the one before; sizing the first
   * up front spares the midnight ramp the pauses of growing a table by doubling.
   */
  expectedPerSecond?: number;
}

interface Generation {
  startMs: number;
  set: FingerprintSet;
}

export class DedupWindow {
  readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly maxEntries: number;
  private readonly firstSliceEntries: number;
  private gens: Generation[] = [];
  /** Entries dropped before their time because of the memory ceiling. */
  evictedEarly = 0;
  /** End of the newest slice dropped early: ids first seen before it may be forgotten. */
  private evictedThroughMs = Number.NEGATIVE_INFINITY;

  constructor(opts: DedupWindowOptions) {
    this.windowMs = opts.windowMs;
    this.sliceMs = Math.max(1, Math.ceil(opts.windowMs / (opts.slices ?? 10)));
    this.maxEntries = opts.maxEntries;
    this.firstSliceEntries = Math.min(opts.maxEntries, Math.ceil(((opts.expectedPerSecond ?? 0) * this.sliceMs) / 1000));
  }

  get size(): number {
    let n = 0;
    for (const g of this.gens) n += g.set.size;
    return n;
  }

  get bytes(): number {
    let n = 0;
    for (const g of this.gens) n += g.set.bytes;
    return n;
  }

  /** How far back the window is sure to reach now: windowMs, unless the memory ceiling dropped a slice early. */
  coverageMs(nowMs: number): number {
    return Math.max(0, Math.min(this.windowMs, nowMs - this.evictedThroughMs));
  }

  has(hi: number, lo: number): boolean {
    // Newest first: resends are usually recent.
    for (let i = this.gens.length - 1; i >= 0; i--) if (this.gens[i]!.set.has(hi, lo)) return true;
    return false;
  }

  /** Forgets a fingerprint (its order was never stored after all); false if it was not held. */
  remove(hi: number, lo: number): boolean {
    for (let i = this.gens.length - 1; i >= 0; i--) if (this.gens[i]!.set.remove(hi, lo)) return true;
    return false;
  }

  /** Records a fingerprint first seen at atMs. */
  add(hi: number, lo: number, atMs: number): void {
    this.current(atMs).set.add(hi, lo);
    if (this.size > this.maxEntries && this.gens.length > 1) {
      const dropped = this.gens.shift()!;
      this.evictedEarly += dropped.set.size;
      this.evictedThroughMs = dropped.startMs + this.sliceMs;
    }
  }

  /** Drops slices whose every entry is older than the window. */
  expire(nowMs: number): void {
    while (this.gens.length > 0 && this.gens[0]!.startMs + this.sliceMs + this.windowMs <= nowMs) this.gens.shift();
  }

  private current(atMs: number): Generation {
    const last = this.gens[this.gens.length - 1];
    if (last !== undefined && atMs < last.startMs + this.sliceMs) return last;
    if (last !== undefined && atMs < last.startMs) return last; // clock stepped back: keep filling the newest slice
    this.expire(atMs);
    // Size the new slice like the last one so a steady load does not rehash mid-slice.
    const start = Math.floor(atMs / this.sliceMs) * this.sliceMs;
    const g: Generation = { startMs: start, set: new FingerprintSet(last?.set.size ?? this.firstSliceEntries) };
    this.gens.push(g);
    return g;
  }
}
