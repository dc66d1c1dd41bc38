// Serves a Fetch-style handler (the Hono app) on a uWebSockets.js App: capped request bodies, backpressured streaming responses.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { jsonAnswer } from '../platform/http-answer.ts';
import type { RequestBindings } from '../platform/http-env.ts';
import { clientAddress } from './client-address.ts';
import { statusLine, writeAnswer } from './uws-reply.ts';

/** What the bridge knows of the client beyond the request: handed to Hono as `c.env` (always set here). */
export type FetchEnv = Required<RequestBindings>;

export type FetchHandler = (req: Request, env: FetchEnv) => Response | Promise<Response>;

export interface MountFetchOptions {
  /** Largest request body accepted, in bytes; a larger one gets 413 and its connection is closed. */
  maxBodyBytes: number;
  /**
   * Most bytes a streamed response may leave queued inside uWS, unconfirmed by the socket, for a client that
   * keeps reading too little; past it the connection is closed. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /** Handler errors, stream errors and bridge faults; the client gets a 500 (or a cut connection mid-stream). */
  onError?: (err: unknown) => void;
}

const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
// Writes are sliced so that one write refused by the socket leaves at most one slice queued in uWS.
const WRITE_SLICE_BYTES = 64 * 1024;
// The first write after a writable event is this small: uWS cannot report how much it still holds, so a
// small probe that succeeds is the only proof the queue is empty before large slices follow.
const PROBE_BYTES = 1024;
// A body that is complete within this many bytes before the event loop turns is sent with Content-Length.
const WHOLE_BODY_PROBE_BYTES = 1024 * 1024;
// uWS writes Content-Length or chunked framing itself and owns keep-alive; a second copy would corrupt framing.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
// Methods whose Request may not carry a body (the Request constructor throws if given one).
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);
// Characters a Host header may hold; anything else (/, ?, #, @, \) could move the path of the URL we build.
const HOST = /^[A-Za-z0-9.\-_~%!$&'()*+,;=:[\]]+$/;

/** Routes every request on `app` to `handler`. Register `app.ws(...)` routes as usual; they take precedence. */
export function mountFetch(app: TemplatedApp, handler: FetchHandler, opts: MountFetchOptions): void {
  const limits = parseOptions(opts);
  const report = (err: unknown): void => {
    try {
      (opts.onError ?? defaultOnError)(err);
    } catch {
      // A failing error reporter must not take the server down with it.
    }
  };
  app.any('/*', (res, req) => {
    const x = openExchange(res);
    try {
      serve(x, req, handler, limits, report);
    } catch (err) {
      report(err);
      replyJson(x, 500, { error: 'internal error' });
    }
  });
}

interface Limits {
  maxBodyBytes: number;
  maxBufferedBytes: number;
}

function parseOptions(opts: MountFetchOptions): Limits {
  const { maxBodyBytes, maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES } = opts;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new RangeError(`mountFetch: opts.maxBodyBytes must be a non-negative safe integer, got ${String(maxBodyBytes)}`);
  }
  if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes < WRITE_SLICE_BYTES) {
    throw new RangeError(
      `mountFetch: opts.maxBufferedBytes must be a safe integer >= ${WRITE_SLICE_BYTES}, got ${String(maxBufferedBytes)}`,
    );
  }
  return { maxBodyBytes, maxBufferedBytes };
}

function defaultOnError(err: unknown): void {
  console.error('uws-fetch:', err);
}

/** One request/response pair; every access to `res` goes through `live`, since uWS throws once it is gone. */
interface Exchange {
  res: HttpResponse;
  /** Aborted from uWS's onAborted: the client left, timed out, or we closed the connection. */
  clientGone: AbortController;
  /** The response was ended successfully; uWS owns the socket from here. */
  finished: boolean;
  /** Resolves a pump waiting for the socket to accept more. */
  wake: (() => void) | undefined;
}

