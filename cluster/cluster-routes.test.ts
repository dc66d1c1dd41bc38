// GET /v1/cluster inside the public feed: the documented answer, and a partition map that sends every id where
// the nodes themselves send it.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createFeedRoutes } from '../aggregator/feed-routes.ts';
import { publicOpenApi } from '../aggregator/openapi.ts';
import { RateLimiter } from '../aggregator/rate-limit.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { ownerOf, parseClusterFile, type ClusterFile } from '../domain/cluster-map.ts';
import { fingerprint } from '../domain/fingerprint.ts';
import { createOpenApiCheck, openObjectSchemas, type OpenApiDoc } from '../test-support/openapi-check.ts';
import { createClusterRoutes, type ClusterRoutesOptions, type PeerView } from './cluster-routes.ts';
import { ownersOfView, type ClusterView } from '../protocol/cluster-protocol.ts';

const show = loadShow(DEFAULT_SHOW_FILE);
const file = parseClusterFile({
  clickhouseCluster: 'gala',
  partitions: 16,
  nodes: ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: '127.0.0.1', httpPort: 8081 + i, ingestPort: 9011 + i, clickhouseUrl: `http://gala:secret@127.0.0.1:${8123 + i}` })),
});

interface Body {
  self: string;
  coordinator: string;
  partitions: number;
  mapping: { fingerprint: string; partition: string; owner: string; reference: string };
  nodes: { id: string; partitions: number[]; state: string; stateSince?: string; stateReason?: string; ingest: string; coordinator: boolean }[];
}

function app(self: string, peerStates?: () => Record<string, PeerView>, of: ClusterFile = file, providers: Partial<ClusterRoutesOptions> = {}) {
  const cluster = { file: of, self: of.nodes.find((n) => n.id === self)! };
  return createFeedRoutes({
    show,
    totals: null!,
    state: null!,
    store: null!,
    limiter: new RateLimiter({ perSecond: 10, burst: 10 }),
    openapi: () => ({}),
    extra: createClusterRoutes({ cluster, peerStates, cacheControl: 'public, max-age=1, s-maxage=1', ...providers }),
  });
}

