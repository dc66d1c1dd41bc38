// The de-duplication window: fingerprints of committed orders kept for at least `windowMs` after first arrival.
//
// One open-addressing table (linear probing) holds every fingerprint with the time slice it arrived in, so a
// lookup is one probe sequence, usually one cache miss, however long the window. (The first design kept a table
// per slice and asked each in turn: at 100,000 orders/s a new id was looked up in 12 tables of 6 million entries
// by the tenth minute, and the window took 0.4 of a core, up from 0.03 in the first minute.)
//
// A slot holds the 64-bit fingerprint and the low 8 bits of its slice number. Expired entries stay in place until
// a sweep, a few slots per add, deletes them (backward-shift deletion keeps probe chains whole); an entry whose
// slice is older than the window reads as absent meanwhile. A sweep passes over the whole table at least every
// PASS_DEADLINE slices, so no entry lives to be 256 slices old and the 8-bit slice tags never alias.

export interface DedupWindowOptions {
  /** How long an id is remembered after its first arrival (contract: at least 10 minutes). */
  windowMs: number;
  /** Time slices the window is cut into (at most 100); more expire closer to the window. */
  slices?: number;
  /** Memory ceiling in entries; past it the oldest slice is dropped early and the effective window shrinks. */
  maxEntries: number;
  /**
   * Orders per second to size the table for. The table is allocated and written at start: its memory is then
   * resident from the first second and stays flat all night, and the midnight ramp never waits on a rebuild.
   * A rate above this still works: the table is rebuilt twice as large when it fills.
   */
  expectedPerSecond?: number;
}

const MIN_CAPACITY = 4096;
/** Load a table is sized for, and at which it is rebuilt larger once expired entries are swept out. */
const TARGET_LOAD = 0.7;
/** Occupied slots (live or expired) past which expired entries are swept at once. */
const MAX_LOAD = 0.85;
/** Slots the sweep looks at per add. */
const SWEEP_STEP = 32;
/** Slices within which a sweep must have passed over the whole table (see the tags above). */
const PASS_DEADLINE = 64;
const MAX_SLICES = 100;

export class DedupWindow {
  readonly windowMs: number;
  private readonly sliceMs: number;
  private readonly maxEntries: number;
  /** Fingerprints, interleaved hi and lo per slot; (0, 0) marks an empty slot (fingerprints never are). */
  private fps: Uint32Array;
  /** Slice number modulo 256 of each occupied slot. */
  private tags: Uint8Array;
  private cap: number;
  /** Occupied slots: live entries and expired ones not yet swept. */
  private used = 0;
  /** Newest slice seen (time never runs backwards here), its tag, and the oldest slice still held. */
  private newest = Number.NEGATIVE_INFINITY;
  private newestTag = 0;
  private floor = Number.NEGATIVE_INFINITY;
  /** Largest tag age that is live: newest - floor. */
  private liveAge = 0;
  /** Live entries per slice, for slices from floor to newest. */
  private counts = new Map<number, number>();
  private live = 0;
  private cursor = 0;
  /** Slice at which the sweep's current pass began, and the passes it finished. */
  private passStart = Number.NEGATIVE_INFINITY;
  private passes = 0;
  /** Entries dropped before their time because of the memory ceiling. */
  evictedEarly = 0;
  /** End of the newest slice dropped early: ids first seen before it may be forgotten. */
  private evictedThroughMs = Number.NEGATIVE_INFINITY;

  constructor(opts: DedupWindowOptions) {
    const slices = opts.slices ?? 10;
    if (!Number.isInteger(slices) || slices < 1 || slices > MAX_SLICES) throw new Error(`dedup window: slices must be an integer from 1 to ${MAX_SLICES}, got ${slices}`);
    this.windowMs = opts.windowMs;
    this.sliceMs = Math.max(1, Math.ceil(opts.windowMs / slices));
    this.maxEntries = opts.maxEntries;
    // Held at once: the window, the slice it reaches into, and the one being filled.
    const expected = Math.min(opts.maxEntries, Math.ceil(((opts.expectedPerSecond ?? 0) * (this.windowMs + 2 * this.sliceMs)) / 1000));
    this.cap = Math.max(MIN_CAPACITY, Math.ceil(expected / TARGET_LOAD));
    this.fps = new Uint32Array(this.cap * 2);
    this.tags = new Uint8Array(this.cap);
    if (expected > 0) {
      // Write every page now, so the memory is resident from the start.
      this.fps.fill(0);
      this.tags.fill(0);
    }
  }

