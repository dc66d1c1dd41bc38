// The ingest fast path: reads a batch frame's bytes in one pass without building objects, and claims only the
// orders it can prove valid. Everything else is left to JSON.parse and parseOrder, so results and error texts
// are exactly those of the general path: an order the scanner doubts is re-parsed alone, a frame it doubts
// (escapes, non-ASCII, anything malformed) is parsed whole the general way.
import { isAscii } from 'node:buffer';
import { MAX_ORDER_HUNDREDTHS } from '../domain/money.ts';
import { CHANNELS, MAX_ORDERS_PER_BATCH } from '../domain/order.ts';

const MIN_TS = 946_684_800_000;
const MAX_TS = 4_102_444_800_000;

/** One order as the scanner saw it: either proven valid (fields filled) or to be parsed the general way. */
export class ScannedOrders {
  count = 0;
  /** 1 = proven valid; 0 = parse bytes [start, end) with JSON.parse and parseOrder. */
  fast = new Uint8Array(MAX_ORDERS_PER_BATCH);
  start = new Int32Array(MAX_ORDERS_PER_BATCH);
  end = new Int32Array(MAX_ORDERS_PER_BATCH);
  idStart = new Int32Array(MAX_ORDERS_PER_BATCH);
  idEnd = new Int32Array(MAX_ORDERS_PER_BATCH);
  ts = new Float64Array(MAX_ORDERS_PER_BATCH);
  hundredths = new Int32Array(MAX_ORDERS_PER_BATCH);
  currency = new Uint8Array(MAX_ORDERS_PER_BATCH);
  channel = new Uint8Array(MAX_ORDERS_PER_BATCH);
  /** Byte ranges of brand, sku, category, region: [start, end) pairs, 8 per order; -1 when absent. */
  text = new Int32Array(MAX_ORDERS_PER_BATCH * 8);
}

export type ScanResult = { ok: true; batch: string; orders: ScannedOrders } | { ok: false };

class Doubt extends Error {}
const DOUBT = new Doubt();

/** Order keys the scanner reads, as bytes; the index is the field code used below. */
const KEYS = ['id', 'ts', 'amount', 'currency', 'channel', 'brand', 'sku', 'category', 'region'].map((k) => Buffer.from(k));
const CHANNEL_BYTES = CHANNELS.map((k) => Buffer.from(k));

function isIdByte(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 58 || c === 45;
}

function skipWs(b: Uint8Array, i: number, n: number): number {
  while (i < n) {
    const c = b[i]!;
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else break;
  }
  return i;
}

