// The per-minute SKU set: bounded, and a key is kept only if it was kept from its first order in the minute.
import { describe, expect, it } from 'vitest';
import { OPEN_MINUTES, SkuMinuteBound, type SkuMinuteRow } from './sku-minute-bound.ts';

const row = (minute: number, key: string, orders = 1, currency = 'EUR'): SkuMinuteRow => ({ minute, key, currency, hundredths: String(orders * 100), orders });
const keys = (rows: SkuMinuteRow[]) => rows.map((r) => r.key);

describe('SkuMinuteBound', () => {
  it('admits the busiest new keys while there is room, then closes the minute to every newcomer', () => {
    const b = new SkuMinuteBound(3);
    expect(keys(b.select([row(5, 'a', 1), row(5, 'b', 9), row(5, 'c', 5), row(5, 'd', 7), row(5, 'b', 2, 'USD')]))).toEqual(['b', 'c', 'd', 'b']);
    // 'a' was left out: it stays out, and so does a key never seen, though nothing else sold.
    expect(keys(b.select([row(5, 'a', 50), row(5, 'e', 1), row(5, 'c', 1)]))).toEqual(['c']);
  });

  it('leaves a minute open while it has room, so late first orders still join', () => {
    const b = new SkuMinuteBound(3);
    expect(keys(b.select([row(5, 'a')]))).toEqual(['a']);
    expect(keys(b.select([row(5, 'b'), row(5, 'a')]))).toEqual(['b', 'a']);
  });

  it("starts a minute with the previous minute's busiest half", () => {
    const b = new SkuMinuteBound(4);
    b.select([row(5, 'a', 1), row(5, 'b', 8), row(5, 'c', 6), row(5, 'd', 2)]);
    // Seeds b and c take two places; of three newcomers the busiest two join.
    expect(keys(b.select([row(6, 'x', 1), row(6, 'y', 3), row(6, 'z', 2), row(6, 'c', 1)])).sort()).toEqual(['c', 'y', 'z']);
    expect(b.has(6, 'b')).toBe(true);
    expect(b.has(6, 'a')).toBe(false);
  });

  it('writes nothing for minutes older than the open window', () => {
    const b = new SkuMinuteBound(10);
    b.select([row(100, 'a')]);
    expect(b.select([row(100 - OPEN_MINUTES, 'late')])).toEqual([]);
    expect(keys(b.select([row(100 - OPEN_MINUTES + 1, 'late')]))).toEqual(['late']);
  });

  it('after a restart, keeps the restored keys of the minutes written and admits nothing new up to the newest', () => {
    const b = new SkuMinuteBound(10);
    b.restore([[7, 'a'], [9, 'b']]);
    expect(keys(b.select([row(7, 'a'), row(7, 'n'), row(8, 'n'), row(9, 'b'), row(9, 'n'), row(10, 'n')]))).toEqual(['a', 'b', 'n']);
    expect(b.has(10, 'n')).toBe(true);
  });
});
