import { describe, expect, it } from 'vitest';
import { parseBatchFrame, parseOrder } from './order.ts';

const known = (c: string) => ['CNY', 'USD'].includes(c);
const good = { id: 'o-1', ts: 1_794_355_200_000, amount: '17.50', currency: 'CNY', channel: 'mobile' };

describe('parseOrder', () => {
  it('accepts a valid order, ignoring unknown fields', () => {
    const r = parseOrder({ ...good, brand: 'Li-Ning', extra: { x: 1 } }, known);
    expect(r).toEqual({
      ok: true,
      order: { id: 'o-1', ts: 1_794_355_200_000, hundredths: 1750, currency: 'CNY', channel: 'mobile', brand: 'Li-Ning', sku: '', category: '', region: '' },
    });
  });
  it.each([
    [{ ...good, id: undefined }, 'id: must be a string'],
    [{ ...good, id: '' }, 'id: 1 to 64 of A-Z a-z 0-9 . _ : -'],
    [{ ...good, id: 'a b' }, 'id: 1 to 64 of A-Z a-z 0-9 . _ : -'],
    [{ ...good, id: 'x'.repeat(65) }, 'id: 1 to 64 of A-Z a-z 0-9 . _ : -'],
    [{ ...good, ts: '1794355200000' }, 'ts: must be an integer (epoch milliseconds)'],
    [{ ...good, ts: 1.5 }, 'ts: must be an integer (epoch milliseconds)'],
    [{ ...good, ts: 12 }, 'ts: epoch milliseconds between 2000-01-01 and 2100-01-01'],
    [{ ...good, amount: '1.001' }, 'amount: at most 2 fraction digits'],
    [{ ...good, amount: 0 }, 'amount: must be greater than 0'],
    [{ ...good, amount: '20000000' }, 'amount: at most 10000000'],
    [{ ...good, currency: 'XXX' }, 'currency: "XXX" is not in the show\'s rate table'],
    [{ ...good, currency: 7 }, 'currency: must be a string'],
    [{ ...good, channel: 'web' }, 'channel: one of mobile, desktop, tv, store'],
    [{ ...good, brand: 'b'.repeat(65) }, 'brand: at most 64 characters'],
    [{ ...good, sku: 12 }, 'sku: must be a string'],
    [{ ...good, region: 'r'.repeat(65) }, 'region: at most 64 characters'],
    [{ ...good, category: [] }, 'category: must be a string'],
    ['not an object', 'order: must be a JSON object'],
  ])('rejects %j with a named rule', (raw, error) => {
    const r = parseOrder(raw, known);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe(error);
  });
});

describe('parseBatchFrame', () => {
  it('parses the envelope', () => {
    expect(parseBatchFrame('{"batch":"b-1","orders":[{}]}')).toEqual({ ok: true, value: { batch: 'b-1', orders: [{}] } });
  });
  it.each([
    ['nope', null, 'frame: not valid JSON'],
    ['[]', null, 'frame: must be a JSON object {"batch": ..., "orders": [...]}'],
    ['{"orders":[{}]}', null, 'batch: must be a string of 1 to 64 characters'],
    [`{"batch":"${'b'.repeat(65)}","orders":[{}]}`, null, 'batch: must be a string of 1 to 64 characters'],
    ['{"batch":"b","orders":{}}', 'b', 'orders: must be an array'],
    ['{"batch":"b","orders":[]}', 'b', 'orders: at least 1 order'],
    [`{"batch":"b","orders":[${Array(10_001).fill('{}').join(',')}]}`, 'b', 'orders: at most 10000 orders per batch (got 10001)'],
  ])('refuses %s', (text, batch, error) => {
    expect(parseBatchFrame(text)).toEqual({ ok: false, batch, error });
  });
});
