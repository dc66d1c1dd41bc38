// Folds a group's orders, as they are written, into the rows of the tables derived from the orders table (the
// rollups and the fingerprint side table): hundreds of rollup rows per group instead of views run by the engine.
import { CHANNELS } from '../domain/order.ts';
import { escapeTsv, FPS_TABLE } from './order-rows.ts';
import { AGG_KEY_MINUTE_TABLE, AGG_KEY_TOTAL_TABLE, AGG_SECOND_TABLE } from './schema.ts';
import type { SkuMinuteRow } from './sku-minute-bound.ts';

const KINDS = ['brand', 'sku', 'region'] as const;
const CHANNEL_INDEX: ReadonlyMap<string, number> = new Map(CHANNELS.map((c, i) => [c, i]));
const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * A sum of hundredths and a count. Amounts add as doubles while the sum is a safe integer and spill into a bigint
 * before it could stop being one, so any number of orders of any legal Int64 amount sums exactly.
 */
class Sum {
  h = 0;
  big = 0n;
  n = 0;
  add(h: number): void {
    const s = this.h + h;
    if (s > SAFE || s < -SAFE) {
      this.big += BigInt(this.h);
      this.h = h;
    } else this.h = s;
    this.n++;
  }
  get hundredths(): string {
    return this.big === 0n ? String(this.h) : String(this.big + BigInt(this.h));
  }
}

/** The rows of one insert into each derived table, each ending with that table's marker for the insert. */
export interface DerivedRows {
  /** The arrival range of the orders folded in: the orders table's rows with received_ms in it, and only those. */
  receivedFromMs: number;
  receivedThroughMs: number;
  /** Rows (markers not counted) per table; for the key-minute table, before SKU rows are bounded. */
  rows: Record<string, number>;
  /**
   * TabSeparated rows per derived table, in DERIVED_TABLES order. The key-minute table's hold its brand and region
   * rows and its marker; its SKU rows are in `skuMinutes`, for the store to bound (sku-minute-bound.ts).
   */
  tsv: Record<string, string | Uint8Array>;
  /** The per-minute SKU sums of the group, every SKU sold in it. */
  skuMinutes: SkuMinuteRow[];
}

/**
 * Each derived table, its columns, and its marker: one row per insert that says "the rows of the orders received
 * in [from, through] are in this table". It travels in the same insert as the rows it vouches for (one small
 * insert is one part: both land or neither), so a repair knows exactly which arrivals a table lacks. Markers sit
 * where no real row can (a negative instant, an empty key) and every reader leaves them out; they carry a count of
 * 1 so that SummingMergeTree, which drops rows whose sums are all zero, keeps them. Arrival ranges of inserts are
 * disjoint (group commit makes them so), so no two markers share a key and fold together.
 */
export const DERIVED_TABLES = [
  {
    table: AGG_SECOND_TABLE,
    columns: ['second', 'currency', 'channel', 'hundredths', 'orders'],
    marker: (from: number, through: number) => `${-through}\t\tmobile\t${from}\t1\n`,
    /** The markers whose range ends at or after sinceMs, as (from, through). */
    markersSince: (since: number) => `SELECT hundredths AS from_ms, -second AS through_ms FROM ${AGG_SECOND_TABLE} WHERE second < 0 AND second <= ${-since} AND currency = ''`,
  },
  {
    table: AGG_KEY_MINUTE_TABLE,
    columns: ['kind', 'minute', 'key', 'currency', 'hundredths', 'orders'],
    marker: (from: number, through: number) => `brand\t${-through}\t\t\t${from}\t1\n`,
    markersSince: (since: number) => `SELECT hundredths AS from_ms, -minute AS through_ms FROM ${AGG_KEY_MINUTE_TABLE} WHERE kind = 'brand' AND minute < 0 AND minute <= ${-since} AND key = ''`,
  },
  {
    table: AGG_KEY_TOTAL_TABLE,
    columns: ['kind', 'key', 'currency', 'hundredths', 'orders'],
    // No bucket column here: the range's end is the (otherwise never empty) currency, as decimal text.
    marker: (from: number, through: number) => `brand\t\t${through}\t${from}\t1\n`,
    markersSince: (since: number) => `SELECT hundredths AS from_ms, toInt64OrZero(currency) AS through_ms FROM ${AGG_KEY_TOTAL_TABLE} WHERE kind = 'brand' AND key = '' AND currency != '' AND toInt64OrZero(currency) >= ${since}`,
  },
  {
    table: FPS_TABLE,
    columns: ['fp_hi', 'fp_lo', 'received_ms'],
    // fp_lo holds the range's length (a group spans far less than 2^32 ms).
    marker: (from: number, through: number) => `0\t${through - from}\t${-through}\n`,
    markersSince: (since: number) => `SELECT -received_ms - fp_lo AS from_ms, -received_ms AS through_ms FROM ${FPS_TABLE} WHERE fp_hi = 0 AND received_ms < 0 AND received_ms <= ${-since}`,
  },
] as const;

