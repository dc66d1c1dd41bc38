// The live state channel on the HTTP port: uWS pub/sub of the topics of live-protocol.ts. A subscriber gets the
// topic's snapshot at once, then every update (rev + 1 each); one that falls too far behind is dropped.
import * as uWS from 'uWebSockets.js';
import { writeAnswer } from '../http/uws-reply.ts';
import { jsonAnswer } from '../platform/http-answer.ts';
import { createBearerGuard } from '../platform/tokens.ts';
import {
  isTopic,
  LIVE_PATH,
  LIVE_PROTOCOL_VERSION,
  PRODUCER_TOPICS,
  TOPICS,
  type ClientMessage,
  type FixedTopic,
  type ProductTopic,
  type ServerMessage,
  type SnapshotMessage,
  type Topic,
  type TopicSnapshot,
  type UpdateMessage,
  type UpdateOf,
} from '../protocol/live-protocol.ts';

type Awaitable<X> = X | Promise<X>;

/** Serves a topic's snapshot, typed by the topic; may first have to fetch (a product topic seen for the first time). */
export type SnapshotSource = <T extends Topic>(topic: T) => Awaitable<TopicSnapshot<T>>;

/**
 * A snapshot source written topic by topic, each entry checked against its topic's type (protocol/live-protocol.ts
 * TopicData); `product` serves every `product:<sku>` topic.
 */
export type SnapshotTable = { readonly [T in FixedTopic]: () => Awaitable<TopicSnapshot<T>> } & {
  readonly product: (sku: string) => Awaitable<TopicSnapshot<ProductTopic>>;
};

/** The source that serves each topic from its entry of the table. */
export function snapshotSource(table: SnapshotTable): SnapshotSource {
  // The table's entries are checked one by one above; TypeScript cannot follow a generic topic into the lookup.
  return <T extends Topic>(topic: T) => (topic.startsWith('product:') ? table.product(topic.slice('product:'.length)) : table[topic as FixedTopic]()) as Awaitable<TopicSnapshot<T>>;
}

export interface LiveHubOptions {
  producerTokens: readonly string[];
  /** Snapshot of a fixed topic, or of a `product:<sku>` topic. */
  snapshot: SnapshotSource;
  /** A product topic gained its first subscriber; false refuses it (too many products watched). */
  watchProduct?: (sku: string) => boolean;
  /** Bytes a subscriber may leave unread before it is dropped (default 256 KiB: minutes of frames). */
  maxBackpressureBytes?: number;
  /** Seconds without traffic before a socket is closed; pings are sent automatically (default 60). */
  idleTimeoutSeconds?: number;
  /** Most sockets at once (default 50,000); past it the upgrade is refused with 503. */
  maxSockets?: number;
  /** Reports sent by clients (overlay health), with the socket's id. */
  onReport?: (socketId: number, report: Record<string, unknown>) => void;
  onClose?: (socketId: number) => void;
  /**
   * Another way to reach the producer topics (the control room's session cookies and role tokens); may answer later
   * (a session checked on another node), the upgrade waiting for it.
   */
  authorize?: (h: { authorization: string; cookie: string; origin: string; host: string; query: string }) => boolean | Promise<boolean>;
  /** Per-client admission (rate limit); answers the upgrade itself and returns false to refuse. */
  admit?: (res: uWS.HttpResponse, req: uWS.HttpRequest) => boolean;
}

interface SocketData {
  id: number;
  producer: boolean;
  topics: Set<Topic>;
}

const MAX_TOPICS_PER_SOCKET = 64;

export class LiveHub {
  private readonly revs = new Map<Topic, number>();
  private sockets = 0;
  private nextId = 1;
  /** Subscribers dropped for falling behind (backpressure limit). */
  dropped = 0;
  private readonly app: uWS.TemplatedApp;
  private readonly opts: LiveHubOptions;

