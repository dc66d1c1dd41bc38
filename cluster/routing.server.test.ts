// Routing across a cluster of three nodes in one process, each on its own clickhouse-server: a batch sent to any
// node is split by owner and acked once every part is durable, each order stored once, on its owner's server;
// resends to other nodes are duplicates; an owner down makes the batches that need it unavailable (and only those),
// and its return lets the resend through with nothing stored twice; a cut link comes back by itself.
import { rmSync } from 'node:fs';
import { createServer as createTcpServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ownerOf, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { Ack, FrameError } from '../domain/order.ts';
import { FORWARDED_BY_HEADER } from '../ingest/ingest-message.ts';
import { startSystem, type RunningSystem } from '../system/start-system.ts';
import type { ServeConfig } from '../system/serve-config.ts';
import { startClickHouseCluster } from '../test-support/clickhouse-cluster.ts';
import { freePorts, requireClickHouseServer, type ClickHouseServer } from '../test-support/clickhouse-server.ts';
import { connectIngest, testConfig, TEST_TOKEN, type Answer } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';

const serverAvailable = requireClickHouseServer();

const IDS = ['n1', 'n2', 'n3'] as const;
type NodeId = (typeof IDS)[number];

/** A TCP relay to a port whose connections the test can cut: the wire between two nodes. */
async function startRelay(targetPort: number): Promise<{ port: number; hold: () => void; cut: () => void; close: () => Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createTcpServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound).pipe(inbound);
    const drop = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    /** Stops passing bytes towards the target: what is sent stays on the wire, unanswered. */
    hold: () => {
      for (const [a, b] of pairs) {
        a.unpipe(b);
        a.pause();
      }
    },
    cut: () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Order {
  id: string;
  ts: number;
  amount: string;
  currency: string;
  channel: string;
  brand?: string;
}

const order = (id: string): Order => ({ id, ts: Date.parse('2026-11-11T00:00:01Z'), amount: '10.50', currency: 'CNY', channel: 'mobile' });

/** SELECT on a shard's own server: how many times each id is stored there. */
async function storedIds(ch: ClickHouseServer): Promise<Map<string, number>> {
  const q = encodeURIComponent('SELECT id, count() FROM gala_orders GROUP BY id FORMAT TSV');
  const text = await (await fetch(`${ch.url}/?query=${q}`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [id, n] = line.split('\t');
    out.set(id!, Number(n));
  }
  return out;
}

const isAck = (a: Answer): a is Ack => 'accepted' in a;

describe.skipIf(!serverAvailable)('cluster routing (three nodes, three clickhouse-servers)', () => {
  const shards: ClickHouseServer[] = [];
  const nodes = new Map<NodeId, { cfg: ServeConfig; system: RunningSystem | null }>();
  let file: ClusterFile;
  /** n1 reaches n2 through this relay, so the test can cut that link. */
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let seq = 0;

  const sys = (id: NodeId): RunningSystem => nodes.get(id)!.system!;
  const ownerId = (id: string) => ownerOf(file, id).id as NodeId;
  const shardOf = (id: NodeId) => shards[IDS.indexOf(id)]!;
  const start = async (id: NodeId) => {
    const n = nodes.get(id)!;
    n.system = await startSystem(n.cfg, { flushIntervalMs: 20, clusterLink: { sendTimeoutMs: 15_000, reconnectMaxMs: 500 } });
  };
  /** Orders with fresh ids: `per` owned by each node in `owners`, interleaved. */
  const ordersOwnedBy = (owners: readonly NodeId[], per: number): Order[] => {
    const want = new Map(owners.map((o) => [o, per]));
    const out: Order[] = [];
    while ([...want.values()].some((v) => v > 0)) {
      const id = `r-${++seq}`;
      const o = ownerId(id);
      if ((want.get(o) ?? 0) > 0) {
        want.set(o, want.get(o)! - 1);
        out.push(order(id));
      }
    }
    return out;
  };
  const send = async (to: NodeId, batch: string, orders: readonly object[]): Promise<Answer> => {
    const c = await connectIngest(sys(to).ingestPort);
    try {
      return await c.send(JSON.stringify({ batch, orders }));
    } finally {
      c.close();
    }
  };
  /** Every id stored on exactly its owner's shard, once; none anywhere else. */
  const expectStoredOnce = async (ids: readonly string[]) => {
    const stored = await Promise.all(IDS.map((n) => storedIds(shardOf(n))));
    for (const id of ids) {
      const where = IDS.flatMap((n, i) => (stored[i]!.has(id) ? [`${n}x${stored[i]!.get(id)}`] : []));
      expect(where, id).toEqual([`${ownerId(id)}x1`]);
    }
  };

  beforeAll(async () => {
    // One server per node, each naming all three in remote_servers as the cluster "gala".
    shards.push(...(await startClickHouseCluster({ shards: IDS.length, name: 'gala' })).servers);
    const ports = await freePorts(2 * IDS.length);
    const entries: ClusterNode[] = IDS.map((id, i) => ({ id, host: '127.0.0.1', httpPort: ports[2 * i]!, ingestPort: ports[2 * i + 1]!, clickhouseUrl: shards[i]!.url }));
    file = { clickhouseCluster: 'gala', nodes: entries, partitions: 16 };
    relay = await startRelay(entries[1]!.ingestPort);
    // n1's copy of the file reaches n2 through the relay; the partition map (ids in file order) is the same.
    const viaRelay: ClusterFile = { ...file, nodes: entries.map((e) => (e.id === 'n2' ? { ...e, ingestPort: relay.port } : e)) };
    for (const [i, id] of IDS.entries()) {
      const self = entries[i]!;
      const cfg = testConfig({ host: self.host, httpPort: self.httpPort, ingestPort: self.ingestPort, clickhouseUrl: self.clickhouseUrl, cluster: { file: id === 'n1' ? viaRelay : file, self } });
      nodes.set(id, { cfg, system: null });
    }
    await Promise.all(IDS.map(start));
    await until('every link up', () => IDS.every((id) => Object.values(sys(id).routing!.peerStates()).every((p) => p.state === 'up')), {
      detail: () => IDS.map((id) => sys(id).routing!.peerStates()),
    });
  }, 180_000);

  afterAll(async () => {
    for (const n of nodes.values()) {
      await n.system?.close();
      rmSync(n.cfg.dataDir, { recursive: true, force: true });
    }
    await relay?.close();
    for (const s of shards) await s.cleanup();
  }, 120_000);

  it('acks a batch holding orders of every owner once every part is durable, each order stored once on its owner', async () => {
    const orders = ordersOwnedBy(IDS, 20);
    const ack = await send('n1', 'every-owner', orders);
    expect(ack).toEqual({ batch: 'every-owner', accepted: 60, duplicates: 0, rejected: [] });
    // The ack means durable: every order is on its owner's server now, and on no other.
    await expectStoredOnce(orders.map((o) => o.id));
    const metrics = await sys('n1').metrics.render();
    expect(metrics).toMatch(/^gala_cluster_forwarded_orders_total\{peer="n2"\} 20$/m);
    expect(metrics).toMatch(/^gala_cluster_forwarded_orders_total\{peer="n3"\} 20$/m);
    expect(metrics).toMatch(/^gala_cluster_link_state\{peer="n3",state="up"\} 1$/m);
    expect(metrics).toMatch(/^gala_cluster_forward_seconds_count\{peer="n2"\} [1-9]/m);

    // Sent again to other nodes, over the socket and over HTTP: every order is a duplicate, nothing stored twice.
    expect(await send('n2', 'every-owner-again', orders)).toEqual({ batch: 'every-owner-again', accepted: 0, duplicates: 60, rejected: [] });
    const res = await fetch(`http://127.0.0.1:${sys('n3').ingestPort}/v1/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ batch: 'every-owner-http', orders }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ batch: 'every-owner-http', accepted: 0, duplicates: 60, rejected: [] });
    await expectStoredOnce(orders.map((o) => o.id));
  });

  it('maps each rejected order back to its index in the client batch, on the scanner path and the general one', async () => {
    for (const general of [false, true]) {
      const orders: Order[] = ordersOwnedBy(IDS, 4);
      // The general path takes a frame with any non-ASCII text; the scanner path everything plain.
      if (general) orders[0] = { ...orders[0]!, brand: 'Hàng Việt' };
      const bad = [2, 5, 9, 11];
      const broken: object[] = orders.map((o, i) => {
        if (i === 2) return { ...o, amount: '1.234' };
        if (i === 5) return { ...o, currency: 'XXX' };
        if (i === 9) return { ...o, channel: 'radio' };
        if (i === 11) return { ...o, id: 'not ok' };
        return o;
      });
      const ack = await send('n2', `rejects-${general}`, broken);
      if (!isAck(ack)) throw new Error(`expected an ack, got ${JSON.stringify(ack)}`);
      expect(ack.rejected.map((r) => r.index)).toEqual(bad);
      expect(ack.rejected.map((r) => r.error.split(':')[0])).toEqual(['amount', 'currency', 'channel', 'id']);
      expect(ack.rejected[0]!.id).toBe(orders[2]!.id);
      expect(ack.accepted).toBe(orders.length - bad.length);
      expect(ack.duplicates).toBe(0);
      await expectStoredOnce(orders.filter((_, i) => !bad.includes(i)).map((o) => o.id));
      const stored = await Promise.all(IDS.map((n) => storedIds(shardOf(n))));
      for (const i of bad) expect(stored.some((s) => s.has(orders[i]!.id))).toBe(false);
    }
  });

  it('rejects an order a forwarded frame holds that this node does not own, naming the rule, and forwards it nowhere', async () => {
    const [mine, theirs] = [ordersOwnedBy(['n2'], 1)[0]!, ordersOwnedBy(['n3'], 1)[0]!];
    const ws = new WebSocket(`ws://127.0.0.1:${sys('n2').ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}`, [FORWARDED_BY_HEADER]: 'n1' } });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const answer = new Promise<Ack>((r) => ws.once('message', (d) => r(JSON.parse(String(d)) as Ack)));
    ws.send(JSON.stringify({ batch: 'fwd:n1:test', orders: [theirs, mine] }));
    const ack = await answer;
    ws.close();
    expect(ack.accepted).toBe(1);
    expect(ack.rejected).toHaveLength(1);
    expect(ack.rejected[0]).toMatchObject({ index: 0, id: theirs.id });
    expect(ack.rejected[0]!.error).toMatch(/^id: owned by node n3 .*not forwarded again/);
    await expectStoredOnce([mine.id]);
    expect((await storedIds(shardOf('n3'))).has(theirs.id)).toBe(false);
  });

  it('answers unavailable the batches that need a stopped owner, acks the others, and counts each order once when it is back', async () => {
    await sys('n3').close();
    nodes.get('n3')!.system = null;
    await until("n1's and n2's links to n3 down", () => ['n1', 'n2'].every((id) => sys(id as NodeId).routing!.link('n3')!.state !== 'up'));
    // What /v1/cluster shows of the nodes, as n1 sees them.
    const seen = await until('n1 sees n3 down', () => sys('n1').routing!.peerStates(), (v) => v.n3?.state === 'down');
    expect(seen.n1!.state).toBe('up');
    expect(seen.n2!.state).toBe('up');
    expect(seen.n3!.reason).toMatch(/^ingest link: /);

    const needsN3 = ordersOwnedBy(IDS, 10);
    const refused = (await send('n1', 'needs-n3', needsN3)) as FrameError;
    expect(refused.error).toBe('unavailable');
    expect(refused.batch).toBe('needs-n3');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    // Over HTTP the same: 503 with Retry-After.
    const res = await fetch(`http://127.0.0.1:${sys('n2').ingestPort}/v1/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify({ batch: 'needs-n3-http', orders: needsN3 }),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await sys('n1').metrics.render()).toMatch(/^gala_cluster_forward_failures_total\{peer="n3",reason="down"\} [1-9]/m);

    const withoutN3 = ordersOwnedBy(['n1', 'n2'], 10);
    expect(await send('n1', 'without-n3', withoutN3)).toEqual({ batch: 'without-n3', accepted: 20, duplicates: 0, rejected: [] });

    await start('n3');
    await until("n1's and n2's links to n3 up", () => ['n1', 'n2'].every((id) => sys(id as NodeId).routing!.link('n3')!.state === 'up'));
    expect(sys('n1').routing!.peerStates().n3).toEqual({ state: 'up', since: expect.any(String) });
    // n1 and n2 committed their parts of the refused batch: the resend finds them as duplicates and stores n3's part.
    expect(await send('n2', 'needs-n3-again', needsN3)).toEqual({ batch: 'needs-n3-again', accepted: 10, duplicates: 20, rejected: [] });
    await expectStoredOnce([...needsN3, ...withoutN3].map((o) => o.id));
  });

  it("answers unavailable the batches whose owner's ClickHouse is down, and lets their resend through once it is back", async () => {
    // Killed, not stopped: a graceful 18.16 waits for its clients' idle connections, and a crash is the harder case.
    await shardOf('n3').kill();
    const needsN3 = ordersOwnedBy(IDS, 5);
    // n3 is up and answers its part unavailable (its insert failed): the client's batch is unavailable too.
    const refused = (await send('n2', 'n3-storage-down', needsN3)) as FrameError;
    expect(refused).toMatchObject({ batch: 'n3-storage-down', error: 'unavailable' });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(await sys('n2').metrics.render()).toMatch(/^gala_cluster_forward_failures_total\{peer="n3",reason="refused"\} [1-9]/m);
    await shardOf('n3').start();
    // n3 first settles its failed insert (a grace period on the restarted server), then takes batches again.
    await until("n3's storage up", () => sys('n3').committer.state === 'up', { timeoutMs: 60_000 });
    expect(await send('n1', 'n3-storage-back', needsN3)).toEqual({ batch: 'n3-storage-back', accepted: 5, duplicates: 10, rejected: [] });
    await expectStoredOnce(needsN3.map((o) => o.id));
  });

  it('answers unavailable a batch whose part was in flight on a cut link, reconnects by itself and forwards over it again', async () => {
    const link = sys('n1').routing!.link('n2')!;
    const before = link.reconnects;
    relay.hold();
    const caught = ordersOwnedBy(IDS, 5);
    const answer = send('n1', 'caught-in-cut', caught);
    await until("n2's part in flight", () => link.inflightBatches === 1);
    relay.cut();
    expect(await answer).toMatchObject({ batch: 'caught-in-cut', error: 'unavailable' });
    await until('n1 to n2 reconnected', () => link.reconnects > before && link.state === 'up', { detail: () => sys('n1').routing!.peerStates() });
    // n1's and n3's parts were committed; n2's never reached it.
    expect(await send('n1', 'caught-in-cut-again', caught)).toEqual({ batch: 'caught-in-cut-again', accepted: 5, duplicates: 10, rejected: [] });
    const orders = ordersOwnedBy(IDS, 5);
    expect(await send('n1', 'after-cut', orders)).toEqual({ batch: 'after-cut', accepted: 15, duplicates: 0, rejected: [] });
    await expectStoredOnce([...caught, ...orders].map((o) => o.id));
    expect(await sys('n1').metrics.render()).toMatch(/^gala_cluster_link_state_changes_total\{peer="n2",state="connecting"\} [1-9]/m);
  });
});
