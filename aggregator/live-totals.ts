// The running totals every screen reads: exact per-currency sums, converted to the display currency on read.
import { convertHundredths, divRoundHalfEven as divHalfEven, formatHundredths } from '../domain/money.ts';
import { CHANNEL_CODE, type OrderColumns } from '../domain/order-columns.ts';
import type { Channel } from '../domain/order.ts';
import type { ShowConfig } from '../domain/show.ts';
import type { FiguresMessage, FiguresWire } from '../protocol/cluster-protocol.ts';
import type { SecondRow, TotalsRow } from '../storage/storage.ts';

interface Sums {
  /** Hundredths per currency, all channels. */
  byCurrency: Map<string, bigint>;
  /** Hundredths per currency, mobile only. */
  mobileByCurrency: Map<string, bigint>;
  orders: number;
  mobileOrders: number;
}

const MOBILE = CHANNEL_CODE.mobile;

const emptySums = (): Sums => ({ byCurrency: new Map(), mobileByCurrency: new Map(), orders: 0, mobileOrders: 0 });

function addTo(map: Map<string, bigint>, currency: string, h: bigint): void {
  map.set(currency, (map.get(currency) ?? 0n) + h);
}

function addRow(s: Sums, currency: string, channel: Channel, h: bigint, orders: number): void {
  addTo(s.byCurrency, currency, h);
  s.orders += orders;
  if (channel === 'mobile') {
    addTo(s.mobileByCurrency, currency, h);
    s.mobileOrders += orders;
  }
}

/** Sums of one currency within one apply(), in safe integers: a million orders of at most 10^9 hundredths stay below 2^53. */
interface Partial {
  all: number;
  mobile: number;
  n: number;
  mn: number;
}

function addPartial(s: Sums, currency: string, c: Partial): void {
  addTo(s.byCurrency, currency, BigInt(c.all));
  s.orders += c.n;
  if (c.mn > 0) {
    addTo(s.mobileByCurrency, currency, BigInt(c.mobile));
    s.mobileOrders += c.mn;
  }
}

function sumsToWire(s: Sums, ordersByCurrency?: ReadonlyMap<string, number>): FiguresWire {
  const currencies: FiguresWire['currencies'] = {};
  for (const [c, h] of s.byCurrency) currencies[c] = { amount: String(h), mobile: String(s.mobileByCurrency.get(c) ?? 0n), orders: ordersByCurrency?.get(c) ?? 0 };
  return { orders: s.orders, mobileOrders: s.mobileOrders, currencies };
}

function wireToSums(w: FiguresWire): Sums {
  const s = emptySums();
  for (const [c, x] of Object.entries(w.currencies)) {
    s.byCurrency.set(c, BigInt(x.amount));
    if (x.mobile !== '0') s.mobileByCurrency.set(c, BigInt(x.mobile));
  }
  s.orders = w.orders;
  s.mobileOrders = w.mobileOrders;
  return s;
}

function addSums(into: Sums, x: Sums): void {
  for (const [c, h] of x.byCurrency) addTo(into.byCurrency, c, h);
  for (const [c, h] of x.mobileByCurrency) addTo(into.mobileByCurrency, c, h);
  into.orders += x.orders;
  into.mobileOrders += x.mobileOrders;
}

/** A slot's figures (another node's partitions, or a shard) as its latest message gives them (cluster mode). */
interface Part {
  epoch: number;
  run: number;
  seq: number;
  asOfMs: number;
  total: Sums;
  ordersByCurrency: Map<string, number>;
  seconds: Map<number, Sums>;
}

/** What one node's new figures added, per paid-at second (for the milestones' crossing instant). */
export interface SecondDelta {
  second: number;
  byCurrency: Map<string, bigint>;
  orders: number;
}

export interface FigureSet {
  gmv: string;
  orders: number;
  /** Mobile GMV over total GMV, 0 to 1 (0 when there is no GMV). */
  mobileShare: number;
  /** Mobile orders over all orders, 0 to 1. */
  mobileOrderShare: number;
}

export interface StatsSnapshot extends FigureSet {
  currency: string;
  asOf: string;
  revision: number;
  status: 'live' | 'final';
  unaudited: true;
  byCurrency: Record<string, { amount: string; orders: number }>;
  /** The last complete second of paid-at time. */
  lastSecond: (FigureSet & { second: string }) | null;
}

export interface SecondFigures extends FigureSet {
  second: number;
}

