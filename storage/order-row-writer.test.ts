import { describe, expect, it } from 'vitest';
import type { Order } from '../domain/order.ts';
import { OrderRowBinaryWriter, OrderRowWriter } from './order-row-writer.ts';
import { encodeOrderRow, orderRowBinaryToTsv, readOrderRowBinary, readOrderRows } from './order-rows.ts';

const base: Order = { id: 'o-1', ts: 1_794_355_200_123, hundredths: 1_000_000_000, currency: 'CNY', channel: 'mobile', brand: 'Li-Ning', sku: 'sku-1', category: '', region: 'Zhejiang' };

describe('OrderRowWriter', () => {
  it('writes the same bytes as encodeOrderRow, escapes and UTF-8 included', () => {
    const orders: Order[] = [
      base,
      { ...base, id: 'o-2', hundredths: 1, brand: 'tab\there', sku: 'new\nline', category: 'back\\slash', region: '浙江 省' },
      { ...base, id: 'o-3', hundredths: 9, brand: 'é\r\0', region: '🎉 ok' },
      { ...base, id: 'o-4', ts: 946_684_800_000, hundredths: 10, brand: 'x'.repeat(64) },
    ];
    const w = new OrderRowWriter(64); // tiny start: forces growth
    let expected = '';
    orders.forEach((o, i) => {
      w.add(o, 1_794_355_201_000 + i, 4_294_967_295 - i, i);
      expected += encodeOrderRow(o, 1_794_355_201_000 + i, 4_294_967_295 - i, i);
    });
    expect(w.count).toBe(4);
    expect(w.bytes().toString('utf8')).toBe(expected);
  });

  it('writes from the start of a buffer handed over by release, nothing of the old rows left', () => {
    const first = new OrderRowWriter();
    for (let i = 0; i < 50; i++) first.add({ ...base, id: `old-${i}`, brand: 'a much longer brand name than the next' }, 1, 2, 3);
    const buf = first.release();
    expect(first.byteLength).toBe(0);
    const second = new OrderRowWriter(buf);
    second.add(base, 5, 6, 7);
    expect(second.count).toBe(1);
    expect(second.bytes().toString('utf8')).toBe(encodeOrderRow(base, 5, 6, 7));
    expect(second.bytes().buffer).toBe(buf.buffer);
  });
});

describe('OrderRowWriter numbers', () => {
  it('writes every digit count and the 2^31 boundary exactly', () => {
    const values = [0, 1, 9, 10, 99, 100, 12_345, 2_147_483_647, 2_147_483_648, 4_294_967_295, 100_000_000, 946_684_800_000, 4_102_444_800_000, 1_000_000_000];
    const w = new OrderRowWriter();
    let expected = '';
    for (const v of values) {
      const o = { id: 'n', ts: v, hundredths: v, currency: 'CNY', channel: 'mobile' as const, brand: '', sku: '', category: '', region: '' };
      w.add(o, v, v >>> 0, 7);
      expected += encodeOrderRow(o, v, v >>> 0, 7);
    }
    expect(w.bytes().toString()).toBe(expected);
  });
});

describe('OrderRowWriter digit cache', () => {
  it('writes repeated and alternating instants exactly, on both paths', () => {
    const w = new OrderRowWriter();
    let expected = '';
    const src = Buffer.from('id-1brand');
    const text = new Int32Array([4, 9, -1, -1, -1, -1, -1, -1]);
    const instants = [1_794_355_200_000, 1_794_355_200_000, 1_794_355_200_001, 1_794_355_200_000, 946_684_800_000];
    instants.forEach((t, i) => {
      const o = { id: 'id-1', ts: t, hundredths: 5, currency: 'CNY', channel: 'tv' as const, brand: 'brand', sku: '', category: '', region: '' };
      if (i % 2 === 0) w.add(o, instants[instants.length - 1 - i]!, 1, 2);
      else w.addScanned(src, 0, 4, 1, 2, t, instants[instants.length - 1 - i]!, 5, 'CNY', 'tv', text, 0);
      expected += encodeOrderRow(o, instants[instants.length - 1 - i]!, 1, 2);
    });
    expect(w.bytes().toString()).toBe(expected);
  });
});

