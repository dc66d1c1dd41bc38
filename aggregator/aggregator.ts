// The aggregator's one entry point: the commit path hands it what was committed, and it keeps the live totals, the
// milestones, the live/final status and the reconciliation with storage, with the timers that belong to them.
// Readers get read-only views; no figure changes anywhere else.
import type { OrderColumns } from '../domain/order-columns.ts';
import type { ShowConfig } from '../domain/show.ts';
import { silentLog, type Log } from '../platform/log.ts';
import type { Registry } from '../platform/metrics.ts';
import type { BeatMessage, FiguresMessage } from '../protocol/cluster-protocol.ts';
import type { FrameData, MilestoneData } from '../protocol/live-protocol.ts';
import type { OrderStore } from '../storage/storage.ts';
import { LiveTotals, SECONDS_KEPT, type OwnSlot, type StatsSnapshot, type TotalsReader } from './live-totals.ts';
import { MilestoneTracker, type MilestoneReader } from './milestones.ts';
import { createReconciler, type ReconcileReport, type Reconciler } from './reconciler.ts';

export interface AggregatorOptions {
  store: OrderStore;
  show: ShowConfig;
  /** How often the totals are compared with storage; 0 runs no timer (tests call `reconciler.run()`). */
  reconcileIntervalMs: number;
  /** The figures are a rehearsal's: the stats say so. */
  rehearsal?: boolean;
  metrics?: Registry;
  log?: Log;
  /**
   * Cluster mode: the totals add the other nodes' figures (given to `applyFigures`), and only the coordinator
   * evaluates and records milestones; the other nodes take its crossings through `adoptMilestone`. Absent: one node.
   * `replicated`: this node's own figures are those of the shard whose lease it holds (takeSlot), none at start.
   */
  cluster?: { coordinator: boolean; replicated?: boolean };
}

/** The body of GET /v1/stats and of each SSE `stats` event. */
export type StatsBody = StatsSnapshot & { gmvPerSecond: string; ordersPerSecond: number; reconciliation: ReconcileReport; rehearsal?: true };

export interface Aggregator {
  /** Orders durably committed, with the latest arrival instant among them: the ingest's CommitSink. */
  committed(orders: OrderColumns, receivedThroughMs: number): void;
  readonly totals: TotalsReader;
  readonly milestones: MilestoneReader;
  readonly reconciler: Pick<Reconciler, 'run' | 'report' | 'lookSoon'>;
  /** The show's start (epoch ms): its configured instant, else the first order held at start, else the start. */
  readonly startsAtMs: number;
  /** The stats as of now; given a per-second frame just published, `lastSecond` describes that second. */
  stats(second?: FrameData): StatsBody;
  /** Changes whenever `stats()` may have (a change of the figures, a new second, a reconciliation): the feed rebuilds its body then. */
  statsKey(): string;
  /** Calls `listener` with each milestone crossing once it is recorded; returns the unsubscribe. */
  onMilestone(listener: (m: MilestoneData) => void): () => void;
  /** Records the crossings still pending and stops the timers. */
  close(): Promise<void>;
  // ---- cluster mode ----
  /** This node's own figures (see LiveTotals.ownFigures) and a listener to each change of them. */
  ownFigures: LiveTotals['ownFigures'];
  onOwnChange(listener: (seconds: readonly number[] | null) => void): void;
  /** Another node's figures: taken when newer than those held (on the coordinator, milestones checked on them). */
  applyFigures(m: FiguresMessage): boolean;
  /** Another node's figures still hold (a beat). */
  heard(b: BeatMessage): void;
  /** Replication: the slot (`shard:<s>`) and epoch this node's own figures are published under; null: no lease held. */
  ownSlot(): OwnSlot | null;
  /**
   * Replication: this node took `shard`'s lease at `epoch`. Its own figures are reloaded from its own replica (read
   * after its dedup window was rebuilt, before it acks anything) and become the slot `shard:<s>`'s, replacing the
   * previous holder's; on the coordinator the milestones are checked on what they add.
   */
  takeSlot(shard: number, epoch: number): Promise<void>;
  /** Replication: this node handed its lease back or lost it; its last figures stay as an ordinary part. */
  releaseSlot(): void;
  /** A crossing the coordinator recorded; published here (onMilestone) the first time its id is seen. */
  adoptMilestone(m: MilestoneData): void;
}

