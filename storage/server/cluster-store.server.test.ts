// The server store in cluster mode, on three real clickhouse-server shards that name one another in remote_servers:
// each node writes its own shard, and every node's cluster-wide reads see every shard's rows, exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../domain/fingerprint.ts';
import type { Order } from '../../domain/order.ts';
import { requireClickHouseServer } from '../../test-support/clickhouse-server.ts';
import { startClickHouseCluster, type ClickHouseCluster } from '../../test-support/clickhouse-cluster.ts';
import { BASE_MS, encode, order } from '../order-store.case.ts';
import { createOrderStore } from '../order-store.ts';
import { CLUSTER_READ_TABLES, clusterTable } from '../schema.ts';
import type { KeySums, OrderStore, SecondRow, SqlConnection, TotalsRow } from '../storage.ts';
import { createServerConnection } from './clickhouse-server-connection.ts';

const serverAvailable = requireClickHouseServer();

const BASE_SECOND = BASE_MS / 1000;
const BASE_MINUTE = Math.floor(BASE_MS / 60_000);

// What each shard's node writes (received at distinct instants); `dup-1` reached two nodes: a late duplicate.
const DUP = order('dup-1', { hundredths: 700, channel: 'tv', brand: 'A', ts: BASE_MS + 2_000 });
const WRITES: { orders: Order[]; receivedMs: number }[][] = [
  [{ receivedMs: BASE_MS + 10, orders: [order('a1', { hundredths: 1000, brand: 'A', sku: 'S1', region: 'R1' }), order('a2', { hundredths: 250, channel: 'desktop', brand: 'B', ts: BASE_MS + 1_000 }), DUP] }],
  [{ receivedMs: BASE_MS + 20, orders: [order('b1', { hundredths: 333, currency: 'USD', brand: 'B', sku: 'S1' })] }, { receivedMs: BASE_MS + 30, orders: [DUP] }],
  [{ receivedMs: BASE_MS + 40, orders: [order('c1', { hundredths: 5, channel: 'store', brand: 'C', region: 'R2', ts: BASE_MS + 60_000 }), order('c2', { hundredths: 999_999_999, currency: 'USD', brand: 'A', ts: BASE_MS + 1_500 })] }],
];
const ALL = WRITES.flat().flatMap((w) => w.orders);

/** Rows summed by key, in a fixed order: what "the sum over shards" means for totals and per-second rows. */
function sumRows<T extends TotalsRow>(rows: readonly T[], key: (r: T) => string): T[] {
  const m = new Map<string, T>();
  for (const r of rows) {
    const k = key(r);
    const held = m.get(k);
    m.set(k, held === undefined ? { ...r } : { ...held, hundredths: held.hundredths + r.hundredths, orders: held.orders + r.orders });
  }
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}
const totalsKey = (r: TotalsRow) => `${r.currency}|${r.channel}`;
const secondKey = (r: SecondRow) => `${String(r.second).padStart(12, '0')}|${r.currency}|${r.channel}`;

/** Key sums computed from the orders themselves (reference), byCurrency sorted by currency. */
function expectedKeySums(kind: 'brand' | 'sku', orders: readonly Order[]): Map<string, KeySums> {
  const m = new Map<string, KeySums>();
  for (const o of orders) {
    const key = o[kind];
    if (key === '') continue;
    const k = m.get(key) ?? { key, orders: 0, byCurrency: [] };
    k.orders++;
    const c = k.byCurrency.find((x) => x.currency === o.currency);
    if (c === undefined) k.byCurrency.push({ currency: o.currency, hundredths: BigInt(o.hundredths), orders: 1 });
    else {
      c.hundredths += BigInt(o.hundredths);
      c.orders++;
    }
    k.byCurrency.sort((a, b) => (a.currency < b.currency ? -1 : 1));
    m.set(key, k);
  }
  return m;
}
const sorted = (rows: KeySums[]) => rows.map((r) => ({ ...r, byCurrency: [...r.byCurrency].sort((a, b) => (a.currency < b.currency ? -1 : 1)) }));