function openExchange(res: HttpResponse): Exchange {
  const x: Exchange = { res, clientGone: new AbortController(), finished: false, wake: undefined };
  // Must be attached before the route handler returns, or uWS terminates the process.
  res.onAborted(() => {
    x.clientGone.abort();
    wakePump(x);
  });
  return x;
}

function live(x: Exchange): boolean {
  return !x.finished && !x.clientGone.signal.aborted;
}

function wakePump(x: Exchange): void {
  const wake = x.wake;
  x.wake = undefined;
  wake?.();
}

function serve(x: Exchange, req: HttpRequest, handler: FetchHandler, limits: Limits, report: (err: unknown) => void): void {
  // HttpRequest is stack-allocated by uWS: everything must be read before the first await.
  const head = readRequestHead(req);
  const env: FetchEnv = { remoteAddress: clientAddress(x.res) };
  if (typeof head === 'string') {
    replyJson(x, 400, { error: head });
    return;
  }
  const run = (body: Uint8Array<ArrayBuffer> | undefined): void => {
    void dispatch(x, head, env, body, handler, limits, report).catch((err: unknown) => {
      report(err);
      if (live(x)) x.res.cork(() => x.res.close());
    });
  };
  if (BODYLESS_METHODS.has(head.method.toUpperCase())) {
    run(undefined);
    return;
  }
  readBody(x, head.contentLength, limits.maxBodyBytes, run);
}

interface RequestHead {
  method: string;
  url: string;
  headers: Headers;
  contentLength: number | undefined;
}

/** Returns the request line and headers, or the reason they are unusable. */
function readRequestHead(req: HttpRequest): RequestHead | string {
  // getMethod() lowercases, and Request only re-uppercases the six standard methods, not PATCH.
  const method = req.getCaseSensitiveMethod();
  const path = req.getUrl();
  const query = req.getQuery();
  const host = req.getHeader('host');
  const declaredLength = req.getHeader('content-length');
  const headers = new Headers();
  try {
    req.forEach((name, value) => headers.append(name, value));
  } catch {
    return 'malformed header';
  }
  if (!path.startsWith('/')) return `request target: must be a path starting with "/", got "${path}"`;
  if (host !== '' && !HOST.test(host)) return `host: not a valid host name, got "${host}"`;
  const url = `http://${host === '' ? 'localhost' : host}${path}${query === '' ? '' : `?${query}`}`;
  if (!URL.canParse(url)) return `url: not a valid URL, got "${url}"`;
  // uWS rejects a malformed Content-Length itself, so this is digits or absent.
  const contentLength = declaredLength === '' ? undefined : Number(declaredLength);
  return { method, url, headers, contentLength };
}

/**
 * Collects the body into one buffer, at most `limit` bytes, then calls `done`. Over the limit (declared or
 * while streaming) it answers 413 and closes the connection, so the rest of the upload is never read.
 */
function readBody(
  x: Exchange,
  declared: number | undefined,
  limit: number,
  done: (body: Uint8Array<ArrayBuffer>) => void,
): void {
  if (declared !== undefined && declared > limit) {
    replyTooLarge(x, limit);
    return;
  }
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  let over = false;
  x.res.onData((chunk, isLast) => {
    if (over) return;
    total += chunk.byteLength;
    if (total > limit) {
      over = true;
      chunks.length = 0;
      replyTooLarge(x, limit);
      return;
    }
    // uWS neuters the ArrayBuffer when this callback returns: keep a copy.
    if (chunk.byteLength > 0) chunks.push(new Uint8Array(chunk.slice(0)));
    if (isLast) done(concat(chunks, total));
  });
}

