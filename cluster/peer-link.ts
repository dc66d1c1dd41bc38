// One node's persistent link to a peer's ingest endpoint, over which it forwards the sub-batches the peer owns. It
// speaks the contract's batch protocol (ids `fwd:<node>:<n>`, one ack per frame), keeps what is in flight bounded in
// batches, orders and bytes, and never resends: a send that fails for any reason is answered `unavailable`, and the
// client's resend finds whatever the peer did commit as duplicates (the contract's rule).
import WebSocket from 'ws';
import type { Ack } from '../domain/order.ts';
import { FORWARDED_BY_HEADER } from '../ingest/ingest-message.ts';

export type LinkState = 'up' | 'connecting' | 'down';

/** Why a send was not acked; each is counted in `gala_cluster_forward_failures_total`. */
export type SendFailure =
  /** The link is down (reconnecting after a failed attempt), or closed. */
  | 'down'
  /** No room in flight within the admission wait. */
  | 'full'
  /** No answer within the send timeout. */
  | 'timeout'
  /** The socket dropped while the frame was in flight. */
  | 'dropped'
  /** The peer answered `unavailable` (its storage down or its buffer full). */
  | 'refused'
  /** The peer answered with an error other than `unavailable`, or an ack that does not add up. */
  | 'error';

export type SendResult = { kind: 'ack'; ack: Ack } | { kind: 'failed'; reason: SendFailure; retryAfterMs: number };

export interface PeerLinkOptions {
  /** ws://host:ingestPort/v1/ingest of the peer. */
  url: string;
  /** This node's ingest token: the peer admits its own cluster's nodes with it. */
  token: string;
  /** This node's id: names its forwarded batches and marks its frames as forwarded (never forwarded again). */
  selfId: string;
  /** Batches in flight at most (the peer admits this many from a link). Default 1024. */
  maxInflightBatches?: number;
  /** Orders in flight at most. Default 100,000. */
  maxInflightOrders?: number;
  /** Frame bytes in flight at most. Default 32 MiB. */
  maxInflightBytes?: number;
  /** How long a send may wait for room (or for the link to come up) before it is refused. Default 250 ms. */
  admitWaitMs?: number;
  /** Sends waiting for room at most; beyond, refused at once. Default 4096. */
  maxWaiting?: number;
  /** From a frame's send to its ack, at most. Default 10 s. */
  sendTimeoutMs?: number;
  /** Reconnect delays: the first, doubling per failed attempt up to the cap (with jitter). Defaults 100 ms, 5 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Ping interval; a socket that has not answered the previous ping is dropped. Default 5 s. */
  heartbeatMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface InFlight {
  orders: number;
  bytes: number;
  timer: NodeJS.Timeout;
  resolve: (r: SendResult) => void;
}

interface Waiting {
  orders: number;
  bytes: number;
  timer: NodeJS.Timeout;
  go: () => void;
  refuse: (r: SendResult) => void;
}

/** What a client is told to wait before resending when a part of its batch could not be forwarded. */
const RETRY_AFTER_MS: Record<Exclude<SendFailure, 'refused'>, number> = { down: 1000, full: 250, timeout: 1000, dropped: 500, error: 1000 };

export class PeerLink {
  state: LinkState = 'connecting';
  /** When the state last changed (epoch ms). */
  since = Date.now();
  inflightOrders = 0;
  inflightBytes = 0;
  /** Sockets opened after the first: each is a reconnect. */
  reconnects = 0;
  /** Why the link last failed or dropped, in a few words; null while it has not. */
  lastError: string | null = null;
  private ws: WebSocket | null = null;
  private readonly inflight = new Map<string, InFlight>();
  private readonly waiting: Waiting[] = [];
  private seq = 0;
  private attempt = 0;
  /** True once a socket has opened: a link that is connecting again was up before. */
  everUp = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly listeners: ((s: LinkState, was: LinkState) => void)[] = [];
  private readonly o: Required<Omit<PeerLinkOptions, 'log'>> & Pick<PeerLinkOptions, 'log'>;

