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

/**
 * A scanner bound to the show's currency table. `scan` returns ok:false whenever the frame must take the
 * general path; the orders array it returns is reused by the next call.
 */
export function createFrameScanner(currencies: readonly string[]) {
  const currencyIndex = new Map<number, number>();
  currencies.forEach((c, i) => {
    if (c.length === 3) currencyIndex.set((c.charCodeAt(0) << 16) | (c.charCodeAt(1) << 8) | c.charCodeAt(2), i);
  });
  const out = new ScannedOrders();
  const same = (s: number, e: number, word: Uint8Array): boolean => {
    if (e - s !== word.length) return false;
    for (let j = 0; j < word.length; j++) if (b[s + j] !== word[j]) return false;
    return true;
  };
  /** Field code of the key in bytes [s, e): 0..8 per KEYS, or -1 for a key the scanner skips. */
  const keyCode = (s: number, e: number): number => {
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
    return f >= 0 && same(s, e, KEYS[f]!) ? f : -1;
  };
  let b: Uint8Array = new Uint8Array(0);
  let n = 0;
  let i = 0;

  const ws = () => {
    while (i < n) {
      const c = b[i]!;
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
  };
  const expect = (c: number) => {
    ws();
    if (b[i] !== c) throw DOUBT;
    i++;
  };
  /** Steps over a string with no escapes (the frame has no backslash); returns its length in bytes. */
  const str = (): number => {
    if (b[i] !== 34) throw DOUBT;
    i++;
    const s = i;
    for (;;) {
      if (i >= n) throw DOUBT;
      const c = b[i]!;
      if (c === 34) break;
      if (c < 32) throw DOUBT;
      i++;
    }
    const e = i;
    i++;
    return e - s;
  };
  /** Steps over a JSON number, checking the grammar. */
  const num = (): void => {
    if (b[i] === 45) i++;
    if (b[i] === 48) i++;
    else if (b[i]! >= 49 && b[i]! <= 57) while (b[i]! >= 48 && b[i]! <= 57) i++;
    else throw DOUBT;
    if (b[i] === 46) {
      i++;
      if (!(b[i]! >= 48 && b[i]! <= 57)) throw DOUBT;
      while (b[i]! >= 48 && b[i]! <= 57) i++;
    }
    if (b[i] === 101 || b[i] === 69) {
      i++;
      if (b[i] === 43 || b[i] === 45) i++;
      if (!(b[i]! >= 48 && b[i]! <= 57)) throw DOUBT;
      while (b[i]! >= 48 && b[i]! <= 57) i++;
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) throw DOUBT;
    i += word.length;
  };
  /** Skips any JSON value, checking its syntax. */
  const skip = (depth: number): void => {
    if (depth > 64) throw DOUBT;
    ws();
    const c = b[i];
    if (c === 34) str();
    else if (c === 123) {
      i++;
      ws();
      if (b[i] === 125) {
        i++;
        return;
      }
      for (;;) {
        ws();
        str();
        expect(58);
        skip(depth + 1);
        ws();
        if (b[i] === 44) i++;
        else if (b[i] === 125) {
          i++;
          return;
        } else throw DOUBT;
      }
    } else if (c === 91) {
      i++;
      ws();
      if (b[i] === 93) {
        i++;
        return;
      }
      for (;;) {
        skip(depth + 1);
        ws();
        if (b[i] === 44) i++;
        else if (b[i] === 93) {
          i++;
          return;
        } else throw DOUBT;
      }
    } else if (c === 116) literal('true');
    else if (c === 102) literal('false');
    else if (c === 110) literal('null');
    else num();
  };

  /** Reads one order object at i; fills slot k. Sets fast[k] = 0 when any field is not provably valid. */
  const order = (k: number): void => {
    ws();
    const start = i;
    out.start[k] = start;
    if (b[i] !== 123) {
      skip(0);
      out.end[k] = i;
      out.fast[k] = 0;
      return;
    }
    let ok = true;
    let seen = 0;
    const t = k * 8;
    for (let f = 0; f < 8; f++) out.text[t + f] = -1;
    i++;
    ws();
    if (b[i] === 125) i++;
    else
      for (;;) {
        ws();
        const ks = i + 1;
        const klen = str();
        expect(58);
        ws();
        const vs = i;
        const code = keyCode(ks, ks + klen);
        const bit = code < 0 ? 0 : 1 << code;
        if (bit !== 0 && (seen & bit) !== 0) ok = false; // a repeated key: JSON.parse keeps the last; let it decide
        seen |= bit;
        if (bit === 1) {
          if (b[i] !== 34) ok = false;
          skip(0);
          const s = vs + 1;
          const e = i - 1;
          if (ok && e - s >= 1 && e - s <= 64) {
            for (let j = s; j < e; j++) if (!isIdByte(b[j]!)) ok = false;
            out.idStart[k] = s;
            out.idEnd[k] = e;
          } else ok = false;
        } else if (bit === 2) {
          skip(0);
          if (b[vs]! < 48 || b[vs]! > 57 || i - vs > 13) ok = false;
          else {
            let v = 0;
            for (let j = vs; j < i; j++) {
              const d = b[j]! - 48;
              if (d < 0 || d > 9) ok = false;
              v = v * 10 + d;
            }
            if (v < MIN_TS || v > MAX_TS) ok = false;
            out.ts[k] = v;
          }
        } else if (bit === 4) {
          skip(0);
          // "d{1,8}[.d{1,2}]" as a string, or the same digits as a plain JSON number.
          const s = b[vs] === 34 ? vs + 1 : vs;
          const e = b[vs] === 34 ? i - 1 : i;
          let j = s;
          let units = 0;
          while (j < e && b[j]! >= 48 && b[j]! <= 57 && j - s < 9) units = units * 10 + (b[j++]! - 48);
          let h = -1;
          if (j > s && j - s <= 8) {
            if (j === e) h = units * 100;
            else if (b[j] === 46 && (e - j === 2 || e - j === 3)) {
              const d1 = b[j + 1]! - 48;
              const d2 = e - j === 3 ? b[j + 2]! - 48 : 0;
              if (d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) h = units * 100 + d1 * 10 + d2;
            }
          }
          // A number with a leading zero like 0.5 is valid JSON and fine; "007" as a string is left to the general path.
          if (b[vs] === 34 && e - s > 1 && b[s] === 48 && b[s + 1] !== 46) h = -1;
          if (h <= 0 || h > MAX_ORDER_HUNDREDTHS) ok = false;
          else out.hundredths[k] = h;
        } else if (bit === 8) {
          if (b[i] !== 34) ok = false;
          skip(0);
          const ci = i - vs === 5 ? currencyIndex.get((b[vs + 1]! << 16) | (b[vs + 2]! << 8) | b[vs + 3]!) : undefined;
          if (ci === undefined) ok = false;
          else out.currency[k] = ci;
        } else if (bit === 16) {
          if (b[i] !== 34) ok = false;
          skip(0);
          let ch = -1;
          for (let c = 0; c < CHANNEL_BYTES.length; c++) if (same(vs + 1, i - 1, CHANNEL_BYTES[c]!)) ch = c;
          if (ch < 0) ok = false;
          else out.channel[k] = ch;
        } else if (bit >= 32) {
          if (b[i] !== 34) ok = false;
          skip(0);
          if (i - vs - 2 > 64) ok = false; // ASCII: bytes are characters
          const f = code - 5;
          out.text[t + 2 * f] = vs + 1;
          out.text[t + 2 * f + 1] = i - 1;
        } else skip(0);
        ws();
        if (b[i] === 44) i++;
        else if (b[i] === 125) {
          i++;
          break;
        } else throw DOUBT;
      }
    out.end[k] = i;
    out.fast[k] = ok && (seen & 31) === 31 ? 1 : 0;
  };

  return {
    /** Scans a frame; `bytes` must stay unchanged while the result is used. */
    scan(bytes: Uint8Array): ScanResult {
      b = bytes;
      n = bytes.length;
      i = 0;
      // No escapes and ASCII only: every string is its bytes. Anything else goes the general way.
      if (bytes.indexOf(92) >= 0 || !isAscii(bytes)) return { ok: false };
      try {
        let batch: string | null = null;
        let haveOrders = false;
        expect(123);
        ws();
        if (b[i] === 125) return { ok: false };
        for (;;) {
          ws();
          const ks = i + 1;
          const klen = str();
          const key = klen <= 6 ? String.fromCharCode(...b.subarray(ks, ks + klen)) : '';
          expect(58);
          ws();
          if (key === 'batch') {
            if (batch !== null || b[i] !== 34) return { ok: false };
            const vs = i + 1;
            const len = str();
            if (len < 1 || len > 64) return { ok: false };
            batch = String.fromCharCode(...b.subarray(vs, vs + len));
          } else if (key === 'orders') {
            if (haveOrders || b[i] !== 91) return { ok: false };
            haveOrders = true;
            i++;
            ws();
            let k = 0;
            if (b[i] === 93) return { ok: false };
            for (;;) {
              if (k >= MAX_ORDERS_PER_BATCH) return { ok: false };
              order(k++);
              ws();
              if (b[i] === 44) i++;
              else if (b[i] === 93) {
                i++;
                break;
              } else return { ok: false };
            }
            out.count = k;
          } else skip(0);
          ws();
          if (b[i] === 44) i++;
          else if (b[i] === 125) {
            i++;
            break;
          } else return { ok: false };
        }
        ws();
        if (i !== n || batch === null || !haveOrders) return { ok: false };
        return { ok: true, batch, orders: out };
      } catch (e) {
        if (e === DOUBT) return { ok: false };
        throw e;
      }
    },
  };
}