interface KeyAcc {
  /** (paid-at minute * 256 + currency index) -> sum. */
  minutes: Map<number, Sum>;
}

/** Decimal digits of a non-negative safe integer into `buf` at `pos`; returns the new position. */
function writeUint(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  let len = 0;
  for (let x = n; x >= 1; x = Math.floor(x / 10)) len++;
  let p = pos + len;
  let x = n;
  while (p > pos) {
    const q = Math.floor(x / 10);
    buf[--p] = 48 + (x - q * 10);
    x = q;
  }
  return pos + len;
}

export class DerivedFold {
  private readonly currencies: string[] = [];
  private readonly currencyIndex = new Map<string, number>();
  /** (paid-at second * 1024 + currency index * 4 + channel index) -> sum. */
  private readonly seconds = new Map<number, Sum>();
  private readonly keys: Map<string, KeyAcc>[] = [new Map(), new Map(), new Map()];
  private fps: Buffer;
  private fpsPos = 0;
  private lastReceived = Number.NaN;
  private lastReceivedText: Buffer = Buffer.alloc(0);
  count = 0;
  minReceivedMs = Number.POSITIVE_INFINITY;
  maxReceivedMs = Number.NEGATIVE_INFINITY;

  constructor(initialFpsBytes = 64 * 1024) {
    this.fps = Buffer.allocUnsafe(initialFpsBytes);
  }

  /** One order. Empty brand, SKU or region is no key at all, as the readers expect. */
  add(ts: number, hundredths: number, currency: string, channel: string, brand: string, sku: string, region: string, hi: number, lo: number, receivedMs: number): void {
    let cur = this.currencyIndex.get(currency);
    if (cur === undefined) {
      cur = this.currencies.length;
      if (cur >= 256) throw new Error(`DerivedFold: more than 256 currencies in one insert (at ${JSON.stringify(currency)})`);
      this.currencies.push(currency);
      this.currencyIndex.set(currency, cur);
    }
    const ch = CHANNEL_INDEX.get(channel);
    if (ch === undefined) throw new Error(`DerivedFold: channel ${JSON.stringify(channel)} is not one of ${CHANNELS.join(', ')}`);
    // ts is a non-negative epoch ms (validated at the edge): Math.floor matches ClickHouse's intDiv.
    const second = Math.floor(ts / 1000);
    const sk = second * 1024 + cur * 4 + ch;
    let s = this.seconds.get(sk);
    if (s === undefined) this.seconds.set(sk, (s = new Sum()));
    s.add(hundredths);
    const mk = Math.floor(ts / 60_000) * 256 + cur;
    this.addKey(0, brand, mk, hundredths);
    this.addKey(1, sku, mk, hundredths);
    this.addKey(2, region, mk, hundredths);
    this.addFp(hi, lo, receivedMs);
    this.count++;
  }

  private addKey(kind: number, key: string, mk: number, hundredths: number): void {
    if (key === '') return;
    const m = this.keys[kind]!;
    let acc = m.get(key);
    if (acc === undefined) m.set(key, (acc = { minutes: new Map() }));
    let s = acc.minutes.get(mk);
    if (s === undefined) acc.minutes.set(mk, (s = new Sum()));
    s.add(hundredths);
  }

  private addFp(hi: number, lo: number, receivedMs: number): void {
    if (this.fpsPos + 48 > this.fps.length) {
      const next = Buffer.allocUnsafe(this.fps.length * 2);
      this.fps.copy(next, 0, 0, this.fpsPos);
      this.fps = next;
    }
    if (receivedMs !== this.lastReceived) {
      this.lastReceived = receivedMs;
      this.lastReceivedText = Buffer.from(String(receivedMs), 'latin1');
      if (receivedMs < this.minReceivedMs) this.minReceivedMs = receivedMs;
      if (receivedMs > this.maxReceivedMs) this.maxReceivedMs = receivedMs;
    }
    let p = writeUint(this.fps, this.fpsPos, hi);
    this.fps[p++] = 9;
    p = writeUint(this.fps, p, lo);
    this.fps[p++] = 9;
    p += this.lastReceivedText.copy(this.fps, p);
    this.fps[p++] = 10;
    this.fpsPos = p;
  }

