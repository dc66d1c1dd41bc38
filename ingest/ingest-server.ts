// The ingest listener (uWebSockets.js): WebSocket /v1/ingest, POST /v1/orders and GET /metrics, per the contract.
// Both ingest routes parse their bytes into one message at the edge, and answer the outcome of handling it each
// in its own framing (ingest-outcome.ts).
import * as uWS from 'uWebSockets.js';
import { readBody } from '../http/uws-body.ts';
import { answer, openExchange } from '../http/uws-exchange.ts';
import { writeAnswer } from '../http/uws-reply.ts';
import { jsonAnswer } from '../platform/http-answer.ts';
import type { Registry } from '../platform/metrics.ts';
import { createBearerGuard, Unauthorized } from '../platform/tokens.ts';
import type { GroupCommitter } from './group-commit.ts';
import { createIngestParser, FORWARDED_BY_HEADER, isBatch, submitBatch, type RouteBatch } from './ingest-message.ts';
import { isFrameError, toFrame, toHttpAnswer, type IngestOutcome } from './ingest-outcome.ts';

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
  /** The same for a cluster peer's link, which carries the forwarded parts of many clients' batches. Default 1024. */
  maxInflightPerPeer?: number;
  /** Where each batch goes (a cluster's router); default: straight to the committer. */
  route?: RouteBatch;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * More routes on this internal listener (the cluster's node-to-node link); each checks the token itself. What it
   * returns is called on close once the last commits are made, before the listener's sockets close.
   */
  mount?: (app: uWS.TemplatedApp) => (() => void) | void;
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
  /** The cluster node whose link this is; null for a client. */
  forwardedBy: string | null;
}

