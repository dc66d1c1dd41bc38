// Losing a machine mid-show loses nothing (issue 15), on real processes: three `gala serve` nodes over two shards
// of two clickhouse-server 18.16 replicas each, with one ZooKeeper, all on free ports. n1 writes to s1r1 (shard 1's
// preferred owner, the coordinator), n2 to s2r1 (shard 2's preferred owner), n3 to s2r2 (shard 2's standby); s1r2
// has no node, so `gala migrate` creates its tables first. A client streams batches to all three nodes and sends again every batch answered `unavailable` or
// left unanswered, until it is acked (test-support/resending-client.ts). In turn:
// - the owner n2 is killed with kill -9: n3 takes shard 2 over, the resends count once; n2 restarted takes it back;
// - shard 1's second replica is killed: batches holding shard 1's orders wait (no quorum), shard 2's are acked;
// - the owner n2 is frozen with SIGSTOP past its session and resumed (the zombie case): n3 takes over, n2 acks
//   nothing from its old lease;
// - ZooKeeper is stopped and started: nothing is acked meanwhile, the figures stay on screen, and the cluster
//   recovers by itself.
// At the end every order is stored exactly once (count() = count(DISTINCT id) over the Distributed table), every
// node's figures equal that SELECT, and no node's figures ever went backwards.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf, shardOfPartition } from '../domain/cluster-map.ts';
import { formatHundredths, parseHundredths } from '../domain/money.ts';
import type { ClusterView } from '../protocol/cluster-protocol.ts';
import { startClickHouseCluster, writeClusterFile, type ClickHouseCluster, type WrittenClusterFile } from '../test-support/clickhouse-cluster.ts';
import { expectNeverBackwards, expectStoredOnce } from '../test-support/cluster-checks.ts';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';
import { derivedVsOrders } from '../storage/order-store.case.ts';
import { requireClickHouseServer } from '../test-support/clickhouse-server.ts';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { ResendingClient, type ClientOrder } from '../test-support/resending-client.ts';
import { until } from '../test-support/until.ts';
import { requireZooKeeper, startZooKeeper, type ZooKeeper } from '../test-support/zookeeper.ts';

const available = requireClickHouseServer() && requireZooKeeper();
const IDS = ['n1', 'n2', 'n3'] as const;
type Id = (typeof IDS)[number];
const ORDERS_PER_BATCH = 40;
const PARTITIONS = 64;
const SESSION_MS = 3000;
const TS = Date.UTC(2026, 10, 11, 1, 0, 0);

/** Which shards a batch's orders come from: both (most batches), or only one (a client that routes by shard). */
const only = new Map<number, 1 | 2>();
const shardOfId = (id: string) => shardOfPartition(partitionOf(id, PARTITIONS), 2);
const batches = new Map<number, ClientOrder[]>();
/** Batch i: ORDERS_PER_BATCH orders, the same ids and amounts on every resend. */
function batchOrders(i: number): ClientOrder[] {
  const known = batches.get(i);
  if (known !== undefined) return known;
  const want = only.get(i);
  const out: ClientOrder[] = [];
  for (let k = 0; out.length < ORDERS_PER_BATCH; k++) {
    const id = `r-${i}-${k}`;
    if (want !== undefined && shardOfId(id) !== want) continue;
    const j = out.length;
    out.push({ id, ts: TS + i * 10 + (j % 10), amount: `${(i % 5) + 1}.${String((j * 7) % 100).padStart(2, '0')}`, currency: 'CNY', channel: j % 4 === 0 ? 'desktop' : 'mobile' });
  }
  batches.set(i, out);
  return out;
}

interface Stats {
  gmv: string;
  orders: number;
}