describe('GET /v1/cluster', () => {
  it('is documented in a cluster node\'s OpenAPI document (valid, closed) and answers as documented, 304 included', async () => {
    const doc = JSON.parse(JSON.stringify(publicOpenApi(show, { cluster: true }))) as OpenApiDoc;
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator['validate']>[0]);
    expect(res.errors ?? []).toEqual([]);
    expect(openObjectSchemas(doc)).toEqual([]);
    expect(Object.keys((publicOpenApi(show) as OpenApiDoc).paths)).not.toContain('/v1/cluster');
    const api = createOpenApiCheck(doc);
    const a = app('n2');
    const answer = await a.request('/v1/cluster');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    const etag = answer.headers.get('etag')!;
    await api.conforms('GET', '/v1/cluster', answer);
    const again = await a.request('/v1/cluster', { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    await api.conforms('GET', '/v1/cluster', again, '304');
  });

  it('publishes a partition map that owns each partition once and maps every id to the owner the nodes use', async () => {
    const body = (await (await app('n1').request('/v1/cluster')).json()) as Body;
    expect(body).toMatchObject({ self: 'n1', coordinator: 'n1', partitions: 16, mapping: { fingerprint: 'gala-fp64', partition: 'fingerprintLo mod partitions', owner: 'nodes[partition mod nodes.length]' } });
    expect(body.mapping.reference).toContain('domain/fingerprint.ts');
    expect(body.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    expect(body.nodes.map((n) => n.coordinator)).toEqual([true, false, false]);
    expect(body.nodes[1]!.ingest).toBe('ws://127.0.0.1:9012/v1/ingest');
    expect(body.nodes.flatMap((n) => n.partitions).sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, p) => p));
    // A client following the published formula sends each id where the nodes route it.
    for (let i = 0; i < 2000; i++) {
      const id = `order-${i}`;
      const partition = fingerprint(id)[1] % body.partitions;
      expect(body.nodes[partition % body.nodes.length]!.id).toBe(ownerOf(file, id).id);
      expect(body.nodes.find((n) => n.partitions.includes(partition))!.id).toBe(ownerOf(file, id).id);
    }
    // The worked example of docs/cluster.md is what the reference implementation computes.
    const example = /`order-0` has the fingerprint `\[(\d+), (\d+)\]`; with 64 partitions it is in partition `(\d+)`/.exec(readFileSync(new URL('../docs/cluster.md', import.meta.url), 'utf8'));
    expect(example?.slice(1).map(Number)).toEqual([...fingerprint('order-0'), fingerprint('order-0')[1] % 64]);
    // Never the ClickHouse URLs (they may carry credentials).
    expect(JSON.stringify(body)).not.toContain('secret');
  });

  it("shows each node's state as this node sees it: by default itself up and the others unknown", async () => {
    const plain = (await (await app('n3').request('/v1/cluster')).json()) as Body;
    expect(plain.nodes.map((n) => [n.id, n.state])).toEqual([['n1', 'unknown'], ['n2', 'unknown'], ['n3', 'up']]);
    const since = '2026-11-11T00:00:01.000Z';
    const seen = (await (await app('n3', () => ({ n1: { state: 'up' }, n2: { state: 'down', since, reason: 'connection refused' }, n3: { state: 'up' } })).request('/v1/cluster')).json()) as Body;
    expect(seen.nodes.map((n) => n.state)).toEqual(['up', 'down', 'up']);
    expect(seen.nodes[1]).toMatchObject({ stateSince: since, stateReason: 'connection refused' });
    expect(seen.nodes[0]).not.toHaveProperty('stateSince');
  });

  it('with replication shows every shard\'s lease, each node\'s replica lag and ZooKeeper state, and the last takeover, as documented', async () => {
    // n1 and n3 on shard 1 (n1 preferred), n2 on shard 2; n1 died, n3 took shard 1 at epoch 4; shard 2 is vacant.
    const rfile = parseClusterFile({
      clickhouseCluster: 'gala',
      partitions: 8,
      replication: { zookeeper: '127.0.0.1:2181' },
      nodes: ['n1', 'n2', 'n3'].map((id, i) => ({ id, host: '127.0.0.1', httpPort: 8081 + i, ingestPort: 9011 + i, clickhouseUrl: `http://gala:secret@127.0.0.1:${8123 + i}`, shard: i === 1 ? 2 : 1 })),
    });
    const since = '2026-11-11T00:00:05.000Z';
    const takeover = { shard: 1, from: 'n1', to: 'n3', epoch: 4, at: since, tookMs: 7400 };
    const providers: Partial<ClusterRoutesOptions> = {
      ownership: { shards: () => [{ shard: 1, node: 'n3', epoch: 4, serving: true, since }, { shard: 2, node: null, epoch: 2, serving: false, since: null }] },
      replicaStatus: async () => ({ n3: { delaySeconds: 0, queueSize: 0, readonly: false }, n2: { delaySeconds: 12 } }),
      zookeeperState: () => ({ n3: 'connected', n2: 'member', n1: 'absent' }),
      lastTakeover: () => takeover,
    };
    const a = app('n3', undefined, rfile, providers);
    const answer = await a.request('/v1/cluster');
    await createOpenApiCheck(JSON.parse(JSON.stringify(publicOpenApi(show, { cluster: true }))) as OpenApiDoc).conforms('GET', '/v1/cluster', answer.clone());
    const body = (await answer.json()) as ClusterView;
    expect(body.mapping).toMatchObject({ partition: 'fingerprintLo mod partitions', shard: 'partition mod shards + 1', owner: "the shard's lease holder (see shards[])" });
    expect(body.shards).toEqual([
      { shard: 1, owner: 'n3', epoch: 4, serving: true, since, partitions: [0, 2, 4, 6], nodes: ['n1', 'n3'] },
      { shard: 2, owner: null, epoch: 2, serving: false, since: null, partitions: [1, 3, 5, 7], nodes: ['n2'] },
    ]);
    // A node owns the partitions of the shard it holds now: n3 shard 1's, n1 (dead) and n2 (vacant shard) none.
    expect(body.nodes.map((n) => [n.id, n.shard, n.partitions])).toEqual([['n1', 1, []], ['n2', 2, []], ['n3', 1, [0, 2, 4, 6]]]);
    expect(body.nodes.map((n) => n.replica)).toEqual([null, { delaySeconds: 12 }, { delaySeconds: 0, queueSize: 0, readonly: false }]);
    expect(body.nodes.map((n) => n.zookeeper)).toEqual(['absent', 'member', 'connected']);
    expect(body.lastTakeover).toEqual(takeover);
    // A smart client reads the current owners off it: shard 1's partitions to n3, the vacant shard's to nobody.
    const owners = ownersOfView(body);
    expect(Array.from({ length: 8 }, (_, p) => owners(p))).toEqual(['n3', null, 'n3', null, 'n3', null, 'n3', null]);
    expect(JSON.stringify(body)).not.toContain('secret');
    // Unreplicated, the body holds none of it.
    const plain = (await (await app('n1').request('/v1/cluster')).json()) as ClusterView;
    expect(plain).not.toHaveProperty('shards');
    expect(plain).not.toHaveProperty('lastTakeover');
    expect(plain.nodes[0]).not.toHaveProperty('zookeeper');
    expect(plain.mapping).not.toHaveProperty('shard');
    const fixed = ownersOfView(plain);
    for (let p = 0; p < 16; p++) expect(fixed(p)).toBe(file.nodes[p % 3]!.id);
  });
});
