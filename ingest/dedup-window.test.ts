import { describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import { DedupWindow } from './dedup-window.ts';
import { FingerprintSet } from './fingerprint-set.ts';

describe('FingerprintSet', () => {
  it('holds many fingerprints exactly through growth', () => {
    const s = new FingerprintSet();
    const n = 200_000;
    let added = 0;
    for (let i = 0; i < n; i++) {
      const [hi, lo] = fingerprint(`o-${i}`);
      if (s.add(hi, lo)) added++;
    }
    expect(added).toBe(n);
    expect(s.size).toBe(n);
    expect(s.capacity).toBeGreaterThanOrEqual(n / 0.75);
    for (let i = 0; i < n; i += 997) {
      const [hi, lo] = fingerprint(`o-${i}`);
      expect(s.has(hi, lo)).toBe(true);
      expect(s.add(hi, lo)).toBe(false);
    }
    let falsePositives = 0;
    for (let i = 0; i < 50_000; i++) {
      const [hi, lo] = fingerprint(`never-${i}`);
      if (s.has(hi, lo)) falsePositives++;
    }
    expect(falsePositives).toBe(0);
  });
  it('gives distinct fingerprints to a million sequential ids', () => {
    const s = new FingerprintSet(1_000_000);
    for (let i = 0; i < 1_000_000; i++) {
      const [hi, lo] = fingerprint(`order-${i}`);
      s.add(hi, lo);
    }
    expect(s.size).toBe(1_000_000);
  });
});

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

describe('FingerprintSet.remove', () => {
  it('keeps every other entry findable after removals in crowded probe chains', () => {
    const s = new FingerprintSet(); // 4096 slots
    const ids = Array.from({ length: 3000 }, (_, i) => fingerprint(`r-${i}`));
    for (const [h, l] of ids) s.add(h, l);
    for (let i = 0; i < ids.length; i += 3) expect(s.remove(ids[i]![0], ids[i]![1])).toBe(true);
    let present = 0;
    let absent = 0;
    ids.forEach(([h, l], i) => {
      if (s.has(h, l)) present += i % 3 === 0 ? 100_000 : 1;
      else absent += i % 3 === 0 ? 1 : 100_000;
    });
    expect(present).toBe(2000);
    expect(absent).toBe(1000);
    expect(s.size).toBe(2000);
    expect(s.remove(ids[0]![0], ids[0]![1])).toBe(false);
  });
});

describe('DedupWindow sizing', () => {
  it('sizes its first slice for the expected rate, so the ramp needs no table doubling', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000, expectedPerSecond: 10_000 });
    const t0 = 1_700_000_040_000; // the start of a 60 s slice: the ramp stays within one
    w.add(1, 1, t0);
    const before = w.bytes;
    for (let i = 0; i < 500_000; i++) {
      const [h, l] = fingerprint(`ramp-${i}`);
      w.add(h, l, t0 + i / 10);
    }
    // 10,000/s over a 60 s slice = 600,000 ids: 500,000 fit without the table growing.
    expect(w.bytes).toBe(before);
    expect(before).toBeGreaterThanOrEqual(600_000 * 8);
  });
});

describe('DedupWindow reserved memory', () => {
  it('allocates every slice up front for the expected rate and then reuses them, so its memory stays flat', () => {
    // 1,000/s over 60 s slices of a 10-minute window: 60,000 ids a slice, 12 tables reserved.
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000, expectedPerSecond: 1_000 });
    const reserved = w.bytes;
    expect(reserved).toBe(12 * new FingerprintSet(60_000).bytes);
    const t0 = 1_700_000_000_000;
    const ids = (t: number) => fingerprint(`flat-${t}`);
    // 25 simulated minutes at 1,000/s: slices are filled, expire and are reused.
    for (let t = t0; t < t0 + 25 * 60_000; t += 1) {
      const [h, l] = ids(t);
      w.add(h, l, t);
      if ((t - t0) % 60_000 === 0) expect(w.bytes).toBe(reserved);
    }
    expect(w.bytes).toBe(reserved);
    // Reused tables hold nothing of their old slices: the newest ten minutes are found, older ids are not.
    const end = t0 + 25 * 60_000 - 1;
    for (const back of [0, 1, 300_000, 599_000]) expect(w.has(...ids(end - back))).toBe(true);
    for (const back of [12 * 60_000, 20 * 60_000, 25 * 60_000 - 1]) expect(w.has(...ids(end - back))).toBe(false);
  });

  it('reserves nothing without an expected rate', () => {
    const w = new DedupWindow({ windowMs: 600_000, maxEntries: 10_000_000 });
    expect(w.bytes).toBe(0);
  });
});
