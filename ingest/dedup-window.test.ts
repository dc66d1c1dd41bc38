import { describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import { DedupWindow } from './dedup-window.ts';

describe('DedupWindow', () => {
  const fp = (id: string) => fingerprint(id);

  it('remembers an id for at least the window after its first arrival, then forgets it', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 1_000_000 });
    const t0 = 1_700_000_000_000;
    const [hi, lo] = fp('a-1');
    w.add(hi, lo, t0);
    // Keep time moving with other traffic, as a live night does.
    for (let t = t0; t <= t0 + 600_000; t += 10_000) {
      const [h, l] = fp(`filler-${t}`);
      w.add(h, l, t);
    }
    expect(w.has(hi, lo)).toBe(true);
    for (let t = t0 + 600_000; t <= t0 + 800_000; t += 10_000) {
      const [h, l] = fp(`filler-${t}`);
      w.add(h, l, t);
    }
    expect(w.has(hi, lo)).toBe(false);
    expect(w.coverageMs(t0 + 800_000)).toBe(600_000);
  });

  it('sheds its oldest slice at the memory ceiling and reports the shorter reach', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 5_000 });
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 10_000; i++) {
      const [h, l] = fp(`x-${i}`);
      w.add(h, l, t0 + i * 60); // 600 s of traffic
    }
    expect(w.size).toBeLessThanOrEqual(5_000 + 1_000);
    expect(w.evictedEarly).toBeGreaterThan(0);
    expect(w.coverageMs(t0 + 600_000)).toBeLessThan(600_000);
    const [h, l] = fp('x-9999');
    expect(w.has(h, l)).toBe(true);
  });
});

describe('DedupWindow table', () => {
  const t0 = 1_700_000_000_000;

  it('holds many fingerprints exactly as it grows from its smallest size, with no false positives', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000 });
    const n = 200_000;
    let added = 0;
    for (let i = 0; i < n; i++) if (w.addIfAbsent(...fingerprint(`o-${i}`), t0)) added++;
    expect(added).toBe(n);
    expect(w.size).toBe(n);
    expect(w.capacity).toBeGreaterThanOrEqual(n / 0.85);
    for (let i = 0; i < n; i += 997) {
      expect(w.has(...fingerprint(`o-${i}`))).toBe(true);
      expect(w.addIfAbsent(...fingerprint(`o-${i}`), t0)).toBe(false);
    }
    let falsePositives = 0;
    for (let i = 0; i < 50_000; i++) if (w.has(...fingerprint(`never-${i}`))) falsePositives++;
    expect(falsePositives).toBe(0);
    expect(w.size).toBe(n);
  });

  it('keeps every other entry findable after removals in crowded probe chains', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 1_000_000 }); // 4096 slots
    const ids = Array.from({ length: 3000 }, (_, i) => fingerprint(`r-${i}`));
    for (const [h, l] of ids) w.add(h, l, t0);
    expect(w.capacity).toBe(4096);
    for (let i = 0; i < ids.length; i += 3) expect(w.remove(ids[i]![0], ids[i]![1])).toBe(true);
    let present = 0;
    let absent = 0;
    ids.forEach(([h, l], i) => {
      if (w.has(h, l)) present += i % 3 === 0 ? 100_000 : 1;
      else absent += i % 3 === 0 ? 1 : 100_000;
    });
    expect(present).toBe(2000);
    expect(absent).toBe(1000);
    expect(w.size).toBe(2000);
    expect(w.remove(ids[0]![0], ids[0]![1])).toBe(false);
  });

  it('answers exactly like the rule it keeps, through expiry, reuse of expired slots, removals and sweeps', () => {
    // A small table crowded with expiring entries: every slot sees inserts, sweeps and backward shifts.
    const windowMs = 10_000;
    const sliceMs = 1_000;
    const w = new DedupWindow({ windowMs, slices: 10, maxEntries: 1_000_000, expectedPerSecond: 300 });
    const cap = w.capacity;
    /** The rule: an id added in slice e is held while (e + 1) * sliceMs + windowMs > (newest slice) * sliceMs. */
    const lastSlice = new Map<string, number>();
    let newest = Number.NEGATIVE_INFINITY;
    const held = (k: string) => {
      const e = lastSlice.get(k);
      return e !== undefined && (e + 1) * sliceMs + windowMs > newest * sliceMs;
    };
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let mismatches = 0;
    let duplicates = 0;
    for (let step = 0; step < 400_000; step++) {
      const t = t0 + step * 2; // 500 adds a second for 800 s: 80 slices, the tags wrap past none (8 bits)
      const id = `m-${rnd(12_000)}`;
      const [h, l] = fingerprint(id);
      const op = rnd(10);
      // The window's clock moves with adds (has and remove take no time).
      if (op < 7) newest = Math.max(newest, Math.floor(t / sliceMs));
      if (op < 7) {
        const isNew = w.addIfAbsent(h, l, t);
        if (isNew === held(id)) mismatches++;
        if (!isNew) duplicates++;
        if (isNew) lastSlice.set(id, newest);
      } else if (op < 8) {
        if (w.remove(h, l) !== held(id)) mismatches++;
        lastSlice.delete(id);
      } else if (w.has(h, l) !== held(id)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(duplicates).toBeGreaterThan(10_000);
    let live = 0;
    for (const k of lastSlice.keys()) if (held(k)) live++;
    expect(w.size).toBe(live);
    // Expired entries were swept and their slots reused: the table never had to grow.
    expect(w.capacity).toBe(cap);
  });

  it('never mistakes an old id for a held one when its 8-bit slice tag comes round again', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 1_000_000 });
    const old = fingerprint('long-ago');
    w.add(...old, t0);
    // A trickle: one order a minute for 300 minutes (256 slices and more), so the sweep is slow.
    for (let m = 1; m <= 300; m++) {
      w.add(...fingerprint(`trickle-${m}`), t0 + m * 60_000);
      expect(w.has(...old)).toBe(m < 11);
    }
    expect(w.size).toBe(11);
  });

  it('rejects the empty marker and slice counts it cannot keep apart', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 1_000 });
    expect(() => w.add(0, 0, t0)).toThrow(/\(0, 0\) is not a fingerprint/);
    expect(() => new DedupWindow({ windowMs: 600_000, maxEntries: 1_000, slices: 101 })).toThrow(/slices must be an integer from 1 to 100/);
  });
});