describe.skipIf(!serverAvailable)('server store in cluster mode (3 shards)', () => {
  let cluster: ClickHouseCluster;
  const conns: SqlConnection[] = [];
  /** Each node's store: its own shard, cluster-wide reads over the Distributed tables. */
  const stores: OrderStore[] = [];
  /** The same shards without cluster mode: what each shard holds by itself. */
  const locals: OrderStore[] = [];
  /** A plain connection to each shard, for what the store never returns. */
  const shard: SqlConnection[] = [];
  const open = (url: string) => {
    const c = createServerConnection(url);
    conns.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startClickHouseCluster({ shards: 3, name: 'gala' });
    for (const url of cluster.urls) {
      stores.push(createOrderStore(open(url), { clickhouseCluster: 'gala' }));
      locals.push(createOrderStore(open(url)));
      shard.push(open(url));
    }
    for (const s of stores) await s.migrate();
    for (const [i, writes] of WRITES.entries()) for (const w of writes) await stores[i]!.insert(encode(w.orders, w.receivedMs));
    await stores[0]!.recordMilestone({ id: 'gmv-10', thresholdHundredths: 1_000n, currency: 'EUR', crossedMs: BASE_MS, recordedMs: BASE_MS + 50, totalHundredths: 1_000n, orders: 1 });
    await stores[2]!.recordMilestone({ id: 'gmv-20', thresholdHundredths: 2_000n, currency: 'EUR', crossedMs: BASE_MS + 1_000, recordedMs: BASE_MS + 60, totalHundredths: 2_500n, orders: 3 });
  }, 180_000);

  afterAll(async () => {
    for (const c of conns) await c.close();
    await cluster?.cleanup();
  }, 120_000);

  it('migrate creates a Distributed table over every shard for each cluster-wide table; a second migrate changes nothing', async () => {
    const tables = `SELECT name, engine_full, toString(metadata_modification_time) AS t FROM system.tables
      WHERE database = currentDatabase() AND endsWith(name, '_all') ORDER BY name`;
    const before = await shard[0]!.queryRows<{ name: string; engine_full: string; t: string }>(tables);
    expect(before.map((r) => r.name)).toEqual(CLUSTER_READ_TABLES.map(clusterTable).sort());
    for (const r of before) expect(r.engine_full.replace(/[\s'"`]/g, '')).toBe(`Distributed(gala,default,${r.name.replace(/_all$/, '')})`);
    const migrations = 'SELECT count() AS n FROM gala_schema_migrations';
    const recorded = await shard[0]!.queryRows(migrations);
    for (const s of stores) await s.migrate();
    expect(await shard[0]!.queryRows(tables)).toEqual(before);
    expect(await shard[0]!.queryRows(migrations)).toEqual(recorded);
  });

  it('migrate replaces a Distributed table over another table, and refuses a server whose remote_servers lacks the cluster', async () => {
    await shard[1]!.command('DROP TABLE gala_milestones_all');
    await shard[1]!.command('CREATE TABLE gala_milestones_all AS gala_milestones ENGINE = Distributed(gala, default, gala_orders)');
    await stores[1]!.migrate();
    const [row] = await shard[1]!.queryRows<{ e: string }>("SELECT engine_full AS e FROM system.tables WHERE database = currentDatabase() AND name = 'gala_milestones_all'");
    expect(row!.e.replace(/[\s'"`]/g, '')).toBe('Distributed(gala,default,gala_milestones)');
    await expect(createOrderStore(open(cluster.urls[0]!), { clickhouseCluster: 'nope' }).migrate()).rejects.toThrow(/no cluster "nope" in its remote_servers/);
  });

  it("every node's totals, perSecond and rolledSeconds are the sum over the shards, exactly", async () => {
    const shardTotals = await Promise.all(locals.map((l) => l.totals()));
    expect(shardTotals.map((rows) => rows.reduce((n, r) => n + r.orders, 0))).toEqual([3, 2, 2]);
    const wantTotals = sumRows(shardTotals.flat(), totalsKey);
    expect(wantTotals.find((r) => r.currency === 'USD')).toEqual({ currency: 'USD', channel: 'mobile', hundredths: 1_000_000_332n, orders: 2 });
    const from = BASE_SECOND - 10;
    const to = BASE_SECOND + 100;
    const wantSeconds = sumRows((await Promise.all(locals.map((l) => l.perSecond(from, to)))).flat(), secondKey);
    const wantRolled = sumRows((await Promise.all(locals.map((l) => l.rolledSeconds(from, to)))).flat(), secondKey);
    expect(wantRolled).toEqual(wantSeconds);
    for (const s of stores) {
      expect(sumRows(await s.totals(), totalsKey)).toEqual(wantTotals);
      expect(await s.totals()).toHaveLength(wantTotals.length);
      expect(sumRows(await s.perSecond(from, to), secondKey)).toEqual(wantSeconds);
      expect(sumRows(await s.rolledSeconds(from, to), secondKey)).toEqual(wantSeconds);
      // By arrival: only shard 0's first insert and shard 1's first were received by BASE_MS + 20.
      expect((await s.totals(BASE_MS + 20)).reduce((n, r) => n + r.orders, 0)).toBe(4);
    }
  });

  it("every node's leaderboards and product sums span the shards", async () => {
    const brands = expectedKeySums('brand', ALL);
    const weights = new Map([['EUR', 1], ['USD', 1]]);
    const inMinute = expectedKeySums('brand', ALL.filter((o) => Math.floor(o.ts / 60_000) === BASE_MINUTE));
    for (const s of stores) {
      expect(sorted(await s.topKeys('brand', 10, weights))).toEqual(['A', 'B', 'C'].map((k) => brands.get(k)));
      expect(sorted(await s.topKeys('brand', 10, weights, [BASE_MINUTE, BASE_MINUTE + 1]))).toEqual(['A', 'B'].map((k) => inMinute.get(k)));
      expect(sorted(await s.keySums('sku', ['S1', 'S9']))).toEqual([expectedKeySums('sku', ALL).get('S1')]);
    }
    // The local store of a shard sees only its own rows.
    expect((await locals[2]!.topKeys('brand', 10, weights)).map((k) => k.key)).toEqual(['A', 'C']);
  });

  it('finds an id stored on two shards as a duplicate from every node, whole and in slices', async () => {
    const want = [{ id: 'dup-1', copies: 2, currency: 'EUR', hundredths: 700n, firstReceivedMs: BASE_MS + 10, lastReceivedMs: BASE_MS + 30 }];
    for (const [i, s] of stores.entries()) {
      expect(await s.duplicateIds(100)).toEqual(want);
      expect(await s.duplicateIds(100, BASE_MS + 25)).toEqual(want);
      expect(await s.duplicateIds(100, BASE_MS + 31)).toEqual([]);
      const sliced = [];
      for (let index = 0; index < 4; index++) sliced.push(...(await s.duplicateIds(100, BASE_MS, { index, count: 4 })));
      expect(sliced).toEqual(want);
      expect(await locals[i]!.duplicateIds(100)).toEqual([]);
    }
  });

  it("every node reads the milestones recorded on any shard; restore and a failed insert's check stay on the node's own shard", async () => {
    for (const s of stores) expect((await s.milestones()).map((m) => [m.id, m.totalHundredths])).toEqual([['gmv-10', 1_000n], ['gmv-20', 2_500n]]);
    const counts = await Promise.all(stores.map((s) => s.fingerprintsSince(0, () => {})));
    expect(counts).toEqual([3, 2, 2]);
    expect(await Promise.all(stores.map((s) => s.ordersReceivedSince(0)))).toEqual([3, 2, 2]);
    const c1 = fingerprint('c1');
    expect(await stores[0]!.storedFingerprints([c1], [BASE_MS, BASE_MS + 100])).toEqual(new Set());
    expect(await stores[2]!.storedFingerprints([c1], [BASE_MS, BASE_MS + 100])).toEqual(new Set([c1.join(':')]));
  });

  it('says the cluster is not ready while a shard is down, naming the table and the error, and ready once it is back (last: stops a shard)', async () => {
    expect(await Promise.all(stores.map((s) => s.clusterUnready()))).toEqual([null, null, null]);
    expect(await locals[0]!.clusterUnready()).toBeNull();
    await cluster.servers[2]!.kill();
    expect(await stores[0]!.clusterUnready()).toMatch(/^gala_orders_all: clickhouse-server: query .*(Connection refused|connection tries failed)/i);
    await expect(stores[1]!.totals()).rejects.toThrow(/gala_orders_all/);
    // The node's own shard still serves what stays local.
    expect(await stores[0]!.ordersReceivedSince(0)).toBe(3);
    await cluster.servers[2]!.start();
    expect(await stores[0]!.clusterUnready()).toBeNull();
    expect((await stores[0]!.totals()).reduce((n, r) => n + r.orders, 0)).toBe(7);
  });
});
