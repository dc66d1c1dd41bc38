// The live state channel's protocol, shared by the server, the browser pages and the tests: message shapes, and
// LiveClient, which keeps a per-topic state from snapshot-then-updates and resynchronises on a revision gap.
// No Node imports: this module is bundled into browser code as it is (type-only imports are erased).
import type { ControlState } from './control-state.ts';
import type { ShowLook, ShowTheme } from '../domain/show-graphics.ts';

export const LIVE_PROTOCOL_VERSION = 1;
export const LIVE_PATH = '/v1/live';

/** Fixed topics; `product:<sku>` topics carry one product's live sales (see-now-buy-now). */
export const TOPICS = ['totals', 'second', 'minute', 'milestones', 'leaderboards', 'show', 'graphics', 'health', 'overlays', 'control'] as const;
export type FixedTopic = (typeof TOPICS)[number];
export type ProductTopic = `product:${string}`;
export type Topic = FixedTopic | ProductTopic;

/**
 * Topics that need the producer token (`?token=` on the upgrade, or `Authorization: Bearer`), or any control-room
 * role's token or session cookie where the server wires the control room's check (`control`: the cue list state).
 */
export const PRODUCER_TOPICS: readonly Topic[] = ['health', 'overlays', 'control'];

export function isTopic(t: unknown): t is Topic {
  if (typeof t !== 'string') return false;
  if ((TOPICS as readonly string[]).includes(t)) return true;
  return /^product:[^\s]{1,64}$/.test(t);
}

/** Figures of a span of time (a second, a minute, the night). Money is a decimal string in the display currency. */
export interface Figures {
  gmv: string;
  orders: number;
  /** Mobile GMV / GMV, 0..1 (0 without GMV). */
  mobileShare: number;
  /** Mobile orders / orders, 0..1. */
  mobileOrderShare: number;
}

export interface TotalsData extends Figures {
  currency: string;
  /** `live` during the show, `final` once it has ended and the last reconciliation agreed. */
  status: 'live' | 'final';
  unaudited: true;
  /** GMV per second over the last few complete seconds: screens interpolate the counter with it. */
  gmvPerSecond: string;
  ordersPerSecond: number;
  /** The instant the figures describe (ISO). */
  asOf: string;
}

export interface FrameData extends Figures {
  /** Start of the span (ISO): a paid-at second or minute. */
  start: string;
  /** Length of the span in seconds (1 or 60). */
  seconds: number;
  /** The night's totals as of the frame. */
  total: { gmv: string; orders: number };
}

export interface MilestoneData {
  id: string;
  label: string;
  /** Threshold, display currency. */
  threshold: string;
  currency: string;
  /** The paid-at instant of the order that took the running total over the threshold (ISO). */
  crossedAt: string;
  /** Time since the show's start, in ms, and as words ("2 min 58 s"). */
  elapsedMs: number;
  elapsed: string;
  total: string;
  orders: number;
}

export interface LeaderEntry {
  rank: number;
  key: string;
  gmv: string;
  orders: number;
  /** Share of the night's (or minute's) GMV, 0..1. */
  share: number;
}

export interface LeaderboardsData {
  /** The paid-at minute the `minute` boards cover (the last complete one), ISO. */
  minute: string;
  brands: { night: LeaderEntry[]; minute: LeaderEntry[] };
  products: { night: LeaderEntry[]; minute: LeaderEntry[] };
  regions: { night: LeaderEntry[]; minute: LeaderEntry[] };
}

export interface ProductData {
  sku: string;
  units: number;
  gmv: string;
}

export interface ShowData {
  name: string;
  currency: string;
  numerals: 'western' | 'chinese';
  startsAt: string;
  endsAt: string | null;
  status: 'live' | 'final';
  rehearsal: boolean;
  /** The overlays' theme from the show config (absent keys: the overlays' defaults). */
  theme: ShowTheme;
  /** The see-now-buy-now looks: a product card cue names only a SKU. */
  looks: ShowLook[];
}

