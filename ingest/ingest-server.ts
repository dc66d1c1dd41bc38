// The ingest listener (uWebSockets.js): WebSocket /v1/ingest, POST /v1/orders and GET /metrics, per the contract.
import { isAscii, isUtf8 } from 'node:buffer';
import * as uWS from 'uWebSockets.js';
import { parseBatchFrame, type FrameError } from '../domain/order.ts';
import { createTokenCheck, presentedToken } from '../platform/tokens.ts';
import { createFrameScanner } from './frame-scanner.ts';
import type { BatchOutcome, GroupCommitter } from './group-commit.ts';
import type { Registry } from '../platform/metrics.ts';

export interface IngestServerOptions {
  host: string;
  port: number;
  tokens: readonly string[];
  committer: GroupCommitter;
  /** The show's currencies (rate table keys), for the fast frame scanner. */
  currencies: readonly string[];
  metrics: Registry;
  /** Largest frame or HTTP body answered with an error rather than a closed socket. */
  maxFrameBytes?: number;
  /** Bytes of unread acks a client may leave with us before it is disconnected. */
  maxBackpressureBytes?: number;
  /** Batches one connection may have waiting for their commit. */
  maxInflightPerConnection?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface IngestServer {
  port: number;
  /** Closes the listener; open sockets stay until close(). */
  stopAccepting(): void;
  /** Stops accepting, commits and answers in-flight batches, then closes every socket. */
  close(): Promise<void>;
}

interface Conn {
  inflight: number;
  closed: boolean;
}


function outcomeFrame(batch: string, o: BatchOutcome): string {
  return o.kind === 'ack' ? JSON.stringify(o.ack) : JSON.stringify({ batch, error: 'unavailable', retryAfterMs: o.retryAfterMs });
}

export function startIngestServer(opts: IngestServerOptions): Promise<IngestServer> {
  const maxFrame = opts.maxFrameBytes ?? 16 * 1024 * 1024;
  const maxBackpressure = opts.maxBackpressureBytes ?? 4 * 1024 * 1024;
  const maxInflight = opts.maxInflightPerConnection ?? 64;
  const authorized = createTokenCheck(opts.tokens);
  const { committer, metrics } = opts;
  const sockets = new Set<uWS.WebSocket<Conn>>();
  const frameErrors = metrics.counter('gala_ingest_frame_errors_total', 'Frames and bodies refused as not a batch');
  const refused = metrics.counter('gala_ingest_unauthorized_total', 'Connections and requests refused for a missing or wrong token');
  metrics.gauge('gala_ingest_connections', 'Open ingest WebSocket connections', () => sockets.size);

  // Frames are almost always ASCII: latin1 decoding is then exact and gives V8 the one-byte strings its
  // JSON parser is fastest on. Anything else must be valid UTF-8 (validated with simdutf, not replaced).
  const scanner = createFrameScanner(opts.currencies);

  /**
   * Reads a frame and hands it to the committer: the fast scanner when it can prove the frame's shape,
   * else decoding and JSON.parse. The bytes are used synchronously only (uWS frees them after the callback).
   */
  const take = (bytes: Uint8Array, receivedMs: number, refuse: (e: FrameError) => void, admit: (batch: string) => boolean, done: (batch: string, o: BatchOutcome) => void): void => {
    const scanned = scanner.scan(bytes);
    if (scanned.ok) {
      if (!admit(scanned.batch)) return;
      void committer.submitScanned(scanned.batch, scanned.orders, bytes, receivedMs).then((o) => done(scanned.batch, o));
      return;
    }
    const text = decode(bytes);
    if (text === null) return refuse({ batch: null, error: 'frame: not valid UTF-8' });
    const parsed = parseBatchFrame(text);
    if (!parsed.ok) return refuse({ batch: parsed.batch, error: parsed.error });
    const batch = parsed.value.batch;
    if (!admit(batch)) return;
    void committer.submit(parsed.value, receivedMs).then((o) => done(batch, o));
  };

  const decode = (buf: ArrayBuffer | Uint8Array): string | null => {
    const b = buf instanceof Uint8Array ? Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength) : Buffer.from(buf);
    if (isAscii(b)) return b.toString('latin1');
    return isUtf8(b) ? b.toString('utf8') : null;
  };