export function startIngestServer(opts: IngestServerOptions): Promise<IngestServer> {
  const maxFrame = opts.maxFrameBytes ?? 16 * 1024 * 1024;
  const maxBackpressure = opts.maxBackpressureBytes ?? 4 * 1024 * 1024;
  const maxInflight = opts.maxInflightPerConnection ?? 64;
  const maxInflightPeer = opts.maxInflightPerPeer ?? 1024;
  const route: RouteBatch = opts.route ?? ((m, receivedMs) => submitBatch(opts.committer, m, receivedMs));
  /** Batches taken and not yet answered (a routed batch may wait on a peer after the local commits are done). */
  let pending = 0;
  let onSettled: (() => void) | null = null;
  const tracked = (p: Promise<IngestOutcome>): Promise<IngestOutcome> => {
    pending++;
    return p.finally(() => {
      if (--pending === 0) onSettled?.();
    });
  };
  /** A peer's mark counts only in a cluster (a router is set): a single node treats every connection as a client. */
  const peerOf = (header: string) => (opts.route === undefined || header === '' ? null : header);
  // The same tokens everywhere; the WebSocket's refusal also says where a browser-side client may put one.
  const socketGuard = createBearerGuard(opts.tokens, { error: 'unauthorized: present a valid ingest token (Authorization: Bearer <token> or ?token=)' });
  const httpGuard = createBearerGuard(opts.tokens, { error: 'unauthorized: present a valid ingest token' });
  const { committer, metrics } = opts;
  const sockets = new Set<uWS.WebSocket<Conn>>();
  const frameErrors = metrics.counter('gala_ingest_frame_errors_total', 'Frames and bodies refused as not a batch');
  const refused = metrics.counter('gala_ingest_unauthorized_total', 'Connections and requests refused for a missing or wrong token');
  metrics.gauge('gala_ingest_connections', 'Open ingest WebSocket connections', () => sockets.size);
  const parse = createIngestParser({ currencies: opts.currencies, maxFrameBytes: maxFrame });

  /** Every outcome passes here on its way to the wire, so each is counted once whichever side answers it. */
  const counted = (o: IngestOutcome): IngestOutcome => {
    if (isFrameError(o)) frameErrors.inc();
    return o;
  };
  /** A bug must cost one batch its answer, not the process and every connection with it. */
  const internalError = (e: unknown): IngestOutcome => {
    opts.log?.('ingest.internal_error', { error: String(e), stack: (e as Error).stack });
    return { kind: 'internal-error' };
  };
  /** Wakes acksSent() on uWS's drain and close events. */
  let onDrained: (() => void) | null = null;
  /** Resolves once no socket holds unsent acks, or after `ms`: gives queued acks a moment to leave before the sockets go. */
  const acksSent = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        onDrained = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      onDrained = () => {
        if (![...sockets].some((ws) => ws.getBufferedAmount() > 0)) done();
      };
      onDrained();
    });

  const app = uWS.App();
  app.ws<Conn>('/v1/ingest', {
    // uWS closes the socket itself above maxPayloadLength; below it we answer with an error frame.
    maxPayloadLength: maxFrame * 2,
    maxBackpressure,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const denied = socketGuard(req.getHeader('authorization'), req.getQuery() ?? '');
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const forwardedBy = req.getHeader(FORWARDED_BY_HEADER);
      if (denied instanceof Unauthorized) {
        refused.inc();
        return writeAnswer(res, denied.answer());
      }
      res.upgrade<Conn>({ inflight: 0, closed: false, forwardedBy: peerOf(forwardedBy) }, key, protocol, extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData();
      const reply = (o: IngestOutcome) => {
        if (!conn.closed) ws.cork(() => ws.send(toFrame(counted(o)), false));
      };
      try {
        // The message's bytes die when this callback returns: parsed and submitted before it does.
        const m = parse.frame(message, isBinary);
        if (!isBatch(m)) return reply(m);
        // A client that sends faster than it reads its acks is told to wait rather than buffered without end.
        if (conn.inflight >= (conn.forwardedBy === null ? maxInflight : maxInflightPeer) || ws.getBufferedAmount() > maxBackpressure / 2) return reply({ kind: 'unavailable', batch: m.batch, retryAfterMs: 200 });
        const outcome = tracked(route(m, Date.now(), conn.forwardedBy));
        conn.inflight++;
        const settle = (o: IngestOutcome) => {
          conn.inflight--;
          reply(o);
        };
        void outcome.then(settle, (e: unknown) => settle(internalError(e)));
      } catch (e) {
        reply(internalError(e));
      }
    },
    drain: () => onDrained?.(),
    close: (ws) => {
      ws.getUserData().closed = true;
      sockets.delete(ws);
      onDrained?.();
    },
  });

  app.post('/v1/orders', (res, req) => {
    const x = openExchange(res);
    const denied = httpGuard(req.getHeader('authorization'), req.getQuery() ?? '');
    const declared = req.getHeader('content-length');
    const forwardedBy = req.getHeader(FORWARDED_BY_HEADER);
    if (denied instanceof Unauthorized) {
      refused.inc();
      // Closed: the body is never read. Content-Type first, as every answer of this route (not denied.answer()).
      return answer(x, jsonAnswer(401, { error: denied.error }, { 'WWW-Authenticate': denied.challenge }), true);
    }
    const reply = (o: IngestOutcome) => answer(x, toHttpAnswer(counted(o)));
    const tooLarge = () => toHttpAnswer(counted({ kind: 'too-large', limitBytes: maxFrame }));
    readBody(x, { declaredLength: declared === '' ? undefined : Number(declared), maxBytes: maxFrame, tooLarge }, (body) => {
      try {
        const m = parse.body(body);
        if (!isBatch(m)) return reply(m);
        void tracked(route(m, Date.now(), peerOf(forwardedBy))).then(reply, (e: unknown) => reply(internalError(e)));
      } catch (e) {
        reply(internalError(e));
      }
    });
  });

  app.get('/metrics', (res, req) => {
    const denied = httpGuard(req.getHeader('authorization'), req.getQuery() ?? '');
    if (denied instanceof Unauthorized) return writeAnswer(res, denied.answer());
    // The registry renders asynchronously (prom-client): the client may be gone by then.
    const x = openExchange(res);
    void metrics.render().then(
      (text) => answer(x, { status: 200, headers: { 'Content-Type': metrics.contentType }, body: text }),
      (e: unknown) => answer(x, { status: 500, headers: { 'Content-Type': 'text/plain' }, body: `metrics: ${String(e)}\n` }),
    );
  });

  const beforeSocketsClose = opts.mount?.(app);

  app.any('/*', (res) => {
    writeAnswer(res, jsonAnswer(404, { error: 'not found: ingest serves /v1/ingest, /v1/orders and /metrics' }));
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
          if (pending > 0) await new Promise<void>((resolve) => (onSettled = resolve));
          await acksSent(2000);
          beforeSocketsClose?.();
          for (const ws of [...sockets]) ws.end(1001, 'server shutting down');
          app.close();
        },
      });
    });
  });
}
