// An order system as the contract expects one to behave, for the cluster's failure tests: one WebSocket per node
// (reconnecting when one drops), each batch sent to a node in turn (another while that one is unreachable), at most
// WINDOW in flight per connection, and every batch answered `unavailable` (after its retryAfterMs) or left
// unanswered by a dropped connection sent again, under a fresh batch id, until it is acked.
import WebSocket from 'ws';
import type { Ack, FrameError } from '../domain/order.ts';
import { TEST_TOKEN } from './system-harness.ts';

export interface ClientOrder {
  id: string;
  ts: number;
  amount: string;
  currency: string;
  channel: string;
}

export interface ResendingClientOptions {
  /** Each node's ingest port, by node id; batch i goes first to the (i mod N)th. */
  ports: Record<string, number>;
  /** Batch i's orders: the same ids and amounts on every resend. */
  batchOrders: (i: number) => ClientOrder[];
  /** Batches in flight per connection. Default 4. */
  window?: number;
}

export class ResendingClient {
  readonly acked = new Map<number, Ack & { node: string }>();
  /** Every `unavailable` answer, in order. */
  readonly unavailable: { batch: number; node: string; at: number }[] = [];
  /** Anything unexpected: a rejection, an ack not covering the whole batch, an error other than unavailable. */
  readonly errors: string[] = [];
  /** Every answer, in the order received. */
  readonly answers: { batch: number; node: string; kind: 'ack' | 'unavailable' | 'error'; at: number }[] = [];
  /** When each batch was first acked (epoch ms), by batch. */
  readonly ackedAt = new Map<number, number>();
  private readonly ids: string[];
  private readonly window: number;
  private readonly queue: number[] = [];
  private readonly conns = new Map<string, { ws: WebSocket; open: boolean; inflight: Map<string, number> }>();
  private closed = false;

  constructor(private readonly opts: ResendingClientOptions) {
    this.ids = Object.keys(opts.ports);
    this.window = opts.window ?? 4;
    for (const id of this.ids) this.connect(id);
  }

  send(from: number, to: number): void {
    for (let i = from; i < to; i++) this.queue.push(i);
    this.pump();
  }

  get ackedOrders(): number {
    let n = 0;
    for (const a of this.acked.values()) n += a.accepted + a.duplicates;
    return n;
  }

  get waiting(): number {
    let n = this.queue.length;
    for (const c of this.conns.values()) n += c.inflight.size;
    return n;
  }

  /** The batches sent to `node` and not answered yet. */
  inflightOn(node: string): number[] {
    return [...(this.conns.get(node)?.inflight.values() ?? [])];
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.ws.terminate();
  }

  private connect(id: string): void {
    if (this.closed) return;
    const ws = new WebSocket(`ws://127.0.0.1:${this.opts.ports[id]}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    const conn = { ws, open: false, inflight: new Map<string, number>() };
    this.conns.set(id, conn);
    ws.on('open', () => {
      conn.open = true;
      this.pump();
    });
    ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      const i = a.batch === null ? undefined : conn.inflight.get(a.batch);
      if (i === undefined) return void this.errors.push(`${id}: an answer to no batch in flight: ${String(d)}`);
      conn.inflight.delete(a.batch!);
      this.answers.push({ batch: i, node: id, kind: 'accepted' in a ? 'ack' : a.error === 'unavailable' ? 'unavailable' : 'error', at: Date.now() });
      if ('accepted' in a) {
        if (a.rejected.length > 0 || a.accepted + a.duplicates !== this.opts.batchOrders(i).length) this.errors.push(`${id}: ${String(d)}`);
        if (!this.acked.has(i)) {
          this.acked.set(i, { ...a, node: id });
          this.ackedAt.set(i, Date.now());
        }
      } else if (a.error === 'unavailable' && a.retryAfterMs !== undefined) {
        this.unavailable.push({ batch: i, node: id, at: Date.now() });
        // The order system's own back-off, as the answer asks: not a guess at how long anything takes.
        setTimeout(() => this.requeue(i), a.retryAfterMs);
      } else {
        this.errors.push(`${id}: ${String(d)}`);
      }
      this.pump();
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      conn.open = false;
      // Unanswered: not known to be durable, so sent again (its orders are found as duplicates if they were).
      for (const i of conn.inflight.values()) this.requeue(i);
      conn.inflight.clear();
      // The order system retries its connection (a node down refuses it until it is back).
      if (!this.closed) setTimeout(() => this.connect(id), 100);
    });
  }

  private requeue(i: number): void {
    if (this.acked.has(i)) return;
    this.queue.unshift(i);
    this.pump();
  }

  private pump(): void {
    const n = this.ids.length;
    while (this.queue.length > 0) {
      const i = this.queue[0]!;
      const order = Array.from({ length: n }, (_, k) => this.ids[(i + k) % n]!);
      const target = order.find((id) => {
        const c = this.conns.get(id);
        return c !== undefined && c.open && c.inflight.size < this.window;
      });
      if (target === undefined) return;
      this.queue.shift();
      if (this.acked.has(i)) continue;
      const c = this.conns.get(target)!;
      const batch = `rb-${i}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;
      c.inflight.set(batch, i);
      c.ws.send(JSON.stringify({ batch, orders: this.opts.batchOrders(i) }));
    }
  }
}
