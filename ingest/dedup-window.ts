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
   * Orders per second to size the slices for. Every slice the window can hold at once is allocated and written
   * at start: the window's memory is then resident from the first second and stays flat all night (a slice
   * that expires is cleared and reused), and the midnight ramp never waits on a table doubling. A rate above
   * this still works: a slice that fills grows, and the bigger table is what gets reused.
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
  /** Cleared tables of expired slices, for the next ones: at most as many as the window holds at once. */
  private spare: FingerprintSet[] = [];
  private readonly maxSpare: number;
  /** Entries dropped before their time because of the memory ceiling. */
  evictedEarly = 0;
  /** End of the newest slice dropped early: ids first seen before it may be forgotten. */
  private evictedThroughMs = Number.NEGATIVE_INFINITY;

  constructor(opts: DedupWindowOptions) {
    this.windowMs = opts.windowMs;
    this.sliceMs = Math.max(1, Math.ceil(opts.windowMs / (opts.slices ?? 10)));
    this.maxEntries = opts.maxEntries;
    this.firstSliceEntries = Math.min(opts.maxEntries, Math.ceil(((opts.expectedPerSecond ?? 0) * this.sliceMs) / 1000));
    // Slices alive at once: those within the window, the one it reaches into, and the one being filled.
    this.maxSpare = Math.ceil(this.windowMs / this.sliceMs) + 2;
    if (this.firstSliceEntries > 0) {
      for (let i = 0; i < this.maxSpare; i++) {
        const set = new FingerprintSet(this.firstSliceEntries);
        set.clear(); // writes every page now, so the memory is resident from the start
        this.spare.push(set);
      }
    }
  }

  /** Bytes held by cleared tables waiting for their next slice (part of the window's reserved memory). */
  get spareBytes(): number {
    let n = 0;
    for (const s of this.spare) n += s.bytes;
    return n;
  }

  private retire(set: FingerprintSet): void {
    if (this.spare.length >= this.maxSpare) return;
    set.clear();
    this.spare.push(set);
  }

  get size(): number {
    let n = 0;
    for (const g of this.gens) n += g.set.size;
    return n;
  }

  /** Memory held: the slices' tables and the cleared ones waiting for reuse. */
  get bytes(): number {
    let n = this.spareBytes;
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
      this.retire(dropped.set);
      this.evictedThroughMs = dropped.startMs + this.sliceMs;
    }
  }

  /** Drops slices whose every entry is older than the window. */
  expire(nowMs: number): void {
    while (this.gens.length > 0 && this.gens[0]!.startMs + this.sliceMs + this.windowMs <= nowMs) this.retire(this.gens.shift()!.set);
  }

  private current(atMs: number): Generation {
    const last = this.gens[this.gens.length - 1];
    if (last !== undefined && atMs < last.startMs + this.sliceMs) return last;
    if (last !== undefined && atMs < last.startMs) return last; // clock stepped back: keep filling the newest slice
    this.expire(atMs);
    // Size the new slice like the last one so a steady load does not rehash mid-slice.
    const start = Math.floor(atMs / this.sliceMs) * this.sliceMs;
    // A spare table as large as the last slice needed is reused; otherwise a new one is sized like that slice.
    const need = last?.set.size ?? this.firstSliceEntries;
    const at = this.spare.findIndex((x) => x.fits(need));
    const set = at >= 0 ? this.spare.splice(at, 1)[0]! : new FingerprintSet(need);
    const g: Generation = { startMs: start, set };
    this.gens.push(g);
    return g;
  }
}
