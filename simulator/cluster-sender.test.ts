// The simulator's cluster sender against three in-memory ingest servers: `owner` sends every order to the node the
// partition map names (a resend to the same one, where it is a duplicate), `any` sends whole batches in turn.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ownerOf, type ClusterFile } from '../domain/cluster-map.ts';
import { parseShowConfig } from '../domain/show.ts';
import { startFakeIngestServer, type FakeIngestServer } from '../test-support/fake-ingest-server.ts';
import { createClusterSender } from './cluster-sender.ts';
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
});
