// Folds a group's orders, as they are written, into the rows of the rollups derived from the orders table: hundreds
// of rollup rows per group instead of views run by the engine. (The fingerprint side table is filled by the engine
// itself, from the orders table: FPS_SIDE below.)
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
] as const;

/**
 * The fingerprint side table, which is not folded at commit: the engine fills it from the orders table every few
 * seconds (OrderStore.fillFingerprints), with a marker per fill as above. Only the late-duplicate look reads it.
 */
export const FPS_SIDE = {
  table: FPS_TABLE,
  columns: ['fp_hi', 'fp_lo', 'received_ms'],
  /**
   * The marker as a SELECT of one row in the table's column types, for a fill's INSERT ... SELECT. fp_lo holds the
   * range's length (a fill spans far less than 2^32 ms).
   */
  markerSelect: (from: number, through: number) => `SELECT toUInt32(0) AS fp_hi, toUInt32(${through - from}) AS fp_lo, toInt64(${-through}) AS received_ms`,
  markersSince: (since: number) => `SELECT -received_ms - fp_lo AS from_ms, -received_ms AS through_ms FROM ${FPS_TABLE} WHERE fp_hi = 0 AND received_ms < 0 AND received_ms <= ${-since}`,
} as const;

/** One key's sums by (paid-at minute * 256 + currency index), with the last one used at hand (a group's orders mostly share a minute). */
class KeyAcc {
  readonly minutes = new Map<number, Sum>();
  private lastMk = Number.NaN;
  private last: Sum | null = null;

  sumFor(mk: number): Sum {
    if (mk === this.lastMk) return this.last!;
    let s = this.minutes.get(mk);
    if (s === undefined) this.minutes.set(mk, (s = new Sum()));
    this.lastMk = mk;
    this.last = s;
    return s;
  }
}

/**
 * Keys of one kind met as bytes of a frame (brand, SKU, region), interned: the bytes are hashed and compared in
 * place, and a key's text is made once, the first time it is met. A string made per order and hashed by a Map
 * cost more than the rest of the fold.
 */
class ByteKeys {
  private slots = new Int32Array(1024);
  private hashes = new Uint32Array(1024);
  private mask = 1023;
  private arena: Uint8Array = new Uint8Array(16 * 1024);
  private arenaPos = 0;
  private starts: number[] = [];
  private ends: number[] = [];
  private accs: KeyAcc[] = [];

  /** The accumulator of the key in src[s, e), or null when it has not been met as bytes yet. */
  find(src: Uint8Array, s: number, e: number, h: number): KeyAcc | null {
    const arena = this.arena;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const k = this.slots[i]!;
      if (k === 0) return null;
      if (this.hashes[i] !== h) continue;
      const a = this.starts[k - 1]!;
      if (this.ends[k - 1]! - a !== e - s) continue;
      let j = 0;
      while (j < e - s && arena[a + j] === src[s + j]) j++;
      if (j === e - s) return this.accs[k - 1]!;
    }
  }

  add(src: Uint8Array, s: number, e: number, h: number, acc: KeyAcc): void {
    if (this.arenaPos + (e - s) > this.arena.length) {
      const next = new Uint8Array(Math.max(this.arena.length * 2, this.arenaPos + (e - s)));
      next.set(this.arena.subarray(0, this.arenaPos));
      this.arena = next;
    }
    this.arena.set(src.subarray(s, e), this.arenaPos);
    this.starts.push(this.arenaPos);
    this.arenaPos += e - s;
    this.ends.push(this.arenaPos);
    this.accs.push(acc);
    this.place(this.accs.length, h);
    if (this.accs.length * 2 > this.mask + 1) this.grow();
  }

  private place(k: number, h: number): void {
    let i = h & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = k;
    this.hashes[i] = h;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Uint32Array(oldSlots.length * 2);
    this.mask = this.slots.length - 1;
    for (let i = 0; i < oldSlots.length; i++) if (oldSlots[i] !== 0) this.place(oldSlots[i]!, oldHashes[i]!);
  }
}

/** FNV-1a over src[s, e). */
function hashBytes(src: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let j = s; j < e; j++) h = Math.imul(h ^ src[j]!, 0x01000193);
  return h >>> 0;
}

