// Group commit: validated batches from every connection share one ClickHouse insert; each batch is answered
// only after the insert holding its orders is durable, and the group's rollup rows follow in small
// inserts between the next groups' orders inserts: one derived insert at a time, which takes every group
// committed while the one before it ran (a part costs the same for 300 rows as for 3,000), one table per statement,
// each started as an orders insert ends (nextGap). The buffer is bounded;
// when full or when storage is down, batches are answered "unavailable" at once and nothing of them is kept.
import { fingerprintBytesInto, fingerprintInto } from '../domain/fingerprint.ts';
import { CHANNEL_CODE, OrderColumns } from '../domain/order-columns.ts';
import { CHANNELS, parseOrder, type Ack, type RawBatch } from '../domain/order.ts';
import { DERIVED_TABLES, mergeDerivedRows, type DerivedRows } from '../storage/derived-fold.ts';
import { createRowWriter, type RowWriter } from '../storage/order-row-writer.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { DedupWindow } from './dedup-window.ts';
import type { ScannedOrders } from './frame-scanner.ts';
import type { Registry } from '../platform/metrics.ts';

/** Acknowledged orders whose derived rows may wait for the running derived insert, by default (the buffer's bound). */
export const DEFAULT_MAX_DERIVED_WAITING_ORDERS = 400_000;
/**
 * Least time between the starts of two derived inserts, by default. Each derived insert is three small inserts, and
 * a small insert costs chDB 6-12 ms whatever its size (measured: 11,000 orders' side-table rows 6.9 ms, 200 rollup
 * rows 6.8 ms); one every group, ten a second at 100,000 orders/s, took more engine time than the orders inserts.
 * The boards read the rollups every 1-2 s, so half a second more of waiting is not seen.
 */
export const DEFAULT_DERIVED_INTERVAL_MS = 500;
/**
 * Least time between two fills of the fingerprint side table, by default. The engine copies the fingerprints of the
 * orders committed since the last fill from the orders table (OrderStore.fillFingerprints): one statement every few
 * seconds instead of a row per order written by Gala with every derived insert. Only the late-duplicate look, every
 * few minutes, reads the side table; it looks back far enough to cover this lag (aggregator/reconciler.ts).
 */
export const DEFAULT_FINGERPRINT_FILL_MS = 5_000;

/**
 * How long the next derived insert waits: until `intervalMs` after the last one started, unless more orders than
 * `maxWaitingOrders` wait for it (then at once). 0: start now. Shared with bench:engine-paced, which models this.
 */
export function derivedStartWaitMs(lastStartMs: number, intervalMs: number, nowMs: number, waitingOrders: number, maxWaitingOrders: number): number {
  return waitingOrders > maxWaitingOrders ? 0 : Math.max(0, lastStartMs + intervalMs - nowMs);
}

export type BatchOutcome = { kind: 'ack'; ack: Ack } | { kind: 'unavailable'; retryAfterMs: number };

/**
 * Where committed orders go next: the aggregator, which satisfies this shape without either side importing the
 * other. Called for each insert once it is durable, before any of its batches is acked (so the totals never
 * trail an ack), and for an insert thought failed that storage later shows had landed.
 */
export interface CommitSink {
  /** Committed orders, with the latest arrival instant among them (groups commit in arrival order). */
  committed(orders: OrderColumns, receivedThroughMs: number): void;
}