describe('DedupWindow sizing', () => {
  it('sizes its table for the expected rate, so ten minutes of it need no rebuild', () => {
    // 2,000/s rather than a night's rate: the rule is the same at any rate, and the CPU of the adds stays small
    // enough for a loaded machine (6 million adds took over two minutes of a shared core).
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000, expectedPerSecond: 2_000 });
    const t0 = 1_700_000_040_000;
    const before = w.bytes;
    // 2,000/s for 600 s: 1,200,000 ids held at once, and the table is the one reserved at start.
    for (let i = 0; i < 1_200_000; i++) w.add(...fingerprint(`ramp-${i}`), t0 + i / 2);
    expect(w.size).toBe(1_200_000);
    expect(w.bytes).toBe(before);
    expect(before).toBeGreaterThanOrEqual((1_440_000 / 0.7) * 9);
  });
});

describe('DedupWindow reserved memory', () => {
  it('allocates its table up front for the expected rate and then reuses it, so its memory stays flat', () => {
    // 1,000/s over a 10-minute window, the slice it reaches into and the one being filled: 720,000 ids.
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000, expectedPerSecond: 1_000 });
    const reserved = w.bytes;
    expect(reserved).toBe(Math.ceil(720_000 / 0.7) * 9);
    const t0 = 1_700_000_000_000;
    const ids = (t: number) => fingerprint(`flat-${t}`);
    // 25 simulated minutes at 1,000/s: entries expire, are swept out and their slots reused.
    for (let t = t0; t < t0 + 25 * 60_000; t += 1) {
      const [h, l] = ids(t);
      w.add(h, l, t);
      if ((t - t0) % 60_000 === 0) expect(w.bytes).toBe(reserved);
    }
    expect(w.bytes).toBe(reserved);
    // The newest ten minutes are found, older ids are not.
    const end = t0 + 25 * 60_000 - 1;
    for (const back of [0, 1, 300_000, 599_000]) expect(w.has(...ids(end - back))).toBe(true);
    for (const back of [12 * 60_000, 20 * 60_000, 25 * 60_000 - 1]) expect(w.has(...ids(end - back))).toBe(false);
  });

  it('reserves only its smallest table without an expected rate', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000 });
    expect(w.bytes).toBe(4096 * 9);
  });
});
