// Reconciliation: every few seconds the live totals are checked against SELECT over the orders table, and
// ids stored twice (resends older than the de-duplication window) are looked for and reported.
import { convertHundredths, formatHundredths } from '../domain/money.ts';
import type { ShowConfig } from '../domain/show.ts';
import type { Registry } from '../platform/metrics.ts';
import type { DuplicateIdRow, OrderStore } from '../storage/storage.ts';
import type { Log } from '../platform/log.ts';
import type { TotalsReader } from './live-totals.ts';

export interface ReconcileReport {
  /** When the last comparison with storage completed (ISO), or null before the first. */
  checkedAt: string | null;
  /** Live minus stored, per currency, in hundredths; empty when they agree. */
  drift: Record<string, string>;
  /** Times the live totals were rebuilt from storage after a drift was seen twice. */
  repairs: number;
  lateDuplicates: {
    /** Copies beyond the first, over the night. */
    copies: number;
    /** Their value in the display currency. */
    gmv: string;
    ids: string[];
  };
}

export interface ReconcilerOptions {
  store: OrderStore;
  /** The live figures compared: what storage's `totals()` reads should hold. */
  totals: Pick<TotalsReader, 'appliedThroughMs' | 'revision' | 'currencySums'>;
  show: ShowConfig;
  intervalMs?: number;
  /** How often a look for ids stored twice starts, at most (default 5 min). */
  duplicateCheckMs?: number;
  /**
   * Share of the time the look may keep the storage busy (default 0.05). A look reads the whole fingerprint
   * side table, in slices: each check reads slices for up to this share of the interval (at least one), and a
   * check that took longer puts the next ones off until its time is repaid, so on a long, busy night a look
   * stretches out instead of taking the cores from the inserts.
   */
  duplicateShare?: number;
  /** Slices a look is cut into (default 256). */
  duplicateSlices?: number;
  /**
   * How often the totals are summed over the whole orders table (default 5 min). In between, each check adds
   * only the orders received since the last agreeing one to that one's stored sums: a read of the newest
   * parts, whose cost does not grow through the night. The full pass catches a row stored since below that
   * point (an insert thought lost that landed late).
   */
  fullCheckMs?: number;
  metrics?: Registry;
  log?: Log;
  /** Rebuilds the live totals from storage; called when the same drift is seen twice in a row. */
  onDrift?: () => Promise<void>;
}

const MAX_IDS_REPORTED = 100;