export interface GroupCommitOptions {
  store: OrderStore;
  dedup: DedupWindow;
  /** The currencies orders may be in (the show's rate table); an order in any other is rejected. */
  currencies: readonly string[];
  /** Orders accepted but not yet committed, across all connections, at most. */
  maxBufferedOrders?: number;
  /** Orders in one insert, at most. */
  maxGroupOrders?: number;
  /** How long the first batch of a group may wait for company before the group is inserted. */
  flushIntervalMs?: number;
  /**
   * Inserts running at once (default 1). More let a slow insert delay only its own batches, but on 2 cores a second
   * concurrent insert slowed both and lengthened the ack tail; measured, not assumed.
   */
  maxConcurrentInserts?: number;
  /** How often a down storage is probed. */
  probeIntervalMs?: number;
  /**
   * Orders of committed groups whose derived rows may wait for the derived insert running, at most (default
   * 400,000). Past it, the next orders insert waits for that derived insert, so the derived rows never fall further
   * behind than this and their memory (about 60 bytes per order) stays bounded.
   */
  maxDerivedWaitingOrders?: number;
  /**
   * Least time between the starts of two derived inserts (default 500 ms): the rows of groups committed meanwhile
   * wait and go in together. A stop, a full bound (maxDerivedWaitingOrders) or 0 here starts one at once.
   */
  derivedIntervalMs?: number;
  /** Least time between two fills of the fingerprint side table (default 5,000 ms); a stop fills at once. */
  fingerprintFillMs?: number;
  /** Takes the orders of each committed insert; none when the committer runs alone (its tests, a bench). */
  sink?: CommitSink;
  /** Test hook: called once an orders insert returned, before anything else (a crash test kills the process here). */
  afterOrdersInsert?: () => void;
  metrics?: Registry;
  now?: () => number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

interface Waiter {
  ack: Ack;
  resolve: (o: BatchOutcome) => void;
  submittedAt: number;
}

interface Group {
  /** 'ok' or 'failed' once its insert has finished. */
  result: 'ok' | 'failed' | null;
  /** Batches that reported duplicates: answered only once every earlier insert has finished. */
  held: Waiter[];
  writer: RowWriter;
  rows: number;
  /** What the live totals need of each order, and its fingerprint. */
  cols: OrderColumns;
  waiters: Waiter[];
  openedAt: number;
  /** Why its insert failed (the storage adapter reads it to settle that insert). */
  error?: unknown;
  /** Arrival instants of its batches (every row's received_ms lies between them). */
  minReceivedMs: number;
  maxReceivedMs: number;
}

export type StorageState = 'up' | 'down' | 'closing' | 'closed';

const fp = new Uint32Array(2);

export class GroupCommitter {
  state: StorageState = 'up';
  bufferedOrders = 0;
  private current: Group;
  private sealed: Group[] = [];
  private inFlight = 0;
  /** Groups whose insert started, in start order, until their held batches are answered. */
  private started: Group[] = [];
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  private readonly maxInserts: number;
  private flushTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  /** Groups whose insert failed: their orders may or may not be stored; checked when storage returns. */
  private uncertain: Group[] = [];
  /**
   * Failed derived inserts (their orders were stored and acked): the earliest arrival they cover and the error to
   * settle. Storage stays down until the repair has put their rows in, so no board is read short for long.
   */
  private derivedBehind: { sinceMs: number; error: unknown }[] = [];
  /**
   * The derived insert running between the next groups' orders inserts: at most one at a time, and a repair never
   * runs beside it or while rows wait for it (both would put in the same arrivals' rows).
   */
  private derivedRunning: Promise<void> | null = null;
  /** Derived rows of committed groups waiting for the running derived insert; the next one takes them all. */
  private derivedWaiting: DerivedRows[] = [];
  private derivedWaitingOrders = 0;
  private readonly maxDerivedWaiting: number;
  private readonly derivedIntervalMs: number;
  /** When the last derived insert started, and the timer that starts the next one once the interval is over. */
  private lastDerivedStart = Number.NEGATIVE_INFINITY;
  private derivedTimer: NodeJS.Timeout | null = null;
  /** Derived statements waiting for an orders insert to end (see nextGap). */
  private gapWaiters: (() => void)[] = [];
  /** Arrivals committed since the last fill of the fingerprint side table, and when that fill started. */
  private fpsOwedFrom = Number.POSITIVE_INFINITY;
  private fpsOwedThrough = Number.NEGATIVE_INFINITY;
  private lastFpsFill = performance.now();
  private fpsTimer: NodeJS.Timeout | null = null;
  private readonly fpsFillMs: number;
  /** True while an orders insert's slot waits for the derived insert (past the bound): its statements wait for nothing. */
  private derivedUrgent = false;
  /** Arrivals are stamped after every sealed group's, so each insert covers its own arrival range (markers rely on it). */
  private arrivalFloorMs = Number.NEGATIVE_INFINITY;
  private idle: (() => void)[] = [];
  private readonly maxBuffered: number;
  private readonly maxGroup: number;
  private readonly flushMs: number;
  private readonly probeMs: number;
  private readonly now: () => number;
  private readonly currencyIndex: Map<string, number>;
  private readonly m;
  /**
   * Row buffers of inserts that succeeded, for the next groups: a fresh group's buffer would otherwise grow by
   * doubling to a group's size, copying its rows each time (about 5% of ingest CPU at full rate).
   */
  private spareBuffers: Buffer[] = [];
  private lastGroupBytes = 0;

