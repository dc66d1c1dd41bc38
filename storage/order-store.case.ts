// The OrderStore contract: one suite that every engine (embedded chDB, ClickHouse server) must pass.
// Named *.case.ts so the test glob does not run it alone; chdb/chdb-store.test.ts and
// server/server-store.server.test.ts call describeOrderStoreContract with their own open().
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import { MAX_ORDER_HUNDREDTHS } from '../domain/money.ts';
import { CHANNELS, MAX_ORDERS_PER_BATCH, type Channel, type Order } from '../domain/order.ts';
import type { OrderStoreOptions } from './order-store.ts';
import { ORDERS_TABLE } from './order-rows.ts';
import { createRowWriter, type RowFormat } from './order-row-writer.ts';
import { DERIVED_TABLES, mergeDerivedRows, type DerivedRows } from './derived-fold.ts';
import { keyMinuteRollup, keyTotalRollup, LATEST_SCHEMA_VERSION, MIGRATIONS, MIGRATIONS_TABLE, secondRollup } from './schema.ts';
import type { EncodedRows, FingerprintPage, OrderStore, SecondRow, SqlConnection, TotalsRow } from './storage.ts';

/** A store on an empty, unmigrated schema of its own, and the connection under it. */
export interface OpenedStore {
  store: OrderStore;
  /** Used only to read back what the interface never returns: stored text and migration records. */
  conn: SqlConnection;
  /** Closes the store (if the test did not) and removes what open() created. */
  cleanup: () => Promise<void>;
}

export type OpenStore = (options?: OrderStoreOptions) => Promise<OpenedStore>;

// 2025-06-15T12:00:00Z: inside the contract's 2000..2100 window.
export const BASE_MS = 1_750_000_000_000;
const BASE_SECOND = BASE_MS / 1000;

export function order(id: string, over: Partial<Order> = {}): Order {
  return { id, ts: BASE_MS, hundredths: 100, currency: 'EUR', channel: 'mobile', brand: '', sku: '', category: '', region: '', ...over };
}

/** Encodes orders exactly as ingest does: fingerprint of the id, one received instant for the batch. */
export function encode(orders: readonly Order[], receivedMs: number, format: RowFormat = 'TabSeparated'): EncodedRows {
  const w = createRowWriter(format);
  for (const o of orders) {
    const [hi, lo] = fingerprint(o.id);
    w.add(o, receivedMs, hi, lo);
  }
  return { count: orders.length, data: w.bytes(), format: w.format, derived: w.derived() };
}

/**
 * Each derived table as it reads (markers left out, rows of one key summed) next to what SELECT over the orders
 * table computes, as text: equal means equal to the minor unit.
 */
export async function derivedVsOrders(conn: SqlConnection): Promise<{ held: Record<string, string[]>; truth: Record<string, string[]> }> {
  const specs = [
    { table: 'gala_agg_second', keys: 'second, currency, channel', real: "currency != ''", rollup: secondRollup() },
    { table: 'gala_agg_key_minute', keys: 'kind, minute, key, currency', real: "key != ''", rollup: keyMinuteRollup() },
    { table: 'gala_agg_key_total', keys: 'kind, key, currency', real: "key != ''", rollup: keyTotalRollup() },
  ];
  const held: Record<string, string[]> = {};
  const truth: Record<string, string[]> = {};
  const lines = (t: string) => (t.length === 0 ? [] : t.trimEnd().split('\n'));
  for (const r of specs) {
    held[r.table] = lines(await conn.queryTsv(`SELECT ${r.keys}, toString(sum(hundredths)), toString(sum(orders)) FROM ${r.table} WHERE ${r.real} GROUP BY ${r.keys} ORDER BY ${r.keys}`));
    truth[r.table] = lines(await conn.queryTsv(`SELECT ${r.keys}, toString(hundredths), toString(orders) FROM (${r.rollup}) ORDER BY ${r.keys}`));
  }
  held.gala_order_fps = lines(await conn.queryTsv('SELECT fp_hi, fp_lo, received_ms FROM gala_order_fps WHERE received_ms >= 0 ORDER BY fp_hi, fp_lo, received_ms'));
  truth.gala_order_fps = lines(await conn.queryTsv(`SELECT fp_hi, fp_lo, received_ms FROM ${ORDERS_TABLE} ORDER BY fp_hi, fp_lo, received_ms`));
  return { held, truth };
}

const fpKey = (id: string) => fingerprint(id).join(':');

