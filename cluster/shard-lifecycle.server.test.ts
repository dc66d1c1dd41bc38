// A replicated node's side of the shard leases, on two real nodes over two shards of two replicated clickhouse-servers
// (their tables on ZooKeeper; the second replicas hold the quorum and have no node), with the leases
// driven by hand through start-system's leases option (the ZooKeeper leases are cluster/shard-leases.ts; this test
// is about what a node does when it is given or loses a lease): without an owner orders are answered unavailable;
// a node acks its shard only once it rebuilt and holds a valid lease; figures go out under the shard's slot at its
// epoch; a lease handed back leaves the figures in place on every node; taken again at a higher epoch nothing is
// counted twice and no figure goes backwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterFile, partitionOf, shardOfPartition, type ClusterFile } from '../domain/cluster-map.ts';
import type { ShowConfig } from '../domain/show.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import type { ClusterView } from '../protocol/cluster-protocol.ts';
import { startSystem, type LeasedOwnership, type LeasedOwnershipOptions, type RunningSystem } from '../system/start-system.ts';
import { startClickHouseCluster, type ClickHouseCluster } from '../test-support/clickhouse-cluster.ts';
import { freePorts, requireClickHouseServer } from '../test-support/clickhouse-server.ts';
import { requireZooKeeper, startZooKeeper, type ZooKeeper } from '../test-support/zookeeper.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';
import { connectIngest, testConfig, type Answer } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import type { ShardHooks } from './shard-lifecycle.ts';
import type { Ownership, PartitionOwner, ShardOwnerView } from './ownership.ts';

const serverAvailable = requireClickHouseServer() && requireZooKeeper();
const IDS = ['n1', 'n2'] as const;
type Id = (typeof IDS)[number];

/** The leases of the whole test cluster, as the test hands them out: one holder per shard, epochs growing. */
class HandLeases {
  readonly shards = new Map<number, ShardOwnerView>();
  readonly hooks = new Map<string, ShardHooks>();
  private readonly listeners = new Set<() => void>();
  constructor(private readonly file: ClusterFile) {}

  ownershipOf(self: string): Ownership {
    const S = 2;
    const owner = (p: number) => this.shards.get(shardOfPartition(p, S));
    return {
      ownerOfPartition: (p): PartitionOwner | null => {
        const o = owner(p);
        return o === undefined || o.node === null || !o.serving ? null : { node: o.node, epoch: o.epoch };
      },
      mayAck: (p, epoch) => {
        const o = owner(p);
        return o !== undefined && o.node === self && o.epoch === epoch && o.serving;
      },
      shards: () => [...this.shards.values()].sort((a, b) => a.shard - b.shard),
      onChange: (l) => {
        this.listeners.add(l);
        return () => this.listeners.delete(l);
      },
    };
  }

  /** `node` claims `shard` (a new epoch), rebuilds through its acquire hook, then serves. */
  async claim(shard: number, node: string): Promise<number> {
    const epoch = (this.shards.get(shard)?.epoch ?? 0) + 1;
    this.shards.set(shard, { shard, node, epoch, serving: false, since: new Date().toISOString() });
    this.changed();
    await this.hooks.get(node)!.acquire(shard, epoch);
    this.shards.set(shard, { ...this.shards.get(shard)!, serving: true });
    this.changed();
    return epoch;
  }