  constructor(private readonly opts: GroupCommitOptions) {
    this.maxBuffered = opts.maxBufferedOrders ?? 400_000;
    this.maxGroup = opts.maxGroupOrders ?? 100_000;
    this.flushMs = opts.flushIntervalMs ?? 100;
    this.maxInserts = opts.maxConcurrentInserts ?? 1;
    this.probeMs = opts.probeIntervalMs ?? 500;
    this.maxDerivedWaiting = opts.maxDerivedWaitingOrders ?? DEFAULT_MAX_DERIVED_WAITING_ORDERS;
    this.derivedIntervalMs = opts.derivedIntervalMs ?? DEFAULT_DERIVED_INTERVAL_MS;
    this.fpsFillMs = opts.fingerprintFillMs ?? DEFAULT_FINGERPRINT_FILL_MS;
    this.now = opts.now ?? Date.now;
    this.currencyIndex = new Map(opts.currencies.map((c, i) => [c, i]));
    this.current = this.newGroup();
    const r = opts.metrics;
    this.m = r && {
      orders: r.counter('gala_ingest_orders_total', 'Orders by outcome: accepted, duplicate, rejected', ['outcome']),
      batches: r.counter('gala_ingest_batches_total', 'Batches by answer: ack, unavailable, error', ['answer']),
      commitSeconds: r.histogram('gala_ingest_commit_seconds', 'Time from a batch arriving to its orders being durable', [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
      ]),
      inserts: r.counter('gala_ingest_inserts_total', 'ClickHouse inserts by result: ok, failed', ['result']),
      insertSeconds: r.histogram('gala_ingest_insert_seconds', 'Duration of one ClickHouse insert', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
      insertRows: r.histogram('gala_ingest_insert_rows', 'Orders per ClickHouse insert', [100, 1000, 5000, 10000, 25000, 50000, 100000, 250000]),
      derivedSeconds: r.histogram('gala_ingest_derived_insert_seconds', 'Duration of one derived insert (the rollups of one or more groups, and a fill of the fingerprint side table when one is due)', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
      derivedGroups: r.histogram('gala_ingest_derived_insert_groups', 'Committed groups whose derived rows one derived insert carries', [1, 2, 3, 5, 8, 13, 21]),
    };
    if (r) {
      r.gauge('gala_ingest_buffer_orders', 'Orders accepted and waiting for their insert', () => this.bufferedOrders);
      r.gauge('gala_ingest_buffer_fill_ratio', 'Buffered orders over the buffer limit', () => this.bufferedOrders / this.maxBuffered);
      r.gauge('gala_storage_up', '1 when ClickHouse accepts inserts', () => (this.state === 'up' ? 1 : 0));
      r.gauge('gala_ingest_derived_waiting_orders', 'Orders acked whose derived rows wait for the running derived insert', () => this.derivedWaitingOrders);
      r.gauge('gala_dedup_entries', 'Order fingerprints held by the de-duplication window', () => opts.dedup.size);
      r.gauge('gala_dedup_bytes', 'Memory held by the de-duplication window', () => opts.dedup.bytes);
      r.gauge('gala_dedup_window_seconds', 'How far back the de-duplication window reaches now', () => opts.dedup.coverageMs(this.now()) / 1000);
      r.counterReading('gala_dedup_evicted_early_total', 'Fingerprints dropped before their time by the memory ceiling', () => opts.dedup.evictedEarly);
    }
  }

  /** Validates, de-duplicates and buffers a batch; resolves with its ack once durable, or "unavailable". */
  submit(batch: RawBatch, receivedAt = this.now()): Promise<BatchOutcome> {
    const refused = this.admit(batch.orders.length);
    if (refused !== null) return Promise.resolve(refused);
    const receivedMs = Math.max(receivedAt, this.arrivalFloorMs);
    const ack: Ack = { batch: batch.batch, accepted: 0, duplicates: 0, rejected: [] };
    const g = this.current;
    for (let i = 0; i < batch.orders.length; i++) this.acceptRaw(batch.orders[i], i, ack, g, receivedMs);
    return this.finish(g, ack, receivedMs);
  }

  /**
   * The same for a frame the scanner read: orders it proved valid go straight from the frame's bytes to the
   * row writer; the others are parsed and validated one by one the general way. `bytes` is not kept.
   */
  submitScanned(batch: string, s: ScannedOrders, bytes: Uint8Array, receivedAt = this.now()): Promise<BatchOutcome> {
    const refused = this.admit(s.count);
    if (refused !== null) return Promise.resolve(refused);
    const receivedMs = Math.max(receivedAt, this.arrivalFloorMs);
    const ack: Ack = { batch, accepted: 0, duplicates: 0, rejected: [] };
    const g = this.current;
    const { dedup, currencies } = this.opts;
    for (let k = 0; k < s.count; k++) {
      if (s.fast[k] !== 1) {
        const text = Buffer.from(bytes.buffer, bytes.byteOffset + s.start[k]!, s.end[k]! - s.start[k]!).toString('latin1');
        let raw: unknown;
        try {
          raw = JSON.parse(text);
        } catch {
          // The scanner checked the whole frame's grammar, so this cannot happen; if it ever does, the order is
          // refused, never the process.
          ack.rejected.push({ index: k, id: null, error: 'order: not valid JSON' });
          continue;
        }
        this.acceptRaw(raw, k, ack, g, receivedMs);
        continue;
      }
      fingerprintBytesInto(bytes, s.idStart[k]!, s.idEnd[k]!, fp);
      const hi = fp[0]!;
      const lo = fp[1]!;
      if (!dedup.addIfAbsent(hi, lo, receivedMs)) {
        ack.duplicates++;
        continue;
      }
      const cur = s.currency[k]!;
      const ch = s.channel[k]!;
      g.writer.addScanned(bytes, s.idStart[k]!, s.idEnd[k]!, hi, lo, s.ts[k]!, receivedMs, s.hundredths[k]!, currencies[cur]!, CHANNELS[ch]!, s.text, k * 8);
      g.cols.push(s.ts[k]!, s.hundredths[k]!, cur, ch, hi, lo);
      ack.accepted++;
    }
    return this.finish(g, ack, receivedMs);
  }

  /** "unavailable" when storage is down or the buffer cannot take `orders` more; null to go ahead. */
  private admit(orders: number): BatchOutcome | null {
    if (this.state !== 'up') return this.unavailable(this.state === 'down' ? 1000 : 2000);
    if (this.bufferedOrders + orders > this.maxBuffered) return this.unavailable(250);
    return null;
  }

  private acceptRaw(raw: unknown, index: number, ack: Ack, g: Group, receivedMs: number): void {
    const r = parseOrder(raw, this.knownCurrency);
    if (!r.ok) {
      ack.rejected.push({ index, id: r.id, error: r.error });
      return;
    }
    const o = r.order;
    fingerprintInto(o.id, fp);
    const hi = fp[0]!;
    const lo = fp[1]!;
    // In flight or committed, an id already in the window is a duplicate; a new one enters it now and
    // leaves again only if its insert fails.
    if (!this.opts.dedup.addIfAbsent(hi, lo, receivedMs)) {
      ack.duplicates++;
      return;
    }
    g.writer.add(o, receivedMs, hi, lo);
    g.cols.push(o.ts, o.hundredths, this.currencyIndex.get(o.currency)!, CHANNEL_CODE[o.channel], hi, lo);
    ack.accepted++;
  }

  private readonly knownCurrency = (code: string) => this.currencyIndex.has(code);

  private finish(g: Group, ack: Ack, receivedMs: number): Promise<BatchOutcome> {
    g.rows += ack.accepted;
    if (ack.accepted > 0) {
      g.minReceivedMs = Math.min(g.minReceivedMs, receivedMs);
      g.maxReceivedMs = Math.max(g.maxReceivedMs, receivedMs);
    }
    this.bufferedOrders += ack.accepted;
    this.m?.orders.inc(ack.accepted, { outcome: 'accepted' });
    this.m?.orders.inc(ack.duplicates, { outcome: 'duplicate' });
    this.m?.orders.inc(ack.rejected.length, { outcome: 'rejected' });

    // A batch of nothing but rejections has nothing to wait for. One with duplicates waits for the next commit:
    // the originals may still be in flight, and its ack must not run ahead of them.
    if (ack.accepted === 0 && ack.duplicates === 0) {
      this.m?.batches.inc(1, { answer: 'ack' });
      return Promise.resolve({ kind: 'ack', ack });
    }
    return new Promise<BatchOutcome>((resolve) => {
      const now = this.now();
      // A group's clock starts with its first batch, not when the (possibly idle) group was made.
      if (g.waiters.length === 0) g.openedAt = now;
      g.waiters.push({ ack, resolve, submittedAt: now });
      if (g.rows >= this.maxGroup) this.seal();
      else if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.onFlushTimer(), this.flushMs);
      this.pump();
    });
  }

  /** Resolves when nothing is buffered or being inserted, nor owed to the side table (its fill is due within 5 s). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops taking batches, commits and answers everything buffered, then resolves. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'up') this.state = 'closing';
    if (this.current.waiters.length > 0) this.seal();
    this.pump();
    // Derived rows waiting for their interval go in now.
    this.startDerived();
    await this.whenIdle();
    this.clearTimers();
    this.state = 'closed';
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.derivedRunning === null && this.derivedWaiting.length === 0 && this.started.length === 0 && this.sealed.length === 0 && this.current.waiters.length === 0 && !this.fillAhead();
  }

  /** A fill of the side table is owed and will run (its timer, or a stop): not while storage is down (the repair fills). */
  private fillAhead(): boolean {
    return this.owesFill && this.derivedBehind.length === 0 && this.state !== 'down' && this.state !== 'closed';
  }

  /** Arrivals committed whose side-table rows no fill has put in yet. */
  private get owesFill(): boolean {
    return this.fpsOwedFrom !== Number.POSITIVE_INFINITY;
  }

  private clearOwed(): void {
    this.fpsOwedFrom = Number.POSITIVE_INFINITY;
    this.fpsOwedThrough = Number.NEGATIVE_INFINITY;
  }

  private unavailable(retryAfterMs: number): BatchOutcome {
    this.m?.batches.inc(1, { answer: 'unavailable' });
    return { kind: 'unavailable', retryAfterMs };
  }

  private newGroup(): Group {
    // In the format the store's engine reads fastest (RowBinary on both engines, TabSeparated where chDB has no file route).
    const writer = createRowWriter(this.opts.store.orderFormat ?? 'TabSeparated', this.spareBuffers.pop() ?? Math.max(256 * 1024, this.lastGroupBytes + (this.lastGroupBytes >> 3)));
    return { result: null, held: [], writer, rows: 0, cols: new OrderColumns(this.opts.currencies), waiters: [], openedAt: this.now(), minReceivedMs: Number.POSITIVE_INFINITY, maxReceivedMs: Number.NEGATIVE_INFINITY };
  }

  private onFlushTimer(): void {
    this.flushTimer = null;
    if (this.current.waiters.length > 0 && this.inFlight < this.maxInserts) this.seal();
    else if (this.current.waiters.length > 0) this.flushTimer = setTimeout(() => this.onFlushTimer(), this.flushMs);
    this.pump();
  }

  private seal(): void {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.current.rows > 0) this.arrivalFloorMs = Math.max(this.arrivalFloorMs, this.current.maxReceivedMs + 1);
    this.sealed.push(this.current);
    this.current = this.newGroup();
  }

