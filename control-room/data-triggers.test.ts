// Data triggers: refused when already met, fire once when the live figure reaches the threshold, show progress.
import { describe, expect, it } from 'vitest';
import { DataTriggers, type TriggerValues } from './data-triggers.ts';

const values = (over: Partial<TriggerValues> = {}): TriggerValues => ({ gmvHundredths: 0n, orders: 0, mobileShare: 0, productUnits: () => undefined, ...over });

describe('DataTriggers', () => {
  it('fires a GMV trigger once, exactly at the threshold (bigint hundredths), and reports the value against it', () => {
    const fired: string[] = [];
    const t = new DataTriggers({ fire: (id) => fired.push(id), onChange: () => undefined });
    t.arm('ms', { metric: 'gmv', atLeast: '1000.00' }, 'Ann', values({ gmvHundredths: 50_000n }));
    expect(t.list(values({ gmvHundredths: 99_999n }))[0]).toMatchObject({ state: 'armed', current: '999.99', willFire: false });
    expect(t.evaluate(values({ gmvHundredths: 99_999n }))).toEqual([]);
    expect(t.evaluate(values({ gmvHundredths: 100_000n }))).toEqual(['ms']);
    expect(t.evaluate(values({ gmvHundredths: 200_000n }))).toEqual([]);
    expect(fired).toEqual(['ms']);
    expect(t.list(values())[0]).toMatchObject({ state: 'fired', armedBy: 'Ann' });
  });

  it('refuses to arm a condition already met, so arming never puts anything on air', () => {
    const t = new DataTriggers({ fire: () => undefined, onChange: () => undefined });
    expect(() => t.arm('x', { metric: 'orders', atLeast: '10' }, 'Ann', values({ orders: 10 }))).toThrow(/already 10, at or over 10/);
  });

  it('waits for product units until they are known, and evaluates mobile share', () => {
    const fired: string[] = [];
    const t = new DataTriggers({ fire: (id) => fired.push(id), onChange: () => undefined });
    t.arm('look', { metric: 'productUnits', sku: 'S1', atLeast: '3' }, 'Ann', values());
    t.arm('mob', { metric: 'mobileShare', atLeast: '0.9' }, 'Ann', values({ mobileShare: 0.5 }));
    expect(t.skus()).toEqual(['S1']);
    expect(t.evaluate(values({ mobileShare: 0.89, productUnits: (s) => (s === 'S1' ? 2 : undefined) }))).toEqual([]);
    expect(t.evaluate(values({ mobileShare: 0.9, productUnits: (s) => (s === 'S1' ? 3 : undefined) })).sort()).toEqual(['look', 'mob']);
    t.disarm('look');
    expect(() => t.disarm('look')).toThrow(/no trigger armed/);
  });
});
