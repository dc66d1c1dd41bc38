// Milestones: each threshold of the show config is crossed once, at the paid-at instant of the order that took the
// running total over it; the crossing is recorded in ClickHouse before it is published, so it survives restarts
// and is never fired twice.
import { convertHundredths, formatHundredths, parseHundredths, type Rate } from '../domain/money.ts';
import type { OrderColumns } from '../domain/order-columns.ts';
import type { Milestone, ShowConfig } from '../domain/show.ts';
import type { MilestoneRow, OrderStore } from '../storage/storage.ts';
import type { Log } from '../platform/log.ts';
import type { MilestoneData } from '../protocol/live-protocol.ts';

/** "2 min 58 s", "1 h 03 min 07 s", "42 s". */
export function elapsedWords(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min ${String(s).padStart(2, '0')} s`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** Reads of a second's orders tried (a second apart) before a crossing is recorded at the start of its second. */
const LOCATE_TRIES = 5;

export interface MilestoneTrackerOptions {
  store: OrderStore;
  show: ShowConfig;
  /** The show's start (epoch ms), for "¥1 billion in 2 min 58 s". */
  startsAtMs: () => number;
  /** A crossing, once durable. */
  onCrossed: (m: MilestoneData) => void;
  log?: Log;
}

/** What readers see of the milestones: the list, the next one, and a wait until every crossing found is recorded. */
export type MilestoneReader = Pick<MilestoneTracker, 'list' | 'next' | 'flush'>;

export class MilestoneTracker {
  private readonly recorded = new Map<string, MilestoneRow>();
  /** Cluster mode, not the coordinator: crossings as the coordinator published them (its show start, its words). */
  private readonly adopted = new Map<string, MilestoneData>();
  /** Crossings detected and waiting to be recorded, in order. */
  private readonly pending: MilestoneRow[] = [];
  /** Pending crossings found from per-second figures (cluster mode): the paid-at second to find the exact order in. */
  private readonly toLocate = new Map<string, { second: number; tries: number }>();
  private writing: Promise<void> | null = null;
  /** Set by close(): a crossing that cannot be recorded now is left for the next start. */
  private closing = false;
  private readonly rates: ReadonlyMap<string, Rate>;
  /** Milestones by threshold, lowest first. */
  private readonly ordered: Milestone[];

  constructor(private readonly opts: MilestoneTrackerOptions) {
    this.rates = opts.show.rates;
    this.ordered = [...opts.show.milestones].sort((a, b) => (a.hundredths < b.hundredths ? -1 : a.hundredths > b.hundredths ? 1 : 0));
  }

  /**
   * Reads what was recorded before. A threshold the stored total passed but that has no record (the process died
   * between the commit and the record) is recorded now, at the paid-at second where the stored running total
   * passed it; with `exact` (a cluster's coordinator), at the order within that second that passed it.
   */
  async load(displayTotal: bigint, orders: number, seconds: () => Promise<{ second: number; display: bigint; orders: number }[]>, exact = false): Promise<void> {
    for (const r of await this.opts.store.milestones()) this.recorded.set(r.id, r);
    const missing = this.ordered.filter((m) => !this.recorded.has(m.id) && m.hundredths <= displayTotal);
    if (missing.length === 0) return;
    const rows = await seconds();
    for (const m of missing) {
      let crossed = rows.at(-1)?.second ?? Math.floor(Date.now() / 1000);
      let run = 0n;
      let n = 0;
      for (const r of rows) {
        run += r.display;
        n += r.orders;
        if (run >= m.hundredths) {
          crossed = r.second;
          break;
        }
      }
      this.pending.push(this.row(m, crossed * 1000, run >= m.hundredths ? run : displayTotal, run >= m.hundredths ? n : orders));
      // Cluster mode: the exact order within that second, from every shard's orders (see locate).
      if (exact && run >= m.hundredths) this.toLocate.set(m.id, { second: crossed, tries: 0 });
      this.opts.log?.('milestone.recovered', { id: m.id });
    }
    await this.flush();
  }

  /** Milestones crossed and recorded, oldest first, as published. */
  list(): MilestoneData[] {
    return [...this.recorded.values()].sort((a, b) => a.crossedMs - b.crossedMs || (a.thresholdHundredths < b.thresholdHundredths ? -1 : 1)).map((r) => this.data(r));
  }

  /** The next threshold not yet crossed. */
  next(): { id: string; label: string; threshold: string } | null {
    const m = this.ordered.find((x) => !this.recorded.has(x.id) && !this.pending.some((p) => p.id === x.id));
    return m === undefined ? null : { id: m.id, label: m.label, threshold: formatHundredths(m.hundredths) };
  }

  /**
   * Called after `orders` were added to the totals. `before` are the per-currency sums before them and
   * `ordersBefore` the count. Finds each threshold passed, walking the orders in paid-at order.
   */
  check(before: ReadonlyMap<string, bigint>, ordersBefore: number, afterDisplay: bigint, orders: OrderColumns): void {
    if (!this.anyDue(afterDisplay)) return;
    const idx = Array.from({ length: orders.count }, (_, k) => k).sort((a, b) => orders.ts[a]! - orders.ts[b]! || a - b);
    this.walk(before, ordersBefore, afterDisplay, idx.length, (i) => {
      const k = idx[i]!;
      return { ms: orders.ts[k]!, currency: orders.currencies[orders.currency[k]!]!, hundredths: BigInt(orders.hundredths[k]!), orders: 1 };
    });
  }

  /**
   * As `check`, for another node's figures (cluster mode, on the coordinator): what they added per paid-at second,
   * oldest first. They find the paid-at second S in which the running total passed; before the crossing is
   * recorded, the exact order is found in storage (see locate), from the orders of every shard.
   */
  checkSeconds(before: ReadonlyMap<string, bigint>, ordersBefore: number, afterDisplay: bigint, added: readonly { second: number; byCurrency: ReadonlyMap<string, bigint>; orders: number }[]): void {
    if (!this.anyDue(afterDisplay)) return;
    const steps: { ms: number; currency: string; hundredths: bigint; orders: number }[] = [];
    for (const a of added) {
      let first = true;
      for (const [currency, h] of a.byCurrency) {
        if (h <= 0n) continue;
        steps.push({ ms: a.second * 1000, currency, hundredths: h, orders: first ? a.orders : 0 });
        first = false;
      }
    }
    this.walk(before, ordersBefore, afterDisplay, steps.length, (i) => steps[i]!, true);
  }

  /** Cluster mode, on a node other than the coordinator: a crossing the coordinator recorded. True when new here. */
  adopt(m: MilestoneData): boolean {
    if (this.recorded.has(m.id)) return false;
    const row: MilestoneRow = {
      id: m.id,
      thresholdHundredths: parseHundredths(m.threshold),
      currency: m.currency,
      crossedMs: Date.parse(m.crossedAt),
      recordedMs: Date.now(),
      totalHundredths: parseHundredths(m.total),
      orders: m.orders,
    };
    this.recorded.set(m.id, row);
    this.adopted.set(m.id, m);
    this.opts.onCrossed(m);
    return true;
  }

  private anyDue(afterDisplay: bigint): boolean {
    return this.ordered.some((m) => !this.recorded.has(m.id) && !this.pending.some((p) => p.id === m.id) && m.hundredths <= afterDisplay);
  }

  /** Walks `count` amounts in paid-at order from the sums `before`, and queues each threshold passed on the way. */
  private walk(before: ReadonlyMap<string, bigint>, ordersBefore: number, afterDisplay: bigint, count: number, step: (i: number) => { ms: number; currency: string; hundredths: bigint; orders: number }, bySecond = false): void {
    const due = this.ordered.filter((m) => !this.recorded.has(m.id) && !this.pending.some((p) => p.id === m.id) && m.hundredths <= afterDisplay);
    const sums = new Map(before);
    let display = 0n;
    for (const [c, h] of sums) {
      const rate = this.rates.get(c);
      if (rate !== undefined) display += convertHundredths(h, rate);
    }
    let i = 0;
    let n = ordersBefore;
    const floor = this.latestCrossedMs();
    for (const m of due) {
      if (display >= m.hundredths) {
        // Already over it before these orders (a threshold added to the config mid-show): the instant is now.
        this.pending.push(this.row(m, Math.max(floor, Date.now()), display, n));
        continue;
      }
      while (i < count && display < m.hundredths) {
        const x = step(i++);
        const rate = this.rates.get(x.currency);
        const old = sums.get(x.currency) ?? 0n;
        const now = old + x.hundredths;
        sums.set(x.currency, now);
        n += x.orders;
        if (rate !== undefined) display += convertHundredths(now, rate) - convertHundredths(old, rate);
        if (display >= m.hundredths) {
          this.pending.push(this.row(m, Math.max(floor, x.ms), display, n));
          if (bySecond) this.toLocate.set(m.id, { second: Math.floor(x.ms / 1000), tries: 0 });
        }
      }
    }
    void this.flush();
  }

  /**
   * For a stop: records what it can of the crossings found, each tried once more, and stops retrying, so a stop
   * while storage is down does not wait for storage. What is left is recovered by the next start's load().
   */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
  }

  /** Resolves once every detected crossing is recorded and published (while not closing). */
  async flush(): Promise<void> {
    this.writing ??= (async () => {
      try {
        while (this.pending.length > 0) {
          const found = this.toLocate.get(this.pending[0]!.id);
          if (found !== undefined) {
            try {
              this.pending[0] = await this.locate(this.pending[0]!, found.second);
            } catch (e) {
              // A shard down: tried again shortly; after a few tries, recorded at the start of the second.
              this.opts.log?.('milestone.locate_failed', { id: this.pending[0]!.id, second: found.second, error: String(e) });
              if (this.closing) {
                this.opts.log?.('milestone.left_for_next_start', { id: this.pending[0]!.id });
                break;
              }
              if (++found.tries < LOCATE_TRIES) {
                await new Promise((r) => setTimeout(r, 1000));
                continue;
              }
            }
            this.toLocate.delete(this.pending[0]!.id);
          }
          const row = this.pending[0]!;
          try {
            await this.opts.store.recordMilestone(row);
          } catch (e) {
            // Storage down: keep it, try again shortly; it is published only once recorded.
            this.opts.log?.('milestone.record_failed', { id: row.id, error: String(e) });
            // Stopping: not recorded, so never published; the next start finds the threshold passed in storage with
            // no record and records it then (load()).
            if (this.closing) {
              this.opts.log?.('milestone.left_for_next_start', { id: row.id });
              break;
            }
            await new Promise((r) => setTimeout(r, 1000));
            continue;
          }
          this.pending.shift();
          this.recorded.set(row.id, row);
          this.opts.log?.('milestone.crossed', { id: row.id, crossedAt: new Date(row.crossedMs).toISOString() });
          this.opts.onCrossed(this.data(row));
        }
      } finally {
        this.writing = null;
      }
    })();
    return this.writing;
  }

  /**
   * The exact crossing within paid-at second `second`, from storage (the whole cluster's, through the Distributed
   * tables): the running total before it from the per-second rollup, then that second's orders in (ts, id) order,
   * to the first one that takes the total to the threshold. Storage that disagrees (the total already over it
   * before the second, or not reaching it within) leaves the row as found, at the start of the second.
   */
  private async locate(row: MilestoneRow, second: number): Promise<MilestoneRow> {
    const [before, orders] = await Promise.all([this.opts.store.rolledBefore(second), this.opts.store.ordersOfSecond(second)]);
    const sums = new Map(before.map((b) => [b.currency, b.hundredths] as const));
    let n = before.reduce((a, b) => a + b.orders, 0);
    let display = 0n;
    for (const [c, h] of sums) {
      const rate = this.rates.get(c);
      if (rate !== undefined) display += convertHundredths(h, rate);
    }
    if (display >= row.thresholdHundredths) return row;
    for (const o of orders) {
      const old = sums.get(o.currency) ?? 0n;
      const now = old + o.hundredths;
      sums.set(o.currency, now);
      n++;
      const rate = this.rates.get(o.currency);
      if (rate !== undefined) display += convertHundredths(now, rate) - convertHundredths(old, rate);
      if (display >= row.thresholdHundredths) return { ...row, crossedMs: Math.max(row.crossedMs, o.ts), totalHundredths: display, orders: n };
    }
    return row;
  }

  private latestCrossedMs(): number {
    let t = Number.NEGATIVE_INFINITY;
    for (const r of this.recorded.values()) t = Math.max(t, r.crossedMs);
    for (const r of this.pending) t = Math.max(t, r.crossedMs);
    return t;
  }

  private row(m: Milestone, crossedMs: number, total: bigint, orders: number): MilestoneRow {
    return { id: m.id, thresholdHundredths: m.hundredths, currency: this.opts.show.currency, crossedMs, recordedMs: Date.now(), totalHundredths: total, orders };
  }

  private data(r: MilestoneRow): MilestoneData {
    const adopted = this.adopted.get(r.id);
    if (adopted !== undefined) return adopted;
    const label = this.ordered.find((m) => m.id === r.id)?.label ?? formatHundredths(r.thresholdHundredths);
    const elapsedMs = Math.max(0, r.crossedMs - this.opts.startsAtMs());
    return {
      id: r.id,
      label,
      threshold: formatHundredths(r.thresholdHundredths),
      currency: r.currency,
      crossedAt: new Date(r.crossedMs).toISOString(),
      elapsedMs,
      elapsed: elapsedWords(elapsedMs),
      total: formatHundredths(r.totalHundredths),
      orders: r.orders,
    };
  }
}