  /**
   * True while derived rows of stored orders may be missing (a failed derived insert, or a failed orders insert not
   * yet settled): a clean stop must not be recorded then, so that the next start repairs them.
   */
  get derivedPending(): boolean {
    return this.derivedBehind.length > 0 || this.uncertain.length > 0 || this.derivedWaiting.length > 0 || this.owesFill;
  }

  /** Starts inserts while fewer than maxInserts run. Groups start in order; their answers may finish out of it. */
  private pump(): void {
    if (this.sealed.length === 0 && this.state === 'closing' && this.current.waiters.length > 0) this.seal();
    // The open group kept filling while inserts ran: take it once its first batch has waited long enough.
    if (this.sealed.length === 0 && this.inFlight < this.maxInserts && this.current.waiters.length > 0 && this.now() - this.current.openedAt >= this.flushMs) this.seal();
    while (this.inFlight < this.maxInserts) {
      const g = this.sealed.shift();
      if (g === undefined) break;
      this.inFlight++;
      this.started.push(g);
      void this.insert(g);
    }
    if (this.isIdle()) for (const f of this.idle.splice(0)) f();
  }

  private async insert(g: Group): Promise<void> {
    let ok = true;
    let error: unknown;
    if (g.rows > 0) {
      const started = performance.now();
      try {
        await this.opts.store.insertOrders({ count: g.rows, data: g.writer.bytes(), format: g.writer.format });
        this.opts.afterOrdersInsert?.();
        this.m?.insertSeconds.observe((performance.now() - started) / 1000);
        // Only after success: an engine that gave up on an insert may still be reading its bytes.
        this.lastGroupBytes = g.writer.byteLength;
        if (this.spareBuffers.length < 2) this.spareBuffers.push(g.writer.release());
      } catch (e) {
        ok = false;
        error = e;
      }
    }
    if (ok) this.committed(g);
    else this.failed(g, error);
    this.releaseHeld();
    // The ack is out; the group's derived rows go in between the next groups' orders inserts. They are not what an
    // ack promises (the orders are), and waiting for them would add their insert to every ack. If a derived insert
    // is running, they wait for it and go in with every other group's that came meanwhile, in one insert per
    // table; only past maxDerivedWaitingOrders does this slot wait for it before the next orders insert starts.
    if (ok && g.rows > 0) {
      const rows = g.writer.derived();
      if (rows !== null) {
        this.derivedWaiting.push(rows);
        this.derivedWaitingOrders += g.rows;
        this.startDerived();
        // Past the bound, this slot waits for the running derived insert; its end starts the one taking these. Its
        // statements then stop waiting for a gap: this slot is what they would be waiting for.
        while (this.derivedRunning !== null && this.derivedWaitingOrders > this.maxDerivedWaiting) {
          this.derivedUrgent = true;
          this.openGap();
          await this.derivedRunning;
        }
        this.derivedUrgent = false;
      }
    }
    this.inFlight--;
    // An orders insert has ended: a derived statement waiting for this gap starts now, before the next group is due.
    this.openGap();
    this.pump();
  }

