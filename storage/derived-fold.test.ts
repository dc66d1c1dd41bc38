import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../domain/order.ts';
import { DerivedFold, type DerivedRows } from './derived-fold.ts';

/** Each table's rows as a sorted list of lines, so two folds of the same orders in any order compare equal. */
function lines(d: DerivedRows): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [t, v] of Object.entries(d.tsv)) out[t] = (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')).trimEnd().split('\n').sort();
  out.sku = d.skuMinutes.map((r) => `${r.minute}\t${r.key}\t${r.currency}\t${r.hundredths}\t${r.orders}`).sort();
  return out;
}

describe('DerivedFold', () => {
  it('folds orders met as frame bytes exactly as the same orders met as text, keys shared between the two', () => {
    const asText = new DerivedFold();
    const mixed = new DerivedFold();
    // A frame-like buffer holding each key's bytes; text[] gives [start, end) per field, -1 when absent.
    // 1,500 SKUs, enough to grow the interning table several times.
    const skus = Array.from({ length: 1500 }, (_, i) => `sku-${i}`);
    const keys = ['Li-Ning', 'ANTA', 'Zhejiang', 'Beijing', 'x'.repeat(64), ...skus];
    const src = Buffer.from(keys.map((k) => `"${k}"`).join(''), 'latin1');
    const at = (k: string) => {
      const s = src.indexOf(`"${k}"`, 0, 'latin1') + 1;
      return [s, s + k.length];
    };
    for (let i = 0; i < 3000; i++) {
      const ts = 1_794_355_200_000 + i * 97; // crosses seconds and minutes
      const cur = i % 3 === 0 ? 'USD' : 'CNY';
      const ch = CHANNELS[i % CHANNELS.length]!;
      const brand = i % 7 === 0 ? '' : keys[i % 2]!;
      const sku = skus[(i * 7) % skus.length]!;
      const region = i % 11 === 0 ? keys[4]! : keys[2 + (i % 2)]!;
      const received = 1_794_355_300_000 + Math.floor(i / 100);
      asText.add(ts, 100 + i, cur, ch, brand, sku, region, received);
      if (i % 5 === 0) mixed.add(ts, 100 + i, cur, ch, brand, sku, region, received);
      else {
        const text = new Int32Array(8).fill(-1);
        if (brand !== '') text.set(at(brand), 0);
        text.set(at(sku), 2);
        text.set(at('ANTA'), 4); // category: not folded
        text.set(at(region), 6);
        mixed.addScanned(ts, 100 + i, cur, ch, src, text, 0, received);
      }
    }
    const a = asText.rows()!;
    const b = mixed.rows()!;
    expect(lines(b)).toEqual(lines(a));
    expect(b.rows).toEqual(a.rows);
    // The arrival range the markers vouch for spans every order folded.
    expect([a.receivedFromMs, a.receivedThroughMs]).toEqual([1_794_355_300_000, 1_794_355_300_029]);
    expect([b.receivedFromMs, b.receivedThroughMs]).toEqual([1_794_355_300_000, 1_794_355_300_029]);
    // The side table is not folded at commit: the engine fills it (OrderStore.fillFingerprints).
    expect(Object.keys(a.tsv)).not.toContain('gala_order_fps');
  });
});