  get size(): number {
    return this.live;
  }

  /** Memory held by the table. */
  get bytes(): number {
    return this.cap * 9;
  }

  get capacity(): number {
    return this.cap;
  }

  /** How far back the window is sure to reach now: windowMs, unless the memory ceiling dropped a slice early. */
  coverageMs(nowMs: number): number {
    return Math.max(0, Math.min(this.windowMs, nowMs - this.evictedThroughMs));
  }

  private home(hi: number, lo: number): number {
    // Multiply-shift onto [0, cap): the capacity need not be a power of two.
    return Math.floor((((hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0) * this.cap) / 4294967296);
  }

  private isLive(slot: number): boolean {
    return ((this.newestTag - this.tags[slot]!) & 255) <= this.liveAge;
  }

  /** Slot holding the fingerprint (live or expired), or -1. */
  private find(hi: number, lo: number): number {
    const fps = this.fps;
    const cap = this.cap;
    let i = this.home(hi, lo);
    for (;;) {
      const h = fps[2 * i]!;
      const l = fps[2 * i + 1]!;
      if (h === hi && l === lo) return h === 0 && l === 0 ? -1 : i;
      if (h === 0 && l === 0) return -1;
      i = i + 1 === cap ? 0 : i + 1;
    }
  }

  has(hi: number, lo: number): boolean {
    const i = this.find(hi, lo);
    return i >= 0 && this.isLive(i);
  }

  /** Forgets a fingerprint (its order was never stored after all); false if it was not held. */
  remove(hi: number, lo: number): boolean {
    const i = this.find(hi, lo);
    if (i < 0) return false;
    const wasLive = this.isLive(i);
    if (wasLive) this.uncount(this.sliceOf(i));
    this.deleteAt(i);
    return wasLive;
  }

  /** Records a fingerprint seen at atMs (an id already held moves to the newest slice, so it is kept longer). */
  add(hi: number, lo: number, atMs: number): void {
    this.addIfAbsent(hi, lo, atMs, true);
  }

  /**
   * Records the fingerprint unless it is held already: true when it was added (a new id), false when it was
   * there (a duplicate). One probe sequence, where has() then add() would walk it twice.
   */
  addIfAbsent(hi: number, lo: number, atMs: number, refresh = false): boolean {
    if (hi === 0 && lo === 0) throw new Error('dedup window: (0, 0) is not a fingerprint');
    this.advance(atMs);
    if (this.used + 1 > this.cap * MAX_LOAD) this.makeRoom();
    const fps = this.fps;
    const cap = this.cap;
    let free = -1;
    let i = this.home(hi, lo);
    for (;;) {
      const h = fps[2 * i]!;
      const l = fps[2 * i + 1]!;
      if (h === hi && l === lo) {
        const wasLive = this.isLive(i);
        if (wasLive && !refresh) return false;
        if (wasLive) this.uncount(this.sliceOf(i));
        this.tags[i] = this.newestTag;
        this.count();
        return !wasLive;
      }
      if (h === 0 && l === 0) break;
      if (free < 0 && !this.isLive(i)) free = i;
      i = i + 1 === cap ? 0 : i + 1;
    }
    // An expired entry on the way is overwritten: every slot between home and it stays occupied.
    const at = free >= 0 ? free : i;
    if (at === i) this.used++;
    fps[2 * at] = hi;
    fps[2 * at + 1] = lo;
    this.tags[at] = this.newestTag;
    this.count();
    this.sweep(SWEEP_STEP);
    this.shed();
    return true;
  }

  private sliceOf(slot: number): number {
    return this.newest - ((this.newestTag - this.tags[slot]!) & 255);
  }

  private count(): void {
    this.counts.set(this.newest, (this.counts.get(this.newest) ?? 0) + 1);
    this.live++;
  }

  private uncount(slice: number): void {
    const c = this.counts.get(slice);
    if (c === undefined) return;
    if (c <= 1) this.counts.delete(slice);
    else this.counts.set(slice, c - 1);
    this.live--;
  }

  private advance(atMs: number): void {
    const s = Math.floor(atMs / this.sliceMs);
    if (s <= this.newest) return; // the same slice, or the clock stepped back: keep filling the newest
    this.newest = s;
    this.newestTag = s & 255;
    if (this.passStart === Number.NEGATIVE_INFINITY) this.passStart = s;
    // An entry of slice e is kept while (e + 1) * sliceMs + windowMs > s * sliceMs.
    this.raiseFloor(Math.floor(s - 1 - this.windowMs / this.sliceMs) + 1, false);
    // Under a trickle of orders the sweep moves slowly: finish its pass before tags could alias.
    if (s - this.passStart > PASS_DEADLINE) this.sweepRest();
  }

  private raiseFloor(to: number, early: boolean): void {
    if (to <= this.floor) return;
    for (const [slice, c] of this.counts) {
      if (slice >= to) continue;
      this.counts.delete(slice);
      this.live -= c;
      if (early) this.evictedEarly += c;
    }
    this.floor = to;
    this.liveAge = this.newest - this.floor;
  }

  /** At the memory ceiling, drops the oldest slices early (never the newest). */
  private shed(): void {
    while (this.live > this.maxEntries && this.floor < this.newest) {
      const from = Math.max(this.floor, Math.min(...this.counts.keys()));
      this.raiseFloor(from + 1, true);
      this.evictedThroughMs = (from + 1) * this.sliceMs;
    }
  }

  /** Deletes slot i, shifting back the entries after it that probed past it (linear probing stays whole). */
  private deleteAt(i: number): void {
    const fps = this.fps;
    const cap = this.cap;
    let hole = i;
    let j = i;
    for (;;) {
      j = j + 1 === cap ? 0 : j + 1;
      const h = fps[2 * j]!;
      const l = fps[2 * j + 1]!;
      if (h === 0 && l === 0) break;
      const home = this.home(h, l);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      fps[2 * hole] = h;
      fps[2 * hole + 1] = l;
      this.tags[hole] = this.tags[j]!;
      hole = j;
    }
    fps[2 * hole] = 0;
    fps[2 * hole + 1] = 0;
    this.used--;
  }

  /** Looks at `steps` slots from the cursor, deleting expired entries. */
  private sweep(steps: number): void {
    const fps = this.fps;
    for (let k = 0; k < steps; k++) {
      const i = this.cursor;
      if ((fps[2 * i] !== 0 || fps[2 * i + 1] !== 0) && !this.isLive(i)) {
        // Another entry may have moved into i: look at it again.
        this.deleteAt(i);
        continue;
      }
      if (++this.cursor === this.cap) {
        this.cursor = 0;
        this.passStart = this.newest;
        this.passes++;
      }
    }
  }

  /** Finishes the sweep's current pass. */
  private sweepRest(): void {
    const passes = this.passes;
    while (this.passes === passes) this.sweep(4096);
  }

  /** Sweeps out every expired entry; if the table is still too full, rebuilds it twice as large. */
  private makeRoom(): void {
    // A whole pass from here: the rest of the current one and the start of the next.
    this.sweepRest();
    this.sweepRest();
    if (this.used + 1 <= this.cap * TARGET_LOAD) return;
    const oldFps = this.fps;
    const oldTags = this.tags;
    const oldCap = this.cap;
    const liveAge = this.liveAge;
    const newestTag = this.newestTag;
    this.cap = oldCap * 2;
    this.fps = new Uint32Array(this.cap * 2);
    this.tags = new Uint8Array(this.cap);
    this.used = 0;
    this.cursor = 0;
    this.passStart = this.newest;
    for (let j = 0; j < oldCap; j++) {
      const h = oldFps[2 * j]!;
      const l = oldFps[2 * j + 1]!;
      if ((h === 0 && l === 0) || ((newestTag - oldTags[j]!) & 255) > liveAge) continue;
      let i = this.home(h, l);
      while (this.fps[2 * i] !== 0 || this.fps[2 * i + 1] !== 0) i = i + 1 === this.cap ? 0 : i + 1;
      this.fps[2 * i] = h;
      this.fps[2 * i + 1] = l;
      this.tags[i] = oldTags[j]!;
      this.used++;
    }
  }
}
