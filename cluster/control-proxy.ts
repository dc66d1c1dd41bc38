// On a cluster node other than the coordinator: the control room's API, its login and logout, and the graphics API
// are the coordinator's, passed through over HTTP with their headers and cookies, so every desk and script drives
// the one control state and holds a session the coordinator knows. With the coordinator unreachable they answer 503
// and say so: no cue can be fired then. On the coordinator: the acceptance of what a peer passed on.
//
// A browser's cookie request is same-origin with the node it loaded its page from, not with the coordinator. So
// the passing node presents the ingest token and the host the browser addressed (headers of its own, never a
// client's), and the coordinator holds the request's Origin to that host: the same rule as on one node, checked
// where the session lives, and every refusal audited there.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { isHttps } from '../control-room/control-auth.ts';
import { httpHostOf, type ClusterNode } from '../domain/cluster-map.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { Log } from '../platform/log.ts';
import { createTokenCheck } from '../platform/tokens.ts';
import { PEER_HOST_HEADER, PEER_TOKEN_HEADER } from '../protocol/cluster-protocol.ts';

/** Hop-by-hop headers, those the fetch below sets itself, and the peer headers a client must never choose. */
const DROPPED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'content-encoding', PEER_TOKEN_HEADER, PEER_HOST_HEADER]);
/** A host as a browser sends it: name or IPv4 or [IPv6], and maybe a port. */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * What is passed to the coordinator: everything that reads or changes the control and graphics states, and the
 * login and logout that make and end its sessions (the pages themselves are served here).
 */
const ANY_METHOD = ['/v1/control/*', '/v1/graphics', '/v1/graphics/*'] as const;
const POSTED = ['/control/login', '/control/logout'] as const;

export interface ControlProxyOptions {
  coordinator: ClusterNode;
  /** The ingest token this node presents to the coordinator. */
  token: string;
  log: Log;
  /** How long the coordinator may take to answer (default 5 s). */
  timeoutMs?: number;
}

export function createControlProxy(opts: ControlProxyOptions) {
  const { coordinator } = opts;
  const base = `http://${httpHostOf(coordinator)}`;
  const forward = async (c: Context<HttpEnv>): Promise<Response> => {
    const url = new URL(c.req.url);
    const headers = new Headers();
    c.req.raw.headers.forEach((v, k) => {
      if (!DROPPED.has(k)) headers.set(k, v);
    });
    headers.set(PEER_TOKEN_HEADER, opts.token);
    headers.set(PEER_HOST_HEADER, url.host);
    // The cookie's name and attributes follow the scheme the browser used here, not the node-to-node one.
    if (isHttps(c)) headers.set('x-forwarded-proto', 'https');
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
  const app = new Hono<HttpEnv>();
  for (const path of ANY_METHOD) app.all(path, forward);
  for (const path of POSTED) app.post(path, forward);
  return app;
}

/**
 * The coordinator's side: a request that presents a peer's token is held to the host the browser addressed on that
 * peer; one presenting a wrong token is refused (401), never taken as a browser's own.
 */
export function acceptProxiedRequests(tokens: readonly string[]): Hono<HttpEnv> {
  const check = createTokenCheck(tokens);
  const accept: MiddlewareHandler<HttpEnv> = async function acceptProxied(c, next) {
    const presented = c.req.header(PEER_TOKEN_HEADER);
    if (presented === undefined) return next();
    if (!check(presented)) return c.json({ error: `${PEER_TOKEN_HEADER}: not a cluster node's token` }, 401);
    const host = c.req.header(PEER_HOST_HEADER);
    if (host === undefined || !HOST.test(host)) return c.json({ error: `${PEER_HOST_HEADER}: required with ${PEER_TOKEN_HEADER}, the host:port the browser addressed` }, 400);
    c.set('peerHost', host);
    await next();
  };
  const app = new Hono<HttpEnv>();
  for (const path of [...ANY_METHOD, ...POSTED]) app.use(path, accept);
  return app;
}