  /** The holder hands `shard` back: it stops and drains (release hook), then the lease is vacant. */
  async handBack(shard: number): Promise<void> {
    const held = this.shards.get(shard)!;
    await this.hooks.get(held.node!)!.release(shard);
    this.shards.set(shard, { ...held, node: null, serving: false, since: null });
    this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

describe.skipIf(!serverAvailable)('a replicated node under leases handed out by hand (two nodes, two shards)', () => {
  let ch: ClickHouseCluster | null = null;
  let zk: ZooKeeper | null = null;
  let file: ClusterFile;
  let leases: HandLeases;
  let show: ShowConfig;
  const systems = {} as Record<Id, RunningSystem>;
  const dirs: string[] = [];
  let seq = 0;
  /** Acked in the first test, on shard 1. */
  let early: string[] = [];
  /** Every /v1/stats orders figure read from each node, in order: none may go backwards. */
  const seen: Record<Id, number[]> = { n1: [], n2: [] };
  let watching: NodeJS.Timeout | null = null;

  const statsOf = async (id: Id) => (await (await fetch(`http://127.0.0.1:${file.nodes[IDS.indexOf(id)]!.httpPort}/v1/stats`)).json()) as { orders: number; gmv: string };
  const idsOn = (shard: number, n: number): string[] => {
    const out: string[] = [];
    while (out.length < n) {
      const id = `lease-${++seq}`;
      if (shardOfPartition(partitionOf(id, file.partitions), 2) === shard) out.push(id);
    }
    return out;
  };
  const send = async (to: Id, ids: string[]): Promise<Answer> => {
    const c = await connectIngest(systems[to].ingestPort);
    try {
      return await c.send(JSON.stringify({ batch: `b-${++seq}`, orders: ids.map((id) => ({ id, ts: Date.now(), amount: '2.50', currency: 'CNY', channel: 'mobile' })) }));
    } finally {
      c.close();
    }
  };

  beforeAll(async () => {
    show = loadShow(DEFAULT_SHOW_FILE);
    // ClickHouse's replicated tables need ZooKeeper; the leases are the test's (Gala never dials it here).
    zk = await startZooKeeper();
    ch = await startClickHouseCluster({ shards: 2, replicas: 2, zookeeper: { host: zk.host, port: zk.port } });
    const ports = await freePorts(4);
    file = parseClusterFile({
      clickhouseCluster: ch.name,
      partitions: 16,
      replication: { zookeeper: zk.connectString },
      nodes: IDS.map((id, i) => ({ id, host: '127.0.0.1', httpPort: ports[2 * i]!, ingestPort: ports[2 * i + 1]!, clickhouseUrl: ch!.replicaOf(i + 1, 1).url, shard: i + 1 })),
    });
    // The replicas without a node get their tables as `gala migrate` gives them.
    for (const s of [1, 2]) {
      const other = createOrderStore(createServerConnection(ch.replicaOf(s, 2).url), { clickhouseCluster: ch.name, replication: { insertQuorum: 2 } });
      await other.migrate();
      await other.close();
    }
    leases = new HandLeases(file);
    await Promise.all(
      IDS.map(async (id, i) => {
        const dataDir = mkdtempSync(join(tmpdir(), `gala-lease-${id}-`));
        dirs.push(dataDir);
        const self = file.nodes[i]!;
        const cfg = testConfig({ dataDir, clickhouseUrl: self.clickhouseUrl, httpPort: self.httpPort, ingestPort: self.ingestPort, show, reconcileIntervalMs: 0, cluster: { file, self } });
        const open = (o: LeasedOwnershipOptions): LeasedOwnership => {
          leases.hooks.set(o.self.id, o.hooks);
          return { ownership: leases.ownershipOf(o.self.id), start: async () => {}, close: async () => {}, zookeeperState: () => ({ [o.self.id]: 'connected' }) };
        };
        systems[id] = await startSystem(cfg, { flushIntervalMs: 20, leases: open, cluster: { beatMs: 100, startWaitMs: 3000 } });
      }),
    );
    watching = setInterval(() => {
      for (const id of IDS) void statsOf(id).then((s) => seen[id].push(s.orders), () => undefined);
    }, 25);
  }, 120_000);

  afterAll(async () => {
    if (watching !== null) clearInterval(watching);
    for (const id of IDS) await systems[id]?.close();
    await ch?.cleanup();
    await zk?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  it('answers unavailable while no node holds the shard, and acks once its holder rebuilt and serves', async () => {
    early = idsOn(1, 3);
    expect(await send('n1', early)).toMatchObject({ error: 'unavailable', retryAfterMs: 1000 });
    expect(await send('n2', early)).toMatchObject({ error: 'unavailable', retryAfterMs: 1000 });
    expect(await leases.claim(1, 'n1')).toBe(1);
    expect(await leases.claim(2, 'n2')).toBe(1);
    // Sent to n2: shard 1's part is forwarded to n1, shard 2's committed on n2.
    expect(await send('n2', [...early, ...idsOn(2, 2)])).toMatchObject({ accepted: 5, duplicates: 0 });
    expect(await send('n1', early)).toMatchObject({ accepted: 0, duplicates: 3 });
    for (const id of IDS) await until(`${id} to show every ack`, () => statsOf(id), (s) => s.orders === 5);
    // Each node's own figures go out under its shard's slot at the lease's epoch.
    expect(systems.n1.aggregator.ownSlot()).toEqual({ slot: 'shard:1', epoch: 1 });
    expect(systems.n2.totals.partsHeld()).toMatchObject([{ node: 'shard:1', epoch: 1, orders: 3 }]);
    const view = (await (await fetch(`http://127.0.0.1:${file.nodes[1]!.httpPort}/v1/cluster`)).json()) as ClusterView;
    expect(view.shards?.map((s) => [s.shard, s.owner, s.epoch, s.serving])).toEqual([[1, 'n1', 1, true], [2, 'n2', 1, true]]);
    expect(view.nodes.map((n) => n.partitions.length)).toEqual([8, 8]);
    expect(view.nodes[1]!.zookeeper).toBe('connected');
  });

  it('a lease handed back stops the acks of its shard and leaves its figures on every node; taken again, nothing is counted twice', async () => {
    await leases.handBack(1);
    expect(systems.n1.aggregator.ownSlot()).toBeNull();
    const ids = idsOn(1, 4);
    expect(await send('n1', ids)).toMatchObject({ error: 'unavailable' });
    // Its last figures stay: on n1 as an ordinary part, on n2 as they were.
    for (const id of IDS) expect((await statsOf(id)).orders).toBe(5);
    // Taken again at epoch 2: rebuilt from the replica (window and figures), the resend of what was acked before is
    // found as duplicates and the figures do not double.
    expect(await leases.claim(1, 'n1')).toBe(2);
    expect(await send('n2', [...ids, ...idsOn(1, 1)])).toMatchObject({ accepted: 5, duplicates: 0 });
    expect(await send('n1', early)).toMatchObject({ accepted: 0, duplicates: 3 });
    for (const id of IDS) await until(`${id} to show every ack once`, () => statsOf(id), (s) => s.orders === 10);
    expect(systems.n2.totals.partsHeld()).toMatchObject([{ node: 'shard:1', epoch: 2, orders: 8 }]);
    expect(systems.n1.totals.partsHeld()).toMatchObject([{ node: 'shard:2', epoch: 1, orders: 2 }]);
    const metrics = await systems.n1.metrics.render();
    expect(metrics).toContain('gala_cluster_shard_epoch{shard="1"} 2');
    expect(metrics).toContain('gala_cluster_shard_owner{shard="1",node="n1"} 1');
    expect(metrics).toMatch(/gala_cluster_unowned_batches_total [1-9]/);
    // Its replica, as system.replicas tells it: caught up (or nearly), writable, both replicas of shard 1 live.
    expect(metrics).toMatch(/^gala_replica_delay_seconds \d+$/m);
    expect(metrics).toMatch(/^gala_replica_queue_size \d+$/m);
    expect(metrics).toMatch(/^gala_replica_readonly 0$/m);
    expect(metrics).toMatch(/^gala_replica_active_replicas 2$/m);
    // No figure went backwards on either node, ever.
    for (const id of IDS) {
      const s = seen[id];
      expect(s.length).toBeGreaterThan(10);
      for (let i = 1; i < s.length; i++) expect(s[i]!, `${id} read ${i}`).toBeGreaterThanOrEqual(s[i - 1]!);
    }
  });
});
