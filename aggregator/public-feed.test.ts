// The SSE stream's backpressure on a real uWS server: a client that stops reading is dropped at the cap while a
// reading client gets every event, and the 429 of the stream carries CORS and the RateLimit fields.
import net from 'node:net';
import * as uWS from 'uWebSockets.js';
import { afterEach, describe, expect, it } from 'vitest';
import { PublicFeed } from './public-feed.ts';
import { RateLimiter } from './rate-limit.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function serve(limiter: RateLimiter, maxBufferedBytes: number): Promise<{ feed: PublicFeed; port: number }> {
  const app = uWS.App();
  const feed = new PublicFeed({ stats: () => ({ key: 'k', body: () => ({ gmv: '0.00' }) }), limiter, maxBufferedBytes, heartbeatMs: 60_000 });
  feed.mount(app);
  const listen = await new Promise<uWS.us_listen_socket>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))));
  cleanups.push(() => {
    feed.close();
    uWS.us_listen_socket_close(listen);
    app.close();
  });
  return { feed, port: uWS.us_socket_local_port(listen) };
}

/** A raw HTTP client: everything received, as text. */
function open(port: number, path: string): { socket: net.Socket; text: () => string; until: (ok: (t: string) => boolean) => Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  let text = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const until = async (ok: (t: string) => boolean) => {
    while (!ok(text)) await new Promise<void>((r) => waiters.push(r));
  };
  return { socket, text: () => text, until };
}

const yieldToSockets = () => new Promise((r) => setImmediate(r));

describe('public feed SSE', () => {
  it('drops a client that stops reading at the cap, while a reading client gets every event', async () => {
    const { feed, port } = await serve(new RateLimiter({ perSecond: 0, burst: 1 }), 64 * 1024);
    const slow = open(port, '/v1/stats/stream');
    const reader = open(port, '/v1/stats/stream');
    await slow.until((t) => t.includes('retry: 2000'));
    await reader.until((t) => t.includes('retry: 2000'));
    slow.socket.pause();
    expect(feed.streamCount).toBe(2);
    const payload = 'x'.repeat(16 * 1024);
    let sent = 0;
    // Kernel buffers take a few MB before uWS holds anything; the loop ends once the cap is passed.
    while (feed.dropped === 0 && sent < 4000) {
      feed.emit('stats', { n: sent, payload }, Date.now());
      sent++;
      await reader.until((t) => t.includes(`"n":${sent - 1},`));
      await yieldToSockets();
    }
    expect(feed.dropped).toBe(1);
    expect(feed.streamCount).toBe(1);
    feed.emit('stats', { n: sent, payload: 'last' });
    await reader.until((t) => t.includes(`"n":${sent},`));
    const seen = [...reader.text().matchAll(/"n":(\d+),/g)].map((m) => Number(m[1]));
    expect(seen).toEqual(Array.from({ length: sent + 1 }, (_, i) => i));
  });

  it('answers a client past its bucket with 429, CORS and the RateLimit fields', async () => {
    const { port } = await serve(new RateLimiter({ perSecond: 0.01, burst: 1 }), 64 * 1024);
    const first = open(port, '/v1/stats');
    await first.until((t) => t.includes('\r\n\r\n'));
    expect(first.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const refused = open(port, '/v1/stats/stream');
    await refused.until((t) => /\r\n\r\n\{.*\}$/s.test(t));
    const [head, body] = refused.text().split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(head).toMatch(/\r\nAccess-Control-Allow-Origin: \*\r\n/);
    expect(head).toMatch(/\r\nRetry-After: \d+\r\n/);
    expect(head).toMatch(/\r\nRateLimit: "public";r=0;t=\d+\r\n/);
    expect(head).toMatch(/\r\nCache-Control: no-store\r\n/);
    expect(JSON.parse(body)).toEqual({ error: expect.stringMatching(/^rate limit: too many requests from this client; retry after \d+ s$/) });
  });
});