function concat<T extends ArrayBufferLike>(chunks: Uint8Array<T>[], total: number): Uint8Array<T | ArrayBuffer> {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

async function dispatch(
  x: Exchange,
  head: RequestHead,
  env: FetchEnv,
  body: Uint8Array<ArrayBuffer> | undefined,
  handler: FetchHandler,
  limits: Limits,
  report: (err: unknown) => void,
): Promise<void> {
  let request: Request;
  try {
    request = new Request(head.url, {
      method: head.method,
      headers: head.headers,
      body: body === undefined || body.byteLength === 0 ? undefined : body,
      signal: x.clientGone.signal,
    });
  } catch (err) {
    // Forbidden methods (CONNECT, TRACE) and invalid method tokens end up here.
    replyJson(x, 400, { error: err instanceof Error ? err.message : 'bad request' });
    return;
  }
  let response: Response;
  try {
    response = await handler(request, env);
    if (!(response instanceof Response)) {
      throw new TypeError(`handler must return a Response, got ${typeof response}`);
    }
  } catch (err) {
    report(err);
    replyJson(x, 500, { error: 'internal error' });
    return;
  }
  await writeResponse(x, head.method.toUpperCase(), response, limits, report);
}

async function writeResponse(
  x: Exchange,
  method: string,
  response: Response,
  limits: Limits,
  report: (err: unknown) => void,
): Promise<void> {
  const body = response.body;
  if (!live(x)) {
    // Tells a streaming producer (SSE) that nobody is listening any more. Not awaited: a source's
    // cancel() may take its time, and nothing here depends on it.
    void body?.cancel().catch(() => undefined);
    return;
  }
  const bodiless = method === 'HEAD' || response.status === 204 || response.status === 304;
  if (bodiless || body === null) {
    void body?.cancel().catch(() => undefined);
    x.res.cork(() => {
      writeHead(x.res, response);
      if (bodiless) {
        const declared = response.headers.get('content-length');
        // The length a GET would have had, if the handler said so. Written by hand: this uWS's
        // endWithoutBody(n) leaves the response pending (the next request on the socket is never served).
        if (response.status !== 204 && declared !== null && /^\d+$/.test(declared)) {
          x.res.writeHeader('content-length', declared);
        }
        x.res.endWithoutBody();
      } else {
        x.res.end();
      }
    });
    x.finished = true;
    return;
  }

  const reader = body.getReader();
  const onGone = (): void => void reader.cancel().catch(() => undefined);
  x.clientGone.signal.addEventListener('abort', onGone, { once: true });
  try {
    const start = await readWhileReady(reader);
    if (!live(x)) return;
    if (start.pending === undefined) {
      sendWhole(x, response, concat(start.chunks, start.total));
    } else {
      await pump(x, response, reader, start, limits);
    }
  } catch (err) {
    // Headers may already be out, so a clean error response is impossible: cut the connection instead,
    // so the client sees a truncated body rather than a complete-looking one.
    report(err);
    if (live(x)) x.res.cork(() => x.res.close());
    void reader.cancel().catch(() => undefined);
  } finally {
    x.clientGone.signal.removeEventListener('abort', onGone);
  }
}

type Chunk = ReadableStreamReadResult<Uint8Array>;

interface BodyStart {
  chunks: Uint8Array[];
  total: number;
  /** The read still in flight when the body turned out to be a stream; undefined if the body is complete. */
  pending: Promise<Chunk> | undefined;
}

const NOT_YET = Symbol('not yet');

/**
 * Reads chunks that are already available (they resolve in microtasks) until the body ends, a read has to
 * wait for the next event-loop turn, or more than WHOLE_BODY_PROBE_BYTES were read. A body that ends here is
 * a known-size body (every Hono c.json / c.text, however large its one chunk); anything else is a stream.
 */
async function readWhileReady(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<BodyStart> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const read = reader.read();
    let timer: NodeJS.Immediate | undefined;
    const turn = new Promise<typeof NOT_YET>((resolve) => {
      timer = setImmediate(resolve, NOT_YET);
    });
    const first = await Promise.race([read, turn]);
    clearImmediate(timer);
    if (first === NOT_YET) return { chunks, total, pending: read };
    if (first.done) return { chunks, total, pending: undefined };
    // Past the cap an eager producer could fill memory; what was read goes out as the first streamed chunk.
    if (total >= WHOLE_BODY_PROBE_BYTES) return { chunks, total, pending: Promise.resolve(first) };
    const chunk = toBytes(first.value);
    chunks.push(chunk);
    total += chunk.byteLength;
  }
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`response body chunk must be bytes, got ${typeof value}`);
}