  constructor(app: uWS.TemplatedApp, opts: LiveHubOptions) {
    this.app = app;
    this.opts = opts;
    const maxBackpressure = opts.maxBackpressureBytes ?? 256 * 1024;
    const producerGuard = createBearerGuard(opts.producerTokens);
    app.ws<SocketData>(LIVE_PATH, {
      maxPayloadLength: 16 * 1024,
      maxBackpressure,
      closeOnBackpressureLimit: true,
      idleTimeout: opts.idleTimeoutSeconds ?? 60,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        // Everything is read from req now: it is gone once this callback returns, and the authorization may answer
        // later (a cluster node asks the coordinator about a session cookie).
        const url = req.getUrl();
        const authorization = req.getHeader('authorization');
        const query = req.getQuery() ?? '';
        const cookie = req.getHeader('cookie');
        const origin = req.getHeader('origin');
        const host = req.getHeader('host');
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        if (opts.admit && !opts.admit(res, req)) return;
        if (this.sockets >= (opts.maxSockets ?? 50_000)) return writeAnswer(res, jsonAnswer(503, { error: 'live channel full' }, { 'Retry-After': '5' }));
        if (url !== LIVE_PATH) return writeAnswer(res, { status: 404, headers: {}, body: '' });
        const upgrade = (producer: boolean) => {
          res.cork(() => res.upgrade<SocketData>({ id: this.nextId++, producer, topics: new Set() }, key, protocol, extensions, context));
        };
        const producer = producerGuard(authorization, query) === true || (opts.authorize?.({ authorization, cookie, origin, host, query }) ?? false);
        if (typeof producer === 'boolean') return upgrade(producer);
        // Answered later: the client may leave meanwhile, and then nothing may touch res.
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        producer.then(
          (ok) => {
            if (!aborted) upgrade(ok);
          },
          () => {
            if (!aborted) upgrade(false);
          },
        );
      },
      open: (ws) => {
        this.sockets++;
        this.send(ws, { type: 'hello', protocol: LIVE_PROTOCOL_VERSION, server: 'gala', topics: TOPICS, serverTime: new Date().toISOString() });
      },
      message: (ws, message, isBinary) => {
        if (isBinary) return this.send(ws, { type: 'error', error: 'frame: must be a JSON text frame' });
        let msg: ClientMessage;
        try {
          msg = JSON.parse(Buffer.from(message).toString('utf8')) as ClientMessage;
        } catch {
          return this.send(ws, { type: 'error', error: 'frame: not valid JSON' });
        }
        this.onMessage(ws, msg);
      },
      close: (ws) => {
        this.sockets--;
        const d = ws.getUserData();
        this.opts.onClose?.(d.id);
      },
      dropped: () => {
        this.dropped++;
      },
    });
  }

  get connections(): number {
    return this.sockets;
  }

  /** Current revision of a topic (0 before its first message). */
  rev(topic: Topic): number {
    return this.revs.get(topic) ?? 0;
  }

  /** Publishes an update, of the topic's update type, to every subscriber of the topic; returns its revision. */
  publish<T extends Topic>(topic: T, at: string, data: UpdateOf<T>): number {
    const rev = this.rev(topic) + 1;
    this.revs.set(topic, rev);
    const msg: UpdateMessage<T> = { type: 'update', topic, rev, at, sentAt: Date.now(), data };
    this.app.publish(topic, JSON.stringify(msg), false);
    return rev;
  }

  /** Subscribers of a topic right now. */
  subscribers(topic: Topic): number {
    return this.app.numSubscribers(topic);
  }

  private send(ws: uWS.WebSocket<SocketData>, msg: ServerMessage | SnapshotMessage): void {
    // The socket may have closed while a snapshot was being fetched.
    try {
      ws.send(JSON.stringify(msg), false);
    } catch {
      // closed
    }
  }

  private onMessage(ws: uWS.WebSocket<SocketData>, msg: ClientMessage): void {
    const d = ws.getUserData();
    if (typeof msg !== 'object' || msg === null) return this.send(ws, { type: 'error', error: 'frame: must be a JSON object' });
    switch (msg.op) {
      case 'subscribe':
      case 'unsubscribe': {
        if (!Array.isArray(msg.topics)) return this.send(ws, { type: 'error', error: 'topics: must be an array of topic names' });
        for (const t of msg.topics) {
          if (!isTopic(t)) {
            this.send(ws, { type: 'error', error: `topics: unknown topic ${JSON.stringify(t)} (known: ${TOPICS.join(', ')}, product:<sku>)`, topic: String(t) });
            continue;
          }
          if (msg.op === 'unsubscribe') {
            ws.unsubscribe(t);
            d.topics.delete(t);
            continue;
          }
          if (PRODUCER_TOPICS.includes(t) && !d.producer) {
            this.send(ws, { type: 'error', error: `topics: "${t}" needs the producer token`, topic: t });
            continue;
          }
          if (d.topics.size >= MAX_TOPICS_PER_SOCKET && !d.topics.has(t)) {
            this.send(ws, { type: 'error', error: `topics: at most ${MAX_TOPICS_PER_SOCKET} per connection`, topic: t });
            continue;
          }
          if (t.startsWith('product:') && this.opts.watchProduct && !this.opts.watchProduct(t.slice(8))) {
            this.send(ws, { type: 'error', error: 'topics: too many products watched on this server', topic: t });
            continue;
          }
          d.topics.add(t);
          ws.subscribe(t);
          this.sendSnapshot(ws, t);
        }
        return;
      }
      case 'snapshot':
        if (!isTopic(msg.topic) || !d.topics.has(msg.topic)) return this.send(ws, { type: 'error', error: 'topic: not subscribed', topic: String(msg.topic) });
        return this.sendSnapshot(ws, msg.topic);
      case 'report':
        if (typeof msg.report === 'object' && msg.report !== null) this.opts.onReport?.(d.id, msg.report);
        return;
      default:
        return this.send(ws, { type: 'error', error: 'op: must be subscribe, unsubscribe, snapshot or report' });
    }
  }

  /**
   * The snapshot is taken, and its revision read, in the same turn of the event loop as it is sent: no update can
   * fall between them, so the subscriber's next update is exactly rev + 1.
   */
  private sendSnapshot<T extends Topic>(ws: uWS.WebSocket<SocketData>, topic: T): void {
    const sent = (s: TopicSnapshot<T>) => this.send(ws, { type: 'snapshot', topic, rev: this.rev(topic), at: s.at, data: s.data } satisfies SnapshotMessage<T>);
    let first: Awaitable<TopicSnapshot<T>>;
    try {
      first = this.opts.snapshot(topic);
    } catch (e) {
      return this.send(ws, { type: 'error', error: `snapshot: ${String(e)}`, topic });
    }
    if (!(first instanceof Promise)) return sent(first);
    first.then(
      () => {
        // Fetched: take it again, now synchronously, so data and revision belong together.
        const again = this.opts.snapshot(topic);
        if (!(again instanceof Promise)) sent(again);
      },
      (e: unknown) => this.send(ws, { type: 'error', error: `snapshot: ${String(e)}`, topic }),
    );
  }
}
