// An open-addressing hash set of 64-bit fingerprints in typed arrays: ~8 bytes an entry, no per-entry objects.

const MIN_CAPACITY = 1 << 12;
const MAX_LOAD = 0.75;

export class FingerprintSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private mask: number;
  size = 0;

  constructor(expectedEntries = 0) {
    let cap = MIN_CAPACITY;
    while (cap * MAX_LOAD < expectedEntries) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** Whether this many entries fit without the table growing. */
  fits(entries: number): boolean {
    return this.capacity * MAX_LOAD >= entries;
  }

  get bytes(): number {
    return this.capacity * 8;
  }

  /** Slot of the fingerprint, or of the empty slot where it would go. (0, 0) never occurs: it marks empty. */
  private slot(hi: number, lo: number): number {
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = this.hi[i]!;
      const l = this.lo[i]!;
      if ((h === 0 && l === 0) || (h === hi && l === lo)) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Empties the set, keeping (and writing to) its memory: a cleared set is resident and ready for reuse. */
  clear(): void {
    this.hi.fill(0);
    this.lo.fill(0);
    this.size = 0;
  }

  has(hi: number, lo: number): boolean {
    const i = this.slot(hi, lo);
    return this.hi[i] === hi && this.lo[i] === lo && (hi !== 0 || lo !== 0);
  }

  /** Adds the fingerprint; false when it was already present. */
  add(hi: number, lo: number): boolean {
    if ((this.size + 1) > this.capacity * MAX_LOAD) this.grow();
    const i = this.slot(hi, lo);
    if (this.hi[i] === hi && this.lo[i] === lo) return false;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.size++;
    return true;
  }

  /** Removes the fingerprint (backward-shift deletion keeps every probe chain intact); false if absent. */
  remove(hi: number, lo: number): boolean {
    let i = this.slot(hi, lo);
    if (this.hi[i] !== hi || this.lo[i] !== lo || (hi === 0 && lo === 0)) return false;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const h = this.hi[j]!;
      const l = this.lo[j]!;
      if (h === 0 && l === 0) break;
      const home = (h ^ Math.imul(l, 0x9e3779b1)) & mask;
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? i < home && home <= j : i < home || home <= j;
      if (inRange) continue;
      this.hi[i] = h;
      this.lo[i] = l;
      i = j;
    }
    this.hi[i] = 0;
    this.lo[i] = 0;
    this.size--;
    return true;
  }

  private grow(): void {
    const oldHi = this.hi;
    const oldLo = this.lo;
    const cap = this.capacity * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < oldHi.length; j++) {
      const h = oldHi[j]!;
      const l = oldLo[j]!;
      if (h === 0 && l === 0) continue;
      const i = this.slot(h, l);
      this.hi[i] = h;
      this.lo[i] = l;
    }
  }
}
