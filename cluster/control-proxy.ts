// On a cluster node other than the coordinator: the control room's API and the graphics API are the coordinator's,
// passed through over HTTP with their headers and cookies, so every desk and script drives the one control state.
// With the coordinator unreachable they answer 503 and say so: no cue can be fired then.
import { Hono, type Context } from 'hono';
import type { ClusterNode } from '../domain/cluster-map.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { Log } from '../platform/log.ts';

/** Hop-by-hop headers and those the fetch below sets itself. */
const DROPPED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'content-encoding']);

export interface ControlProxyOptions {
  coordinator: ClusterNode;
  log: Log;
  /** How long the coordinator may take to answer (default 5 s). */
  timeoutMs?: number;
}

export function createControlProxy(opts: ControlProxyOptions) {
  const { coordinator } = opts;
  const base = `http://${coordinator.host}:${coordinator.httpPort}`;
  const forward = async (c: Context<HttpEnv>): Promise<Response> => {
    const url = new URL(c.req.url);
    const headers = new Headers();
    c.req.raw.headers.forEach((v, k) => {
      if (!DROPPED.has(k)) headers.set(k, v);
    });
    const method = c.req.method;
    const body = method === 'GET' || method === 'HEAD' ? undefined : await c.req.arrayBuffer();
    let r: Response;
    try {
      r = await fetch(`${base}${url.pathname}${url.search}`, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
    } catch (e) {
      opts.log('cluster.control_proxy_failed', { coordinator: coordinator.id, path: url.pathname, error: String(e) });
      return c.json({ error: `control room: the coordinator ${coordinator.id} (${base}) cannot be reached; no cue can be fired until it is back`, coordinator: coordinator.id }, 503);
    }
    const out = new Headers();
    r.headers.forEach((v, k) => {
      if (!DROPPED.has(k) && k !== 'set-cookie') out.set(k, v);
    });
    for (const cookie of r.headers.getSetCookie()) out.append('set-cookie', cookie);
    return new Response(method === 'HEAD' ? null : await r.arrayBuffer(), { status: r.status, headers: out });
  };
  return new Hono<HttpEnv>().all('/v1/control/*', forward).all('/v1/graphics', forward).all('/v1/graphics/*', forward);
}
