// Which SKUs get per-minute rollup rows. A catalogue of millions of SKUs would otherwise write a row per SKU sold
// per minute; the per-minute product board reads only its top entries, so each paid-at minute keeps a bounded set.

/** Keys kept per paid-at minute: ten times the largest board a page shows (leaderboardSize, 100 by default). */
export const SKU_MINUTE_KEYS = 1000;
/** Minutes kept open for late orders; an order paid earlier than the newest minute less this has no minute row. */
export const OPEN_MINUTES = 10;

/** One SKU's per-minute sum in one currency, key and currency as TabSeparated text (escaped). */
export interface SkuMinuteRow {
  minute: number;
  key: string;
  currency: string;
  hundredths: string;
  orders: number;
}

export function skuMinuteTsv(r: SkuMinuteRow): string {
  return `sku\t${r.minute}\t${r.key}\t${r.currency}\t${r.hundredths}\t${r.orders}\n`;
}

interface MinuteSet {
  /** Key -> orders written for it in this minute (what the next minute's seed is ranked by). */
  keys: Map<string, number>;
  /** No key can join any more: some key was left out, so a later joiner would lack its earlier orders. */
  closed: boolean;
}

/**
 * The kept set of each paid-at minute. A key joins a minute's set only at its first order in that minute (or
 * before it, as a seed), so every key in a set has every one of its orders of that minute in the table: what is
 * kept is exact, summed over any number of group commits. A minute's set starts with the previous minute's
 * busiest half (by orders), then takes new keys as they first sell, the busiest of a group first, until it holds
 * `limit`; from then on it is closed. What a per-minute board can miss: a SKU that was not in the previous
 * minute's busiest half and whose first order of the minute came after the set filled. The night table
 * (gala_agg_key_total) and brands and regions stay whole.
 */
export class SkuMinuteBound {
  private readonly minutes = new Map<number, MinuteSet>();
  private newest = Number.NEGATIVE_INFINITY;
  /** The newest minute a previous run wrote to: it and every minute before it take no new key. */
  private restoredThrough = Number.NEGATIVE_INFINITY;

  constructor(readonly limit = SKU_MINUTE_KEYS) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`SkuMinuteBound: limit = ${limit} must be a positive integer`);
  }

  /**
   * The sets a previous run left in the table, as (minute, key) pairs: each closed, since that run may have left
   * keys out; every minute up to the newest of them is closed too (a minute it wrote nothing to may still have had
   * keys left out whose kept companions' rows were all cut by the crash: see the repair).
   */
  restore(pairs: readonly (readonly [number, string])[]): void {
    for (const [minute, key] of pairs) {
      let s = this.minutes.get(minute);
      if (s === undefined) this.minutes.set(minute, (s = { keys: new Map(), closed: true }));
      s.keys.set(key, 0);
      if (minute > this.newest) this.newest = minute;
    }
    this.restoredThrough = this.newest;
  }

  has(minute: number, key: string): boolean {
    return this.minutes.get(minute)?.keys.has(key) === true;
  }

  /** The minute's set, opened (seeded) if it may still be; null when the minute is closed to every key. */
  private open(minute: number): MinuteSet | null {
    const s = this.minutes.get(minute);
    if (s !== undefined) return s;
    if (minute <= this.newest - OPEN_MINUTES || minute <= this.restoredThrough) return null;
    const seed = new Map<string, number>();
    const before = this.minutes.get(minute - 1);
    if (before !== undefined) {
      const ranked = [...before.keys].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, Math.floor(this.limit / 2));
      for (const [k] of ranked) seed.set(k, 0);
    }
    const made: MinuteSet = { keys: seed, closed: false };
    this.minutes.set(minute, made);
    if (minute > this.newest) {
      this.newest = minute;
      for (const m of this.minutes.keys()) if (m <= minute - OPEN_MINUTES) this.minutes.delete(m);
    }
    return made;
  }

  /** The rows of one group to write: those of kept keys, admitting new keys while their minute has room. */
  select(rows: readonly SkuMinuteRow[]): SkuMinuteRow[] {
    const byMinute = new Map<number, SkuMinuteRow[]>();
    for (const r of rows) {
      let list = byMinute.get(r.minute);
      if (list === undefined) byMinute.set(r.minute, (list = []));
      list.push(r);
    }
    const kept: SkuMinuteRow[] = [];
    for (const [minute, list] of byMinute) {
      const set = this.open(minute);
      if (set === null) continue;
      const newcomers = new Map<string, number>();
      for (const r of list) if (!set.keys.has(r.key)) newcomers.set(r.key, (newcomers.get(r.key) ?? 0) + r.orders);
      if (!set.closed && newcomers.size > 0) {
        const room = this.limit - set.keys.size;
        let admit = [...newcomers.keys()];
        if (admit.length > room) {
          admit = [...newcomers].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, Math.max(0, room)).map(([k]) => k);
          set.closed = true;
        }
        for (const k of admit) set.keys.set(k, 0);
      }
      for (const r of list) {
        const n = set.keys.get(r.key);
        if (n === undefined) continue;
        set.keys.set(r.key, n + r.orders);
        kept.push(r);
      }
    }
    return kept;
  }
}