/** How often the show's end is checked for the figures to turn final. */
const FINAL_CHECK_MS = 250;

/** Restores the figures from storage (nothing may be ingested yet) and starts reconciling; see Aggregator. */
export async function openAggregator(opts: AggregatorOptions): Promise<Aggregator> {
  const { store, show } = opts;
  const log = opts.log ?? silentLog;
  const started = Date.now();
  const totals = new LiveTotals(show);
  const nowS = Math.floor(started / 1000);
  // A cluster node restores its own partitions (its shard) only: the other nodes' figures come over the link. A
  // replicated node's own figures are its leased shard's, loaded when it takes the lease (takeSlot): none yet.
  const replicated = opts.cluster?.replicated === true;
  const [rows, seconds] =
    opts.cluster === undefined
      ? await Promise.all([store.totals(), store.rolledSeconds(nowS - SECONDS_KEPT, nowS + 3600)])
      : replicated
        ? [[], []]
        : await Promise.all([store.ownTotals(), store.ownRolledSeconds(nowS - SECONDS_KEPT, nowS + 3600)]);
  // Nothing is being ingested yet: every stored order was received before now.
  totals.load(rows, seconds, Date.now());
  const startsAtMs = show.startsAt ?? (totals.firstSecond() ?? Math.floor(Date.now() / 1000)) * 1000;

  const listeners = new Set<(m: MilestoneData) => void>();
  const milestones = new MilestoneTracker({
    store,
    show,
    startsAtMs: () => startsAtMs,
    onCrossed: (m) => {
      for (const l of listeners) l(m);
    },
    log,
  });
  // In a cluster only the coordinator records crossings; the others learn them over the link.
  const recordsMilestones = opts.cluster?.coordinator ?? true;
  if (recordsMilestones && opts.cluster === undefined) await milestones.load(totals.gmvHundredths(), totals.orders, () => nightSeconds(store, totals));
  else if (recordsMilestones) {
    // The coordinator's totals hold its own partitions only so far: the thresholds the cluster passed while no
    // crossing was recorded are found from the whole cluster's stored seconds (a peer down now never sends them).
    const night = await nightSeconds(store, totals);
    const display = night.reduce((t, r) => t + r.display, 0n);
    await milestones.load(display, night.reduce((n, r) => n + r.orders, 0), () => Promise.resolve(night), true);
  }

  // A cluster node reconciles its own partitions with its own shard: the other nodes reconcile theirs.
  const reconciled =
    opts.cluster === undefined
      ? { store, totals }
      : {
          // A replicated node without a lease holds no own figures, and compares them with nothing.
          store: { ...store, totals: replicated ? (through?: number, after?: number) => (totals.ownSlot() === null ? Promise.resolve([]) : store.ownTotals(through, after)) : store.ownTotals },
          totals: { get appliedThroughMs() { return totals.appliedThroughMs; }, get revision() { return totals.revision; }, currencySums: () => totals.ownCurrencySums() },
        };
  const reconciler = createReconciler({
    ...reconciled,
    show,
    intervalMs: opts.reconcileIntervalMs,
    metrics: opts.metrics,
    log,
    onDrift: async () => {
      // Rebuilt only if no commit lands meanwhile; otherwise the next check looks again. (A cluster node's own
      // figures from its own shard.)
      const rev = totals.revision;
      const through = totals.appliedThroughMs;
      const stored = await reconciled.store.totals(through);
      if (totals.revision === rev) totals.load(stored, null, through);
    },
  });
  if (opts.reconcileIntervalMs > 0) reconciler.start();
  log('restore.done', { orders: totals.orders, milestones: milestones.list().length, ms: Date.now() - started });

  // After the show's end, the figures turn final once a reconciliation completed after it agrees with storage.
  const finalTimer = setInterval(() => {
    const end = show.endsAt;
    if (end === null || totals.status === 'final' || Date.now() < end) return;
    const rep = reconciler.report();
    if (rep.checkedAt !== null && Date.parse(rep.checkedAt) > end && Object.keys(rep.drift).length === 0) {
      totals.markFinal();
      log('show.final', { gmv: totals.snapshot().gmv, orders: totals.orders });
    }
  }, FINAL_CHECK_MS);
  finalTimer.unref();

  return {
    committed(orders, receivedThroughMs) {
      const before = new Map(totals.currencySums());
      const ordersBefore = totals.orders;
      totals.apply(orders, receivedThroughMs);
      if (recordsMilestones) milestones.check(before, ordersBefore, totals.gmvHundredths(), orders);
    },
    totals,
    milestones,
    reconciler,
    startsAtMs,
    stats(second) {
      const body: StatsBody = { ...totals.snapshot(), ...totals.rate(), reconciliation: reconciler.report(), ...(opts.rehearsal === true ? { rehearsal: true as const } : {}) };
      if (second === undefined) return body;
      const { start, gmv, orders, mobileShare, mobileOrderShare } = second;
      return { ...body, lastSecond: { second: start, gmv, orders, mobileShare, mobileOrderShare } };
    },
    statsKey: () => `${totals.revision}|${Math.floor(Date.now() / 1000)}|${reconciler.report().checkedAt}|${totals.status}`,
    onMilestone(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      clearInterval(finalTimer);
      await milestones.close();
      await reconciler.stop();
    },
    ownFigures: (seconds) => totals.ownFigures(seconds),
    onOwnChange: (listener) => totals.onOwnChange(listener),
    applyFigures(m) {
      const before = recordsMilestones ? new Map(totals.currencySums()) : null;
      const ordersBefore = totals.orders;
      const added = totals.setPart(m);
      if (added === null) return false;
      if (before !== null) milestones.checkSeconds(before, ordersBefore, totals.gmvHundredths(), added);
      return true;
    },
    heard: (b) => totals.partHeard(b.slot ?? b.node, b.run, b.seq, b.asOf, b.epoch ?? 0),
    ownSlot: () => totals.ownSlot(),
    async takeSlot(shard, epoch) {
      const now = Math.floor(Date.now() / 1000);
      // Read after the rebuild of the window and before any ack: every order stored on the replica, none arriving.
      const through = Date.now();
      const [rows, seconds] = await Promise.all([store.ownTotals(), store.ownRolledSeconds(now - SECONDS_KEPT, now + 3600)]);
      const before = recordsMilestones ? new Map(totals.currencySums()) : null;
      const ordersBefore = totals.orders;
      const added = totals.takeSlot(`shard:${shard}`, epoch, rows, seconds, through);
      if (before !== null) milestones.checkSeconds(before, ordersBefore, totals.gmvHundredths(), added);
      log('cluster.slot_taken', { shard, epoch, orders: rows.reduce((n, r) => n + r.orders, 0) });
    },
    releaseSlot: () => totals.releaseSlot(),
    adoptMilestone(m) {
      if (!recordsMilestones) milestones.adopt(m);
    },
  };
}

/** Display GMV and orders per paid-at second over the whole night, from the rollup table (milestone recovery). */
async function nightSeconds(store: OrderStore, totals: TotalsReader): Promise<{ second: number; display: bigint; orders: number }[]> {
  const rows = await store.rolledSeconds(0, Math.floor(Date.now() / 1000) + 3600);
  const bySecond = new Map<number, { second: number; sums: Map<string, bigint>; orders: number }>();
  for (const r of rows) {
    const e = bySecond.get(r.second) ?? { second: r.second, sums: new Map<string, bigint>(), orders: 0 };
    e.sums.set(r.currency, (e.sums.get(r.currency) ?? 0n) + r.hundredths);
    e.orders += r.orders;
    bySecond.set(r.second, e);
  }
  return [...bySecond.values()].sort((a, b) => a.second - b.second).map((e) => ({ second: e.second, display: totals.displayOf(e.sums), orders: e.orders }));
}