describe('OrderRowBinaryWriter', () => {
  /** The fields of an order as the orders table holds them, in ORDER_COLUMNS order. */
  const fields = (o: Order, received: number, hi: number, lo: number) => [o.id, String(hi), String(lo), String(o.ts), String(received), String(o.hundredths), o.currency, o.channel, o.brand, o.sku, o.category, o.region];

  it('writes every field as the table holds it: text unescaped and UTF-8, lengths past one varint byte, numbers past 2^32', () => {
    const orders: Order[] = [
      base,
      { ...base, id: 'o-2', channel: 'desktop', hundredths: 1, brand: 'tab\there', sku: 'new\nline', category: 'back\\slash', region: '浙江 省' },
      { ...base, id: 'o-3', channel: 'tv', hundredths: 9, brand: 'é\r\0', region: '🎉 ok' },
      { ...base, id: 'o-4', channel: 'store', ts: 946_684_800_000, hundredths: 2 ** 53 - 1, brand: 'x'.repeat(64), sku: '浙'.repeat(64), region: 'a'.repeat(127), category: 'b'.repeat(128) },
      { ...base, id: 'o-5', ts: -1, hundredths: -4_294_967_297 },
    ];
    const w = new OrderRowBinaryWriter(64); // tiny start: forces growth
    const expected: string[][] = [];
    orders.forEach((o, i) => {
      w.add(o, 1_794_355_201_000 + i, 4_294_967_295 - i, i);
      expected.push(fields(o, 1_794_355_201_000 + i, 4_294_967_295 - i, i));
    });
    expect(w.count).toBe(orders.length);
    expect(w.format).toBe('RowBinary');
    expect(readOrderRowBinary(w.bytes())).toEqual(expected);
    // Read back as TabSeparated rows (chDB's way in without a file): the same fields through the text format.
    expect(readOrderRows({ data: orderRowBinaryToTsv(w.bytes()) })).toEqual(expected);
  });

  it('writes scanned rows as the same bytes as the rows of the orders they hold, absent text as empty', () => {
    const o: Order = { id: 'id-1', ts: 1_794_355_200_000, hundredths: 5, currency: 'CNY', channel: 'tv', brand: 'brand', sku: '', category: '', region: 'reg' };
    const src = Buffer.from('id-1brandreg');
    const text = new Int32Array([4, 9, -1, -1, -1, -1, 9, 12]);
    const scanned = new OrderRowBinaryWriter();
    const added = new OrderRowBinaryWriter();
    for (let i = 0; i < 3; i++) {
      scanned.addScanned(src, 0, 4, 1, 2, o.ts + i, 1_794_355_200_500, 5, 'CNY', 'tv', text, 0);
      added.add({ ...o, ts: o.ts + i }, 1_794_355_200_500, 1, 2);
    }
    expect(scanned.bytes()).toEqual(added.bytes());
    expect(scanned.derived()).toEqual(added.derived());
  });

  it('says which row a cut ends in, and refuses a channel value outside the enum', () => {
    const w = new OrderRowBinaryWriter();
    w.add(base, 1, 2, 3);
    w.add(base, 1, 2, 3);
    const whole = w.bytes();
    expect(() => readOrderRowBinary(whole.subarray(0, whole.length - 3))).toThrow(/row 2 ends after/);
    const bad = Buffer.from(whole);
    // The first row's channel byte: after the id (1 + 3 bytes), two UInt32, three Int64 and the currency (1 + 3).
    const at = 4 + 8 + 24 + 4;
    expect(bad[at]).toBe(1);
    bad[at] = 9;
    expect(() => readOrderRowBinary(bad)).toThrow(/channel value 9/);
  });
});
