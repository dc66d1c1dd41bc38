// The public feed beyond /v1/stats (Hono; no auth, read-only): series, milestones, leaderboards, product sales,
// each as JSON and CSV, the OpenAPI document, and the journalists' page. Strong ETags and 304, CDN caching,
// CORS, and the per-client rate limit on every route.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import type { ShowConfig } from '../domain/show.ts';
import { toResponse } from '../platform/http-answer.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { OrderStore } from '../storage/storage.ts';
import { toCsv, type Cell } from './csv.ts';
import type { FrameData, LeaderEntry } from '../protocol/live-protocol.ts';
import type { LiveState } from './live-state.ts';
import { LiveTotals, SECONDS_KEPT, type TotalsReader } from './live-totals.ts';
import { tooManyRequests, type RateLimiter } from './rate-limit.ts';

export interface FeedRoutesOptions {
  show: ShowConfig;
  totals: TotalsReader;
  state: LiveState;
  store: OrderStore;
  limiter: RateLimiter;
  /** The OpenAPI document of the public feed. */
  openapi: () => object;
  /** Static files of the public page: path -> [content type, body]. */
  page?: ReadonlyMap<string, readonly [string, string | Uint8Array]>;
  /** More public routes, served with the feed's CORS, rate limit and ETag (a cluster node's /v1/cluster). */
  extra?: Hono<HttpEnv>;
}

/** Most points one series request may return: a whole day by the second. */
export const MAX_SERIES_POINTS = 86_400;
export const BOARDS = { brands: 'brands', products: 'products', regions: 'regions' } as const;
export type Board = keyof typeof BOARDS;

/** Cache-Control of a public answer that may be cached for `seconds`. */
export const cache = (seconds: number) => `public, max-age=${seconds}, s-maxage=${seconds}, stale-while-revalidate=${seconds * 2}, stale-if-error=60`;

class BadParam extends Error {}
/** A path naming nothing the feed has (an unknown board). */
class NotFound extends Error {}

/** An instant from a query parameter: epoch seconds or an ISO 8601 instant. */
function instantSeconds(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  if (/^-?\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BadParam(`${name}: must be epoch seconds or an ISO 8601 instant, got "${v}"`);
  return Math.floor(t / 1000);
}

function rateLimit(limiter: RateLimiter): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const d = limiter.take(c.env?.remoteAddress ?? 'unknown');
    if (!d.allowed) return toResponse(tooManyRequests(d));
    await next();
    for (const [k, v] of Object.entries(d.headers)) c.res.headers.set(k, v);
  };
}

function csv(c: Context, name: string, body: string, maxAge: number): Response {
  c.header('Content-Type', 'text/csv; charset=utf-8; header=present');
  c.header('Content-Disposition', `inline; filename="${name}.csv"`);
  c.header('Cache-Control', cache(maxAge));
  return c.body(body);
}

