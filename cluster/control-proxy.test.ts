// The coordinator's acceptance of requests another node passed on: only a peer's token makes it take the host the
// browser addressed on that node; a wrong token is refused, and without one the request is held to its own host.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestHost, sameOrigin } from '../control-room/control-auth.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import { PEER_HOST_HEADER, PEER_TOKEN_HEADER } from '../protocol/cluster-protocol.ts';
import { acceptProxiedRequests } from './control-proxy.ts';

const TOKEN = 'node-token';
const app = new Hono<HttpEnv>()
  .route('/', acceptProxiedRequests([TOKEN, 'older-token']))
  .post('/v1/control/go', (c) => c.json({ host: requestHost(c), sameOrigin: sameOrigin(c) }))
  .post('/v1/stats', (c) => c.json({ host: requestHost(c) }));
const post = async (path: string, headers: Record<string, string>) => {
  const r = await app.request(`http://coordinator:8081${path}`, { method: 'POST', headers });
  return { status: r.status, body: (await r.json()) as { host?: string; sameOrigin?: boolean; error?: string } };
};

describe('acceptProxiedRequests', () => {
  it("holds a peer's request to the host the browser addressed there", async () => {
    const peer = { [PEER_TOKEN_HEADER]: TOKEN, [PEER_HOST_HEADER]: 'n2.example:8082' };
    expect(await post('/v1/control/go', { ...peer, origin: 'http://n2.example:8082' })).toEqual({ status: 200, body: { host: 'n2.example:8082', sameOrigin: true } });
    expect(await post('/v1/control/go', { ...peer, origin: 'http://coordinator:8081' })).toEqual({ status: 200, body: { host: 'n2.example:8082', sameOrigin: false } });
    expect(await post('/v1/control/go', { ...peer, [PEER_TOKEN_HEADER]: 'older-token', origin: 'http://evil.example' })).toEqual({ status: 200, body: { host: 'n2.example:8082', sameOrigin: false } });
  });

  it('refuses a wrong token or a missing host, and ignores a host without a token', async () => {
    expect(await post('/v1/control/go', { [PEER_TOKEN_HEADER]: 'guess', [PEER_HOST_HEADER]: 'evil.example' })).toEqual({ status: 401, body: { error: `${PEER_TOKEN_HEADER}: not a cluster node's token` } });
    expect((await post('/v1/control/go', { [PEER_TOKEN_HEADER]: TOKEN })).status).toBe(400);
    expect((await post('/v1/control/go', { [PEER_TOKEN_HEADER]: TOKEN, [PEER_HOST_HEADER]: 'a b' })).status).toBe(400);
    expect(await post('/v1/control/go', { [PEER_HOST_HEADER]: 'evil.example', origin: 'http://evil.example' })).toEqual({ status: 200, body: { host: 'coordinator:8081', sameOrigin: false } });
  });

  it('touches only the control-room and graphics paths', async () => {
    expect(await post('/v1/stats', { [PEER_TOKEN_HEADER]: 'guess', [PEER_HOST_HEADER]: 'evil.example' })).toEqual({ status: 200, body: { host: 'coordinator:8081' } });
  });
});