export interface HealthData {
  storage: 'up' | 'down';
  /** Live figures minus SELECT, per currency; empty when they agree. */
  drift: Record<string, string>;
  checkedAt: string | null;
  lateDuplicates: { copies: number; gmv: string };
  /** No order received for `staleSeconds` while the show is live. */
  stale: boolean;
  lastOrderAt: string | null;
  staleSeconds: number;
  /** The latest commit's ingest lag: its first batch's arrival to durable in ClickHouse (ms); null before any. */
  ingestLagMs: number | null;
}

/** The on-air graphics of the overlays, driven by cues (play / update / stop / next). */
export const GRAPHICS = ['counter', 'chart', 'milestone', 'product', 'lowerthird', 'leaderboard', 'wall'] as const;
export type GraphicName = (typeof GRAPHICS)[number];
export type GraphicCommand = 'play' | 'update' | 'stop' | 'next';

export interface GraphicState {
  name: GraphicName;
  /** On air (after its in animation) or not (after its out animation). */
  visible: boolean;
  /** What the graphic shows (text of a lower third, the product of a card, the board of a leaderboard...). */
  data: Record<string, unknown>;
  /** Page of a multi-page graphic, advanced by `next`. */
  page: number;
  /** Bumped by every command, so an overlay replays an in animation on a new `play`. */
  rev: number;
  lastCommand: GraphicCommand | null;
  changedAt: string;
}

/** One overlay instance's health, as it reports it over the live channel ({op:'report'}). */
export interface OverlayReport {
  overlay: string;
  instance: string;
  /** The figure it displays now (the counter's GMV), if any. */
  displayed: string | null;
  /** Frames per second over the last second, and frame time percentiles (ms). */
  fps: number;
  frameMsP50: number;
  frameMsP99: number;
  /** The last live update it applied (ISO), and whether its live connection is up. */
  lastUpdate: string | null;
  connected: boolean;
  /** Graphics it shows now. */
  visible: string[];
  jsHeapBytes: number | null;
  contextLosses: number;
}

export interface OverlayHealth extends OverlayReport {
  /** Server-side: when the report arrived, and the socket it came on. */
  reportedAt: string;
  socket: number;
}

/** What a snapshot and an update carry, per topic. */
export interface SnapshotData {
  totals: TotalsData;
  /** The most recent frames, oldest first. */
  second: { frames: FrameData[] };
  minute: { frames: FrameData[] };
  milestones: { milestones: MilestoneData[]; next: { id: string; label: string; threshold: string } | null };
  leaderboards: LeaderboardsData;
  show: ShowData;
  graphics: { graphics: Record<GraphicName, GraphicState> };
  health: HealthData;
  overlays: { overlays: OverlayHealth[] };
  /** The control room's whole state (control-room/control-room.ts), replaced whole on every change. */
  control: ControlState;
}
export interface UpdateData {
  totals: TotalsData;
  second: FrameData;
  minute: FrameData;
  /** A newly crossed milestone. */
  milestones: MilestoneData;
  leaderboards: LeaderboardsData;
  show: ShowData;
  /** One graphic's new state. */
  graphics: GraphicState;
  health: HealthData;
  overlays: { overlays: OverlayHealth[] };
  control: ControlState;
}
type DataOf<M extends Record<FixedTopic, unknown>, T extends Topic> = T extends FixedTopic ? M[T] : ProductData;

/** Server -> client. `rev` counts messages of the topic in this server's life: updates come as rev + 1. */
export type ServerMessage =
  | { type: 'hello'; protocol: number; server: string; topics: readonly string[]; serverTime: string }
  | { type: 'snapshot'; topic: Topic; rev: number; at: string; data: unknown }
  /** `sentAt`: epoch ms the server published it (lag = receipt - sentAt, on synchronised clocks). */
  | { type: 'update'; topic: Topic; rev: number; at: string; sentAt: number; data: unknown }
  | { type: 'error'; error: string; topic?: string };

