// Real-server tests of the uWS-to-Fetch bridge: a Hono app on a uWS App on port 0, hit with fetch and raw TCP sockets.
import net from 'node:net';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import * as uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unchangedFor, until } from '../test-support/until.ts';
import { mountFetch } from './uws-fetch.ts';

const MAX_BODY = 64 * 1024;
const CHUNK = 64 * 1024;
const FIREHOSE_BYTES = 200 * 1024 * 1024;
const BIG_BYTES = 8 * 1024 * 1024;

const errors: unknown[] = [];
const sse = { abortedAt: undefined as number | undefined, signalAbortedAt: undefined as number | undefined };
const firehose = { produced: 0, cancelled: false };
const quiet = { silent: false, lastEvent: 0, cancelled: false };

function buildApp(): Hono {
  const app = new Hono();
  app.get('/json', (c) => {
    c.header('x-custom', 'yes');
    return c.json({ hello: 'world' }, 201);
  });
  app.on(['POST', 'PATCH'], '/echo', async (c) => {
    const body = await c.req.arrayBuffer();
    return c.body(body, 200, {
      'content-type': c.req.header('content-type') ?? 'application/octet-stream',
      'x-method': c.req.method,
    });
  });
  app.get('/query', (c) => c.json({ q: c.req.query('q'), tags: c.req.queries('tag'), url: c.req.url }));
  app.get('/cookies', (c) => {
    setCookie(c, 'session', 'abc', { httpOnly: true, path: '/' });
    setCookie(c, 'theme', 'dark', { path: '/' });
    return c.text('ok');
  });
  app.get('/big', (c) => c.body(new Uint8Array(BIG_BYTES).fill(7), 200, { 'content-type': 'application/octet-stream' }));
  app.get('/sse', (c) => {
    c.req.raw.signal.addEventListener('abort', () => {
      sse.signalAbortedAt = Date.now();
    });
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        sse.abortedAt = Date.now();
      });
      for (let i = 0; !stream.aborted; i++) {
        await stream.writeSSE({ event: 'tick', data: String(i), id: String(i) });
        await stream.sleep(20);
      }
    });
  });
  // Would produce 200 MB if pulled eagerly; each pull makes one chunk.
  app.get('/firehose', () => {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (firehose.produced >= FIREHOSE_BYTES) {
          controller.close();
          return;
        }
        firehose.produced += CHUNK;
        controller.enqueue(new Uint8Array(CHUNK).fill(120));
      },
      cancel() {
        firehose.cancelled = true;
      },
    });
    return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
  });
  // Events as fast as they are pulled while the client is not reading; once it reads again the producer
  // falls silent, so the event left queued inside uWS by the last refused write has no later write to push it.
  app.get('/events-then-silence', () => {
    const padding = 'x'.repeat(1000);
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (quiet.silent) return new Promise<void>(() => undefined);
          quiet.lastEvent++;
          controller.enqueue(new TextEncoder().encode(`data: ${padding} ${quiet.lastEvent}\n\n`));
          return undefined;
        },
        cancel() {
          quiet.cancelled = true;
        },
      },
      // No read-ahead: an event is produced only when the bridge asks for it.
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  });
  return app;
}

let listenSocket: uWS.us_listen_socket | undefined;
let server: uWS.TemplatedApp;
let port = 0;
let base = '';

beforeAll(async () => {
  const app = buildApp();
  server = uWS.App();
  mountFetch(
    server,
    (req) => {
      const path = new URL(req.url).pathname;
      // Hono turns route errors into its own 500; these paths fail in the handler the bridge sees.
      if (path === '/crash') throw new Error('handler crashed');
      if (path === '/crash-async') return Promise.reject(new Error('handler rejected'));
      return app.fetch(req);
    },
    { maxBodyBytes: MAX_BODY, onError: (err) => errors.push(err) },
  );
  listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    server.listen('127.0.0.1', 0, (socket) => (socket ? resolve(socket) : reject(new Error('uWS listen failed'))));
  });
  port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  listenSocket = undefined;
  // Also drops keep-alive connections fetch left open.
  server.close();
});

/**
 * Sends raw bytes and collects everything the server sends until it closes, or `ms` pass (a bound on a hang: every
 * exchange here expects the server to close).
 */