/** Steps over a string with no escapes (the frame has no backslash); returns the index after its closing quote. */
function skipStr(b: Uint8Array, i: number, n: number): number {
  if (b[i] !== 34) throw DOUBT;
  i++;
  for (;;) {
    if (i >= n) throw DOUBT;
    const c = b[i]!;
    if (c === 34) return i + 1;
    if (c < 32) throw DOUBT;
    i++;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/** Steps over a JSON number, checking the grammar. */
function skipNum(b: Uint8Array, i: number): number {
  if (b[i] === 45) i++;
  if (b[i] === 48) i++;
  else if (b[i]! >= 49 && b[i]! <= 57) while (isDigit(b[i])) i++;
  else throw DOUBT;
  if (b[i] === 46) {
    i++;
    if (!isDigit(b[i])) throw DOUBT;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 101 || b[i] === 69) {
    i++;
    if (b[i] === 43 || b[i] === 45) i++;
    if (!isDigit(b[i])) throw DOUBT;
    while (isDigit(b[i])) i++;
  }
  return i;
}

function skipLiteral(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) throw DOUBT;
  return i + word.length;
}

/** Steps over any JSON value (after whitespace), checking its syntax. */
function skipValue(b: Uint8Array, i: number, n: number, depth: number): number {
  if (depth > 64) throw DOUBT;
  i = skipWs(b, i, n);
  const c = b[i];
  if (c === 34) return skipStr(b, i, n);
  if (c === 123 || c === 91) {
    const close = c === 123 ? 125 : 93;
    i = skipWs(b, i + 1, n);
    if (b[i] === close) return i + 1;
    for (;;) {
      if (c === 123) {
        i = skipStr(b, skipWs(b, i, n), n);
        i = skipWs(b, i, n);
        if (b[i] !== 58) throw DOUBT;
        i++;
      }
      i = skipWs(b, skipValue(b, i, n, depth + 1), n);
      if (b[i] === 44) i++;
      else if (b[i] === close) return i + 1;
      else throw DOUBT;
    }
  }
  if (c === 116) return skipLiteral(b, i, 'true');
  if (c === 102) return skipLiteral(b, i, 'false');
  if (c === 110) return skipLiteral(b, i, 'null');
  return skipNum(b, i);
}

function same(b: Uint8Array, s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false;
  for (let j = 0; j < word.length; j++) if (b[s + j] !== word[j]) return false;
  return true;
}

/** Field code of the key in bytes [s, e): 0..8 per KEYS, or -1 for a key the scanner skips. */
function keyCode(b: Uint8Array, s: number, e: number): number {
  const c0 = b[s];
  let f = -1;
  switch (e - s) {
    case 2: f = c0 === 105 ? 0 : c0 === 116 ? 1 : -1; break; // id, ts
    case 6: f = c0 === 97 ? 2 : c0 === 114 ? 8 : -1; break; // amount, region
    case 8: f = c0 === 99 ? (b[s + 1] === 117 ? 3 : 7) : -1; break; // currency, category
    case 7: f = 4; break; // channel
    case 5: f = 5; break; // brand
    case 3: f = 6; break; // sku
  }
  if (f < 0) return -1;
  const word = KEYS[f]!;
  if (e - s !== word.length) return -1;
  for (let j = 1; j < word.length; j++) if (b[s + j] !== word[j]) return -1;
  return f;
}

/**
 * Hundredths of an amount value in bytes [vs, ve) (a string with its quotes, or a number): "d{1,8}[.d{1,2}]"
 * or the same digits as a plain JSON number; -1 for anything else (the general path decides those).
 */
function amountHundredths(b: Uint8Array, vs: number, ve: number): number {
  const quoted = b[vs] === 34;
  const s = quoted ? vs + 1 : vs;
  const e = quoted ? ve - 1 : ve;
  let j = s;
  let units = 0;
  while (j < e && j - s < 9 && isDigit(b[j])) units = units * 10 + (b[j++]! - 48);
  if (j === s || j - s > 8) return -1;
  // A leading zero like "007" is left to the general path (as a JSON number it cannot occur).
  if (quoted && j - s > 1 && b[s] === 48) return -1;
  if (j === e) return units * 100;
  if (b[j] !== 46 || (e - j !== 2 && e - j !== 3)) return -1;
  const d1 = b[j + 1]! - 48;
  const d2 = e - j === 3 ? b[j + 2]! - 48 : 0;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return -1;
  return units * 100 + d1 * 10 + d2;
}

/** A paid-at instant in bytes [vs, ve) when it is a plain integer in range; -1 otherwise. */
function tsValue(b: Uint8Array, vs: number, ve: number): number {
  if (ve - vs > 13 || ve === vs) return -1;
  let v = 0;
  for (let j = vs; j < ve; j++) {
    const d = b[j]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v < MIN_TS || v > MAX_TS ? -1 : v;
}

/**
 * Reads one order at i into slot k of `out`; returns the index after it. Sets fast[k] = 0 when any field is
 * not provably valid. Throws DOUBT when the JSON itself is malformed (the frame then goes the general way).
 */
function readOrder(b: Uint8Array, i: number, n: number, k: number, out: ScannedOrders, currencyIndex: Map<number, number>): number {
  i = skipWs(b, i, n);
  out.start[k] = i;
  if (b[i] !== 123) {
    i = skipValue(b, i, n, 0);
    out.end[k] = i;
    out.fast[k] = 0;
    return i;
  }
  let ok = true;
  let seen = 0;
  const t = k * 8;
  for (let f = 0; f < 8; f++) out.text[t + f] = -1;
  i = skipWs(b, i + 1, n);
  if (b[i] === 125) i++;
  else
    for (;;) {
      const ks = skipWs(b, i, n);
      const ke = skipStr(b, ks, n);
      i = skipWs(b, ke, n);
      if (b[i] !== 58) throw DOUBT;
      const vs = skipWs(b, i + 1, n);
      i = skipValue(b, vs, n, 0);
      const code = keyCode(b, ks + 1, ke - 1);
      const bit = code < 0 ? 0 : 1 << code;
      if ((seen & bit) !== 0) ok = false; // a repeated key: JSON.parse keeps the last; let it decide
      seen |= bit;
      const isStr = b[vs] === 34;
      switch (code) {
        case 0: {
          const s = vs + 1;
          const e = i - 1;
          if (!isStr || e - s < 1 || e - s > 64) ok = false;
          else {
            for (let j = s; j < e; j++) if (!isIdByte(b[j]!)) ok = false;
            out.idStart[k] = s;
            out.idEnd[k] = e;
          }
          break;
        }
        case 1: {
          const v = tsValue(b, vs, i);
          if (v < 0) ok = false;
          else out.ts[k] = v;
          break;
        }
        case 2: {
          const h = amountHundredths(b, vs, i);
          if (h <= 0 || h > MAX_ORDER_HUNDREDTHS) ok = false;
          else out.hundredths[k] = h;
          break;
        }
        case 3: {
          const ci = isStr && i - vs === 5 ? currencyIndex.get((b[vs + 1]! << 16) | (b[vs + 2]! << 8) | b[vs + 3]!) : undefined;
          if (ci === undefined) ok = false;
          else out.currency[k] = ci;
          break;
        }
        case 4: {
          let ch = -1;
          if (isStr) {
            for (let c = 0; c < CHANNEL_BYTES.length; c++) {
              if (same(b, vs + 1, i - 1, CHANNEL_BYTES[c]!)) {
                ch = c;
                break;
              }
            }
          }
          if (ch < 0) ok = false;
          else out.channel[k] = ch;
          break;
        }
        case 5:
        case 6:
        case 7:
        case 8: {
          // ASCII: bytes are characters.
          if (!isStr || i - vs - 2 > 64) ok = false;
          const f = code - 5;
          out.text[t + 2 * f] = vs + 1;
          out.text[t + 2 * f + 1] = i - 1;
          break;
        }
      }
      i = skipWs(b, i, n);
      if (b[i] === 44) i++;
      else if (b[i] === 125) {
        i++;
        break;
      } else throw DOUBT;
    }
  out.end[k] = i;
  out.fast[k] = ok && (seen & 31) === 31 ? 1 : 0;
  return i;
}

/**
 * A scanner bound to the show's currency table. `scan` returns ok:false whenever the frame must take the
 * general path; the orders it returns are reused by the next call.
 */
export function createFrameScanner(currencies: readonly string[]) {
  const currencyIndex = new Map<number, number>();
  currencies.forEach((c, idx) => {
    if (c.length === 3) currencyIndex.set((c.charCodeAt(0) << 16) | (c.charCodeAt(1) << 8) | c.charCodeAt(2), idx);
  });
  const out = new ScannedOrders();
  const latin1 = (b: Uint8Array, s: number, e: number) => Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');

  return {
    /** Scans a frame; `bytes` must stay unchanged while the result is used. */
    scan(b: Uint8Array): ScanResult {
      const n = b.length;
      // No escapes and ASCII only: every string is its bytes. Anything else goes the general way.
      if (b.indexOf(92) >= 0 || !isAscii(b)) return { ok: false };
      try {
        let batch: string | null = null;
        let haveOrders = false;
        let i = skipWs(b, 0, n);
        if (b[i] !== 123) return { ok: false };
        i = skipWs(b, i + 1, n);
        if (b[i] === 125) return { ok: false };
        for (;;) {
          const ks = skipWs(b, i, n);
          const ke = skipStr(b, ks, n);
          const key = ke - ks - 2 <= 6 ? latin1(b, ks + 1, ke - 1) : '';
          i = skipWs(b, ke, n);
          if (b[i] !== 58) return { ok: false };
          i = skipWs(b, i + 1, n);
          if (key === 'batch') {
            if (batch !== null || b[i] !== 34) return { ok: false };
            const ve = skipStr(b, i, n);
            if (ve - i - 2 < 1 || ve - i - 2 > 64) return { ok: false };
            batch = latin1(b, i + 1, ve - 1);
            i = ve;
          } else if (key === 'orders') {
            if (haveOrders || b[i] !== 91) return { ok: false };
            haveOrders = true;
            i = skipWs(b, i + 1, n);
            if (b[i] === 93) return { ok: false };
            let k = 0;
            for (;;) {
              if (k >= MAX_ORDERS_PER_BATCH) return { ok: false };
              i = skipWs(b, readOrder(b, i, n, k++, out, currencyIndex), n);
              if (b[i] === 44) i++;
              else if (b[i] === 93) {
                i++;
                break;
              } else return { ok: false };
            }
            out.count = k;
          } else i = skipValue(b, i, n, 0);
          i = skipWs(b, i, n);
          if (b[i] === 44) i++;
          else if (b[i] === 125) {
            i++;
            break;
          } else return { ok: false };
        }
        i = skipWs(b, i, n);
        if (i !== n || batch === null || !haveOrders) return { ok: false };
        return { ok: true, batch, orders: out };
      } catch (e) {
        if (e === DOUBT) return { ok: false };
        throw e;
      }
    },
  };
}
