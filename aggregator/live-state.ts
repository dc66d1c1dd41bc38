// The live state: what every topic of the live channel holds, kept current and published on a steady beat.
// totals: on change, at most every 250 ms; second: each paid-at second, 250 ms after it ends; minute: each minute,
// 1 s after it ends; leaderboards: every 2 s from the rollup tables (on a cluster node other than the coordinator,
// the coordinator's, from the link, while it is heard); leaderboards and products are not read again while nothing
// changed; products: every second for watched SKUs;
// milestones: on each crossing; health and show: every second when changed.
import { convertHundredths, formatHundredths, type Rate } from '../domain/money.ts';
import type { ShowConfig } from '../domain/show.ts';
import type { KeyKind, KeySums, OrderStore } from '../storage/storage.ts';
import type { Log } from '../platform/log.ts';
import type { LiveHub, SnapshotTable } from './live-hub.ts';
import type {
  FrameData,
  HealthData,
  LeaderboardsData,
  PeerHealth,
  LeaderEntry,
  MilestoneData,
  MilestonesData,
  ProductData,
  ShowData,
  TotalsData,
} from '../protocol/live-protocol.ts';
import type { TotalsReader } from './live-totals.ts';
import type { MilestoneReader } from './milestones.ts';
import type { Reconciler } from './reconciler.ts';

export interface LiveStateOptions {
  show: ShowConfig;
  totals: TotalsReader;
  store: OrderStore;
  milestones: MilestoneReader;
  reconciler: Pick<Reconciler, 'report'>;
  storageState: () => 'up' | 'down';
  /** Ingest lag of the latest commit (arrival to durable, ms), for the control room. */
  ingestLagMs?: () => number | null;
  /** Epoch ms of the show's start. */
  startsAtMs: () => number;
  /** Seconds without an order, while live, before input counts as stale (default 10). */
  staleSeconds?: number;
  /** Entries per leaderboard kept (the API serves up to this many; the channel sends the first 10). */
  leaderboardSize?: number;
  /** Products watched at most at once (bounded: each costs a lookup a second). */
  maxWatchedProducts?: number;
  rehearsal?: boolean;
  /** Soon after each per-second frame is published, once the live channel has sent it (the SSE stream emits then). */
  onSecond?: (frame: FrameData) => void;
  /** Cluster mode: the other nodes as this one hears them, for the health topic. */
  peers?: () => PeerHealth[];
  /**
   * Cluster mode, on a node other than the coordinator: true while the coordinator's leaderboards are current (its
   * link heard, its boards received; `adoptBoards` serves them), and the reads over the cluster are skipped here.
   * False (a silent coordinator): this node reads the boards itself, and the health topic says so.
   */
  coordinatorBoards?: () => boolean;
  /** Replicated cluster: ZooKeeper as this node's leases see it, for the health topic. */
  coordination?: () => { zookeeper: string; acksPaused: boolean };
  /** On the coordinator: the first read of the boards, and each that changed them, for the other nodes. */
  onBoards?: (boards: LeaderboardsData, atMs: number) => void;
  log?: Log;
  now?: () => number;
}

const FRAMES_KEPT = { second: 120, minute: 120 } as const;
/** Published frames recomputed for late orders: the last 30 seconds, the last 2 minutes. */
const REVISED_FRAMES = { second: 30, minute: 2 } as const;
const CHANNEL_BOARD = 10;
/** With nothing changed, the boards and products are still read this often (a repair's derived rows change no total). */
const QUIET_MAX_MS = 30_000;

/**
 * Whether a periodic read can be skipped: its last two reads started at the same state as now (a totals revision,
 * a minute, the set of keys read), the second one seeing the derived rows that land just after a commit, and the
 * last one is under `maxMs` old.
 */
export class QuietReads {
  private reads: string[] = [];
  private lastAt = Number.NEGATIVE_INFINITY;
  constructor(private readonly maxMs: number) {}

  get none(): boolean {
    return this.reads.length === 0;
  }

  quiet(state: string, now: number): boolean {
    return this.reads.length === 2 && this.reads.every((r) => r === state) && now - this.lastAt < this.maxMs;
  }

