// The OpenAPI document against a real OpenAPI 3.1 validator, and against the running system: every documented path
// is requested and every answer (200, 304, 400, 404, 429, the SSE stream's first event) is checked against the
// documented status, headers and schema, whose objects are all closed; every route of the feed is documented.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { testShow } from '../test-support/test-show.ts';
import { connectIngest, startTestSystem } from '../test-support/system-harness.ts';
import { createOpenApiCheck, openObjectSchemas, type OpenApiDoc, type OperationDoc } from '../test-support/openapi-check.ts';
import { until } from '../test-support/until.ts';
import { createFeedRoutes } from './feed-routes.ts';
import { publicOpenApi } from './openapi.ts';
import { RateLimiter } from './rate-limit.ts';

interface Param {
  name: string;
  in: string;
  required?: boolean;
  schema?: { default?: unknown; enum?: unknown[] };
}
interface Operation extends OperationDoc {
  parameters?: (Param | { $ref: string })[];
}
interface Doc extends OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
}

/** A few orders' worth of values for path parameters, per parameter name. */
const PATH_VALUES: Record<string, string> = { board: 'brands', sku: 'SKU-1' };
/** A request breaking a documented rule, for each path that documents 400 (the test fails if one is missing). */
const BAD_REQUESTS: Record<string, string> = {
  '/v1/series': '/v1/series?resolution=hour',
  '/v1/series.csv': '/v1/series.csv?from=yesterday',
  '/v1/leaderboards/{board}': '/v1/leaderboards/brands?limit=0',
  '/v1/leaderboards/{board}.csv': '/v1/leaderboards/regions.csv?window=week',
  '/v1/products/{sku}': `/v1/products/${'S'.repeat(65)}`,
};
const NOT_FOUND: Record<string, string> = {
  '/v1/leaderboards/{board}': '/v1/leaderboards/shops',
  '/v1/leaderboards/{board}.csv': '/v1/leaderboards/shops.csv',
};

let base = '';
let doc: Doc;
let served: unknown;
let cleanup: () => Promise<void> = async () => undefined;
let api: ReturnType<typeof createOpenApiCheck>;

function operationUrl(path: string, op: Operation): string {
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = PATH_VALUES[name];
    if (v === undefined) throw new Error(`no test value for path parameter ${name}`);
    return encodeURIComponent(v);
  });
  const q = new URLSearchParams();
  for (const p of (op.parameters ?? []).map((p) => api.deref(p))) if (p.in === 'query' && p.schema?.default !== undefined) q.set(p.name, String(p.schema.default));
  return q.size === 0 ? url : `${url}?${q}`;
}