/** Seconds of per-second figures kept in memory: a long show night. Older ones are read from the rollup table. */
export const SECONDS_KEPT = 6 * 3600;
/** Complete seconds the live rate (GMV/s, orders/s) is averaged over. */
const RATE_SECONDS = 5;

/** What readers of the totals may use: everything but the ways of changing them, which the aggregator owns. */
export type TotalsReader = Omit<LiveTotals, 'load' | 'apply' | 'markFinal' | 'setPart' | 'partHeard' | 'onOwnChange' | 'takeSlot' | 'releaseSlot'>;

/** The slot this node's own figures are published under, at its lease's epoch (replication: `shard:<s>`). */
export interface OwnSlot {
  slot: string;
  epoch: number;
}

/** Orders figures of one slot: a higher epoch wins, then a later run, then a higher seq. */
function newer(a: { epoch: number; run: number; seq: number }, b: { epoch: number; run: number; seq: number }): boolean {
  return a.epoch !== b.epoch ? a.epoch > b.epoch : a.run !== b.run ? a.run > b.run : a.seq > b.seq;
}

/** What `now` adds to `before` per paid-at second (the milestones' crossing instants). */
function deltasOf(before: ReadonlyMap<number, Sums> | undefined, now: ReadonlyMap<number, Sums>): SecondDelta[] {
  const deltas: SecondDelta[] = [];
  for (const [second, x] of now) {
    const was = before?.get(second) ?? emptySums();
    const byCurrency = new Map<string, bigint>();
    for (const [c, h] of x.byCurrency) if (h !== (was.byCurrency.get(c) ?? 0n)) byCurrency.set(c, h - (was.byCurrency.get(c) ?? 0n));
    if (byCurrency.size > 0 || x.orders !== was.orders) deltas.push({ second, byCurrency, orders: x.orders - was.orders });
  }
  return deltas.sort((a, b) => a.second - b.second);
}

export class LiveTotals {
  private total = emptySums();
  private ordersByCurrency = new Map<string, number>();
  private seconds = new Map<number, Sums>();
  private rev = 0;
  private state: 'live' | 'final' = 'live';
  private lastApplied: number | null = null;
  private appliedThrough = Number.NEGATIVE_INFINITY;
  /** Cluster mode: the other slots' latest figures, by slot (a node id, or `shard:<s>`). Empty on a single node. */
  private readonly parts = new Map<string, Part>();
  /** Replication: the slot whose lease this node holds (its own figures are that slot's); null: none held. */
  private own: OwnSlot | null = null;
  private merged: { rev: number; total: Sums; ordersByCurrency: Map<string, number> } | null = null;
  private ownListener: ((seconds: readonly number[] | null) => void) | null = null;

  constructor(private readonly show: ShowConfig, private readonly now: () => number = Date.now) {}

  /** Bumped on every change, the status included; screens use it to order updates and spot gaps. */
  get revision(): number {
    return this.rev;
  }

  get status(): 'live' | 'final' {
    return this.state;
  }

  /** When orders were last applied (epoch ms), for staleness; null before any. */
  get lastAppliedMs(): number | null {
    return this.lastApplied;
  }

  /** Latest arrival instant among the orders applied: storage up to it is exactly what these totals hold. */
  get appliedThroughMs(): number {
    return this.appliedThrough;
  }

  /** The figures are final (the show is over and storage agrees); screens see it with the next revision. */
  markFinal(): void {
    if (this.state === 'final') return;
    this.state = 'final';
    this.rev++;
  }

  /** Replaces the totals (and, unless `seconds` is null, the per-second figures) with what storage holds. */
  load(totals: readonly TotalsRow[], seconds: readonly SecondRow[] | null, receivedThroughMs?: number): void {
    if (receivedThroughMs !== undefined) this.appliedThrough = receivedThroughMs;
    this.total = emptySums();
    this.ordersByCurrency.clear();
    if (seconds !== null) this.seconds.clear();
    for (const r of totals) {
      addRow(this.total, r.currency, r.channel, r.hundredths, r.orders);
      this.ordersByCurrency.set(r.currency, (this.ordersByCurrency.get(r.currency) ?? 0) + r.orders);
    }
    for (const r of seconds ?? []) {
      let s = this.seconds.get(r.second);
      if (s === undefined) this.seconds.set(r.second, (s = emptySums()));
      addRow(s, r.currency, r.channel, r.hundredths, r.orders);
    }
    this.rev++;
    this.ownListener?.(seconds === null ? [] : null);
  }

