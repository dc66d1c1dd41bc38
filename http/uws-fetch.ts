// Serves a Fetch-style handler (the Hono app) on a uWebSockets.js App: capped request bodies, backpressured streaming responses.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { jsonAnswer } from '../platform/http-answer.ts';
import type { RequestBindings } from '../platform/http-env.ts';
import { clientAddress } from './client-address.ts';
import { concat, readBody } from './uws-body.ts';
import { answer, live, openExchange, type Exchange } from './uws-exchange.ts';
import { endWhole, ResponsePump } from './uws-pump.ts';
import { statusLine } from './uws-reply.ts';

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
      answer(x, jsonAnswer(500, { error: 'internal error' }));
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

function serve(x: Exchange, req: HttpRequest, handler: FetchHandler, limits: Limits, report: (err: unknown) => void): void {
  // HttpRequest is stack-allocated by uWS: everything must be read before the first await.
  const head = readRequestHead(req);
  const env: FetchEnv = { remoteAddress: clientAddress(x.res) };
  if (typeof head === 'string') {
    answer(x, jsonAnswer(400, { error: head }));
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
  const tooLarge = () => jsonAnswer(413, { error: 'payload too large', limitBytes: limits.maxBodyBytes });
  readBody(x, { declaredLength: head.contentLength, maxBytes: limits.maxBodyBytes, tooLarge }, run);
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
    answer(x, jsonAnswer(400, { error: err instanceof Error ? err.message : 'bad request' }));
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
    answer(x, jsonAnswer(500, { error: 'internal error' }));
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

/** Sends a complete body with Content-Length. */
function sendWhole(x: Exchange, response: Response, body: Uint8Array): void {
  x.res.cork(() => {
    writeHead(x.res, response);
    endWhole(x, body);
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
  const out = new ResponsePump(x, { maxBufferedBytes: limits.maxBufferedBytes });
  let headWritten = false;

  const writeBytes = async (chunk: Uint8Array): Promise<void> => {
    let offset = 0;
    while (offset < chunk.byteLength && live(x)) {
      const size = out.drained ? PROBE_BYTES : WRITE_SLICE_BYTES;
      const slice = chunk.subarray(offset, offset + size);
      offset += slice.byteLength;
      let ok = false;
      res.cork(() => {
        if (!headWritten) writeHead(res, response);
        headWritten = true;
        ok = out.write(slice);
      });
      if (!ok) await out.writable();
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