function byKey<T extends { currency: string; channel: Channel }>(rows: readonly T[], extra: (r: T) => string = () => ''): T[] {
  const key = (r: T) => `${extra(r)}|${r.currency}|${r.channel}`;
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Reference implementation of totals(), in bigints. */
function expectedTotals(orders: readonly Order[]): TotalsRow[] {
  const m = new Map<string, TotalsRow>();
  for (const o of orders) {
    const k = `${o.currency}|${o.channel}`;
    const row = m.get(k) ?? { currency: o.currency, channel: o.channel, hundredths: 0n, orders: 0 };
    row.hundredths += BigInt(o.hundredths);
    row.orders += 1;
    m.set(k, row);
  }
  return byKey([...m.values()]);
}

/** Reference implementation of perSecond(): paid-at second, [from, to). */
function expectedSeconds(orders: readonly Order[], from: number, to: number): SecondRow[] {
  const m = new Map<string, SecondRow>();
  for (const o of orders) {
    if (o.ts < from * 1000 || o.ts >= to * 1000) continue;
    const second = Math.floor(o.ts / 1000);
    const k = `${second}|${o.currency}|${o.channel}`;
    const row = m.get(k) ?? { second, currency: o.currency, channel: o.channel, hundredths: 0n, orders: 0 };
    row.hundredths += BigInt(o.hundredths);
    row.orders += 1;
    m.set(k, row);
  }
  return byKey([...m.values()], (r) => String(r.second).padStart(12, '0'));
}

export function describeOrderStoreContract(name: string, open: OpenStore): void {
  describe(`OrderStore contract: ${name}`, () => {
    const opened: OpenedStore[] = [];

    /** A fresh store; migrated unless the test is about migration. */
    async function fresh(options?: OrderStoreOptions, migrate = true): Promise<OpenedStore> {
      const o = await open(options);
      opened.push(o);
      if (migrate) await o.store.migrate();
      return o;
    }

    afterEach(async () => {
      while (opened.length > 0) await opened.pop()!.cleanup();
    });

    describe('migrate', () => {
      it('creates the schema, reports the latest version, and a second run is a no-op', async () => {
        const { store, conn } = await fresh(undefined, false);
        expect(store.engine).toBe(conn.engine);
        expect(await store.schemaVersion()).toBe(0);
        expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
        expect(await store.migrate()).toBe(LATEST_SCHEMA_VERSION);
        expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);

        await store.insert(encode([order('kept-1'), order('kept-2', { hundredths: 250 })], BASE_MS));
        expect(await store.migrate()).toBe(LATEST_SCHEMA_VERSION);
        expect(await store.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);

        // No-op: the data is still there and each migration is recorded exactly once.
        expect(await store.totals()).toEqual([{ currency: 'EUR', channel: 'mobile', hundredths: 350n, orders: 2 }]);
        const records = await conn.queryRows<{ version: number | string }>(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`);
        expect(records.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
      });
    });

    describe('insert', () => {
      for (const format of ['TabSeparated', 'RowBinary'] as const) it(`stores every field exactly, including tabs, newlines, backslashes, NUL and unicode (${format})`, async () => {
        const { store, conn } = await fresh();
        expect(conn.rowFormats).toContain(format);
        const orders: Order[] = [
          order('a-1', { brand: 'Tab\there', sku: 'new\nline', category: 'back\\slash\\t', region: 'cr\rlf\r\n' }),
          order('a-2', { brand: '日本語 — Ünïcödé 🎉', sku: 'nul\0byte', category: '\\N', region: "quote ' \" `" }),
          order('a-3', { brand: '', sku: '', category: '', region: '', hundredths: MAX_ORDER_HUNDREDTHS, currency: 'JPY', channel: 'store' }),
          order('Z.z_9:-', { ts: BASE_MS + 123, hundredths: 1, currency: 'USD', channel: 'tv', brand: '\t\n\\\r\0' }),
        ];
        await store.insert(encode(orders, BASE_MS + 5_000, format));
        await store.insert({ count: 0, data: '', format });

        const rows = await conn.queryRows<Record<string, unknown>>(
          `SELECT id, fp_hi, fp_lo, ts, received_ms, hundredths, currency, channel, brand, sku, category, region FROM ${ORDERS_TABLE} ORDER BY id`,
        );
        const stored = rows.map((r) => ({
          id: r.id,
          fp: `${Number(r.fp_hi)}:${Number(r.fp_lo)}`,
          ts: Number(r.ts),
          receivedMs: Number(r.received_ms),
          hundredths: Number(r.hundredths),
          currency: r.currency,
          channel: r.channel,
          brand: r.brand,
          sku: r.sku,
          category: r.category,
          region: r.region,
        }));
        const expected = [...orders]
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .map((o) => ({
            id: o.id,
            fp: fpKey(o.id),
            ts: o.ts,
            receivedMs: BASE_MS + 5_000,
            hundredths: o.hundredths,
            currency: o.currency,
            channel: o.channel,
            brand: o.brand,
            sku: o.sku,
            category: o.category,
            region: o.region,
          }));
        expect(stored).toEqual(expected);
      });

      it('rejects a malformed insert with the engine error text and stores none of its rows', async () => {
        const { store } = await fresh();
        const good = encode([order('good-1')], BASE_MS);
        const err = await store.insert({ count: 2, data: `${String(good.data)}not-an-order\tx\n` }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/Code: \d+/);
        expect(await store.totals()).toEqual([]);
      });

      it('rejects RowBinary rows cut short with the engine error text and stores none of them', async () => {
        const { store } = await fresh();
        const two = encode([order('whole-1'), order('cut-2')], BASE_MS, 'RowBinary');
        const bytes = two.data as Uint8Array;
        const err = await store.insert({ ...two, data: bytes.subarray(0, bytes.length - 5) }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/Code: \d+/);
        expect(await store.totals()).toEqual([]);
      });
    });

    describe('totals', () => {
      it('is empty on an empty store', async () => {
        const { store } = await fresh();
        expect(await store.totals()).toEqual([]);
      });

      it('sums exactly by currency and channel over many rows near the 10,000,000.00 maximum', async () => {
        const { store } = await fresh();
        const currencies = ['EUR', 'JPY', 'USD'];
        const orders: Order[] = [];
        for (let i = 0; i < 30_000; i++) {
          const hundredths = i % 3 === 0 ? MAX_ORDER_HUNDREDTHS : i % 3 === 1 ? MAX_ORDER_HUNDREDTHS - (i % 997) : (i % 1000) + 1;
          orders.push(order(`t-${i}`, { hundredths, currency: currencies[i % 3]!, channel: CHANNELS[(i >> 2) % 4]! }));
        }
        for (let i = 0; i < orders.length; i += MAX_ORDERS_PER_BATCH) {
          await store.insert(encode(orders.slice(i, i + MAX_ORDERS_PER_BATCH), BASE_MS + i));
        }
        const totals = await store.totals();
        const expected = expectedTotals(orders);
        expect(expected).toHaveLength(12);
        expect(byKey(totals)).toEqual(expected);
        const grand = totals.reduce((s, r) => s + r.hundredths, 0n);
        expect(grand).toBe(orders.reduce((s, o) => s + BigInt(o.hundredths), 0n));
        expect(totals.every((r) => typeof r.hundredths === 'bigint')).toBe(true);
      });

      it('sums only the arrivals in (after, through] when given a range, so a check can add the recent ones', async () => {
        const { store } = await fresh();
        for (let k = 0; k < 4; k++) {
          await store.insert(encode([order(`r-${k}`, { hundredths: 10 ** k }), order(`r-${k}-usd`, { hundredths: 5, currency: 'USD' })], BASE_MS + k * 1000));
        }
        const sum = async (through?: number, after?: number) =>
          Object.fromEntries((await store.totals(through, after)).map((r) => [r.currency, `${r.hundredths}/${r.orders}`]));
        expect(await sum(BASE_MS + 2000)).toEqual({ EUR: '111/3', USD: '15/3' });
        expect(await sum(BASE_MS + 2000, BASE_MS)).toEqual({ EUR: '110/2', USD: '10/2' });
        expect(await sum(undefined, BASE_MS + 2000)).toEqual({ EUR: '1000/1', USD: '5/1' });
        expect(await sum(BASE_MS + 3000, BASE_MS + 3000)).toEqual({});
        // The pieces add up to the whole.
        expect(await sum(BASE_MS + 999, BASE_MS - 1)).toEqual({ EUR: '1/1', USD: '5/1' });
      });

      it('keeps sums above 2^53 exact (no floating point anywhere on the way)', async () => {
        const { store } = await fresh();
        // Beyond the per-order maximum, but a legal Int64: three of these sum to 12,000,000,000,000,003,
        // which a double would round to ...004.
        const big = 4_000_000_000_000_001;
        await store.insert(encode([order('big-1', { hundredths: big }), order('big-2', { hundredths: big }), order('big-3', { hundredths: big })], BASE_MS));
        expect(await store.totals()).toEqual([{ currency: 'EUR', channel: 'mobile', hundredths: 12_000_000_000_000_003n, orders: 3 }]);
        const [second] = await store.perSecond(BASE_SECOND, BASE_SECOND + 1);
        expect(second?.hundredths).toBe(12_000_000_000_000_003n);
      });
    });

    describe('perSecond', () => {
      it('buckets by paid-at second within [from, to), by currency and channel', async () => {
        const { store } = await fresh();
        const s = BASE_SECOND;
        const orders: Order[] = [
          order('p-before', { ts: s * 1000 - 1, hundredths: 7 }), // last ms before `from`: excluded
          order('p-0a', { ts: s * 1000, hundredths: 100 }), // first ms of `from`: included
          order('p-0b', { ts: s * 1000 + 999, hundredths: 250, channel: 'mobile' }),
          order('p-0c', { ts: s * 1000 + 500, hundredths: 1, channel: 'tv' }),
          order('p-0d', { ts: s * 1000 + 10, hundredths: 3, currency: 'USD', channel: 'tv' }),
          order('p-1a', { ts: (s + 1) * 1000 + 5, hundredths: MAX_ORDER_HUNDREDTHS }),
          order('p-1b', { ts: (s + 1) * 1000 + 6, hundredths: MAX_ORDER_HUNDREDTHS }),
          order('p-2a', { ts: (s + 3) * 1000 - 1, hundredths: 42, channel: 'desktop' }), // last ms in range
          order('p-to', { ts: (s + 3) * 1000, hundredths: 9 }), // first ms of `to`: excluded
          order('p-far', { ts: (s + 60) * 1000, hundredths: 11 }),
        ];
        // Received long after being paid: bucketing must use ts, not received_ms.
        await store.insert(encode(orders, (s + 3_600) * 1000));

        const rows = await store.perSecond(s, s + 3);
        const expected = expectedSeconds(orders, s, s + 3);
        expect(byKey(rows, (r) => String(r.second).padStart(12, '0'))).toEqual(expected);
        // Spelled out, so a wrong reference implementation cannot hide a wrong store.
        expect(expected.map((r) => [r.second, r.currency, r.channel, r.hundredths, r.orders])).toEqual([
          [s, 'EUR', 'mobile', 350n, 2],
          [s, 'EUR', 'tv', 1n, 1],
          [s, 'USD', 'tv', 3n, 1],
          [s + 1, 'EUR', 'mobile', 2_000_000_000n, 2],
          [s + 2, 'EUR', 'desktop', 42n, 1],
        ]);
        expect(await store.perSecond(s + 3, s + 3)).toEqual([]);
        expect(await store.perSecond(s + 4, s + 59)).toEqual([]);
        expect((await store.perSecond(s - 1, s)).map((r) => [r.second, r.hundredths])).toEqual([[s - 1, 7n]]);
      });
    });

    describe('derived tables (rollups and fingerprint side table, written by Gala)', () => {
      const s = BASE_SECOND;
      const mixed: Order[] = [
        order('r-1', { ts: s * 1000 + 1, hundredths: 1000, brand: 'Acme', sku: 'A-1', region: 'Zhejiang' }),
        order('r-2', { ts: s * 1000 + 2, hundredths: 500, currency: 'USD', brand: 'Acme', sku: 'A-2', region: 'Zhejiang', channel: 'desktop' }),
        order('r-3', { ts: (s + 1) * 1000, hundredths: 2000, brand: 'Bolt', sku: 'B-1', region: 'Jiangsu' }),
        order('r-4', { ts: (s + 61) * 1000, hundredths: 700, brand: 'Bolt', sku: 'B-1', region: '' }),
        order('r-5', { ts: (s + 62) * 1000, hundredths: 1, brand: "Quo'te\\Brand", sku: '', region: 'Jiangsu' }),
      ];
      const weights = new Map([['EUR', 7.74], ['USD', 7.12]]);

      it('keeps per-second sums that equal perSecond over the orders table, across inserts', async () => {
        const { store } = await fresh();
        await store.insert(encode(mixed.slice(0, 3), BASE_MS));
        await store.insert(encode(mixed.slice(3), BASE_MS + 1));
        await store.insert(encode([order('r-6', { ts: s * 1000 + 3, hundredths: 9 })], BASE_MS + 2));
        const rolled = await store.rolledSeconds(s, s + 100);
        expect(byKey(rolled, (r) => String(r.second).padStart(12, '0'))).toEqual(byKey(await store.perSecond(s, s + 100), (r) => String(r.second).padStart(12, '0')));
        expect(rolled.find((r) => r.second === s && r.currency === 'EUR')?.hundredths).toBe(1009n);
        expect(await store.rolledSeconds(s + 200, s + 300)).toEqual([]);
      });

      it('ranks keys by weighted GMV over the night and within minutes, with exact per-currency sums', async () => {
        const { store } = await fresh();
        await store.insert(encode(mixed, BASE_MS));
        const brands = await store.topKeys('brand', 10, weights);
        // Acme: 10.00 EUR + 5.00 USD = 77.40 + 35.60; Bolt: 27.00 EUR = 208.98.
        expect(brands.map((b) => [b.key, b.orders])).toEqual([['Bolt', 2], ['Acme', 2], ["Quo'te\\Brand", 1]]);
        const acme = brands.find((b) => b.key === 'Acme')!;
        expect([...acme.byCurrency].sort((a, b) => a.currency.localeCompare(b.currency))).toEqual([
          { currency: 'EUR', hundredths: 1000n, orders: 1 },
          { currency: 'USD', hundredths: 500n, orders: 1 },
        ]);
        expect((await store.topKeys('brand', 1, weights)).map((b) => b.key)).toEqual(['Bolt']);
        // Minute window: paid-at minutes [m, m + 1) holds r-1..r-3 only (r-4 and r-5 are 61-62 s later).
        const m = Math.floor((s * 1000) / 60000);
        const firstMinute = await store.topKeys('region', 10, weights, [m, m + 1]);
        const laterMinute = await store.topKeys('region', 10, weights, [m + 1, m + 2]);
        const inMinute = (rows: typeof firstMinute) => rows.map((r) => [r.key, r.orders]);
        const minuteOf = (o: Order) => Math.floor(o.ts / 60000);
        const expectRegions = (mm: number) => {
          const t = new Map<string, number>();
          for (const o of mixed) if (minuteOf(o) === mm && o.region !== '') t.set(o.region, (t.get(o.region) ?? 0) + 1);
          return [...t.keys()].sort();
        };
        expect(inMinute(firstMinute).map(([k]) => k).sort()).toEqual(expectRegions(m));
        expect(inMinute(laterMinute).map(([k]) => k).sort()).toEqual(expectRegions(m + 1));
        // Empty optional fields are no key at all.
        expect((await store.topKeys('sku', 10, weights)).map((r) => r.key).sort()).toEqual(['A-1', 'A-2', 'B-1']);
      });

      it('sums chosen keys exactly, above 2^53, and skips unknown keys', async () => {
        const { store } = await fresh();
        const big = Array.from({ length: 3 }, (_, i) => order(`big-${i}`, { hundredths: MAX_ORDER_HUNDREDTHS, sku: 'BIG' }));
        await store.insert(encode(big, BASE_MS));
        await store.insert(encode(Array.from({ length: 3 }, (_, i) => order(`big2-${i}`, { hundredths: MAX_ORDER_HUNDREDTHS, sku: 'BIG' })), BASE_MS + 1));
        const [row, ...rest] = await store.keySums('sku', ['BIG', 'never-sold', "it's"]);
        expect(rest).toEqual([]);
        expect(row).toEqual({ key: 'BIG', orders: 6, byCurrency: [{ currency: 'EUR', hundredths: 6_000_000_000n, orders: 6 }] });
        expect(await store.keySums('sku', [])).toEqual([]);
      });

      it('are what SELECT over the orders table computes, to the minor unit, with far fewer rows than orders, also when several groups\' rows go in as one insert', async () => {
        const { store, conn } = await fresh();
        // Groups 0-1 go in as ingest's first groups do; 2-3 and 4-5 each have their derived rows merged into one
        // insert per table, as group commit does with the groups committed while a derived insert ran.
        let waiting: DerivedRows[] = [];
        const brands = ['Acme', 'Bolt', "Quo'te\\Brand", 'Tab\there', '日本語', ''];
        const currencies = ['EUR', 'USD', 'JPY'];
        const all: Order[] = [];
        let rand = 42;
        const next = () => (rand = (rand * 1_103_515_245 + 12_345) % 2_147_483_648);
        for (let g = 0; g < 6; g++) {
          const orders: Order[] = [];
          for (let i = 0; i < 1_000; i++) {
            const big = i % 97 === 0 ? 4_000_000_000_000_001 : i % 5 === 0 ? MAX_ORDER_HUNDREDTHS : (next() % 100_000) + 1;
            orders.push(order(`x-${g}-${i}`, {
              ts: BASE_MS + (next() % 180_000), hundredths: big, currency: currencies[next() % 3]!, channel: CHANNELS[next() % 4]!,
              brand: brands[next() % brands.length]!, sku: i % 3 === 0 ? '' : `SKU-${next() % 40}`, region: next() % 2 === 0 ? 'Zhejiang' : 'new\nline',
            }));
          }
          const rows = encode(orders, BASE_MS + 200_000 + g);
          // Rollup rows per insert: bounded by the keys sold in it, not by its orders.
          expect(rows.derived!.rows.gala_agg_key_minute).toBeLessThan(orders.length);
          expect(rows.derived!.rows.gala_agg_key_total).toBeLessThan(200);
          if (g < 2) await store.insert(rows);
          else {
            await store.insertOrders(rows);
            waiting.push(rows.derived!);
            if (waiting.length === 2) {
              await store.insertDerived(mergeDerivedRows(waiting));
              waiting = [];
            }
          }
          all.push(...orders);
        }
        // Group commit has the engine fill the side table every few seconds; groups 0-1 (insert) filled theirs.
        expect(await store.fillFingerprints(BASE_MS)).toBe(4 * 1_000);
        const { held, truth } = await derivedVsOrders(conn);
        expect(held).toEqual(truth);
        expect(truth.gala_agg_second!.length).toBeGreaterThan(100);
        expect(truth.gala_order_fps).toHaveLength(all.length);
        // Readers see no marker: the night's brands are the brands sold, nothing else.
        expect((await store.topKeys('brand', 100, weights)).map((b) => b.key).sort()).toEqual(brands.filter((b) => b !== '').sort());
        expect(await store.repairDerived(BASE_MS)).toEqual({});
      });

      it('keep per-minute rows for a bounded set of SKUs, each exact, however many SKUs a batch sells', async () => {
        const { store, conn } = await fresh({ skuMinuteKeys: 20 });
        const m = Math.floor(BASE_MS / 60_000) + 1;
        let n = 0;
        const sell = (sku: string, minute: number, count: number, over: Partial<Order> = {}) =>
          Array.from({ length: count }, () => order(`b-${++n}`, { ts: minute * 60_000 + (n % 60_000), sku, brand: `B${n % 7}`, currency: n % 3 === 0 ? 'USD' : 'EUR', ...over }));
        const distinct = (prefix: string, minute: number, count: number) => Array.from({ length: count }, (_, i) => sell(`${prefix}${i}`, minute, 1)).flat();
        // Three groups in minute m (2,400 then 1,000 other SKUs), one in m + 1, one more in m + 1 whose derived insert is lost.
        const groups = [
          [...sell('HOT', m, 500), ...sell('WARM', m, 100), ...distinct('S-', m, 2_400)],
          [...sell('HOT', m, 200), ...distinct('T-', m, 1_000), ...sell('WARM', m, 5)],
          [...sell('HOT', m, 1), ...distinct('U-', m, 10)],
          [...sell('HOT', m + 1, 50), ...sell('WARM', m + 1, 40), ...distinct('V-', m + 1, 500)],
        ];
        for (const [g, orders] of groups.entries()) {
          const rows = encode(orders, BASE_MS + 100_000 + g);
          expect(rows.derived!.skuMinutes.length).toBe(new Set(orders.map((o) => `${o.sku}|${o.currency}`)).size);
          await store.insert(rows);
        }
        await store.insertOrders(encode([...sell('HOT', m + 1, 7), ...distinct('W-', m + 1, 300)], BASE_MS + 100_010));
        expect((await store.repairDerived(BASE_MS)).gala_agg_key_minute).toBeGreaterThan(0);

        const lines = (t: string) => (t.length === 0 ? [] : t.trimEnd().split('\n'));
        const held = lines(await conn.queryTsv(`SELECT minute, key, currency, toString(sum(hundredths)), toString(sum(orders)) FROM gala_agg_key_minute
          WHERE kind = 'sku' AND key != '' GROUP BY minute, key, currency ORDER BY minute, key, currency`));
        const truth = new Set(lines(await conn.queryTsv(`SELECT minute, key, currency, toString(hundredths), toString(orders) FROM (${keyMinuteRollup()}) WHERE kind = 'sku'`)));
        expect(truth.size).toBeGreaterThan(4_000);
        // Bounded: at most 20 SKUs a minute (in up to two currencies each), where 4,000 and 800 were sold.
        const keysOf = (minute: number) => new Set(held.filter((l) => l.startsWith(`${minute}\t`)).map((l) => l.split('\t')[1]));
        expect(keysOf(m).size).toBe(20);
        // Minute m + 1 starts with minute m's busiest 10 (HOT, WARM, and 8 that sell nothing in it), so 10 places are left.
        expect(keysOf(m + 1).has('HOT') && keysOf(m + 1).has('WARM')).toBe(true);
        expect(keysOf(m + 1).size).toBe(12);
        expect(held.length).toBeLessThanOrEqual(80);
        // Exact: each kept row is the orders table's sum for its minute, SKU and currency (across groups and the repair).
        for (const l of held) expect(truth.has(l), l).toBe(true);
        // The busiest SKUs are kept and lead the minute's board; the night table still has every SKU.
        const board = await store.topKeys('sku', 2, weights, [m, m + 1]);
        expect(board.map((b) => [b.key, b.orders])).toEqual([['HOT', 701], ['WARM', 105]]);
        expect((await store.topKeys('sku', 2, weights, [m + 1, m + 2])).map((b) => [b.key, b.orders])).toEqual([['HOT', 57], ['WARM', 40]]);
        expect(await store.keySums('sku', ['S-2399', 'T-999', 'W-299'])).toHaveLength(3);
        const { held: all, truth: whole } = await derivedVsOrders(conn);
        expect(all.gala_agg_key_total).toEqual(whole.gala_agg_key_total);
        expect(all.gala_agg_key_minute!.filter((l) => !l.startsWith('sku'))).toEqual(whole.gala_agg_key_minute!.filter((l) => !l.startsWith('sku')));
      });

      it('repairs an orders insert whose derived rows never landed, or landed in some tables only, once', async () => {
        const { store, conn } = await fresh();
        const group = (g: number) => mixed.map((o, i) => ({ ...o, id: `g${g}-${i}` }));
        await store.insert(encode(group(0), BASE_MS));
        // Killed right after the orders insert: no derived row at all.
        await store.insertOrders(encode(group(1), BASE_MS + 1));
        // Killed between two derived tables' inserts: the per-second rollup has the group, the others not.
        const cut = encode(group(2), BASE_MS + 2);
        await store.insertOrders(cut);
        const first = DERIVED_TABLES[0];
        await conn.insertTsv(first.table, first.columns, cut.derived!.tsv[first.table]!);
        await store.insert(encode(group(3), BASE_MS + 3));
        const before = await derivedVsOrders(conn);
        expect(before.held).not.toEqual(before.truth);

        // With a progress sink: the derived tables to check, counted first, each reported when done.
        const steps: [string, number][] = [];
        const added = await store.repairDerived(BASE_MS, { setTotal: (n) => steps.push(['total', n]), advance: (n) => steps.push(['done', n]) });
        expect(steps[0]).toEqual(['total', 4]);
        expect(steps.slice(1).reduce((a, [, n]) => a + n, 0)).toBe(4);
        // Groups 1 and 2 arrived one after the other: where both lack rows they are recomputed as one (same keys).
        expect(added).toEqual({
          gala_agg_second: cut.derived!.rows.gala_agg_second,
          gala_agg_key_minute: cut.derived!.rows.gala_agg_key_minute,
          gala_agg_key_total: cut.derived!.rows.gala_agg_key_total,
          gala_order_fps: 2 * mixed.length,
        });
        const after = await derivedVsOrders(conn);
        expect(after.held).toEqual(after.truth);
        const all = [0, 1, 2, 3].flatMap((g) => group(g)).map((o) => fingerprint(o.id));
        expect((await store.storedFingerprints(all)).size).toBe(all.length);
        // A second repair finds nothing left to add, and neither does one looking back only part of the way.
        expect(await store.repairDerived(BASE_MS)).toEqual({});
        expect(await store.repairDerived(BASE_MS + 2)).toEqual({});
      });

      it('keeps a database from before v4 (views) exact: the views go, what they held stays, new inserts add to it', async () => {
        const { store, conn } = await fresh(undefined, false);
        expect(await store.schemaVersion()).toBe(0);
        for (const m of MIGRATIONS.filter((x) => x.version < 4)) {
          for (const sql of m.statements) await conn.command(sql);
          await conn.command(`INSERT INTO ${MIGRATIONS_TABLE} (version, description, applied_ms) VALUES (${m.version}, 'old', 0)`);
        }
        // Orders inserted under the old schema: the views fill the derived tables.
        await store.insertOrders(encode(mixed, BASE_MS));
        // And one whose views' parts a crash cut off (the old failure): its rows are missing from them.
        const cutOff = mixed.map((o, i) => ({ ...o, id: `cut-${i}` }));
        await conn.command('DETACH TABLE gala_agg_key_total_mv');
        await store.insertOrders(encode(cutOff, BASE_MS + 1));
        await conn.command('ATTACH TABLE gala_agg_key_total_mv');
        expect(await store.migrate()).toBe(LATEST_SCHEMA_VERSION);
        const views = await conn.queryRows<{ n: string | number }>(`SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name LIKE '%_mv'`);
        expect(Number(views[0]?.n)).toBe(0);
        expect(await store.repairDerived(0)).toEqual({});
        await store.insert(encode(mixed.map((o, i) => ({ ...o, id: `new-${i}` })), BASE_MS + 2));
        const { held, truth } = await derivedVsOrders(conn);
        expect(held).toEqual(truth);
      });

      it('backfills the rollups from orders stored before the migration that made them', async () => {
        const { store, conn } = await fresh(undefined, false);
        // Schema v1 only, with orders in it: what a database from before the rollups holds.
        expect(await store.schemaVersion()).toBe(0);
        for (const sql of MIGRATIONS[0]!.statements) await conn.command(sql);
        await conn.command(`INSERT INTO ${MIGRATIONS_TABLE} (version, description, applied_ms) VALUES (1, 'orders table', 0)`);
        await store.insertOrders(encode(mixed, BASE_MS));
        expect(await store.migrate()).toBe(LATEST_SCHEMA_VERSION);
        expect((await store.keySums('brand', ['Acme']))[0]?.orders).toBe(2);
        const total = (await store.rolledSeconds(s, s + 100)).reduce((a, r) => a + r.hundredths, 0n);
        expect(total).toBe(mixed.reduce((a, o) => a + BigInt(o.hundredths), 0n));
      });
    });

    describe('runs', () => {
      it('tells a start after a crash from one after a clean stop', async () => {
        const { store } = await fresh();
        expect(await store.beginRun(1_000)).toEqual({ previousStoppedCleanly: true });
        await store.endRun(1_000);
        expect(await store.beginRun(2_000)).toEqual({ previousStoppedCleanly: true });
        // Run 2,000 never stops: the next start sees a crash, and the one after that sees run 3,000's clean stop.
        expect(await store.beginRun(3_000)).toEqual({ previousStoppedCleanly: false, uncleanSinceMs: 2_000 });
        await store.endRun(3_000);
        expect(await store.beginRun(4_000)).toEqual({ previousStoppedCleanly: true });
        // Two crashes in a row (4,000, then 5,000): a repair must look back to the first of them.
        expect(await store.beginRun(5_000)).toEqual({ previousStoppedCleanly: false, uncleanSinceMs: 4_000 });
        expect(await store.beginRun(6_000)).toEqual({ previousStoppedCleanly: false, uncleanSinceMs: 4_000 });
      });
    });

    describe('milestones', () => {
      it('records crossings durably and reads each id once, the first record winning', async () => {
        const { store } = await fresh();
        expect(await store.milestones()).toEqual([]);
        const first = { id: 'm-1b', thresholdHundredths: 100_000_000_000n, currency: 'CNY', crossedMs: BASE_MS + 5, recordedMs: BASE_MS + 900, totalHundredths: 100_000_000_123n, orders: 7 };
        await store.recordMilestone(first);
        await store.recordMilestone({ ...first, crossedMs: BASE_MS + 50, recordedMs: BASE_MS + 2000 });
        await store.recordMilestone({ ...first, id: "m-'odd'", crossedMs: BASE_MS + 1, recordedMs: BASE_MS + 3000, totalHundredths: 2n ** 60n });
        expect(await store.milestones()).toEqual([
          { ...first, id: "m-'odd'", crossedMs: BASE_MS + 1, recordedMs: BASE_MS + 3000, totalHundredths: 2n ** 60n },
          first,
        ]);
      });
    });

    describe('fingerprintsSince', () => {
      const SINCE = BASE_MS + 2_000;
      // received_ms -> ids. Whole batches share one instant, so one millisecond can hold more rows than a page.
      const batches: [number, string[]][] = [
        [BASE_MS + 1_000, ['f-old-1', 'f-old-2', 'f-old-3']],
        [SINCE - 1, ['f-just-before']],
        [SINCE, Array.from({ length: 10 }, (_, i) => `f-at-${i}`)],
        [SINCE + 1, ['f-next']],
        [SINCE + 5, ['f-d-1', 'f-d-2', 'f-d-3', 'f-d-4', 'f-dup']],
        [SINCE + 1_000, ['f-dup', 'f-late']],
      ];
      const expected = batches
        .filter(([ms]) => ms >= SINCE)
        .flatMap(([ms, ids]) => ids.map((id) => `${fpKey(id)}@${ms}`))
        .sort();

      async function collect(store: OrderStore, since: number) {
        const seen: string[] = [];
        const pages: FingerprintPage[] = [];
        let lastMs = -Infinity;
        let ordered = true;
        const total = await store.fingerprintsSince(since, (page) => {
          pages.push(page);
          for (let i = 0; i < page.count; i++) {
            const ms = page.receivedMs[i]!;
            if (ms < lastMs) ordered = false;
            lastMs = ms;
            seen.push(`${page.hi[i]}:${page.lo[i]}@${ms}`);
          }
        });
        return { total, seen, pages, ordered };
      }

      // undefined: the production page size; 18 = every row in exactly one full page, then an empty one.
      it.each([undefined, 1, 4, 10, 11, 18])('returns every row received at or after the instant, oldest first (page rows %s)', async (pageRows) => {
        const { store } = await fresh(pageRows === undefined ? undefined : { fingerprintPageRows: pageRows });
        for (const [ms, ids] of batches) await store.insert(encode(ids.map((id) => order(id)), ms));

        const { total, seen, pages, ordered } = await collect(store, SINCE);
        expect(expected).toHaveLength(18);
        expect(seen.sort()).toEqual(expected);
        expect(total).toBe(expected.length);
        expect(ordered).toBe(true);
        for (const p of pages) {
          expect(p.count).toBeGreaterThan(0);
          if (pageRows !== undefined) expect(p.count).toBeLessThanOrEqual(pageRows);
          expect(p.hi.length).toBeGreaterThanOrEqual(p.count);
          expect(p.lo.length).toBeGreaterThanOrEqual(p.count);
          expect(p.receivedMs.length).toBeGreaterThanOrEqual(p.count);
        }

        const later = await collect(store, SINCE + 1_001);
        expect(later.total).toBe(0);
        expect(later.seen).toEqual([]);
      });

      it('counts beforehand the rows a read will return', async () => {
        const { store } = await fresh();
        for (const [ms, ids] of batches) await store.insert(encode(ids.map((id) => order(id)), ms));
        expect(await store.ordersReceivedSince(SINCE)).toBe(expected.length);
        expect(await store.ordersReceivedSince(SINCE + 1_000)).toBe(2);
        expect(await store.ordersReceivedSince(SINCE + 1_001)).toBe(0);
      });
    });

    describe('fillFingerprints', () => {
      it('fills the side table from the orders table for what no marker covers, in chunks each landing with its marker', async () => {
        const { store, conn } = await fresh({ fingerprintFillRows: 700 });
        const lines = (t: string) => (t.length === 0 ? [] : t.trimEnd().split('\n'));
        const group = (g: number) => Array.from({ length: 300 }, (_, i) => order(`f${g}-${i}`));
        for (let g = 0; g < 5; g++) await store.insertOrders(encode(group(g), BASE_MS + 10 * g));
        const side = async () => lines(await conn.queryTsv('SELECT fp_hi, fp_lo, received_ms FROM gala_order_fps WHERE received_ms >= 0 ORDER BY fp_hi, fp_lo, received_ms'));
        const truth = async () => lines(await conn.queryTsv(`SELECT fp_hi, fp_lo, received_ms FROM ${ORDERS_TABLE} ORDER BY fp_hi, fp_lo, received_ms`));
        // Up to an arrival: groups 0-2 only.
        expect(await store.fillFingerprints(BASE_MS, BASE_MS + 20)).toBe(900);
        expect(await side()).toHaveLength(900);
        // The rest; what is covered is not filled again.
        expect(await store.fillFingerprints(BASE_MS)).toBe(600);
        expect(await store.fillFingerprints(BASE_MS)).toBe(0);
        expect(await side()).toEqual(await truth());
        // Chunks of at most 700 rows: [0, 10] and [20] for the first call, [30, 40] for the second, each with its marker.
        const markers = lines(await conn.queryTsv(`SELECT -received_ms - fp_lo AS f, -received_ms AS t FROM gala_order_fps WHERE fp_hi = 0 AND received_ms < 0 ORDER BY t`));
        expect(markers).toEqual([[BASE_MS, BASE_MS + 10], [BASE_MS + 20, BASE_MS + 20], [BASE_MS + 30, BASE_MS + 40]].map(([a, b]) => `${a}\t${b}`));
        // Every part that holds rows holds a marker: a chunk's rows never land without it.
        const parts = lines(await conn.queryTsv(`SELECT _part, countIf(received_ms < 0), count() FROM gala_order_fps GROUP BY _part`));
        for (const p of parts) expect(Number(p.split('\t')[1]), p).toBeGreaterThan(0);
        // A late duplicate is then found through the side table.
        await store.insert(encode([order('f0-7')], BASE_MS + 900_000));
        expect((await store.duplicateIds(10, BASE_MS + 600_000)).map((d) => [d.id, d.copies])).toEqual([['f0-7', 2]]);
      });
    });

    describe('storedFingerprints', () => {
      it('asks the orders table itself within an arrival range, even when the side table missed rows', async () => {
        const { store, conn } = await fresh();
        await store.insert(encode([order('r-1'), order('r-2')], BASE_MS + 10));
        // A server shutting down can commit the main insert and skip the materialized view: empty the side table.
        await conn.command('TRUNCATE TABLE gala_order_fps');
        const probe = [fingerprint('r-1'), fingerprint('r-2'), fingerprint('r-3')];
        expect(await store.storedFingerprints(probe)).toEqual(new Set());
        expect(await store.storedFingerprints(probe, [BASE_MS, BASE_MS + 10])).toEqual(new Set([fpKey('r-1'), fpKey('r-2')]));
        expect(await store.storedFingerprints(probe, [BASE_MS + 11, BASE_MS + 20])).toEqual(new Set());
      });
      it('finds exactly the stored fingerprints, across query chunks', async () => {
        const { store } = await fresh();
        const storedIds = Array.from({ length: 300 }, (_, i) => `s-${i}`);
        await store.insert(encode(storedIds.map((id) => order(id)), BASE_MS));
        // Some fingerprint halves above 2^31 must be among them, to prove they are handled as unsigned.
        expect(storedIds.some((id) => fingerprint(id)[0] >= 2 ** 31)).toBe(true);

        const absent = Array.from({ length: 12_000 }, (_, i) => fingerprint(`absent-${i}`));
        const probe: [number, number][] = [...absent];
        // Stored ones spread over several 5,000-entry chunks, at both edges of a chunk, plus repeats.
        const positions = [0, 1, 4_999, 5_000, 5_001, 9_999, 10_000, 11_999];
        storedIds.forEach((id, i) => probe.splice(positions[i % positions.length]! + (i % 7), 0, fingerprint(id)));
        probe.push(fingerprint('s-0'), fingerprint('s-1'));

        const found = await store.storedFingerprints(probe);
        expect([...found].sort()).toEqual(storedIds.map(fpKey).sort());
      });

      it('handles one fingerprint and none', async () => {
        const { store } = await fresh();
        await store.insert(encode([order('only-one')], BASE_MS));
        expect([...(await store.storedFingerprints([fingerprint('only-one')]))]).toEqual([fpKey('only-one')]);
        expect((await store.storedFingerprints([fingerprint('not-there')])).size).toBe(0);
        expect((await store.storedFingerprints([])).size).toBe(0);
      });
    });

    describe('duplicateIds', () => {
      it('reports ids stored more than once with copies and first/last received, oldest first', async () => {
        const { store } = await fresh();
        await store.insert(encode([order('d-a', { hundredths: 1_999, currency: 'USD' }), order('single')], BASE_MS + 1_000));
        await store.insert(encode([order('d-b', { hundredths: MAX_ORDER_HUNDREDTHS })], BASE_MS + 2_000));
        await store.insert(encode([order('d-a', { hundredths: 1_999, currency: 'USD' })], BASE_MS + 5_000));
        await store.insert(encode([order('d-b', { hundredths: MAX_ORDER_HUNDREDTHS }), order('other')], BASE_MS + 2_500));
        await store.insert(encode([order('d-a', { hundredths: 1_999, currency: 'USD' })], BASE_MS + 3_000));

        expect(await store.duplicateIds(10)).toEqual([
          { id: 'd-a', copies: 3, currency: 'USD', hundredths: 1_999n, firstReceivedMs: BASE_MS + 1_000, lastReceivedMs: BASE_MS + 5_000 },
          { id: 'd-b', copies: 2, currency: 'EUR', hundredths: BigInt(MAX_ORDER_HUNDREDTHS), firstReceivedMs: BASE_MS + 2_000, lastReceivedMs: BASE_MS + 2_500 },
        ]);
        expect((await store.duplicateIds(1)).map((d) => d.id)).toEqual(['d-a']);
      });

      it('looks only at ids with a copy received since an instant, through the fingerprint side table', async () => {
        const { store } = await fresh();
        await store.insert(encode([order('old-twice'), order('old-once'), order('late')], BASE_MS));
        await store.insert(encode([order('old-twice')], BASE_MS + 1_000));
        await store.insert(encode([order('late', { hundredths: 100 }), order('new-once')], BASE_MS + 900_000));
        // Since BASE_MS + 600 s: only 'late' has a copy received then; 'old-twice' is older and not examined.
        expect(await store.duplicateIds(10, BASE_MS + 600_000)).toEqual([
          { id: 'late', copies: 2, currency: 'EUR', hundredths: 100n, firstReceivedMs: BASE_MS, lastReceivedMs: BASE_MS + 900_000 },
        ]);
        expect((await store.duplicateIds(10, BASE_MS)).map((d) => d.id).sort()).toEqual(['late', 'old-twice']);
        expect(await store.duplicateIds(10, BASE_MS + 1_000_000)).toEqual([]);
      });

      it('splits the incremental check into fingerprint slices that together find every id once', async () => {
        const { store } = await fresh();
        const ids = Array.from({ length: 24 }, (_, i) => `twice-${i}`);
        await store.insert(encode([...ids.map((id) => order(id)), order('once')], BASE_MS));
        await store.insert(encode(ids.map((id) => order(id)), BASE_MS + 700_000));
        const whole = (await store.duplicateIds(100, BASE_MS + 600_000)).map((d) => d.id).sort();
        expect(whole).toEqual([...ids].sort());
        const slices = await Promise.all([0, 1, 2, 3].map(async (index) => (await store.duplicateIds(100, BASE_MS + 600_000, { index, count: 4 })).map((d) => d.id)));
        expect(slices.flat().sort()).toEqual(whole);
        // 24 random fingerprints over 4 slices: each slice holds only its own share.
        expect(slices.filter((s) => s.length > 0).length).toBeGreaterThan(1);
        expect(Math.max(...slices.map((s) => s.length))).toBeLessThan(24);
        await expect(store.duplicateIds(10, BASE_MS, { index: 4, count: 4 })).rejects.toThrow(/slice .* 0 <= index < count/);
      });

      it('is empty when every id is stored once', async () => {
        const { store } = await fresh();
        await store.insert(encode([order('u-1'), order('u-2'), order('u-3')], BASE_MS));
        expect(await store.duplicateIds(10)).toEqual([]);
      });
    });

    describe('connection', () => {
      it('runs a query on as many threads as it is given (background checks take one)', async () => {
        const { conn } = await fresh();
        const threads = async (opts?: { maxThreads: number }) =>
          Number((await conn.queryRows<{ value: string }>(`SELECT value FROM system.settings WHERE name = 'max_threads'`, opts))[0]?.value.replace(/\D/g, ''));
        expect(await threads({ maxThreads: 1 })).toBe(1);
        expect(await threads({ maxThreads: 3 })).toBe(3);
        // Only that query: the next one runs with the engine's own setting again.
        expect(await threads()).not.toBe(3);
      });

      it('reports parts per table and the merges that fold them', async () => {
        const { store, conn } = await fresh();
        await store.insert(encode([order('es-1'), order('es-2'), order('es-3')], BASE_MS));
        await store.insert(encode([order('es-4'), order('es-5')], BASE_MS + 1));
        const before = await store.engineStats();
        const orders = before.tables.find((t) => t.table === ORDERS_TABLE);
        expect(orders?.rows).toBe(5);
        expect(orders?.parts).toBeGreaterThanOrEqual(1);
        expect(before.tables.every((t) => t.table.startsWith('gala_'))).toBe(true);
        await conn.command(`OPTIMIZE TABLE ${ORDERS_TABLE} FINAL`);
        const after = await store.engineStats();
        expect(after.tables.find((t) => t.table === ORDERS_TABLE)).toEqual({ table: ORDERS_TABLE, parts: 1, rows: 5 });
        // 18.16 counts only background merges in 'Merge'; rows merged count every merge on both engines.
        expect(after.mergesStarted).toBeGreaterThanOrEqual(before.mergesStarted);
        expect(after.mergedRows).toBeGreaterThanOrEqual(before.mergedRows + 5);
        expect(after.mergedBytes).toBeGreaterThan(before.mergedBytes);
        expect(after.mergesRunning).toBeGreaterThanOrEqual(0);
      });

      it('ping is true while open and false after close; close is idempotent', async () => {
        const { store } = await fresh();
        expect(await store.ping()).toBe(true);
        await store.close();
        expect(await store.ping()).toBe(false);
        await expect(store.close()).resolves.toBeUndefined();
        await expect(store.totals()).rejects.toThrow(/closed/);
      });

      it('reports the engine version and rejects bad SQL with the engine error text', async () => {
        const { conn } = await fresh();
        expect(await conn.version()).toMatch(/^\d+\.\d+\.\d+/);
        await expect(conn.queryRows(`SELECT no_such_column_xyz FROM ${ORDERS_TABLE}`)).rejects.toThrow(/no_such_column_xyz/);
        await expect(conn.command('CREATE TABLE gala_bad (')).rejects.toThrow(/Code: \d+/);
      });
    });
  });
}
