// The fast scanner must never decide differently from JSON.parse + parseOrder: fuzzed frames, compared order by order.
import { describe, expect, it } from 'vitest';
import { fingerprintBytesInto, fingerprintInto } from '../domain/fingerprint.ts';
import { CHANNELS, parseBatchFrame, parseOrder, type Order, type OrderResult } from '../domain/order.ts';
import { createFrameScanner } from './frame-scanner.ts';

const CURRENCIES = ['CNY', 'USD', 'EUR', 'JPY'];
const known = (c: string) => CURRENCIES.includes(c);

let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const ws = () => pick(['', '', '', ' ', '\n', '\t ', '\r\n  ']);

const GOOD_AMOUNTS = ['"17.50"', '"0.01"', '"1"', '"10000000"', '"9.9"', '17.5', '0.5', '120', '10000000.00', '"199.00"'];
const BAD_AMOUNTS = ['"1.001"', '"0"', '0', '-5', '"-5"', '"007"', '"00.5"', '1e3', '1E-2', '"1e3"', '17.500', '"10000000.01"', '10000000.01', 'null', 'true', '"abc"', '""', '{"v":1}', '[1]', '"12345678.9"', '123456789'];
const GOOD_TS = ['1794355200000', '946684800000', '4102444800000'];
const BAD_TS = ['1794355200000.0', '1.5', '"1794355200000"', '12', '-1794355200000', '4102444800001', '1.7e12', 'null'];
const GOOD_IDS = ['"o-1"', '"A.b_c:d-9"', `"${'x'.repeat(64)}"`];
const BAD_IDS = ['""', '"a b"', `"${'x'.repeat(65)}"`, '42', 'null', '"ü"', '"a\\"b"', '"tab\\t"'];
// Raw control characters inside a string are invalid JSON: the scanner must not accept them either.
const TEXTS = ['"Li-Ning"', '""', '"a/b"', 'null', '42', `"${'b'.repeat(64)}"`, `"${'b'.repeat(65)}"`, '"李宁"', '"x\\ny"', '"\\u00e9"', '"raw\ttab"', '"raw\nline"'];

function orderText(i: number): string {
  const fields: [string, string][] = [];
  const bad = rnd() < 0.35;
  const which = bad ? Math.floor(rnd() * 8) : -1;
  if (which !== 0 || rnd() < 0.5) fields.push(['id', which === 0 ? pick(BAD_IDS) : GOOD_IDS[0]!.replace('1', String(i))]);
  if (which !== 1 || rnd() < 0.5) fields.push(['ts', which === 1 ? pick(BAD_TS) : pick(GOOD_TS)]);
  if (which !== 2 || rnd() < 0.3) fields.push(['amount', which === 2 ? pick(BAD_AMOUNTS) : pick(GOOD_AMOUNTS)]);
  fields.push(['currency', which === 3 ? pick(['"XXX"', '"cny"', '1', 'null', '"CN"']) : `"${pick(CURRENCIES)}"`]);
  fields.push(['channel', which === 4 ? pick(['"web"', '"Mobile"', '""', '0', '"mobilee"']) : `"${pick(CHANNELS)}"`]);
  for (const f of ['brand', 'sku', 'category', 'region']) if (rnd() < 0.5) fields.push([f, which === 5 ? pick(TEXTS) : pick(TEXTS.slice(0, 3))]);
  if (which === 6) fields.push([pick(['id', 'amount', 'channel', 'brand']), pick(['"o-dup"', '"2.00"', '"tv"', '"again"'])]);
  if (rnd() < 0.3) fields.push([pick(['extra', 'valueOf', 'toString', '__proto__', 'meta']), pick(['{"a":[1,2,{"b":null}],"c":true}', '[]', '{}', 'false', '-0.5e-3', '"s"', '[[[]]]'])]);
  for (let k = fields.length - 1; k > 0; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [fields[k], fields[j]] = [fields[j]!, fields[k]!];
  }
  if (which === 7) return pick(['42', '"x"', 'null', '[]', '[{"id":"a"}]', 'true']);
  return `{${fields.map(([k, v]) => `${ws()}"${k}"${ws()}:${ws()}${v}${ws()}`).join(',')}}`;
}