  /** Adds committed orders. Sums per second and currency in safe integers first, then once into the bigints. */
  apply(orders: OrderColumns, receivedThroughMs?: number): void {
    if (receivedThroughMs !== undefined) this.appliedThrough = Math.max(this.appliedThrough, receivedThroughMs);
    if (orders.count === 0) return;
    const { currencies } = orders;
    // second -> currency index -> partial sums; a group of orders spans few seconds and few currencies.
    const partial = new Map<number, Map<number, Partial>>();
    for (let k = 0; k < orders.count; k++) {
      const sec = Math.floor(orders.ts[k]! / 1000);
      let byCur = partial.get(sec);
      if (byCur === undefined) partial.set(sec, (byCur = new Map()));
      const cur = orders.currency[k]!;
      let c = byCur.get(cur);
      if (c === undefined) byCur.set(cur, (c = { all: 0, mobile: 0, n: 0, mn: 0 }));
      const h = orders.hundredths[k]!;
      c.all += h;
      c.n++;
      if (orders.channel[k] === MOBILE) {
        c.mobile += h;
        c.mn++;
      }
    }
    for (const [sec, byCur] of partial) {
      let s = this.seconds.get(sec);
      if (s === undefined) this.seconds.set(sec, (s = emptySums()));
      for (const [cur, c] of byCur) {
        const currency = currencies[cur]!;
        addPartial(s, currency, c);
        addPartial(this.total, currency, c);
        this.ordersByCurrency.set(currency, (this.ordersByCurrency.get(currency) ?? 0) + c.n);
      }
    }
    this.prune();
    this.rev++;
    this.lastApplied = this.now();
    this.ownListener?.([...partial.keys()]);
  }

  // ---- cluster mode: this node's own figures out, the other nodes' in ----

  /** Calls `listener` after each change of this node's own figures with the paid-at seconds changed (null: all). */
  onOwnChange(listener: (seconds: readonly number[] | null) => void): void {
    this.ownListener = listener;
  }

  /** Per-currency sums of this node's own orders (its partitions in a cluster; everything on a single node). */
  ownCurrencySums(): ReadonlyMap<string, bigint> {
    return this.total.byCurrency;
  }

  /** This node's own figures (never another node's), with the given seconds' figures (null: every second held). */
  ownFigures(seconds: Iterable<number> | null): { total: FiguresWire; seconds: { second: number; figures: FiguresWire }[] } {
    const out: { second: number; figures: FiguresWire }[] = [];
    for (const sec of seconds ?? this.seconds.keys()) {
      const x = this.seconds.get(sec);
      out.push({ second: sec, figures: sumsToWire(x ?? emptySums()) });
    }
    return { total: sumsToWire(this.total, this.ordersByCurrency), seconds: out };
  }

  /**
   * Takes a slot's figures when they are newer (a higher epoch, run, or seq) than the ones held, so no figure goes
   * backwards; returns what they added per second, or null when they were not newer. The slot this node holds is
   * replaced only by a higher epoch (its lease passed on): this node's own figures of it are dropped then.
   */
  setPart(m: FiguresMessage): SecondDelta[] | null {
    const slot = m.slot ?? m.node;
    const key = { epoch: m.epoch ?? 0, run: m.run, seq: m.seq };
    const held = this.own !== null && this.own.slot === slot;
    if (held && key.epoch <= this.own!.epoch) return null;
    const old = held ? this.ownAsPart() : this.parts.get(slot);
    if (old !== undefined && !newer(key, old)) {
      if (old.epoch === key.epoch && old.run === key.run && old.seq === key.seq) old.asOfMs = Math.max(old.asOfMs, m.asOf);
      return null;
    }
    if (held) this.dropOwn();
    const total = wireToSums(m.total);
    const ordersByCurrency = new Map(Object.entries(m.total.currencies).map(([c, x]) => [c, x.orders]));
    // Figures of another epoch are another holder's: they are always sent in full.
    const seconds = m.full || old === undefined || old.epoch !== key.epoch ? new Map<number, Sums>() : old.seconds;
    const changed = new Map<number, Sums>();
    for (const { second, figures } of m.seconds) changed.set(second, wireToSums(figures));
    const deltas = deltasOf(old?.seconds, changed);
    for (const [second, x] of changed) seconds.set(second, x);
    if (seconds.size > SECONDS_KEPT + 600) {
      const keys = [...seconds.keys()].sort((a, b) => a - b);
      for (const k of keys.slice(0, keys.length - SECONDS_KEPT)) seconds.delete(k);
    }
    this.parts.set(slot, { ...key, asOfMs: m.asOf, total, ordersByCurrency, seconds });
    this.rev++;
    if (old === undefined || old.total.orders !== total.orders) this.lastApplied = this.now();
    return deltas;
  }