  /** A read that started at `state` and `startedAt` succeeded. */
  done(state: string, startedAt: number): void {
    this.reads = [...this.reads.slice(-1), state];
    this.lastAt = startedAt;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

export class LiveState {
  hub: LiveHub | null = null;
  private readonly frames: { second: FrameData[]; minute: FrameData[] } = { second: [], minute: [] };
  private totalsRev = -1;
  private totalsData: TotalsData;
  private totalsAt = 0;
  private boards: LeaderboardsData;
  private boardsAt = 0;
  private readonly products = new Map<string, { data: ProductData; at: number }>();
  private readonly watched = new Set<string>();
  private health: HealthData;
  private healthJson = '';
  private healthAt = 0;
  private showJson = '';
  private timers: NodeJS.Timeout[] = [];
  private secondTimer: NodeJS.Timeout | null = null;
  private lastSecondPublished: number;
  private lastMinutePublished: number;
  private boardsRunning = false;
  private readonly boardsReads = new QuietReads(QUIET_MAX_MS);
  private readonly productsReads = new QuietReads(QUIET_MAX_MS);
  private productsRunning = false;
  private readonly now: () => number;
  private readonly weights: Map<string, number>;
  private readonly rates: ReadonlyMap<string, Rate>;

  constructor(private readonly opts: LiveStateOptions) {
    this.now = opts.now ?? Date.now;
    this.rates = opts.show.rates;
    this.weights = new Map([...opts.show.rates].map(([c, r]) => [c, Number(r.num) / 10 ** r.scaleDigits]));
    const nowS = Math.floor(this.now() / 1000);
    this.lastSecondPublished = nowS - 1;
    this.lastMinutePublished = Math.floor(nowS / 60) - 1;
    this.totalsData = this.makeTotals();
    this.health = this.makeHealth();
    const empty = { night: [], minute: [] };
    this.boards = { minute: iso((Math.floor(nowS / 60) - 1) * 60_000), brands: empty, products: empty, regions: empty };
    // Frames for the recent past, so a late joiner's chart is full at once.
    for (let s = nowS - FRAMES_KEPT.second; s < nowS; s++) this.frames.second.push(this.frame(s, 1));
    const m = Math.floor(nowS / 60);
    for (let k = m - 30; k < m; k++) this.frames.minute.push(this.frame(k * 60, 60));
  }

  /** Attaches the hub and starts the beat. */
  start(hub: LiveHub): void {
    this.hub = hub;
    void this.refreshBoards();
    this.timers.push(setInterval(() => this.tick(), 50));
    this.timers.push(setInterval(() => void this.refreshBoards(), 2000));
    this.timers.push(setInterval(() => void this.refreshProducts(), 1000));
    for (const t of this.timers) t.unref();
    this.armSecondTimer();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.secondTimer !== null) clearTimeout(this.secondTimer);
    this.secondTimer = null;
  }

  /**
   * The 50 ms beat alone would publish a second's frame up to 50 ms after it is due; a timer aimed at the due
   * instant (250 ms after the second ends) publishes it on time, and the beat remains the fallback.
   */
  private armSecondTimer(): void {
    const now = this.now();
    const nextDue = (Math.floor((now - 250) / 1000) + 1) * 1000 + 250;
    this.secondTimer = setTimeout(() => {
      this.tick();
      this.armSecondTimer();
    }, nextDue - now + 1);
    this.secondTimer.unref();
  }

  // ---- snapshots, for the hub and the HTTP feed ----

  /** The snapshots of the topics this state holds, each typed by its topic (the hub's SnapshotTable). */
  snapshots(): Omit<SnapshotTable, 'graphics' | 'overlays' | 'control'> {
    const nowIso = () => iso(this.now());
    const frames = (topic: 'second' | 'minute') => {
      const list = this.frames[topic];
      return { at: list.at(-1)?.start ?? nowIso(), data: { frames: list } };
    };
    return {
      totals: () => {
        this.refreshTotals();
        return { at: this.totalsData.asOf, data: this.totalsData };
      },
      second: () => frames('second'),
      minute: () => frames('minute'),
      milestones: () => ({ at: nowIso(), data: this.milestonesData() }),
      leaderboards: () => ({ at: iso(this.boardsAt || this.now()), data: this.boards }),
      show: () => ({ at: nowIso(), data: this.showData() }),
      health: () => ({ at: nowIso(), data: this.health }),
      product: (sku) => {
        const p = this.products.get(sku);
        if (p !== undefined) return { at: iso(p.at), data: p.data };
        return this.fetchProducts([sku]).then(() => {
          const q = this.products.get(sku);
          return { at: iso(q?.at ?? this.now()), data: q?.data ?? { sku, units: 0, gmv: '0.00' } };
        });
      },
    };
  }

  get totalsSnapshot(): TotalsData {
    this.refreshTotals();
    return this.totalsData;
  }

  milestonesData(): MilestonesData {
    return { milestones: this.opts.milestones.list(), next: this.opts.milestones.next() };
  }

  leaderboards(): LeaderboardsData {
    return this.boards;
  }

  healthData(): HealthData {
    return this.health;
  }

  /** Registers interest in a product's live sales; false when too many are watched. */
  watchProduct(sku: string): boolean {
    if (this.watched.has(sku)) return true;
    if (this.watched.size >= (this.opts.maxWatchedProducts ?? 500)) return false;
    this.watched.add(sku);
    return true;
  }

  /** One product's sales now (HTTP); fetched when not watched. */
  async product(sku: string): Promise<{ at: string; data: ProductData }> {
    const p = this.products.get(sku);
    if (p !== undefined && this.now() - p.at < 1000) return { at: iso(p.at), data: p.data };
    await this.fetchProducts([sku]);
    const q = this.products.get(sku)!;
    return { at: iso(q.at), data: q.data };
  }

  /** A milestone was recorded: publish it. */
  milestoneCrossed(data: MilestoneData): void {
    this.hub?.publish('milestones', data.crossedAt, data);
  }

  // ---- the beat ----

  private tick(): void {
    const now = this.now();
    const hub = this.hub;
    if (hub === null) return;
    // Totals: at most every 250 ms, only when something changed.
    if (this.opts.totals.revision !== this.totalsRev && now - this.totalsAt >= 250) {
      this.refreshTotals();
      hub.publish('totals', this.totalsData.asOf, this.totalsData);
    }
    // Per-second frames, 250 ms after the second ends (orders committed in the meantime are in it).
    const due = Math.floor((now - 250) / 1000) - 1;
    let newSecond = false;
    while (this.lastSecondPublished < due) {
      const s = ++this.lastSecondPublished;
      const f = this.frame(s, 1);
      push(this.frames.second, f, FRAMES_KEPT.second);
      hub.publish('second', f.start, f);
      // uWS sends a published message to its subscribers once this callback returns (its loop's pre-handler); the
      // SSE events are written one turn later, so the live channel (the overlays on air) does not wait for
      // thousands of SSE writes, and the revised frames below go out in the same write as this one.
      const onSecond = this.opts.onSecond;
      if (onSecond !== undefined) setImmediate(() => onSecond(f));
      newSecond = true;
    }
    const dueMinute = Math.floor((now - 1000) / 60_000) - 1;
    while (this.lastMinutePublished < dueMinute) {
      const m = ++this.lastMinutePublished;
      const f = this.frame(m * 60, 60);
      push(this.frames.minute, f, FRAMES_KEPT.minute);
      hub.publish('minute', f.start, f);
    }
    if (newSecond) {
      this.revise('second', 1, REVISED_FRAMES.second);
      this.revise('minute', 60, REVISED_FRAMES.minute);
    }
    // Health and show state, once a second at most, when changed.
    if (now - this.healthAt >= 1000) {
      this.healthAt = now;
      this.health = this.makeHealth();
      const h = JSON.stringify({ ...this.health, checkedAt: null });
      if (h !== this.healthJson) {
        this.healthJson = h;
        hub.publish('health', iso(now), this.health);
      }
      const show = this.showData();
      const sj = JSON.stringify(show);
      if (sj !== this.showJson) {
        if (this.showJson !== '') hub.publish('show', iso(now), show);
        this.showJson = sj;
      }
    }
  }

  private refreshTotals(): void {
    if (this.opts.totals.revision === this.totalsRev && this.now() - this.totalsAt < 1000) return;
    this.totalsRev = this.opts.totals.revision;
    this.totalsAt = this.now();
    this.totalsData = this.makeTotals();
  }

  private makeTotals(): TotalsData {
    const snap = this.opts.totals.snapshot();
    const rate = this.opts.totals.rate();
    return {
      currency: snap.currency,
      gmv: snap.gmv,
      orders: snap.orders,
      mobileShare: snap.mobileShare,
      mobileOrderShare: snap.mobileOrderShare,
      status: snap.status,
      unaudited: true,
      gmvPerSecond: rate.gmvPerSecond,
      ordersPerSecond: rate.ordersPerSecond,
      asOf: snap.asOf,
    };
  }

  /**
   * Orders paid in a second can be committed after its frame went out (ingest under load, an order system that
   * sends late): the last few published frames are recomputed once a second and any that changed is published
   * again with the same `start`, so charts replace the point rather than keep an undercount.
   */
  private revise(topic: 'second' | 'minute', seconds: number, count: number): void {
    const list = this.frames[topic];
    for (let i = Math.max(0, list.length - 1 - count); i < list.length - 1; i++) {
      const old = list[i]!;
      const f = this.frame(Date.parse(old.start) / 1000, seconds);
      if (f.gmv === old.gmv && f.orders === old.orders) continue;
      list[i] = f;
      this.hub?.publish(topic, f.start, f);
    }
  }

  private frame(start: number, seconds: number): FrameData {
    const t = this.opts.totals;
    const f = t.span(start, start + seconds);
    return { start: iso(start * 1000), seconds, ...f, total: { gmv: formatHundredths(t.gmvHundredths()), orders: t.orders } };
  }

  private showData(): ShowData {
    const show = this.opts.show;
    return {
      name: show.name,
      currency: show.currency,
      numerals: show.extra.numerals === 'chinese' ? 'chinese' : 'western',
      startsAt: iso(this.opts.startsAtMs()),
      endsAt: show.endsAt === null ? null : iso(show.endsAt),
      status: this.opts.totals.status,
      rehearsal: this.opts.rehearsal ?? false,
      theme: show.theme,
      looks: show.looks,
    };
  }

  private makeHealth(): HealthData {
    const rep = this.opts.reconciler.report();
    const staleSeconds = this.opts.staleSeconds ?? 10;
    const last = this.opts.totals.lastAppliedMs;
    const now = this.now();
    const live = this.opts.totals.status === 'live' && now >= this.opts.startsAtMs();
    return {
      storage: this.opts.storageState(),
      drift: rep.drift,
      checkedAt: rep.checkedAt,
      lateDuplicates: { copies: rep.lateDuplicates.copies, gmv: rep.lateDuplicates.gmv },
      stale: live && (last === null || now - last > staleSeconds * 1000),
      lastOrderAt: last === null ? null : iso(last),
      staleSeconds,
      ingestLagMs: this.opts.ingestLagMs?.() ?? null,
      ...(this.opts.peers === undefined ? {} : { peers: this.opts.peers() }),
      ...(this.opts.coordinatorBoards === undefined ? {} : { leaderboardsFrom: this.opts.coordinatorBoards() ? ('coordinator' as const) : ('self' as const) }),
      ...(this.opts.coordination === undefined ? {} : { coordination: this.opts.coordination() }),
    };
  }

  // ---- from ClickHouse ----

  private entries(rows: KeySums[], limit: number): LeaderEntry[] {
    const withGmv = rows.map((r) => ({ key: r.key, orders: r.orders, gmv: this.display(r) }));
    withGmv.sort((a, b) => (a.gmv > b.gmv ? -1 : a.gmv < b.gmv ? 1 : a.key < b.key ? -1 : 1));
    const total = this.opts.totals.gmvHundredths();
    return withGmv.slice(0, limit).map((r, i) => ({
      rank: i + 1,
      key: r.key,
      gmv: formatHundredths(r.gmv),
      orders: r.orders,
      share: total === 0n ? 0 : Number((r.gmv * 1_000_000n) / total) / 1_000_000,
    }));
  }

  private display(r: KeySums): bigint {
    let t = 0n;
    for (const c of r.byCurrency) {
      const rate = this.rates.get(c.currency);
      if (rate !== undefined) t += convertHundredths(c.hundredths, rate);
    }
    return t;
  }

  /**
   * Re-reads the boards from the rollup tables; publishes them when they changed. Nothing to read when nothing
   * changed: the last two reads started at this totals revision and minute (the second one sees the derived rows
   * that land just after a commit), unless the last read is `QUIET_MAX_MS` old (a repair of derived rows).
   */
  async refreshBoards(): Promise<void> {
    if (this.opts.coordinatorBoards?.() === true) return;
    if (this.boardsRunning || this.opts.storageState() === 'down') return;
    const minute = Math.floor(this.now() / 60_000) - 1;
    const state = `${this.opts.totals.revision}|${minute}`;
    if (this.boardsReads.quiet(state, this.now())) return;
    this.boardsRunning = true;
    const started = this.now();
    try {
      const size = this.opts.leaderboardSize ?? 100;
      const get = async (kind: KeyKind) => {
        const [night, last] = await Promise.all([
          this.opts.store.topKeys(kind, size, this.weights),
          this.opts.store.topKeys(kind, size, this.weights, [minute, minute + 1]),
        ]);
        return { night: this.entries(night, size), minute: this.entries(last, size) };
      };
      const brands = await get('brand');
      const products = await get('sku');
      const regions = await get('region');
      const next: LeaderboardsData = { minute: iso(minute * 60_000), brands, products, regions };
      const changed = JSON.stringify(next) !== JSON.stringify(this.boards);
      const first = this.boardsReads.none;
      this.boards = next;
      this.boardsAt = this.now();
      this.boardsReads.done(state, started);
      if (changed) this.hub?.publish('leaderboards', next.minute, this.channelBoards());
      if (changed || first) this.opts.onBoards?.(next, this.boardsAt);
    } catch (e) {
      this.opts.log?.('leaderboards.error', { error: String(e) });
    } finally {
      this.boardsRunning = false;
    }
  }

  /**
   * Cluster mode: the coordinator's boards, read at `atMs`, served here as they are (every node shows the same
   * boards); published when they changed.
   */
  adoptBoards(boards: LeaderboardsData, atMs: number): void {
    const changed = JSON.stringify(boards) !== JSON.stringify(this.boards);
    this.boards = boards;
    this.boardsAt = atMs;
    if (changed) this.hub?.publish('leaderboards', boards.minute, this.channelBoards());
  }

  /** The boards as the channel sends them: the first 10 of each. */
  channelBoards(): LeaderboardsData {
    const cut = (b: { night: LeaderEntry[]; minute: LeaderEntry[] }) => ({ night: b.night.slice(0, CHANNEL_BOARD), minute: b.minute.slice(0, CHANNEL_BOARD) });
    return { minute: this.boards.minute, brands: cut(this.boards.brands), products: cut(this.boards.products), regions: cut(this.boards.regions) };
  }

  private async fetchProducts(skus: string[]): Promise<KeySums[]> {
    const rows = await this.opts.store.keySums('sku', skus);
    const at = this.now();
    const found = new Map(rows.map((r) => [r.key, r]));
    for (const sku of skus) {
      const r = found.get(sku);
      this.products.set(sku, { at, data: { sku, units: r?.orders ?? 0, gmv: formatHundredths(r === undefined ? 0n : this.display(r)) } });
    }
    return rows;
  }

  private async refreshProducts(): Promise<void> {
    const hub = this.hub;
    if (hub === null || this.productsRunning || this.watched.size === 0 || this.opts.storageState() === 'down') return;
    // Products nobody listens to any more are forgotten.
    for (const sku of this.watched) if (hub.subscribers(`product:${sku}`) === 0) this.watched.delete(sku);
    // Nothing to read again while neither the totals nor the products watched changed (see QuietReads).
    const state = `${this.opts.totals.revision}|${[...this.watched].join(',')}`;
    if (this.productsReads.quiet(state, this.now())) return;
    this.productsRunning = true;
    const started = this.now();
    try {
      const before = new Map([...this.watched].map((s) => [s, JSON.stringify(this.products.get(s)?.data)]));
      await this.fetchProducts([...this.watched]);
      for (const sku of this.watched) {
        const p = this.products.get(sku)!;
        if (JSON.stringify(p.data) !== before.get(sku)) hub.publish(`product:${sku}`, iso(p.at), p.data);
      }
      for (const sku of this.products.keys()) if (!this.watched.has(sku) && this.now() - this.products.get(sku)!.at > 5000) this.products.delete(sku);
      this.productsReads.done(state, started);
    } catch (e) {
      this.opts.log?.('products.error', { error: String(e) });
    } finally {
      this.productsRunning = false;
    }
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