/** Client -> server. */
export type ClientMessage =
  | { op: 'subscribe'; topics: Topic[] }
  | { op: 'unsubscribe'; topics: Topic[] }
  /** Ask again for a topic's snapshot (after a revision gap). */
  | { op: 'snapshot'; topic: Topic }
  /** Overlay health report (see the overlays); the server answers nothing. */
  | { op: 'report'; report: Record<string, unknown> };

export type SnapshotOf<T extends Topic> = DataOf<SnapshotData, T>;
export type UpdateOf<T extends Topic> = DataOf<UpdateData, T>;

/** The minimal WebSocket surface LiveClient needs: the browser's WebSocket and Node's `ws` both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface LiveClientOptions {
  url: string;
  topics: Topic[];
  /** Makes a socket; default `new WebSocket(url)`. */
  connect?: (url: string) => SocketLike;
  /** Every snapshot (after connect, or a resync) and every in-order update. */
  onMessage: (msg: { type: 'snapshot' | 'update'; topic: Topic; rev: number; at: string; data: unknown }) => void;
  onStatus?: (status: 'connecting' | 'open' | 'closed', detail?: string) => void;
  /** Reconnect backoff: first delay and cap, ms (jittered). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Subscribes, applies snapshot-then-updates per topic, and on a revision gap asks for a fresh snapshot and
 * ignores that topic's updates until it comes. Reconnects by itself with jittered exponential backoff.
 */
export class LiveClient {
  private socket: SocketLike | null = null;
  private readonly revs = new Map<Topic, number>();
  private readonly resyncing = new Set<Topic>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Gaps seen (each triggered a resync). */
  gaps = 0;

  constructor(private readonly opts: LiveClientOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close(1000, 'bye');
    this.socket = null;
  }

  /** Sends a client message if connected; false otherwise. */
  send(msg: ClientMessage): boolean {
    if (this.socket === null || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(msg));
    return true;
  }

  /** The last revision applied for a topic. */
  rev(topic: Topic): number | undefined {
    return this.revs.get(topic);
  }

  /** Feeds one server message (public for tests of the gap logic). */
  handle(raw: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(raw) as ServerMessage;
    } catch {
      return;
    }
    if (msg.type === 'snapshot') {
      this.resyncing.delete(msg.topic);
      this.revs.set(msg.topic, msg.rev);
      this.opts.onMessage(msg);
      return;
    }
    if (msg.type !== 'update') return;
    if (this.resyncing.has(msg.topic)) return;
    const last = this.revs.get(msg.topic);
    if (last === undefined) return; // no snapshot yet: it is on its way
    if (msg.rev <= last) return; // already applied
    if (msg.rev !== last + 1) {
      this.gaps++;
      this.resyncing.add(msg.topic);
      this.send({ op: 'snapshot', topic: msg.topic });
      return;
    }
    this.revs.set(msg.topic, msg.rev);
    this.opts.onMessage(msg);
  }

  private open(): void {
    if (this.stopped) return;
    this.opts.onStatus?.('connecting');
    const make = this.opts.connect ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
    let s: SocketLike;
    try {
      s = make(this.opts.url);
    } catch (e) {
      this.retry(String(e));
      return;
    }
    this.socket = s;
    s.onopen = () => {
      this.attempt = 0;
      this.revs.clear();
      this.resyncing.clear();
      this.opts.onStatus?.('open');
      s.send(JSON.stringify({ op: 'subscribe', topics: this.opts.topics } satisfies ClientMessage));
    };
    s.onmessage = (ev) => this.handle(typeof ev.data === 'string' ? ev.data : String(ev.data));
    s.onerror = () => undefined;
    s.onclose = () => {
      if (this.socket !== s) return;
      this.socket = null;
      this.retry('closed');
    };
  }

  private retry(detail: string): void {
    if (this.stopped) return;
    this.opts.onStatus?.('closed', detail);
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, min * 2 ** this.attempt++) * (0.5 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.open(), delay);
  }
}
