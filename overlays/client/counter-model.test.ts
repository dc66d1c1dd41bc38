// The counter's motion frame by frame: never backwards, lands on the exact total, glides at the live rate,
// catches up after a gap with an ease and no visible jump, extrapolates a lost feed only within its bound.
import { describe, expect, it } from 'vitest';
import { CounterModel } from './counter-model.ts';
import { createPrng } from '../../simulator/prng.ts';

const FRAME = 1000 / 60;

/** Runs the model at 60 frames a second from `t0` (inclusive) to `t1` (exclusive), returning every frame's value. */
function frames(m: CounterModel, t0: number, t1: number): number[] {
  const out: number[] = [];
  for (let i = 0; t0 + i * FRAME < t1 - 1e-6; i++) out.push(m.valueAt(t0 + i * FRAME));
  return out;
}

describe('CounterModel', () => {
  it('shows the first snapshot at once, never counting up from zero', () => {
    const m = new CounterModel();
    m.reset(123456789n, 0);
    expect(m.shownHundredths(0)).toBe(123456789n);
    expect(m.shownHundredths(5000)).toBe(123456789n);
  });

  it('glides between per-second totals moving every frame, and lands on the exact total', () => {
    const m = new CounterModel();
    const start = 2_684_000_000_000n; // ¥26.84 billion
    m.reset(start, 0);
    const rate = 1_000_000n; // ¥10,000 a second
    let total = start;
    let all: number[] = [];
    for (let s = 1; s <= 5; s++) {
      total += rate;
      m.setTarget(total, rate, s * 1000);
      all = all.concat(frames(m, s * 1000, s * 1000 + 1000));
    }
    for (let i = 1; i < all.length; i++) expect(all[i]!).toBeGreaterThan(all[i - 1]!);
    // About rate / 60 per frame: a steady roll, not steps.
    const steps = all.slice(61).map((v, i) => v - all[60 + i]!);
    for (const d of steps) expect(d).toBeLessThan((Number(rate) / 60) * 1.5);
    expect(m.shownHundredths(6000)).toBe(total);
  });

  it('never goes backwards, whatever order totals, rates, snapshots and cuts come in', () => {
    const rnd = createPrng(20261111);
    for (let run = 0; run < 50; run++) {
      const m = new CounterModel({ extrapolateMs: rnd.next() < 0.5 ? 0 : 3000 });
      let truth = BigInt(Math.floor(rnd.next() * 1e9));
      m.reset(truth, 0);
      let t = 0;
      let last = -1;
      let lastExact = -1n;
      for (let step = 0; step < 400; step++) {
        t += rnd.next() * 40;
        const r = rnd.next();
        if (r < 0.2) {
          truth += BigInt(Math.floor(rnd.next() * 1e6));
          m.setTarget(truth, BigInt(Math.floor(rnd.next() * 2e6)), t);
        } else if (r < 0.25) m.setTarget(truth - BigInt(Math.floor(rnd.next() * 1e5)), 1000n, t); // stale, older
        else if (r < 0.27) m.reset(truth - 1n, t); // an older snapshot after a reconnect
        else if (r < 0.3) m.disconnected(t);
        const v = m.valueAt(t);
        const exact = m.shownHundredths(t);
        expect(v).toBeGreaterThanOrEqual(last);
        expect(exact).toBeGreaterThanOrEqual(lastExact);
        last = v;
        lastExact = exact;
      }
    }
  });

  it('catches up after a gap with an ease-out, no frame jumping more than a few percent of the gap', () => {
    const m = new CounterModel();
    m.reset(100_000_00n, 0);
    m.setTarget(100_010_00n, 1000n, 1000); // a steady ¥10/s
    frames(m, 1000, 2000);
    const before = m.valueAt(2000);
    const target = 150_000_00n; // ¥499,900 arrives at once: far more than 3 s of the rate
    m.setTarget(target, 1000n, 2000);
    const v = frames(m, 2000, 4000);
    const gap = Number(target) - before;
    const jumps = v.map((x, i) => (i === 0 ? x - before : x - v[i - 1]!));
    expect(Math.max(...jumps)).toBeLessThan(gap * 0.05);
    // Eased out: most of the way in the first half of the catch-up (1.5 s), slowing towards the end.
    expect(m.valueAt(2000 + 750) - before).toBeGreaterThan(gap * 0.8);
    expect(jumps.at(30)!).toBeGreaterThan(jumps.at(80)!);
    expect(m.shownHundredths(4000)).toBe(target);
  });

  it('holds the last value on a lost connection by default', () => {
    const m = new CounterModel();
    m.reset(1_000_00n, 0);
    m.setTarget(1_100_00n, 100_00n, 1000);
    m.disconnected(1500);
    const held = frames(m, 2500, 20_000);
    expect(new Set(held).size).toBe(1);
    expect(m.shownHundredths(20_000)).toBe(1_100_00n);
  });

  it('extrapolates a lost feed at the last rate only within its bound, then resumes without going back', () => {
    const m = new CounterModel({ extrapolateMs: 2000 });
    m.reset(1_000_00n, 0);
    m.setTarget(1_100_00n, 100_00n, 1000); // ¥100/s
    m.disconnected(1500);
    // The glide ends at 2000; then at most 2 s more at ¥100/s.
    expect(m.valueAt(3000)).toBeCloseTo(1_100_00 + 100_00, 0);
    expect(m.valueAt(10_000)).toBeCloseTo(1_100_00 + 200_00, 0);
    expect(m.valueAt(60_000)).toBeCloseTo(1_100_00 + 200_00, 0);
    const peak = m.shownHundredths(60_000);
    expect(peak).toBe(1_300_00n);
    // Back online with a truth below the extrapolated figure: it holds until the truth passes it.
    m.setTarget(1_250_00n, 50_00n, 61_000);
    expect(m.shownHundredths(62_000)).toBe(1_300_00n);
    m.setTarget(1_400_00n, 50_00n, 63_000);
    expect(m.shownHundredths(70_000)).toBe(1_400_00n);
  });
});