  private openGap(): void {
    for (const f of this.gapWaiters.splice(0)) f();
  }

  /**
   * Resolves when a derived statement may start: at once when no orders insert runs, otherwise when one ends. At
   * 100,000 orders/s a group's insert takes 20-30 ms of its 100 ms; a statement started as it ends runs in the
   * time before the next group is due, not on the cores the next orders insert (which acks wait for) needs.
   */
  private nextGap(): Promise<void> | null {
    if (this.inFlight === 0 || this.derivedUrgent || this.state !== 'up') return null;
    return new Promise((resolve) => this.gapWaiters.push(resolve));
  }

  /**
   * Starts a derived insert of every group waiting, unless one is running (its end starts the next) or the last one
   * started less than derivedIntervalMs ago (a timer starts it then). A stop, or waiting rows past their bound,
   * start it at once.
   */
  private startDerived(): void {
    if (this.derivedRunning !== null) return;
    if (this.derivedWaiting.length === 0) return this.startFill();
    const wait = derivedStartWaitMs(this.lastDerivedStart, this.derivedIntervalMs, performance.now(), this.derivedWaitingOrders, this.maxDerivedWaiting);
    if (wait > 0 && this.state === 'up') {
      this.derivedTimer ??= setTimeout(() => {
        this.derivedTimer = null;
        this.startDerived();
      }, Math.ceil(wait));
      return;
    }
    if (this.derivedTimer !== null) {
      clearTimeout(this.derivedTimer);
      this.derivedTimer = null;
    }
    this.lastDerivedStart = performance.now();
    const list = this.derivedWaiting;
    this.derivedWaiting = [];
    this.derivedWaitingOrders = 0;
    const started = performance.now();
    this.derivedRunning = this.insertDerived(mergeDerivedRows(list), list.length).finally(() => {
      this.m?.derivedSeconds.observe((performance.now() - started) / 1000);
      this.m?.derivedGroups.observe(list.length);
      this.derivedRunning = null;
      this.startDerived();
      this.pump();
    });
  }