describe.skipIf(!available)('replicated shards: an owner killed or frozen, a replica killed, ZooKeeper restarted', () => {
  let zk: ZooKeeper;
  let ch: ClickHouseCluster;
  let written: WrittenClusterFile;
  const dirs = IDS.map((id) => mkdtempSync(join(tmpdir(), `gala-repl-${id}-`)));
  const procs = {} as Record<Id, GalaProcess | null>;
  const all: GalaProcess[] = [];
  const seen: Record<Id, { gmv: bigint; orders: number }[]> = { n1: [], n2: [], n3: [] };
  let sampler: NodeJS.Timeout | null = null;
  let client: ResendingClient | null = null;
  const frozen = new Set<Id>();

  const start = async (id: Id) => {
    const p = await startGalaProcess(['--cluster', written.file, '--node', id, '--data', dirs[IDS.indexOf(id)]!]);
    all.push(p);
    procs[id] = p;
    return p;
  };
  const port = (id: Id) => written.cluster.nodes[IDS.indexOf(id)]!.httpPort;
  const get = async <T>(id: Id, path: string): Promise<T> => {
    const r = await fetch(`http://127.0.0.1:${port(id)}${path}`, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`${id}: ${path} answered ${r.status}`);
    return (await r.json()) as T;
  };
  const statsOrNull = (id: Id) => get<Stats>(id, '/v1/stats').catch(() => null);
  const viewOrNull = (id: Id) => get<ClusterView>(id, '/v1/cluster').catch(() => null);
  /** Shard s as node `from` sees it: its owner once serving, with the epoch. */
  const serving = async (from: Id, s: number) => {
    const v = await viewOrNull(from);
    const sh = v?.shards?.find((x) => x.shard === s);
    return sh === undefined || !sh.serving ? null : { owner: sh.owner, epoch: sh.epoch };
  };
  const detail = () => ({ acked: client?.acked.size, waiting: client?.waiting, unavailable: client?.unavailable.length, errors: client?.errors.slice(0, 3) });

  beforeAll(async () => {
    zk = await startZooKeeper();
    ch = await startClickHouseCluster({ shards: 2, replicas: 2, zookeeper: { host: zk.host, port: zk.port } });
    written = await writeClusterFile({
      clickhouseCluster: ch.name,
      nodes: [{ shard: 1, replica: 1 }, { shard: 2, replica: 1 }, { shard: 2, replica: 2 }],
      cluster: ch,
      zookeeper: zk.connectString,
      sessionTimeoutMs: SESSION_MS,
      partitions: PARTITIONS,
    });
    // The replica no node writes to gets its tables from the command made for it: without them it is no replica, and
    // shard 1 would have no quorum.
    const bin = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));
    const migrated = spawnSync(process.execPath, [bin, 'migrate', '--cluster', written.file, '--clickhouse', ch.replicaOf(1, 2).url], { encoding: 'utf8', timeout: 60_000 });
    expect(migrated.stderr).toBe('');
    expect(migrated.stdout).toMatch(/^migrated http:\/\/127\.0\.0\.1:\d+ to schema version \d+ \(replicated tables\)\n$/);
    await Promise.all(IDS.map(start));
    const busy = new Set<Id>();
    sampler = setInterval(() => {
      for (const id of IDS) {
        if (busy.has(id) || frozen.has(id)) continue;
        busy.add(id);
        get<Stats>(id, '/v1/stats').then((s) => seen[id].push({ gmv: parseHundredths(s.gmv), orders: s.orders }), () => undefined).finally(() => busy.delete(id));
      }
    }, 50);
  }, 180_000);

  afterAll(async () => {
    if (sampler !== null) clearInterval(sampler);
    client?.close();
    for (const p of all) {
      p.proc.kill('SIGCONT');
      p.proc.kill('SIGKILL');
    }
    await Promise.all(all.map((p) => p.exited));
    await ch?.cleanup();
    await zk?.cleanup();
    written?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  it('the preferred owners serve their shards, and every node publishes the leases', async () => {
    for (const id of IDS) {
      await until(`${id} to see shard 1 served by n1`, () => serving(id, 1), (s) => s?.owner === 'n1');
      await until(`${id} to see shard 2 served by n2`, () => serving(id, 2), (s) => s?.owner === 'n2');
    }
    const v = (await viewOrNull('n3'))!;
    expect(v.nodes.map((n) => [n.id, n.shard])).toEqual([['n1', 1], ['n2', 2], ['n3', 2]]);
    expect(v.shards!.map((s) => [s.shard, s.nodes])).toEqual([[1, ['n1']], [2, ['n2', 'n3']]]);
    client = new ResendingClient({ ports: Object.fromEntries(written.cluster.nodes.map((n) => [n.id, n.ingestPort])), batchOrders });
  }, 60_000);

  it('an owner killed with kill -9: its standby takes the shard over at a higher epoch, every resend counts once; restarted, it takes it back', async () => {
    const before = (await serving('n1', 2))!;
    client!.send(0, 80);
    await until('25 batches acked', () => client!.acked.size >= 25, { everyMs: 5, detail });
    procs.n2!.proc.kill('SIGKILL');
    await procs.n2!.exited;
    procs.n2 = null;
    const taken = await until('n3 to serve shard 2', () => serving('n1', 2), (s) => s?.owner === 'n3', { timeoutMs: 60_000, detail });
    expect(taken!.epoch).toBeGreaterThan(before.epoch);
    await until('every batch acked with n2 down', () => client!.acked.size === 80, { timeoutMs: 60_000, detail });
    const view = (await viewOrNull('n1'))!;
    expect(view.lastTakeover).toMatchObject({ shard: 2, from: 'n2', to: 'n3', epoch: taken!.epoch });
    await start('n2');
    const back = await until('n2 to serve shard 2 again', () => serving('n1', 2), (s) => s?.owner === 'n2', { timeoutMs: 60_000, detail });
    expect(back!.epoch).toBeGreaterThan(taken!.epoch);
  }, 180_000);

  it('a replica killed: batches holding its shard\'s orders wait for the quorum, the other shard\'s are acked; back, everything is acked', async () => {
    for (let i = 80; i < 130; i++) if (i >= 110) only.set(i, 2);
    await ch.replicaOf(1, 2).kill();
    const killedAt = Date.now();
    client!.send(80, 110);
    await until('a batch answered unavailable without shard 1\'s quorum', () => client!.unavailable.some((u) => u.at >= killedAt && u.batch < 110), { timeoutMs: 60_000, detail });
    client!.send(110, 130);
    await until('every batch of shard 2 only acked while the replica is down', () => [...Array(20).keys()].every((k) => client!.acked.has(110 + k)), { timeoutMs: 60_000, detail });
    expect([...Array(30).keys()].filter((k) => client!.acked.has(80 + k)).length).toBeLessThan(30);
    await ch.replicaOf(1, 2).start();
    await until('every batch acked once the replica is back', () => client!.acked.size === 130, { timeoutMs: 90_000, detail });
  }, 240_000);

  it('an owner frozen past its session (the zombie): the standby takes over, the frozen one acks nothing more under its old lease', async () => {
    const before = (await serving('n1', 2))!;
    expect(before.owner).toBe('n2');
    client!.send(130, 190);
    await until('140 batches acked', () => client!.acked.size >= 140, { everyMs: 5, detail });
    frozen.add('n2');
    procs.n2!.proc.kill('SIGSTOP');
    // What n2 had taken and not answered when it froze: once it wakes, its old lease must ack none of it.
    const heldByN2 = client!.inflightOn('n2');
    const taken = await until('n3 to serve shard 2 while n2 is frozen', () => serving('n1', 2), (s) => s?.owner === 'n3', { timeoutMs: 60_000, detail });
    expect(taken!.epoch).toBeGreaterThan(before.epoch);
    procs.n2!.proc.kill('SIGCONT');
    frozen.delete('n2');
    await until('every batch acked', () => client!.acked.size === 190, { timeoutMs: 90_000, detail });
    expect(heldByN2.length).toBeGreaterThan(0);
    // n2's first answer to each is `unavailable` (a resend may be acked later by whoever owns the shard then).
    const firstByN2 = heldByN2.map((i) => client!.answers.find((a) => a.batch === i && a.node === 'n2')?.kind);
    expect(firstByN2).toEqual(heldByN2.map(() => 'unavailable'));
  }, 240_000);

  it('ZooKeeper stopped: nothing is acked, the figures stay on screen; started again, the cluster recovers by itself', async () => {
    await until('n2 back as shard 2\'s owner', () => serving('n1', 2), (s) => s?.owner === 'n2', { timeoutMs: 60_000, detail });
    // n2 is seen serving from n1 a moment before its own /v1/stats answers: wait until every node does.
    const shown = (await until('every node to answer its figures', () => Promise.all(IDS.map(statsOrNull)), (l) => l.every((x) => x !== null), { detail })) as Stats[];
    await zk.stop();
    const stoppedAt = Date.now();
    client!.send(190, 220);
    await until('a batch answered unavailable with ZooKeeper down', () => client!.unavailable.some((u) => u.at >= stoppedAt + SESSION_MS), { timeoutMs: 60_000, detail });
    const ackedWhileDown = [...client!.ackedAt.values()].filter((t) => t > stoppedAt + SESSION_MS);
    expect(ackedWhileDown).toEqual([]);
    // Every node still answers its figures, no lower than before ZooKeeper went, and says ZooKeeper is not there.
    const during = await Promise.all(IDS.map(statsOrNull));
    for (let k = 0; k < IDS.length; k++) expect(during[k]!.orders).toBeGreaterThanOrEqual(shown[k]!.orders);
    await until('n1 to report ZooKeeper not connected', () => viewOrNull('n1'), (v) => v?.nodes.find((n) => n.id === 'n1')?.zookeeper !== 'connected');
    // Operators are told acks are paused and the figures may be behind (the health topic, /healthz, the live panel).
    type Health = { coordination?: { zookeeper: string; acksPaused: boolean } };
    for (const id of IDS) await until(`${id}'s health to say acks are paused`, () => get<Health>(id, '/healthz').catch(() => null), (h) => h?.coordination?.acksPaused === true);
    await zk.start();
    await until('every batch acked after ZooKeeper is back', () => client!.acked.size === 220, { timeoutMs: 90_000, detail });
    for (const id of IDS) await until(`${id}'s health to say acks resumed`, () => get<Health>(id, '/healthz').catch(() => null), (h) => h?.coordination?.acksPaused === false);
  }, 180_000);

  it('ends with every order stored once, every node showing exactly that, nothing ever going backwards', async () => {
    expect(client!.errors).toEqual([]);
    const total = 220;
    let expectedHundredths = 0n;
    for (let i = 0; i < total; i++) for (const o of batchOrders(i)) expectedHundredths += parseHundredths(o.amount);
    const expectedOrders = total * ORDERS_PER_BATCH;
    await expectStoredOnce(ch.replicaOf(1, 1).url, expectedOrders, expectedHundredths);
    const want = { gmv: formatHundredths(expectedHundredths), orders: expectedOrders };
    await until('every node to show every order', () => Promise.all(IDS.map(statsOrNull)), (l) => l.every((s) => s !== null && s.gmv === want.gmv && s.orders === want.orders), { timeoutMs: 30_000, detail: () => seen });
    expectNeverBackwards(seen);
    // Each shard's rollups equal SELECT over its orders, and its side table holds every order's fingerprint once,
    // through the kill -9, the frozen owner and the takeovers (derived rows and fills follow the acks by seconds).
    for (const s of [1, 2]) {
      const conn = createServerConnection(ch.replicaOf(s, 1).url);
      try {
        const derived = await until(`shard ${s}'s rollups to equal its orders`, () => derivedVsOrders(conn), (d) => JSON.stringify(d.held) === JSON.stringify(d.truth), { timeoutMs: 30_000 });
        expect(derived.held).toEqual(derived.truth);
        const fps = async () => (await conn.queryRows<{ f: string | number; n: string | number; u: string | number }>(
          `SELECT (SELECT count() FROM gala_order_fps WHERE received_ms >= 0) AS f, (SELECT count() FROM gala_orders) AS n, (SELECT uniqExact(fp_hi, fp_lo, received_ms) FROM gala_order_fps WHERE received_ms >= 0) AS u`,
        ))[0]!;
        const counts = await until(`shard ${s}'s side table to hold every order`, fps, (r) => Number(r.f) === Number(r.n), { timeoutMs: 30_000 });
        expect([Number(counts.f), Number(counts.u)]).toEqual([Number(counts.n), Number(counts.n)]);
      } finally {
        await conn.close();
      }
    }
  }, 150_000);
});