function frame(f: number): string {
  const n = 1 + Math.floor(rnd() * 12);
  const orders = Array.from({ length: n }, (_, i) => orderText(f * 100 + i));
  const parts = [`"batch"${ws()}:${ws()}"b-${f}"`, `"orders":${ws()}[${orders.map((o) => `${ws()}${o}${ws()}`).join(',')}]`];
  if (rnd() < 0.2) parts.push(`"note":{"x":[1,"y",null]}`);
  if (rnd() < 0.5) parts.reverse();
  return `${ws()}{${parts.join(',')}}${ws()}`;
}

/** What the scanner claims for one order, rebuilt as an OrderResult to compare with the general path. */
function fromScan(bytes: Buffer, s: ReturnType<ReturnType<typeof createFrameScanner>['scan']> & { ok: true }, k: number): OrderResult {
  const o = s.orders;
  if (o.fast[k] !== 1) return parseOrder(JSON.parse(bytes.subarray(o.start[k], o.end[k]).toString('latin1')), known);
  const text = (f: number) => {
    const a = o.text[k * 8 + 2 * f]!;
    return a < 0 ? '' : bytes.subarray(a, o.text[k * 8 + 2 * f + 1]).toString('latin1');
  };
  const order: Order = {
    id: bytes.subarray(o.idStart[k], o.idEnd[k]).toString('latin1'),
    ts: o.ts[k]!,
    hundredths: o.hundredths[k]!,
    currency: CURRENCIES[o.currency[k]!]!,
    channel: CHANNELS[o.channel[k]!]!,
    brand: text(0),
    sku: text(1),
    category: text(2),
    region: text(3),
  };
  return { ok: true, order };
}

describe('frame scanner', () => {
  it('decides every fuzzed order exactly as JSON.parse + parseOrder do', () => {
    const scanner = createFrameScanner(CURRENCIES);
    let fastFrames = 0;
    let fastOrders = 0;
    let mismatches = 0;
    for (let f = 0; f < 3000; f++) {
      const text = frame(f);
      const bytes = Buffer.from(text);
      const ref = parseBatchFrame(text);
      const s = scanner.scan(bytes);
      if (!s.ok) continue;
      fastFrames++;
      expect(ref.ok).toBe(true);
      if (!ref.ok) continue;
      expect(s.batch).toBe(ref.value.batch);
      expect(s.orders.count).toBe(ref.value.orders.length);
      for (let k = 0; k < s.orders.count; k++) {
        if (s.orders.fast[k] === 1) fastOrders++;
        const want = parseOrder(ref.value.orders[k], known);
        const got = fromScan(bytes, s, k);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          mismatches++;
          if (mismatches < 5) expect({ order: text.slice(s.orders.start[k], s.orders.end[k]), got }).toEqual({ order: text.slice(s.orders.start[k], s.orders.end[k]), got: want });
        }
      }
    }
    expect(mismatches).toBe(0);
    // The fuzz must exercise the fast path, not only the fallback.
    expect(fastFrames).toBeGreaterThan(300);
    expect(fastOrders).toBeGreaterThan(1000);
  });

  it('leaves malformed frames to the general path', () => {
    const scanner = createFrameScanner(CURRENCIES);
    const good = '{"id":"a","ts":1794355200000,"amount":"1","currency":"CNY","channel":"tv"}';
    for (const bad of [
      `{"batch":"b","orders":[${good}]`,
      `{"batch":"b","orders":[${good}]}x`,
      `{"batch":"b","orders":[${good},]}`,
      `{"batch":"b","orders":[]}`,
      `{"batch":"b","batch":"c","orders":[${good}]}`,
      `{"batch":"","orders":[${good}]}`,
      `{"orders":[${good}]}`,
      `{"batch":"b","orders":[{"id":"a","ts":0123}]}`,
      `{"batch":"b","orders":[${good}],"x":tru}`,
      `{"batch":"b","orders":[${Array(10_001).fill(good).join(',')}]}`,
      `["batch"]`,
    ]) {
      expect(scanner.scan(Buffer.from(bad)).ok, bad.slice(0, 80)).toBe(false);
    }
  });

  it('fingerprints id bytes exactly as the string form', () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    for (let i = 0; i < 5000; i++) {
      const id = `${pick(['o', 'A.b', 'x_y:z'])}-${Math.floor(rnd() * 1e12)}`;
      fingerprintInto(id, a);
      const bytes = Buffer.from(`__${id}__`);
      fingerprintBytesInto(bytes, 2, 2 + id.length, b);
      expect([...b]).toEqual([...a]);
    }
  });
});
