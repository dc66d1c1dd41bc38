// Reconciliation: every few seconds the live totals are checked against SELECT over the orders table, and
// ids stored twice (resends older than the de-duplication window) are looked for and reported.
import { convertHundredths, formatHundredths } from '../domain/money.ts';
import type { ShowConfig } from '../domain/show.ts';
import type { Registry } from '../ingest/metrics.ts';
import type { DuplicateIdRow, OrderStore } from '../storage/storage.ts';
import type { Log } from '../system/log.ts';
import type { LiveTotals } from './live-totals.ts';

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
  totals: LiveTotals;
  show: ShowConfig;
  intervalMs?: number;
  /** How often ids stored twice are looked for; its cost grows with the orders received meanwhile. */
  duplicateCheckMs?: number;
  metrics?: Registry;
  log?: Log;
  /** Rebuilds the live totals from storage; called when the same drift is seen twice in a row. */
  onDrift?: () => Promise<void>;
}

const MAX_IDS_REPORTED = 100;

export function createReconciler(opts: ReconcilerOptions) {
  const { store, totals, show } = opts;
  const interval = opts.intervalMs ?? 10_000;
  const duplicateEvery = opts.duplicateCheckMs ?? 60_000;
  let lastDuplicateCheck = Number.NEGATIVE_INFINITY;
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
  opts.metrics?.gauge('gala_reconcile_repairs_total', 'Times the live totals were rebuilt from storage after a drift', () => repairs);
  opts.metrics?.gauge('gala_late_duplicate_copies', 'Order copies stored beyond the first (resends after the de-dup window)', () => lateCopies);
  opts.metrics?.gauge('gala_reconcile_age_seconds', 'Seconds since live totals and storage were last compared', () =>
    checkedAt === null ? -1 : (Date.now() - checkedAt) / 1000,
  );

  async function once(): Promise<void> {
    // The live totals hold exactly the stored orders received up to their watermark (groups commit in arrival
    // order), so both sides describe the same orders even while inserts keep landing.
    const through = totals.appliedThroughMs;
    const revision = totals.revision;
    const live = new Map(totals.currencySums());
    const bounded = Number.isFinite(through);
    const rows = await store.totals(bounded ? through : undefined);
    if (bounded || totals.revision === revision) {
      const stored = new Map<string, bigint>();
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
      // The same drift twice in a row is no race: the stored figures are the truth, so the live ones are rebuilt
      // from them (viewers never keep a wrong number) and the control room is told through health and metrics.
      if (again && opts.onDrift !== undefined) {
        repairs++;
        opts.log?.('reconcile.repair', { drift: Object.fromEntries([...next].map(([c, d]) => [c, d.toString()])) });
        await opts.onDrift();
      }
    }
    // Late duplicates: ids with a copy received since the last look. The look costs a lookup per order received
    // meanwhile, so it runs once a minute; the 5 s overlap covers batches committed while the last one ran.
    if (Date.now() - lastDuplicateCheck < duplicateEvery) return;
    lastDuplicateCheck = Date.now();
    const since = checkedSinceMs;
    checkedSinceMs = Date.now() - 5_000;
    for (const d of await store.duplicateIds(1000, since)) {
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
    /** Runs one reconciliation now (tests, and the periodic timer); `full` includes the duplicate check. */
    run(full = false): Promise<void> {
      if (full) lastDuplicateCheck = Number.NEGATIVE_INFINITY;
      running ??= once().finally(() => {
        running = null;
      });
      return running;
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