  constructor(opts: PeerLinkOptions) {
    this.o = {
      maxInflightBatches: 1024,
      maxInflightOrders: 100_000,
      maxInflightBytes: 32 * 1024 * 1024,
      admitWaitMs: 250,
      maxWaiting: 4096,
      sendTimeoutMs: 10_000,
      reconnectMinMs: 100,
      reconnectMaxMs: 5000,
      heartbeatMs: 5000,
      ...opts,
    };
    this.connect();
  }

  /** Called on every state change, with the new and the previous state. */
  onState(f: (s: LinkState, was: LinkState) => void): void {
    this.listeners.push(f);
  }

  get inflightBatches(): number {
    return this.inflight.size;
  }

  /**
   * Forwards `orders` orders whose JSON array (`[...]`, the orders as received) is `ordersJson`; resolves with the
   * peer's ack, or with why it could not be had. Never rejects.
   */
  send(ordersJson: Buffer, orders: number): Promise<SendResult> {
    const bytes = ordersJson.length + 96;
    if (this.closed || this.state === 'down') return Promise.resolve(this.failure('down'));
    if (this.state === 'up' && this.waiting.length === 0 && this.hasRoom(orders, bytes)) return this.transmit(ordersJson, orders, bytes);
    if (this.waiting.length >= this.o.maxWaiting) return Promise.resolve(this.failure('full'));
    // No room, or the link is reconnecting: wait in line a bounded time, then refuse (the client resends later).
    return new Promise<SendResult>((resolve) => {
      const w: Waiting = {
        orders,
        bytes,
        timer: setTimeout(() => {
          this.unqueue(w);
          resolve(this.failure(this.state === 'up' ? 'full' : 'down'));
        }, this.o.admitWaitMs),
        go: () => void this.transmit(ordersJson, orders, bytes).then(resolve),
        refuse: resolve,
      };
      this.waiting.push(w);
    });
  }