export class DerivedFold {
  private readonly currencies: string[] = [];
  private readonly currencyIndex = new Map<string, number>();
  /** (paid-at second * 1024 + currency index * 4 + channel index) -> sum. */
  private readonly seconds = new Map<number, Sum>();
  /** The last second's sum per (currency index * 4 + channel index): most orders of a group share their second. */
  private readonly lastSecond = new Float64Array(1024).fill(Number.NaN);
  private readonly lastSecondSum: (Sum | null)[] = new Array<Sum | null>(1024).fill(null);
  private readonly keys: Map<string, KeyAcc>[] = [new Map(), new Map(), new Map()];
  private readonly byteKeys = [new ByteKeys(), new ByteKeys(), new ByteKeys()];
  count = 0;
  minReceivedMs = Number.POSITIVE_INFINITY;
  maxReceivedMs = Number.NEGATIVE_INFINITY;

  /** One order. Empty brand, SKU or region is no key at all, as the readers expect. */
  add(ts: number, hundredths: number, currency: string, channel: string, brand: string, sku: string, region: string, receivedMs: number): void {
    const mk = this.addSecond(ts, hundredths, currency, channel);
    if (brand !== '') this.keyAcc(0, brand).sumFor(mk).add(hundredths);
    if (sku !== '') this.keyAcc(1, sku).sumFor(mk).add(hundredths);
    if (region !== '') this.keyAcc(2, region).sumFor(mk).add(hundredths);
    this.addReceived(receivedMs);
    this.count++;
  }

  /**
   * The same for an order the frame scanner read: brand, SKU and region are byte ranges of `src` that the scanner
   * proved ASCII with nothing to escape, as [start, end) pairs at text[at], text[at + 2] and text[at + 6] (-1: absent).
   */
  addScanned(ts: number, hundredths: number, currency: string, channel: string, src: Uint8Array, text: Int32Array, at: number, receivedMs: number): void {
    const mk = this.addSecond(ts, hundredths, currency, channel);
    this.addKeyBytes(0, src, text[at]!, text[at + 1]!, mk, hundredths);
    this.addKeyBytes(1, src, text[at + 2]!, text[at + 3]!, mk, hundredths);
    this.addKeyBytes(2, src, text[at + 6]!, text[at + 7]!, mk, hundredths);
    this.addReceived(receivedMs);
    this.count++;
  }

  /** Adds the order to its second's sum; returns its key-minute bucket (paid-at minute * 256 + currency index). */
  private addSecond(ts: number, hundredths: number, currency: string, channel: string): number {
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
    const slot = cur * 4 + ch;
    let s: Sum;
    if (this.lastSecond[slot] === second) s = this.lastSecondSum[slot]!;
    else {
      const sk = second * 1024 + slot;
      let found = this.seconds.get(sk);
      if (found === undefined) this.seconds.set(sk, (found = new Sum()));
      this.lastSecond[slot] = second;
      this.lastSecondSum[slot] = found;
      s = found;
    }
    s.add(hundredths);
    return Math.floor(ts / 60_000) * 256 + cur;
  }

  private keyAcc(kind: number, key: string): KeyAcc {
    const m = this.keys[kind]!;
    let acc = m.get(key);
    if (acc === undefined) m.set(key, (acc = new KeyAcc()));
    return acc;
  }

  private addKeyBytes(kind: number, src: Uint8Array, s: number, e: number, mk: number, hundredths: number): void {
    if (s < 0 || e === s) return;
    const h = hashBytes(src, s, e);
    const keys = this.byteKeys[kind]!;
    let acc = keys.find(src, s, e, h);
    if (acc === null) {
      // Met as bytes for the first time: the same key may have come as text (an order parsed the general way).
      acc = this.keyAcc(kind, Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('latin1'));
      keys.add(src, s, e, h, acc);
    }
    acc.sumFor(mk).add(hundredths);
  }

  private addReceived(receivedMs: number): void {
    if (receivedMs < this.minReceivedMs) this.minReceivedMs = receivedMs;
    if (receivedMs > this.maxReceivedMs) this.maxReceivedMs = receivedMs;
  }

  /** The derived rows of everything folded so far, each table's with its marker; null when nothing was folded. */
  rows(): DerivedRows | null {
    if (this.count === 0) return null;
    const from = this.minReceivedMs;
    const through = this.maxReceivedMs;
    const [second, keyMinute, keyTotal] = DERIVED_TABLES;
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
    minuteRows.push(keyMinute.marker(from, through));
    totalRows.push(keyTotal.marker(from, through));
    return {
      receivedFromMs: from,
      receivedThroughMs: through,
      rows,
      tsv: { [second.table]: secondTsv, [keyMinute.table]: minuteRows.join(''), [keyTotal.table]: totalRows.join('') },
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
