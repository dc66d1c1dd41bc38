// GET /v1/cluster inside the public feed: the documented answer, and a partition map that sends every id where
// the nodes themselves send it.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createFeedRoutes } from '../aggregator/feed-routes.ts';
import { publicOpenApi } from '../aggregator/openapi.ts';
import { RateLimiter } from '../aggregator/rate-limit.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { ownerOf, parseClusterFile } from '../domain/cluster-map.ts';
import { fingerprint } from '../domain/fingerprint.ts';
import { createOpenApiCheck, openObjectSchemas, type OpenApiDoc } from '../test-support/openapi-check.ts';
import { createClusterRoutes, type PeerView } from './cluster-routes.ts';

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

function app(self: string, peerStates?: () => Record<string, PeerView>) {
  const cluster = { file, self: file.nodes.find((n) => n.id === self)! };
  return createFeedRoutes({
    show,
    totals: null!,
    state: null!,
    store: null!,
    limiter: new RateLimiter({ perSecond: 10, burst: 10 }),
    openapi: () => ({}),
    extra: createClusterRoutes({ cluster, peerStates, cacheControl: 'public, max-age=1, s-maxage=1' }),
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
});