  /** Closes the socket and answers everything waiting or in flight `unavailable`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.setState('down');
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    this.failInflight('dropped');
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.refuse(this.failure('down'));
    }
    this.ws?.terminate();
    this.ws = null;
  }

  private hasRoom(orders: number, bytes: number): boolean {
    // An empty link takes any one frame, however large: otherwise a frame above a bound could never go.
    if (this.inflight.size === 0) return true;
    return this.inflight.size < this.o.maxInflightBatches && this.inflightOrders + orders <= this.o.maxInflightOrders && this.inflightBytes + bytes <= this.o.maxInflightBytes;
  }

  private transmit(ordersJson: Buffer, orders: number, bytes: number): Promise<SendResult> {
    const ws = this.ws;
    if (ws === null || this.state !== 'up') return Promise.resolve(this.failure('down'));
    const batch = `fwd:${this.o.selfId}:${++this.seq}`;
    const frame = Buffer.concat([Buffer.from(`{"batch":${JSON.stringify(batch)},"orders":`), ordersJson, CLOSE_BRACE]);
    return new Promise<SendResult>((resolve) => {
      const entry: InFlight = {
        orders,
        bytes,
        timer: setTimeout(() => this.settle(batch, this.failure('timeout')), this.o.sendTimeoutMs),
        resolve: (r) => {
          // The ack must account for every order sent: anything else is a peer we cannot trust with the count.
          if (r.kind === 'ack' && r.ack.accepted + r.ack.duplicates + r.ack.rejected.length !== orders) {
            this.o.log?.('cluster.link_bad_ack', { url: this.o.url, batch, orders, ack: r.ack });
            return resolve(this.failure('error'));
          }
          resolve(r);
        },
      };
      this.inflight.set(batch, entry);
      this.inflightOrders += orders;
      this.inflightBytes += bytes;
      ws.send(frame, { binary: false }, (err) => {
        if (err) this.settle(batch, this.failure('dropped'));
      });
    });
  }

  private settle(batch: string, r: SendResult): void {
    const e = this.inflight.get(batch);
    if (e === undefined) return;
    this.inflight.delete(batch);
    clearTimeout(e.timer);
    this.inflightOrders -= e.orders;
    this.inflightBytes -= e.bytes;
    e.resolve(r);
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.state === 'up' && this.waiting.length > 0 && this.hasRoom(this.waiting[0]!.orders, this.waiting[0]!.bytes)) {
      const w = this.waiting.shift()!;
      clearTimeout(w.timer);
      w.go();
    }
  }

  private unqueue(w: Waiting): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private failure(reason: SendFailure, retryAfterMs?: number): SendResult {
    return { kind: 'failed', reason, retryAfterMs: retryAfterMs ?? (reason === 'refused' ? 1000 : RETRY_AFTER_MS[reason]) };
  }

  private onMessage(data: WebSocket.RawData): void {
    let a: { batch?: unknown; error?: unknown; retryAfterMs?: unknown; accepted?: unknown; duplicates?: unknown; rejected?: unknown };
    try {
      a = JSON.parse(String(data)) as typeof a;
    } catch {
      this.o.log?.('cluster.link_bad_answer', { url: this.o.url, answer: String(data).slice(0, 200) });
      return;
    }
    if (typeof a.batch !== 'string') {
      // An answer without our batch id (an internal error of the peer) cannot be matched: its send times out.
      this.o.log?.('cluster.link_unmatched_answer', { url: this.o.url, answer: a });
      return;
    }
    if (a.error === 'unavailable') return this.settle(a.batch, this.failure('refused', typeof a.retryAfterMs === 'number' ? a.retryAfterMs : 1000));
    if (a.error !== undefined) {
      this.o.log?.('cluster.link_error_answer', { url: this.o.url, answer: a });
      return this.settle(a.batch, this.failure('error'));
    }
    if (typeof a.accepted !== 'number' || typeof a.duplicates !== 'number' || !Array.isArray(a.rejected)) return this.settle(a.batch, this.failure('error'));
    this.settle(a.batch, { kind: 'ack', ack: { batch: a.batch, accepted: a.accepted, duplicates: a.duplicates, rejected: a.rejected as Ack['rejected'] } });
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.o.url, {
      headers: { Authorization: `Bearer ${this.o.token}`, [FORWARDED_BY_HEADER]: this.o.selfId },
      handshakeTimeout: 5000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    let opened = false;
    let alive = true;
    /** Why this socket failed or dropped: the first cause seen wins (a refusal is followed by its socket error). */
    let why: string | null = null;
    ws.on('open', () => {
      opened = true;
      this.lastError = null;
      this.attempt = 0;
      if (this.everUp) this.reconnects++;
      this.everUp = true;
      // A peer that stops answering pings (a partition, a frozen process) is dropped and reconnected.
      this.heartbeat = setInterval(() => {
        if (!alive) {
          this.o.log?.('cluster.link_silent', { url: this.o.url });
          why ??= `no answer to a ping within ${this.o.heartbeatMs} ms`;
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, this.o.heartbeatMs);
      this.setState('up');
      this.admitWaiting();
    });
    ws.on('message', (data) => this.onMessage(data));
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('unexpected-response', (_req, res) => {
      this.o.log?.('cluster.link_refused', { url: this.o.url, status: res.statusCode });
      why ??= `the peer refused the link: HTTP ${res.statusCode}${res.statusCode === 401 ? ' (the nodes\' ingest tokens differ)' : ''}`;
      ws.terminate();
    });
    // 'close' follows every 'error'; what to do is decided there once.
    ws.on('error', (e) => {
      this.o.log?.('cluster.link_error', { url: this.o.url, error: String(e) });
      why ??= e.message;
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopHeartbeat();
      if (this.closed) return;
      this.lastError = why ?? (opened ? 'the peer closed the link' : 'the connection failed');
      // A link that was up tries again at once as "connecting"; one whose attempt failed is "down" until it is up.
      this.setState(opened ? 'connecting' : 'down');
      // Frames in flight may or may not have been committed by the peer: their batches are answered unavailable.
      this.failInflight('dropped');
      if (!opened) for (const w of this.waiting.splice(0)) {
        clearTimeout(w.timer);
        w.refuse(this.failure('down'));
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private failInflight(reason: SendFailure): void {
    for (const batch of [...this.inflight.keys()]) this.settle(batch, this.failure(reason));
  }

  private setState(s: LinkState): void {
    if (s === this.state) return;
    const was = this.state;
    this.state = s;
    this.since = Date.now();
    this.o.log?.('cluster.link_state', { url: this.o.url, state: s, was });
    for (const f of this.listeners) f(s, was);
  }
}

const CLOSE_BRACE = Buffer.from('}');