describe('the OpenAPI document of the public feed', () => {
  beforeAll(async () => {
    const now = Date.now();
    const show = testShow({ name: 'OpenAPI night', milestones: [{ id: 'm1', label: '¥1,000', threshold: '1000' }, { id: 'm2', label: '¥1 billion', threshold: '1000000000' }] });
    // A generous bucket that refills slowly: every request below fits, then the test spends it to see a 429.
    const s = await startTestSystem({ show, publicRatePerSecond: 1, publicBurst: 400 });
    cleanup = s.cleanup;
    base = `http://127.0.0.1:${s.system.httpPort}`;
    const ingest = await connectIngest(s.system.ingestPort);
    const orders = Array.from({ length: 40 }, (_, i) => ({ id: `oa-${i}`, ts: now - 90_000 + i * 2000, amount: '123.45', currency: i % 5 === 0 ? 'USD' : 'CNY', channel: i % 3 === 0 ? 'desktop' : 'mobile', brand: `Brand ${i % 4}`, sku: `SKU-${i % 3}`, region: `Region ${i % 2}` }));
    const ack = await ingest.send(JSON.stringify({ batch: 'oa', orders }));
    expect(ack).toMatchObject({ accepted: 40 });
    ingest.close();
    // The boards come from the rollups every 2 s.
    await until('the brands board', () => s.system.state.leaderboards().brands.night.length > 0);
    doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as Doc;
    served = JSON.parse(JSON.stringify(publicOpenApi(show)));
    api = createOpenApiCheck(doc);
  });
  afterAll(async () => cleanup());

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator["validate"]>[0]);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc).toEqual(served);
  });

  it('leaves no object of any answer open to undocumented fields', () => {
    expect(openObjectSchemas(doc)).toEqual([]);
  });

  it('documents every route of the feed', async () => {
    const app = createFeedRoutes({ show: loadShow(DEFAULT_SHOW_FILE), totals: null!, state: null!, store: null!, limiter: new RateLimiter({ perSecond: 0, burst: 1 }), openapi: () => ({}) });
    const routes = app.routes.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/'));
    // Hono's `/:board{[a-z]+\.csv}` is OpenAPI's `/{board}.csv`.
    const asOpenApi = (p: string) => p.replace(/:(\w+)\{[^}]*\\\.(\w+)\}/g, '{$1}.$2').replace(/:(\w+)/g, '{$1}');
    const documented = Object.keys(doc.paths);
    for (const r of routes) expect(documented, `route ${r.path}`).toContain(asOpenApi(r.path));
    expect(routes.length).toBeGreaterThanOrEqual(8);
  });

  it('answers every documented GET as documented, with 304 to its own ETag', async () => {
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get;
      if (op === undefined || path === '/v1/stats/stream') continue;
      const url = operationUrl(path, op);
      const res = await fetch(base + url);
      expect(res.status, url).toBe(200);
      const etag = res.headers.get('etag');
      await api.conforms('GET', path, res, `GET ${url}`);
      const again = await fetch(base + url, { headers: { 'If-None-Match': etag! } });
      // Live figures can move between the two requests; the answer must then be a documented 200 with a new tag.
      await api.conforms('GET', path, again, `GET ${url} If-None-Match`);
      if (again.status === 200) expect(again.headers.get('etag')).not.toBe(etag);
      checked++;
    }
    expect(checked).toBe(Object.keys(doc.paths).length - 1);
    // A 304 for sure: the document itself does not move.
    const tag = (await fetch(`${base}/v1/openapi.json`)).headers.get('etag')!;
    const notModified = await fetch(`${base}/v1/openapi.json`, { headers: { 'If-None-Match': tag } });
    expect(notModified.status).toBe(304);
    await api.conforms('GET', '/v1/openapi.json', notModified, '304');
  });

  it('answers HEAD /v1/stats as documented', async () => {
    expect(doc.paths['/v1/stats']!.head).toBeDefined();
    const res = await fetch(`${base}/v1/stats`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    await api.conforms('HEAD', '/v1/stats', res, 'HEAD /v1/stats');
  });

  it('streams events whose data is the documented snapshot', async () => {
    const op = doc.paths['/v1/stats/stream']!.get!;
    const ctl = new AbortController();
    const res = await fetch(`${base}/v1/stats/stream`, { signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    const reader = res.body!.getReader();
    let text = '';
    while (!/\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    const data = JSON.parse(/\ndata: (.*)\n\n/.exec(text)![1]!) as unknown;
    expect(op.responses['200']).toBeDefined();
    api.check((doc as unknown as { components: { schemas: Record<string, object> } }).components.schemas.Stats!, data, 'stream event');
  });

  it('answers the documented 400 and 404 with an error naming the parameter', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get!;
      if (op.responses['400'] !== undefined) {
        const url = BAD_REQUESTS[path];
        expect(url, `a bad request for ${path}`).toBeDefined();
        const res = await fetch(base + url!);
        expect(res.status, url).toBe(400);
        const body = (await api.conforms('GET', path, res, `400 ${url}`)) as { error: string };
        expect(body.error).toMatch(/^(resolution|from|to|limit|window|sku|board): /);
      }
      if (op.responses['404'] !== undefined) {
        const url = NOT_FOUND[path];
        expect(url, `a missing resource for ${path}`).toBeDefined();
        const res = await fetch(base + url!);
        expect(res.status, url).toBe(404);
        expect(((await api.conforms('GET', path, res, `404 ${url}`)) as { error: string }).error).toMatch(/^board: no board "shops"/);
      }
    }
  });

  it('answers 429 as documented once the client has spent its bucket (last: it spends it)', async () => {
    /** Requests `path` until the bucket refuses one (it refills meanwhile, the more so on a slow machine). */
    const refused = async (path: string): Promise<Response> => {
      for (let i = 0; i < 500; i++) {
        const r = await fetch(base + path);
        if (r.status === 429) return r;
        await r.arrayBuffer();
      }
      throw new Error(`${path}: 500 requests and no 429`);
    };
    const body = (await api.conforms('GET', '/v1/milestones', await refused('/v1/milestones'), '429')) as { error: string };
    expect(body.error).toMatch(/^rate limit: /);
    await api.conforms('GET', '/v1/stats', await refused('/v1/stats'), '429 /v1/stats');
  });
});