  /**
   * With no derived insert to run, fills the side table for the arrivals owed once the fill interval is over (a
   * timer starts it then): ingest that stops leaves none owed for long. Not while a repair is owed (it fills too).
   */
  private startFill(): void {
    if (!this.fillAhead()) return;
    const wait = this.state === 'up' ? this.lastFpsFill + this.fpsFillMs - performance.now() : 0;
    if (wait > 0) {
      this.fpsTimer ??= setTimeout(() => {
        this.fpsTimer = null;
        this.startDerived();
      }, Math.ceil(wait));
      return;
    }
    this.derivedRunning = this.fillOwed().finally(() => {
      this.derivedRunning = null;
      this.startDerived();
      this.pump();
    });
  }

  /** One fill of the side table for every arrival owed, in a gap between orders inserts; a failure is a derived one. */
  private async fillOwed(): Promise<void> {
    const from = this.fpsOwedFrom;
    const through = this.fpsOwedThrough;
    try {
      const gap = this.nextGap();
      if (gap !== null) await gap;
      this.lastFpsFill = performance.now();
      await this.opts.store.fillFingerprints(from, through === Number.POSITIVE_INFINITY ? undefined : through);
      // Only derived work (serial, and this is it) adds to what is owed.
      this.clearOwed();
    } catch (e) {
      this.derivedFailed(e, from, through, 0);
    }
  }