  const app = uWS.App();
  app.ws<Conn>('/v1/ingest', {
    // uWS closes the socket itself above maxPayloadLength; below it we answer with an error frame.
    maxPayloadLength: maxFrame * 2,
    maxBackpressure,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const token = presentedToken(req.getHeader('authorization'), req.getQuery() ?? '');
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (!authorized(token)) {
        refused.inc();
        res.cork(() => {
          res.writeStatus('401 Unauthorized').writeHeader('WWW-Authenticate', 'Bearer').writeHeader('Content-Type', 'application/json')
            .end(JSON.stringify({ error: 'unauthorized: present a valid ingest token (Authorization: Bearer <token> or ?token=)' }));
        });
        return;
      }
      res.upgrade<Conn>({ inflight: 0, closed: false }, key, protocol, extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData();
      const reply = (text: string) => {
        if (!conn.closed) ws.cork(() => ws.send(text, false));
      };
      const fail = (e: FrameError) => {
        frameErrors.inc();
        reply(JSON.stringify(e));
      };
      if (isBinary) return fail({ batch: null, error: 'frame: binary frames are not batches; send the batch as JSON text' });
      if (message.byteLength > maxFrame) return fail({ batch: null, error: `frame: larger than ${maxFrame} bytes` });
      const admit = (batch: string) => {
        // A client that sends faster than it reads its acks is told to wait rather than buffered without end.
        if (conn.inflight < maxInflight && ws.getBufferedAmount() <= maxBackpressure / 2) {
          conn.inflight++;
          return true;
        }
        reply(JSON.stringify({ batch, error: 'unavailable', retryAfterMs: 200 }));
        return false;
      };
      try {
        take(new Uint8Array(message), Date.now(), fail, admit, (batch, outcome) => {
          conn.inflight--;
          reply(outcomeFrame(batch, outcome));
        });
      } catch (e) {
        // A bug must cost one frame its answer, not the process and every connection with it.
        opts.log?.('ingest.internal_error', { error: String(e), stack: (e as Error).stack });
        fail({ batch: null, error: 'internal error: the frame was not taken; send it again' });
      }
    },
    close: (ws) => {
      ws.getUserData().closed = true;
      sockets.delete(ws);
    },
  });

  app.post('/v1/orders', (res, req) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const token = presentedToken(req.getHeader('authorization'), req.getQuery() ?? '');
    const declared = Number(req.getHeader('content-length') || '0');
    const respond = (status: string, body: string, headers: Record<string, string> = {}, closeConnection = false) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(status).writeHeader('Content-Type', 'application/json');
        for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
        res.end(body, closeConnection);
      });
      aborted = true;
    };
    if (!authorized(token)) {
      refused.inc();
      return respond('401 Unauthorized', JSON.stringify({ error: 'unauthorized: present a valid ingest token' }), { 'WWW-Authenticate': 'Bearer' }, true);
    }
    const tooLarge = () => {
      frameErrors.inc();
      respond('413 Payload Too Large', JSON.stringify({ batch: null, error: `body: larger than ${maxFrame} bytes` }), {}, true);
    };
    if (declared > maxFrame) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (aborted) return;
      size += chunk.byteLength;
      if (size > maxFrame) return tooLarge();
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast) return;
      const refuse = (e: FrameError) => {
        frameErrors.inc();
        respond('400 Bad Request', JSON.stringify(e.error === 'frame: not valid UTF-8' ? { batch: null, error: 'body: not valid UTF-8' } : e));
      };
      try {
        take(Buffer.concat(chunks, size), Date.now(), refuse, () => true, (batch, o) => {
          if (o.kind === 'ack') respond('200 OK', JSON.stringify(o.ack));
          else respond('503 Service Unavailable', outcomeFrame(batch, o), { 'Retry-After': String(Math.max(1, Math.ceil(o.retryAfterMs / 1000))) });
        });
      } catch (e) {
        opts.log?.('ingest.internal_error', { error: String(e), stack: (e as Error).stack });
        respond('500 Internal Server Error', JSON.stringify({ batch: null, error: 'internal error: the body was not taken; send it again' }));
      }
    });
  });

  app.get('/metrics', (res, req) => {
    const token = presentedToken(req.getHeader('authorization'), req.getQuery() ?? '');
    if (!authorized(token)) {
      res.cork(() => res.writeStatus('401 Unauthorized').writeHeader('WWW-Authenticate', 'Bearer').end('unauthorized\n'));
      return;
    }
    // The registry renders asynchronously (prom-client): the client may be gone by then.
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void metrics.render().then(
      (text) => {
        if (!aborted) res.cork(() => res.writeHeader('Content-Type', metrics.contentType).end(text));
      },
      (e: unknown) => {
        if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(`metrics: ${String(e)}\n`));
      },
    );
  });

  app.any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: 'not found: ingest serves /v1/ingest, /v1/orders and /metrics' })));
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (listenSocket) => {
      if (!listenSocket) return reject(new Error(`ingest: cannot listen on ${opts.host}:${opts.port}`));
      let listening: uWS.us_listen_socket | null = listenSocket;
      const stopAccepting = () => {
        if (listening) uWS.us_listen_socket_close(listening);
        listening = null;
      };
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        stopAccepting,
        async close() {
          stopAccepting();
          await committer.close();
          // Give queued acks a moment to leave before the sockets go.
          const deadline = Date.now() + 2000;
          while ([...sockets].some((ws) => ws.getBufferedAmount() > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
          app.close();
        },
      });
    });
  });
}