/** Sends a complete body with Content-Length; tryEnd + onWritable keep a large one from being copied into uWS. */
function sendWhole(x: Exchange, response: Response, body: Uint8Array): void {
  x.res.cork(() => {
    writeHead(x.res, response);
    if (body.byteLength === 0) {
      x.res.end();
      x.finished = true;
      return;
    }
    const base = x.res.getWriteOffset();
    const [, done] = x.res.tryEnd(body, body.byteLength);
    if (done) {
      x.finished = true;
      return;
    }
    x.res.onWritable((offset) => {
      const [ok, finished] = x.res.tryEnd(body.subarray(offset - base), body.byteLength);
      if (finished) x.finished = true;
      return ok;
    });
  });
}

/**
 * Streams the body with chunked encoding. The next chunk is read only after the socket took the last one,
 * so a client that stops reading also stops the producer (its pull is not called).
 */
async function pump(
  x: Exchange,
  response: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  start: BodyStart,
  limits: Limits,
): Promise<void> {
  const res = x.res;
  // Counts bytes handed to uWS since it last reported an empty queue: an upper bound on what it buffers.
  let unconfirmed = 0;
  let probeNext = false;
  let headWritten = false;
  res.onWritable(() => {
    // Once onWritable is registered uWS stops draining its own queue on writable events; an empty cork
    // flushes it, or the tail of the last write would wait for the next one (an SSE event, indefinitely).
    res.cork(() => undefined);
    probeNext = true;
    wakePump(x);
    return true;
  });

  const writeBytes = async (chunk: Uint8Array): Promise<void> => {
    let offset = 0;
    while (offset < chunk.byteLength && live(x)) {
      const size = probeNext ? PROBE_BYTES : WRITE_SLICE_BYTES;
      const slice = chunk.subarray(offset, offset + size);
      offset += slice.byteLength;
      probeNext = false;
      let ok = false;
      res.cork(() => {
        if (!headWritten) writeHead(res, response);
        headWritten = true;
        ok = res.write(slice);
      });
      if (ok) {
        unconfirmed = 0;
        continue;
      }
      unconfirmed += slice.byteLength;
      if (unconfirmed > limits.maxBufferedBytes) {
        // The client drains less than we queue, wake-up after wake-up: drop it rather than grow.
        res.cork(() => res.close());
        return;
      }
      await new Promise<void>((resolve) => {
        x.wake = resolve;
      });
    }
  };

  for (const chunk of start.chunks) await writeBytes(chunk);
  if (!live(x)) return;
  let next = start.pending;
  while (next !== undefined) {
    const result = await next;
    if (!live(x)) return;
    if (result.done) break;
    await writeBytes(toBytes(result.value));
    if (!live(x)) return;
    next = reader.read();
  }
  res.cork(() => {
    if (!headWritten) writeHead(res, response);
    res.end();
  });
  x.finished = true;
}

function writeHead(res: HttpResponse, response: Response): void {
  res.writeStatus(statusLine(response.status, response.statusText));
  for (const [name, value] of response.headers) {
    if (FRAMING_HEADERS.has(name) || name === 'set-cookie') continue;
    res.writeHeader(name, value);
  }
  // Set-Cookie is the one header that cannot be folded into a comma-separated line.
  for (const cookie of response.headers.getSetCookie()) res.writeHeader('set-cookie', cookie);
}

function replyJson(x: Exchange, status: number, body: object, closeConnection = false): void {
  if (!live(x)) return;
  writeAnswer(x.res, jsonAnswer(status, body), closeConnection);
  x.finished = true;
}

function replyTooLarge(x: Exchange, limit: number): void {
  // Closing is the only way to refuse the rest of an upload without reading it.
  replyJson(x, 413, { error: 'payload too large', limitBytes: limit }, true);
}