  /** The derived rows of everything folded so far, each table's with its marker; null when nothing was folded. */
  rows(): DerivedRows | null {
    if (this.count === 0) return null;
    const from = this.minReceivedMs;
    const through = this.maxReceivedMs;
    const [second, keyMinute, keyTotal, fps] = DERIVED_TABLES;
    const rows: Record<string, number> = {};
    const out: string[] = [];
    for (const [k, s] of this.seconds) {
      const sec = Math.floor(k / 1024);
      const rest = k - sec * 1024;
      out.push(`${sec}\t${escapeTsv(this.currencies[rest >> 2]!)}\t${CHANNELS[rest & 3]}\t${s.hundredths}\t${s.n}\n`);
    }
    rows[second.table] = out.length;
    out.push(second.marker(from, through));
    const secondTsv = out.join('');
    const minuteRows: string[] = [];
    const skuMinutes: SkuMinuteRow[] = [];
    const totalRows: string[] = [];
    KINDS.forEach((kind, i) => {
      for (const [key, acc] of this.keys[i]!) {
        const k = escapeTsv(key);
        const totals = new Map<number, Sum>();
        for (const [mk, s] of acc.minutes) {
          const minute = Math.floor(mk / 256);
          const cur = mk - minute * 256;
          if (kind === 'sku') skuMinutes.push({ minute, key: k, currency: escapeTsv(this.currencies[cur]!), hundredths: s.hundredths, orders: s.n });
          else minuteRows.push(`${kind}\t${minute}\t${k}\t${escapeTsv(this.currencies[cur]!)}\t${s.hundredths}\t${s.n}\n`);
          let t = totals.get(cur);
          if (t === undefined) totals.set(cur, (t = new Sum()));
          t.big += BigInt(s.hundredths);
          t.n += s.n;
        }
        for (const [cur, t] of totals) totalRows.push(`${kind}\t${k}\t${escapeTsv(this.currencies[cur]!)}\t${t.hundredths}\t${t.n}\n`);
      }
    });
    rows[keyMinute.table] = minuteRows.length + skuMinutes.length;
    rows[keyTotal.table] = totalRows.length;
    rows[fps.table] = this.count;
    minuteRows.push(keyMinute.marker(from, through));
    totalRows.push(keyTotal.marker(from, through));
    const fpsTsv = Buffer.concat([this.fps.subarray(0, this.fpsPos), Buffer.from(fps.marker(from, through), 'latin1')]);
    return {
      receivedFromMs: from,
      receivedThroughMs: through,
      rows,
      tsv: { [second.table]: secondTsv, [keyMinute.table]: minuteRows.join(''), [keyTotal.table]: totalRows.join(''), [fps.table]: fpsTsv },
      skuMinutes,
    };
  }
}

/**
 * Several groups' derived rows as one insert per table: each table's rows one after the other, each group's marker
 * kept (their arrival ranges are disjoint, so the markers stay apart and a repair still sees every range). Summing
 * tables add the rows up at merge time, so rows of one key from two groups are exact as they are.
 */
export function mergeDerivedRows(list: readonly DerivedRows[]): DerivedRows {
  if (list.length === 1) return list[0]!;
  if (list.length === 0) throw new Error('mergeDerivedRows: nothing to merge');
  const rows: Record<string, number> = {};
  const tsv: Record<string, string | Uint8Array> = {};
  let from = Number.POSITIVE_INFINITY;
  let through = Number.NEGATIVE_INFINITY;
  for (const d of list) {
    from = Math.min(from, d.receivedFromMs);
    through = Math.max(through, d.receivedThroughMs);
  }
  for (const { table } of DERIVED_TABLES) {
    let n = 0;
    const parts: (string | Uint8Array)[] = [];
    for (const d of list) {
      n += d.rows[table] ?? 0;
      const t = d.tsv[table];
      if (t !== undefined) parts.push(t);
    }
    rows[table] = n;
    // Text stays text (the store adds to it); bytes are joined once.
    tsv[table] = parts.every((t) => typeof t === 'string') ? parts.join('') : Buffer.concat(parts.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t)));
  }
  return {
    receivedFromMs: from,
    receivedThroughMs: through,
    rows,
    tsv,
    skuMinutes: list.flatMap((d) => d.skuMinutes),
  };
}
