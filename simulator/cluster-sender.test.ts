// The simulator's cluster sender against three in-memory ingest servers: `owner` sends every order to the node the
// partition map names (a resend to the same one, where it is a duplicate), `any` sends whole batches in turn.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ownerOf, partitionOf, type ClusterFile } from '../domain/cluster-map.ts';
import type { ClusterView } from '../protocol/cluster-protocol.ts';
import { parseShowConfig } from '../domain/show.ts';
import { startFakeIngestServer, type FakeIngestServer } from '../test-support/fake-ingest-server.ts';
import { createClusterSender } from './cluster-sender.ts';
import { until } from '../test-support/until.ts';
import { createSimulator } from './simulator.ts';

const TOKEN = 'cluster-sender-token';
const show = parseShowConfig(JSON.parse(readFileSync(new URL('../domain/default-show.json', import.meta.url), 'utf8')));

describe('cluster sender', () => {
  let fakes: FakeIngestServer[] = [];
  afterEach(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    fakes = [];
  });

  async function rig(): Promise<ClusterFile> {
    fakes = await Promise.all([1, 2, 3].map(() => startFakeIngestServer({ tokens: [TOKEN], show })));
    return {
      clickhouseCluster: 'c',
      partitions: 16,
      replication: null,
      nodes: fakes.map((f, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', httpPort: 1, ingestPort: f.port, clickhouseUrl: 'http://x' })),
    };
  }

  it('owner: each valid order reaches the node that owns it, its resends too (counted there as duplicates)', async () => {
    const cluster = await rig();
    const sim = createSimulator({ seed: 7, show, resendRate: 0.05, malformedRate: 0.02 });
    const sender = createClusterSender({ cluster, token: TOKEN, mode: 'owner' });
    await sender.ready();
    const owned = new Map<string, number>();
    for (let b = 1; b <= 4; b++) {
      const orders = sim.nextBatch(500);
      for (const o of orders) {
        if (o.kind !== 'new') continue;
        const owner = ownerOf(cluster, (JSON.parse(o.json) as { id: string }).id).id;
        owned.set(owner, (owned.get(owner) ?? 0) + 1);
      }
      await sender.send(`b${b}`, orders);
    }
    await sender.drain();
    const e = sim.expected();
    expect(fakes.map((f) => f.totals().orders)).toEqual(['n1', 'n2', 'n3'].map((id) => owned.get(id) ?? 0));
    expect(fakes.every((f) => f.totals().orders > 0)).toBe(true);
    const c = sender.counters();
    expect([c.accepted, c.duplicates, c.rejected]).toEqual([e.orders, e.resends, e.malformed]);
    await sender.close();
  });

  it('any: whole batches, one node after another', async () => {
    const cluster = await rig();
    const sim = createSimulator({ seed: 8, show, resendRate: 0, malformedRate: 0 });
    const sender = createClusterSender({ cluster, token: TOKEN, mode: 'any' });
    await sender.ready();
    for (let b = 1; b <= 6; b++) await sender.send(`b${b}`, sim.nextBatch(100));
    await sender.drain();
    expect(fakes.map((f) => [f.totals().frames, f.totals().orders])).toEqual([[2, 200], [2, 200], [2, 200]]);
    await sender.close();
  });

  it('owner with the published map: follows the current owners, and reads the map again after an unavailable', async () => {
    const cluster = await rig();
    // A replicated view: two shards; shard 1 (even partitions) held by n3, shard 2 by n2; n1 holds nothing.
    const shards = (owner1: string, owner2: string): ClusterView['shards'] => [
      { shard: 1, owner: owner1, epoch: 1, serving: true, since: null, partitions: [], nodes: [] },
      { shard: 2, owner: owner2, epoch: 1, serving: true, since: null, partitions: [], nodes: [] },
    ];
    let view = { nodes: cluster.nodes, shards: shards('n3', 'n2') } as unknown as ClusterView;
    let reads = 0;
    const sender = createClusterSender({ cluster, token: TOKEN, mode: 'owner', map: async () => (reads++, view) });
    await sender.ready();
    const sim = createSimulator({ seed: 9, show, resendRate: 0, malformedRate: 0 });
    const evenOf = (orders: { json: string }[]) => orders.filter((o) => partitionOf((JSON.parse(o.json) as { id: string }).id, 16) % 2 === 0).length;
    const first = sim.nextBatch(300);
    await sender.send('m1', first);
    await sender.drain();
    expect(fakes.map((f) => f.totals().orders)).toEqual([0, 300 - evenOf(first), evenOf(first)]);
    // Shard 1 moves to n1; n3 answers unavailable once: the sender reads the map again and sends there from then on.
    view = { nodes: cluster.nodes, shards: shards('n1', 'n2') } as unknown as ClusterView;
    fakes[2]!.setUnavailable(50);
    const stuck = sim.nextBatch(50);
    await sender.send('m2', stuck);
    const before = reads;
    await until('the map read again', () => reads > before);
    fakes[2]!.setUnavailable(null);
    await sender.drain();
    const next = sim.nextBatch(300);
    await sender.send('m3', next);
    await sender.drain();
    expect(fakes[0]!.totals().orders).toBe(evenOf(next));
    expect(sender.counters().accepted).toBe(650);
    await sender.close();
  });
});