  /**
   * Fills the side table, in turn with the derived inserts and at once, for every arrival since sinceMs that no
   * marker covers: a shard taken over, whose previous holder may have left fills owed (its last seconds' orders,
   * the very ones a late-duplicate look after a takeover is for).
   */
  fillSince(sinceMs: number): void {
    this.owe(sinceMs, Number.POSITIVE_INFINITY);
    this.lastFpsFill = Number.NEGATIVE_INFINITY;
    this.startDerived();
  }

  private owe(fromMs: number, throughMs: number): void {
    this.fpsOwedFrom = Math.min(this.fpsOwedFrom, fromMs);
    this.fpsOwedThrough = Math.max(this.fpsOwedThrough, throughMs);
  }

  private fillDue(): boolean {
    return this.owesFill && (this.state !== 'up' || performance.now() - this.lastFpsFill >= this.fpsFillMs);
  }

  /**
   * Some of the tables may hold the rows and some not; only their markers can tell, once the failed insert is
   * settled. Until the repair has run (it fills the side table too, from the earliest arrival owed), storage is
   * down: nothing is inserted (the repair needs that) and the boards, which skip their reads while storage is down,
   * are not read short.
   */
  private derivedFailed(e: unknown, fromMs: number, throughMs: number, groups: number): void {
    this.opts.log?.('storage.derived_insert_failed', { error: String(e), groups, fromMs, throughMs });
    this.derivedBehind.push({ sinceMs: Math.min(fromMs, this.fpsOwedFrom), error: e });
    this.lastFailureAt = this.now();
    this.refuseBuffered();
    if (this.state === 'up') this.state = 'down';
    this.scheduleProbe();
  }

  private async insertDerived(rows: DerivedRows, groups: number): Promise<void> {
    if (this.derivedBehind.length > 0) {
      // A derived insert failed and its repair is pending: it will put these in too (it covers every arrival
      // since the earliest it is owed), and inserting them now could race it.
      this.derivedBehind.push({ sinceMs: rows.receivedFromMs, error: undefined });
      return;
    }
    try {
      // One table's statement at a time, each in a gap between orders inserts (nextGap). bench:engine-paced's gap
      // path against its new path (every table in one go, whenever the interval is over), in fresh processes at
      // 100,000 rows/s: arrival to durable p99 171 against 195 ms (medians of six 30 s runs each).
      for (const { table } of DERIVED_TABLES) {
        const gap = this.nextGap();
        if (gap !== null) await gap;
        await this.opts.store.insertDerived(rows, [table]);
      }
    } catch (e) {
      this.derivedFailed(e, rows.receivedFromMs, rows.receivedThroughMs, groups);
      return;
    }
    this.owe(rows.receivedFromMs, rows.receivedThroughMs);
    if (this.fillDue()) await this.fillOwed();
  }

  /**
   * Answers the held batches (those that reported duplicates) of every finished group at the head of the start
   * order: all earlier inserts are then done. If any insert failed since the batch arrived, the originals it
   * was told about may not be stored: it is answered "unavailable" and sent again.
   */
  /** Ingest lag of the latest acknowledged batch's group: its first batch's arrival to durable (ms). */
  lastCommitLagMs: number | null = null;

  private releaseHeld(): void {
    while (this.started.length > 0 && this.started[0]!.result !== null) {
      const h = this.started.shift()!;
      for (const w of h.held) w.resolve(h.result === 'failed' || this.lastFailureAt >= w.submittedAt ? this.unavailable(1000) : this.ackNow(w, h));
    }
  }

  private ackNow(w: Waiter, g: Group): BatchOutcome {
    this.m?.batches.inc(1, { answer: 'ack' });
    this.lastCommitLagMs = this.now() - g.openedAt;
    this.m?.commitSeconds.observe(this.lastCommitLagMs / 1000);
    return { kind: 'ack', ack: w.ack };
  }

  private committed(g: Group): void {
    g.result = 'ok';
    this.bufferedOrders -= g.rows;
    if (g.rows > 0) {
      this.m?.inserts.inc(1, { result: 'ok' });
      this.m?.insertRows.observe(g.rows);
      this.opts.sink?.committed(g.cols, g.maxReceivedMs);
    }
    // A batch of only new orders is durable now; one that reported duplicates waits for the earlier inserts.
    for (const w of g.waiters) {
      if (w.ack.duplicates === 0) w.resolve(this.ackNow(w, g));
      else g.held.push(w);
    }
  }