function rawExchange(request: string | Uint8Array, ms = 30_000): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let closedByServer = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(received).toString('latin1'), closedByServer });
    };
    const timer = setTimeout(finish, ms);
    socket.on('data', (d) => received.push(d));
    // The server may reset a connection that is still uploading; what it sent before is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closedByServer = true;
      finish();
    });
    socket.write(request);
  });
}

function bodyOf(text: string): string {
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

describe('uws-fetch on a real uWS server', () => {
  it('serves JSON with status, handler headers and a Content-Length', async () => {
    const res = await fetch(`${base}/json`);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(res.headers.get('content-length')).toBe(String('{"hello":"world"}'.length));
    expect(await res.json()).toEqual({ hello: 'world' });
  });

  it('passes request bodies and case-sensitive methods through', async () => {
    const payload = JSON.stringify({ amount: '17.50', note: 'x'.repeat(10_000) });
    const post = await fetch(`${base}/echo`, { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(200);
    expect(post.headers.get('content-type')).toBe('application/json');
    expect(await post.text()).toBe(payload);

    const patch = await fetch(`${base}/echo`, { method: 'PATCH', body: 'patched' });
    expect(patch.headers.get('x-method')).toBe('PATCH');
    expect(await patch.text()).toBe('patched');
  });

  it('accepts a body of exactly maxBodyBytes, streamed in chunks', async () => {
    const bytes = new Uint8Array(MAX_BODY).map((_, i) => i % 251);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.byteLength; i += 10_000) controller.enqueue(bytes.slice(i, i + 10_000));
        controller.close();
      },
    });
    const res = await fetch(`${base}/echo`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    // Buffer.equals: a deep toEqual over 64 Ki elements costs most of a second.
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers 413 from the declared Content-Length and closes without reading the body', async () => {
    const { text, closedByServer } = await rawExchange(
      `POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${MAX_BODY * 100}\r\n\r\nabc`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(bodyOf(text))).toEqual({ error: 'payload too large', limitBytes: MAX_BODY });
    expect(closedByServer).toBe(true);
  });

  it('answers 413 to fetch with an oversized body', async () => {
    const res = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(MAX_BODY + 1) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: 'payload too large', limitBytes: MAX_BODY });
  });

  it('answers 413 to a chunked upload once it passes the cap, and closes', async () => {
    const piece = 'y'.repeat(16 * 1024);
    const chunks = Array.from({ length: 8 }, () => `${piece.length.toString(16)}\r\n${piece}\r\n`).join('');
    const { text, closedByServer } = await rawExchange(
      `POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(JSON.parse(bodyOf(text))).toEqual({ error: 'payload too large', limitBytes: MAX_BODY });
    expect(closedByServer).toBe(true);
  });

  it('keeps the query string, repeated keys and the Host in the URL', async () => {
    const res = await fetch(`${base}/query?q=gala%20night&tag=a&tag=b`);
    expect(await res.json()).toEqual({
      q: 'gala night',
      tags: ['a', 'b'],
      url: `${base}/query?q=gala%20night&tag=a&tag=b`,
    });
  });

  it('rejects a Host header that would rewrite the path', async () => {
    const { text } = await rawExchange('GET /json HTTP/1.1\r\nHost: evil.example/admin?\r\nConnection: close\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bodyOf(text))).toMatchObject({ error: expect.stringContaining('host') });
  });

  it('sends every Set-Cookie as its own header', async () => {
    const res = await fetch(`${base}/cookies`);
    expect(res.headers.getSetCookie()).toEqual(['session=abc; Path=/; HttpOnly', 'theme=dark; Path=/']);
  });

  it('lets Hono answer 404 for unknown routes', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('404 Not Found');
  });

  it('turns a throwing or rejecting handler into a JSON 500, reports it, and keeps serving', async () => {
    errors.length = 0;
    for (const path of ['/crash', '/crash-async']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'internal error' });
    }
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler crashed', 'handler rejected']);
    const after = await fetch(`${base}/json`);
    expect(after.status).toBe(201);
  });

  it('answers HEAD with headers and no body, keeping the connection usable', async () => {
    const res = await fetch(`${base}/json`, { method: 'HEAD' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(await res.text()).toBe('');

    // Then GET on the same socket: stray body bytes after HEAD would corrupt the next response. (Not
    // pipelined: uWS closes a connection whose next request arrives while an async response is pending.)
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('HEAD /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until('the HEAD response', () => text.endsWith('\r\n\r\n'), { everyMs: 10 });
    const headResponse = text;
    expect(headResponse).toMatch(/^HTTP\/1\.1 201 /);
    socket.write('GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await closed;
    const getResponse = text.slice(headResponse.length);
    expect(getResponse).toMatch(/^HTTP\/1\.1 201 /);
    expect(bodyOf(getResponse)).toBe('{"hello":"world"}');
  });

  it('sends a large known-size body completely with Content-Length', async () => {
    const res = await fetch(`${base}/big`);
    expect(res.headers.get('content-length')).toBe(String(BIG_BYTES));
    expect(res.headers.get('transfer-encoding')).toBeNull();
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(BIG_BYTES);
    expect(bytes.every((b) => b === 7)).toBe(true);
  });

  it('streams SSE and cancels the producer within a second of the client leaving', async () => {
    errors.length = 0;
    sse.abortedAt = undefined;
    sse.signalAbortedAt = undefined;
    const client = new AbortController();
    const res = await fetch(`${base}/sse`, { signal: client.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('data: 2\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toContain('event: tick\ndata: 0\nid: 0\n\n');

    const leftAt = Date.now();
    client.abort();
    await until('the producer told of the abort', () => sse.abortedAt !== undefined, { everyMs: 10 });
    // The promise: within a second, stamped by the handler itself (not when this test looked).
    expect(sse.abortedAt! - leftAt).toBeLessThan(1000);
    expect(sse.signalAbortedAt).toBeDefined();
    // A client leaving is normal, not an error to report.
    expect(errors).toEqual([]);
  });

  it('stops pulling a stream while the client is not reading, and resumes when it reads', async () => {
    errors.length = 0;
    firehose.produced = 0;
    firehose.cancelled = false;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Paused before the first byte arrives: the kernel buffers fill, then uWS reports backpressure and the bridge
    // stops pulling. Waited for as that standstill (nothing pulled for a whole second), not guessed as a time: a
    // bridge that pulls on regardless never stands still, or stands still only at 200 MB.
    socket.pause();
    socket.write('GET /firehose HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const still = unchangedFor<number>(1000);
    const producedPaused = await until('the bridge to stop pulling', () => firehose.produced, (v) => v > 0 && still(v), { everyMs: 100 });
    expect(producedPaused).toBeLessThan(16 * 1024 * 1024);

    let received = 0;
    socket.on('data', (d: Buffer) => {
      received += d.byteLength;
    });
    socket.resume();
    await until('32 MB read', () => received > 32 * 1024 * 1024, { everyMs: 10 });
    expect(firehose.produced).toBeGreaterThan(producedPaused);

    socket.destroy();
    await until('the stream cancelled', () => firehose.cancelled, { everyMs: 10 });
    expect(firehose.produced).toBeLessThan(FIREHOSE_BYTES);
    expect(errors).toEqual([]);
  });

  it('flushes what uWS still holds after backpressure, even when no later write follows', async () => {
    Object.assign(quiet, { silent: false, lastEvent: 0, cancelled: false });
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.pause();
    socket.write('GET /events-then-silence HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // Until the socket buffers are full and the bridge has stopped pulling (no event made for half a second).
    const before = quiet.lastEvent;
    const still = unchangedFor<number>(500);
    await until('the bridge to stop pulling', () => quiet.lastEvent, (v) => v > before && still(v), { everyMs: 50 });
    const last = ` ${quiet.lastEvent}\n\n`;
    quiet.silent = true;
    let tail = '';
    socket.on('data', (d: Buffer) => {
      tail = (tail + d.toString('latin1')).slice(-64);
    });
    socket.resume();
    await until('the last event flushed', () => tail.endsWith(last), { everyMs: 10 });
    socket.destroy();
    await until('the stream cancelled', () => quiet.cancelled, { everyMs: 10 });
  });
});

describe('mountFetch options', () => {
  it('names the option, the value and the rule when a limit is invalid', () => {
    const app = uWS.App();
    const handler = (): Response => new Response('unused');
    expect(() => mountFetch(app, handler, { maxBodyBytes: -1 })).toThrow(
      'mountFetch: opts.maxBodyBytes must be a non-negative safe integer, got -1',
    );
    expect(() => mountFetch(app, handler, { maxBodyBytes: 1, maxBufferedBytes: 10 })).toThrow(
      /opts\.maxBufferedBytes must be a safe integer >= 65536, got 10/,
    );
    app.close();
  });
});