  /** A slot's figures of (epoch, run, seq) still hold as of `asOfMs` (a beat). */
  partHeard(slot: string, run: number, seq: number, asOfMs: number, epoch = 0): void {
    const p = this.parts.get(slot);
    if (p !== undefined && p.epoch === epoch && p.run === run && p.seq === seq) p.asOfMs = Math.max(p.asOfMs, asOfMs);
  }

  // ---- replication: this node's own figures are the figures of the shard whose lease it holds ----

  /** The slot this node's own figures are published under; null without a lease (or without replication). */
  ownSlot(): OwnSlot | null {
    return this.own;
  }

  /**
   * This node took `slot`'s lease at `epoch`: its own figures become what its replica holds (`totals`, `seconds`,
   * read after the rebuild), replacing the previous holder's figures of that slot; returns what they added per
   * second over the figures held before (the milestones' crossings).
   */
  takeSlot(slot: string, epoch: number, totals: readonly TotalsRow[], seconds: readonly SecondRow[], receivedThroughMs: number): SecondDelta[] {
    const before = this.own?.slot === slot ? this.ownAsPart() : this.parts.get(slot);
    this.parts.delete(slot);
    this.own = { slot, epoch };
    this.load(totals, seconds, receivedThroughMs);
    return deltasOf(before?.seconds, this.seconds);
  }

  /**
   * This node gave `slot`'s lease up (its commits in flight answered, its final figures sent): its own figures stay
   * as an ordinary part of that slot until a higher epoch's replace them; its own are empty again.
   */
  releaseSlot(): void {
    if (this.own === null) return;
    // Any later message of this epoch is this node's own, older: the kept figures outrank it.
    this.parts.set(this.own.slot, { ...this.ownAsPart(), run: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER });
    this.dropOwn();
  }

  private ownAsPart(): Part {
    return { epoch: this.own?.epoch ?? 0, run: 0, seq: 0, asOfMs: this.now(), total: this.total, ordersByCurrency: this.ordersByCurrency, seconds: this.seconds };
  }

  private dropOwn(): void {
    this.own = null;
    this.total = emptySums();
    this.ordersByCurrency = new Map();
    this.seconds = new Map();
    this.rev++;
    this.ownListener?.(null);
  }

  /** The other slots whose figures are held (`node`: the slot), with the (epoch, run, seq) and as-of of each. */
  partsHeld(): { node: string; epoch: number; run: number; seq: number; asOfMs: number; orders: number }[] {
    return [...this.parts].map(([node, p]) => ({ node, epoch: p.epoch, run: p.run, seq: p.seq, asOfMs: p.asOfMs, orders: p.total.orders }));
  }

  /** The whole cluster's totals: this node's plus every other node's latest (this node's alone on a single node). */
  private all(): { total: Sums; ordersByCurrency: Map<string, number> } {
    if (this.parts.size === 0) return { total: this.total, ordersByCurrency: this.ordersByCurrency };
    if (this.merged?.rev === this.rev) return this.merged;
    const total = emptySums();
    const ordersByCurrency = new Map(this.ordersByCurrency);
    addSums(total, this.total);
    for (const p of this.parts.values()) {
      addSums(total, p.total);
      for (const [c, n] of p.ordersByCurrency) ordersByCurrency.set(c, (ordersByCurrency.get(c) ?? 0) + n);
    }
    this.merged = { rev: this.rev, total, ordersByCurrency };
    return this.merged;
  }

  /** One paid-at second's figures over the whole cluster. */
  private secondAt(sec: number): Sums | undefined {
    const own = this.seconds.get(sec);
    if (this.parts.size === 0) return own;
    let sum: Sums | undefined;
    for (const x of [own, ...[...this.parts.values()].map((p) => p.seconds.get(sec))]) {
      if (x === undefined) continue;
      sum ??= emptySums();
      addSums(sum, x);
    }
    return sum;
  }

  /** The as-of instant of the figures: now, or the oldest other node's as-of when earlier. */
  private asOfMs(nowMs: number): number {
    let t = nowMs;
    for (const p of this.parts.values()) t = Math.min(t, p.asOfMs);
    return t;
  }