export function createReconciler(opts: ReconcilerOptions) {
  const { store, totals, show } = opts;
  const interval = opts.intervalMs ?? 10_000;
  const duplicateEvery = opts.duplicateCheckMs ?? 300_000;
  const fullEvery = opts.fullCheckMs ?? 300_000;
  let lastDuplicateCheck = Number.NEGATIVE_INFINITY;
  let lastFullCheck = Number.NEGATIVE_INFINITY;
  const duplicateSlices = opts.duplicateSlices ?? 256;
  const duplicateShare = opts.duplicateShare ?? 0.05;
  /** The duplicate look under way: the instant it looks back to, its next slice, and when that may run. */
  let sweep: { since: number; next: number; notBefore: number } | null = null;
  /** Stored sums per currency of every order received at or before `through`, as of the last agreeing check. */
  let ledger: { through: number; sums: Map<string, bigint> } | null = null;
  const late = new Map<string, DuplicateIdRow>();
  // After a restart, look back one de-duplication window, not over the whole night.
  let checkedSinceMs = Date.now() - 600_000;
  let lateHundredths = 0n;
  let lateCopies = 0;
  let drift = new Map<string, bigint>();
  let checkedAt: number | null = null;
  let repairs = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  opts.metrics?.gauge('gala_reconcile_drift_currencies', 'Currencies whose live total differs from SELECT over the orders table', () => drift.size);
  opts.metrics?.counterReading('gala_reconcile_repairs_total', 'Times the live totals were rebuilt from storage after a drift', () => repairs);
  opts.metrics?.gauge('gala_late_duplicate_copies', 'Order copies stored beyond the first (resends after the de-dup window)', () => lateCopies);
  opts.metrics?.gauge('gala_reconcile_age_seconds', 'Seconds since live totals and storage were last compared', () =>
    checkedAt === null ? -1 : (Date.now() - checkedAt) / 1000,
  );

  async function once(all: boolean): Promise<void> {
    // The live totals hold exactly the stored orders received up to their watermark (groups commit in arrival
    // order), so both sides describe the same orders even while inserts keep landing.
    const through = totals.appliedThroughMs;
    const revision = totals.revision;
    const live = new Map(totals.currencySums());
    const bounded = Number.isFinite(through);
    const base = bounded && ledger !== null && through >= ledger.through && Date.now() - lastFullCheck < fullEvery ? ledger : null;
    if (base === null) lastFullCheck = Date.now();
    // One thread: the check runs beside ingest all night, and on two cores a query on both delays the inserts.
    const rows = await store.totals(bounded ? through : undefined, base?.through, { maxThreads: 1 });
    if (bounded || totals.revision === revision) {
      const stored = new Map<string, bigint>(base?.sums);
      for (const r of rows) stored.set(r.currency, (stored.get(r.currency) ?? 0n) + r.hundredths);
      const next = new Map<string, bigint>();
      for (const c of new Set([...live.keys(), ...stored.keys()])) {
        const d = (live.get(c) ?? 0n) - (stored.get(c) ?? 0n);
        if (d !== 0n) next.set(c, d);
      }
      const asText = (m: Map<string, bigint>) => JSON.stringify([...m].map(([c, d]) => [c, d.toString()]).sort());
      const again = next.size > 0 && asText(next) === asText(drift);
      if (next.size > 0 && !again) opts.log?.('reconcile.drift', { drift: Object.fromEntries([...next].map(([c, d]) => [c, d.toString()])) });
      drift = next;
      checkedAt = Date.now();
      // Only an agreeing check is built on; after a drift the next one sums the whole table again.
      ledger = bounded && next.size === 0 ? { through, sums: stored } : null;
      // The same drift twice in a row is no race: the stored figures are the truth, so the live ones are rebuilt
      // from them (viewers never keep a wrong number) and the control room is told through health and metrics.
      if (again && opts.onDrift !== undefined) {
        repairs++;
        opts.log?.('reconcile.repair', { drift: Object.fromEntries([...next].map(([c, d]) => [c, d.toString()])) });
        await opts.onDrift();
      }
    }
    // Late duplicates: ids with a copy received since the last look; the 30 s overlap covers batches committed
    // while the last look ran, and the side table's lag behind the orders table (group commit has the engine fill
    // it every 5 s, ingest/group-commit.ts DEFAULT_FINGERPRINT_FILL_MS, after the rollups' 0.5 s interval). A look
    // reads the whole fingerprint side table, so its cost grows through the night: it is cut into slices by
    // fingerprint, each a short read on one thread, paced to a share of the time. (At 100,000 orders/s, slices every 5 s of a 45M-row table took 1.3 s each and doubled the ack tail.)
    if (sweep === null) {
      if (Date.now() - lastDuplicateCheck < duplicateEvery) return;
      lastDuplicateCheck = Date.now();
      sweep = { since: checkedSinceMs, next: 0, notBefore: 0 };
      checkedSinceMs = Date.now() - 30_000;
    }
    // A check may spend its share of the interval on slices (always one); time spent beyond that puts the next
    // checks' slices off until it is repaid. A full run (tests, the end of the show) does the whole look now.
    const start = Date.now();
    if (!all && start < sweep.notBefore) return;
    const budget = interval * duplicateShare;
    do {
      record(await store.duplicateIds(1000, sweep.since, { index: sweep.next, count: duplicateSlices }));
      sweep.next++;
    } while (sweep.next < duplicateSlices && (all || Date.now() - start < budget));
    const spent = Date.now() - start;
    sweep.notBefore = all || spent <= budget ? 0 : start + spent / duplicateShare;
    if (sweep.next >= duplicateSlices) sweep = null;
  }

  function record(rows: DuplicateIdRow[]): void {
    for (const d of rows) {
      const prev = late.get(d.id);
      const extra = d.copies - 1 - (prev === undefined ? 0 : prev.copies - 1);
      if (extra <= 0) continue;
      late.set(d.id, d);
      lateCopies += extra;
      const rate = show.rates.get(d.currency);
      if (rate !== undefined) lateHundredths += convertHundredths(d.hundredths * BigInt(extra), rate);
      opts.log?.('reconcile.late_duplicate', { id: d.id, copies: d.copies, firstReceived: new Date(d.firstReceivedMs).toISOString(), lastReceived: new Date(d.lastReceivedMs).toISOString() });
    }
  }

  return {
    /** Runs one reconciliation now (tests, and the periodic timer); `full` sums the whole table and looks for duplicates. */
    run(full = false): Promise<void> {
      if (full) {
        lastDuplicateCheck = Number.NEGATIVE_INFINITY;
        lastFullCheck = Number.NEGATIVE_INFINITY;
      }
      running ??= once(full).finally(() => {
        running = null;
      });
      return running;
    },
    /**
     * Looks for ids stored twice at the next check, back to `sinceMs` at least (a change of a shard's owner: a late
     * insert of the old holder's may have landed beside the new holder's commit of its resend).
     */
    lookSoon(sinceMs: number): void {
      lastDuplicateCheck = Number.NEGATIVE_INFINITY;
      checkedSinceMs = Math.min(checkedSinceMs, sinceMs);
    },
    start(): void {
      timer ??= setInterval(() => void this.run().catch((e) => opts.log?.('reconcile.error', { error: String(e) })), interval);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running?.catch(() => {});
    },
    report(): ReconcileReport {
      return {
        checkedAt: checkedAt === null ? null : new Date(checkedAt).toISOString(),
        drift: Object.fromEntries([...drift].map(([c, d]) => [c, formatHundredths(d)])),
        repairs,
        lateDuplicates: { copies: lateCopies, gmv: formatHundredths(lateHundredths), ids: [...late.keys()].slice(0, MAX_IDS_REPORTED) },
      };
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