  private failed(g: Group, error: unknown): void {
    g.result = 'failed';
    g.error = error;
    this.lastFailureAt = this.now();
    this.m?.inserts.inc(1, { result: 'failed' });
    this.opts.log?.('storage.insert_failed', { error: String(error), rows: g.rows });
    // Storage refused one insert: answer everything buffered "unavailable" and stop taking batches until it is
    // back. An insert still running elsewhere finishes on its own and answers its own batches.
    this.refuse(g);
    this.refuseBuffered();
    // Only the group that was being inserted can have reached storage.
    if (g.rows > 0) this.uncertain.push(g);
    if (this.state === 'up') this.state = 'down';
    this.scheduleProbe();
  }

  /** Answers every sealed and open group "unavailable" and forgets their orders (none was inserted). */
  private refuseBuffered(): void {
    const groups = this.sealed.splice(0);
    if (this.current.waiters.length > 0) {
      groups.push(this.current);
      this.current = this.newGroup();
    }
    for (const x of groups) this.refuse(x);
  }

  private refuse(x: Group): void {
    for (let k = 0; k < x.cols.count; k++) this.opts.dedup.remove(x.cols.hi[k]!, x.cols.lo[k]!);
    this.bufferedOrders -= x.rows;
    for (const w of x.waiters) w.resolve(this.unavailable(1000));
  }

  private scheduleProbe(): void {
    if (this.probeTimer !== null || this.state === 'closed') return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.probe();
    }, this.probeMs);
  }

  private async probe(): Promise<void> {
    // Settling and repairing compare the orders table with the derived tables: not while an insert of either runs,
    // nor while derived rows of stored orders wait for theirs.
    if (this.inFlight > 0 || this.derivedRunning !== null || this.derivedWaiting.length > 0) return this.scheduleProbe();
    if (!(await this.opts.store.ping())) return this.scheduleProbe();
    try {
      await this.settleUncertain();
      await this.repairDerivedBehind();
    } catch {
      return this.scheduleProbe();
    }
    if (this.state === 'down') {
      this.state = 'up';
      this.opts.log?.('storage.recovered', {});
    }
    this.pump();
  }

  /**
   * An insert that failed may still have been committed (a timeout after the server wrote it). Ask storage
   * which of those orders it holds; count them and remember them as seen, so a resend is a duplicate.
   */
  private async settleUncertain(): Promise<void> {
    while (this.uncertain.length > 0) {
      const g = this.uncertain[0]!;
      // First make sure the failed insert cannot still be running on the server; only then is its result final.
      await this.opts.store.settleFailedInsert(g.error);
      const { cols } = g;
      const pairs: [number, number][] = [];
      for (let k = 0; k < cols.count; k++) pairs.push([cols.hi[k]!, cols.lo[k]!]);
      // Ask the orders table itself, within the group's arrival range: authoritative, and on its index.
      const stored = await this.opts.store.storedFingerprints(pairs, [g.minReceivedMs, g.maxReceivedMs]);
      if (stored.size > 0) {
        // The insert landed; its views may not have (a server killed between the parts). Ingest is paused, so
        // the derived tables can be compared with the orders table and completed safely.
        const added = await this.opts.store.repairDerived(g.minReceivedMs);
        if (Object.keys(added).length > 0) this.opts.log?.('storage.derived_repaired', { added });
        const found = cols.filter((k) => stored.has(`${cols.hi[k]}:${cols.lo[k]}`));
        for (let k = 0; k < found.count; k++) this.opts.dedup.add(found.hi[k]!, found.lo[k]!, g.openedAt);
        this.opts.log?.('storage.ambiguous_insert_committed', { rows: found.count });
        this.opts.sink?.committed(found, g.maxReceivedMs);
      }
      this.uncertain.shift();
    }
  }

  /** Puts in the derived rows of groups whose derived insert failed, once that insert is settled. */
  private async repairDerivedBehind(): Promise<void> {
    if (this.derivedBehind.length === 0) return;
    for (const d of this.derivedBehind) await this.opts.store.settleFailedInsert(d.error);
    const since = Math.min(...this.derivedBehind.map((d) => d.sinceMs));
    const added = await this.opts.store.repairDerived(since);
    this.opts.log?.('storage.derived_repaired', { added });
    this.derivedBehind = [];
    // The repair filled the side table too, for every arrival since the earliest owed.
    this.clearOwed();
  }

  private clearTimers(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    if (this.derivedTimer !== null) clearTimeout(this.derivedTimer);
    if (this.fpsTimer !== null) clearTimeout(this.fpsTimer);
    this.fpsTimer = null;
    this.flushTimer = null;
    this.probeTimer = null;
    this.derivedTimer = null;
  }
}