  /** Exact total GMV in hundredths of the display currency. */
  gmvHundredths(): bigint {
    return this.display(this.all().total.byCurrency);
  }

  /** Per-currency sums in hundredths (for reconciliation against storage). */
  currencySums(): ReadonlyMap<string, bigint> {
    return this.all().total.byCurrency;
  }

  get orders(): number {
    return this.all().total.orders;
  }

  snapshot(): StatsSnapshot {
    const nowMs = this.now();
    const last = Math.floor(nowMs / 1000) - 1;
    const s = this.secondAt(last);
    const all = this.all();
    const byCurrency: Record<string, { amount: string; orders: number }> = {};
    for (const [c, h] of [...all.total.byCurrency].sort(([a], [b]) => a.localeCompare(b))) {
      byCurrency[c] = { amount: formatHundredths(h), orders: all.ordersByCurrency.get(c) ?? 0 };
    }
    return {
      currency: this.show.currency,
      ...this.figures(all.total),
      asOf: new Date(this.asOfMs(nowMs)).toISOString(),
      revision: this.revision,
      status: this.status,
      unaudited: true,
      byCurrency,
      lastSecond: { second: new Date(last * 1000).toISOString(), ...this.figures(s ?? emptySums()) },
    };
  }

  /** Figures over the paid-at seconds [from, to), summed exactly (a minute, the last few seconds). */
  span(fromSecond: number, toSecond: number): FigureSet {
    const sum = emptySums();
    for (let s = fromSecond; s < toSecond; s++) {
      const x = this.secondAt(s);
      if (x !== undefined) addSums(sum, x);
    }
    return this.figures(sum);
  }

  /** GMV (display hundredths) and orders per second, averaged over the last few complete seconds. */
  rate(): { gmvPerSecond: string; ordersPerSecond: number } {
    const last = Math.floor(this.now() / 1000);
    let gmv = 0n;
    let orders = 0;
    for (let s = last - RATE_SECONDS; s < last; s++) {
      const x = this.secondAt(s);
      if (x === undefined) continue;
      gmv += this.display(x.byCurrency);
      orders += x.orders;
    }
    return { gmvPerSecond: formatHundredths(divHalfEven(gmv, BigInt(RATE_SECONDS))), ordersPerSecond: orders / RATE_SECONDS };
  }

  /** The earliest paid-at second held, or null when empty. */
  firstSecond(): number | null {
    let min: number | null = null;
    for (const k of this.seconds.keys()) if (min === null || k < min) min = k;
    for (const p of this.parts.values()) for (const k of p.seconds.keys()) if (min === null || k < min) min = k;
    return min;
  }

  /** Display-currency hundredths of per-currency sums (exact, per the contract). */
  displayOf(byCurrency: ReadonlyMap<string, bigint>): bigint {
    return this.display(byCurrency);
  }

  /** Per-second figures by paid-at second for seconds in [from, to), zero-filled. */
  series(fromSecond: number, toSecond: number): SecondFigures[] {
    const out: SecondFigures[] = [];
    for (let s = fromSecond; s < toSecond; s++) out.push({ second: s, ...this.figures(this.secondAt(s) ?? emptySums()) });
    return out;
  }

  private figures(s: Sums): FigureSet {
    const gmv = this.display(s.byCurrency);
    const mobile = this.display(s.mobileByCurrency);
    return {
      gmv: formatHundredths(gmv),
      orders: s.orders,
      mobileShare: gmv === 0n ? 0 : Number((mobile * 1_000_000n) / gmv) / 1_000_000,
      mobileOrderShare: s.orders === 0 ? 0 : s.mobileOrders / s.orders,
    };
  }

  /** Sum over currencies of round_half_even(sum * rate), as the contract defines the display total. */
  private display(byCurrency: ReadonlyMap<string, bigint>): bigint {
    let t = 0n;
    for (const [currency, h] of byCurrency) {
      const rate = this.show.rates.get(currency);
      if (rate !== undefined) t += convertHundredths(h, rate);
    }
    return t;
  }

  private prune(): void {
    // Pruned in steps of ten minutes, so the sort runs rarely.
    if (this.seconds.size <= SECONDS_KEPT + 600) return;
    const keys = [...this.seconds.keys()].sort((a, b) => a - b);
    for (const k of keys.slice(0, keys.length - SECONDS_KEPT)) this.seconds.delete(k);
  }
}