export function createFeedRoutes(opts: FeedRoutesOptions) {
  const { show, totals, state, store } = opts;
  const meta = () => ({ currency: show.currency, status: totals.status, unaudited: true as const });

  async function series(resolution: string | undefined, fromQ: string | undefined, toQ: string | undefined): Promise<FrameData[]> {
    const res = resolution ?? 'second';
    if (res !== 'second' && res !== 'minute') throw new BadParam(`resolution: must be "second" or "minute", got "${res}"`);
    const step = res === 'second' ? 1 : 60;
    const nowS = Math.floor(Date.now() / 1000);
    const end = Math.floor(nowS / step) * step;
    let from = instantSeconds('from', fromQ, end - 60 * step);
    let to = instantSeconds('to', toQ, end);
    from = Math.floor(from / step) * step;
    to = Math.ceil(to / step) * step;
    if (to < from) throw new BadParam('to: must not be before from');
    if ((to - from) / step > MAX_SERIES_POINTS) throw new BadParam(`from, to: at most ${MAX_SERIES_POINTS} points per request (resolution ${res})`);
    // Recent seconds are in memory; older ones come from the rollup table.
    let source: TotalsReader = totals;
    if (from < nowS - SECONDS_KEPT + 600) {
      const past = new LiveTotals(show);
      past.load([], await store.rolledSeconds(from, to));
      source = past;
    }
    const out: FrameData[] = [];
    const total = { gmv: totals.snapshot().gmv, orders: totals.orders };
    for (let s = from; s < to; s += step) out.push({ start: new Date(s * 1000).toISOString(), seconds: step, ...source.span(s, s + step), total });
    return out;
  }

  function board(name: string, window: string | undefined, limitQ: string | undefined): { entries: LeaderEntry[]; window: 'night' | 'minute'; minute: string } {
    if (!Object.hasOwn(BOARDS, name)) throw new NotFound(`board: no board "${name}" (boards: brands, products, regions)`);
    const w = window ?? 'night';
    if (w !== 'night' && w !== 'minute') throw new BadParam(`window: must be "night" or "minute", got "${w}"`);
    const limit = limitQ === undefined ? 10 : Number(limitQ);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new BadParam(`limit: must be an integer from 1 to 100, got "${limitQ}"`);
    const b = state.leaderboards();
    return { entries: b[name as Board][w].slice(0, limit), window: w, minute: b.minute };
  }

  const app = new Hono<HttpEnv>();
  app.onError((err, c) => {
    if (err instanceof BadParam) return c.json({ error: err.message }, 400);
    if (err instanceof NotFound) return c.json({ error: err.message }, 404);
    throw err;
  });
  // Scoped to the feed's own paths: this app is mounted at '/' next to others (overlays, control room).
  const FEED = ['/v1/*', '/', '/assets/*'];
  for (const path of FEED) app.use(path, cors({ origin: '*', allowMethods: ['GET', 'HEAD', 'OPTIONS'], exposeHeaders: ['ETag', 'RateLimit', 'RateLimit-Policy', 'Retry-After'], maxAge: 86_400 }));
  for (const path of FEED) app.use(path, rateLimit(opts.limiter), etag());

  app.get('/v1/series', async (c) => {
    const q = c.req.query();
    const frames = await series(q.resolution, q.from, q.to);
    c.header('Cache-Control', cache(1));
    return c.json({ ...meta(), resolution: q.resolution ?? 'second', frames });
  });
  app.get('/v1/series.csv', async (c) => {
    const q = c.req.query();
    const frames = await series(q.resolution, q.from, q.to);
    const rows: Cell[][] = frames.map((f) => [f.start, f.seconds, f.gmv, f.orders, f.mobileShare, f.mobileOrderShare, show.currency]);
    return csv(c, `gala-series-${q.resolution ?? 'second'}`, toCsv(['start', 'seconds', 'gmv', 'orders', 'mobile_share', 'mobile_order_share', 'currency'], rows), 1);
  });

  app.get('/v1/milestones', (c) => {
    c.header('Cache-Control', cache(1));
    return c.json({ ...meta(), ...state.milestonesData() });
  });
  app.get('/v1/milestones.csv', (c) => {
    const rows: Cell[][] = state.milestonesData().milestones.map((m) => [m.id, m.label, m.threshold, m.currency, m.crossedAt, m.elapsedMs, m.elapsed, m.total, m.orders]);
    return csv(c, 'gala-milestones', toCsv(['id', 'label', 'threshold', 'currency', 'crossed_at', 'elapsed_ms', 'elapsed', 'total', 'orders'], rows, ['id', 'label']), 1);
  });

  app.get('/v1/leaderboards/:board{[a-z]+\\.csv}', (c) => {
    const name = c.req.param('board').replace(/\.csv$/, '');
    const b = board(name, c.req.query('window'), c.req.query('limit'));
    const rows: Cell[][] = b.entries.map((e) => [e.rank, e.key, e.gmv, e.orders, e.share, show.currency, b.window, b.window === 'minute' ? b.minute : null]);
    return csv(c, `gala-${name}-${b.window}`, toCsv(['rank', 'key', 'gmv', 'orders', 'share', 'currency', 'window', 'minute'], rows, ['key']), 2);
  });
  app.get('/v1/leaderboards/:board', (c) => {
    const b = board(c.req.param('board'), c.req.query('window'), c.req.query('limit'));
    c.header('Cache-Control', cache(2));
    return c.json({ ...meta(), board: c.req.param('board'), window: b.window, minute: b.window === 'minute' ? b.minute : null, entries: b.entries });
  });

  app.get('/v1/products/:sku', async (c) => {
    const sku = c.req.param('sku');
    if (sku.length === 0 || sku.length > 64) throw new BadParam('sku: 1 to 64 characters');
    const p = await state.product(sku);
    c.header('Cache-Control', cache(1));
    return c.json({ ...meta(), at: p.at, ...p.data });
  });

  if (opts.extra !== undefined) app.route('/', opts.extra);
  app.get('/v1/openapi.json', (c) => {
    c.header('Cache-Control', cache(300));
    return c.json(opts.openapi());
  });

  for (const [path, [type, body]] of opts.page ?? []) {
    app.get(path, (c) => {
      c.header('Content-Type', type);
      c.header('Cache-Control', path === '/' ? cache(60) : cache(3600));
      return c.body(typeof body === 'string' ? body : new Uint8Array(body));
    });
  }
  return app;
}
