// The live state channel's protocol, shared by the server, the browser pages and the tests: every topic's data
// (TopicData: a topic's snapshot and update types, declared once), the messages, and LiveClient, whose subscribers
// are typed by topic and which keeps a per-topic state from snapshot-then-updates, resynchronising on a gap.
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
  /** Cluster mode: every other node as this one hears it (absent on a single node). */
  peers?: PeerHealth[];
  /**
   * Cluster mode: where this node's leaderboards come from: the coordinator's (over the link, the same on every
   * node), or `self`, read here while the coordinator is silent (absent on a single node and on the coordinator).
   */
  leaderboardsFrom?: 'coordinator' | 'self';
  /**
   * Replicated cluster: ZooKeeper as this node's leases see it. Not connected: no node can be sure of its lease, so
   * nothing is acknowledged (`acksPaused`) and the figures on screen, kept as published, may be behind the orders
   * being sent.
   */
  coordination?: { zookeeper: string; acksPaused: boolean };
}

/** Another cluster node, for operators: a silent one keeps its last figures in every total, and is flagged here. */
export interface PeerHealth {
  node: string;
  /** The figures link to it is open. */
  link: 'up' | 'down';
  /** Whole seconds since its figures (or a beat saying they still hold) last arrived; null if they never did. */
  secondsSinceFigures: number | null;
  /** Nothing heard for longer than the cluster's silence limit: its figures in the totals may be behind. */
  silent: boolean;
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
/** (A type, not an interface: the server takes it as a plain record, Record<string, unknown>.) */
export type OverlayReport = {
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
};

export interface OverlayHealth extends OverlayReport {
  /** Server-side: when the report arrived, and the socket it came on. */
  reportedAt: string;
  socket: number;
}

/** The `milestones` topic's snapshot: every milestone crossed so far, and the next one (null once all are). */
export interface MilestonesData {
  milestones: MilestoneData[];
  next: { id: string; label: string; threshold: string } | null;
}

/** The `second` and `minute` topics' snapshot: the most recent frames, oldest first. */
export interface FramesData {
  frames: FrameData[];
}

/** The `graphics` topic's snapshot: every graphic's state. */
export interface GraphicsData {
  graphics: Record<GraphicName, GraphicState>;
}

/** The `overlays` topic: every connected overlay instance's last health report. */
export interface OverlaysData {
  overlays: OverlayHealth[];
}

/**
 * Every topic's data: what its snapshot carries (on subscribing, and on a resync) and what each of its updates
 * carries. The one place a topic's data is declared: the server's publish and snapshot source, LiveClient's
 * subscribers and the snapshots an overlay page is served with all take their types from here.
 */
export interface TopicData {
  totals: { snapshot: TotalsData; update: TotalsData };
  /** Updates: the frame of the second just ended, or a frame sent again with the same `start` (late orders). */
  second: { snapshot: FramesData; update: FrameData };
  minute: { snapshot: FramesData; update: FrameData };
  /** Updates: a newly crossed milestone. */
  milestones: { snapshot: MilestonesData; update: MilestoneData };
  leaderboards: { snapshot: LeaderboardsData; update: LeaderboardsData };
  show: { snapshot: ShowData; update: ShowData };
  /** Updates: one graphic's new state. */
  graphics: { snapshot: GraphicsData; update: GraphicState };
  health: { snapshot: HealthData; update: HealthData };
  overlays: { snapshot: OverlaysData; update: OverlaysData };
  /** The control room's whole state (control-room/control-room.ts), replaced whole on every change. */
  control: { snapshot: ControlState; update: ControlState };
  /** One product's live sales (see-now-buy-now). */
  [product: ProductTopic]: { snapshot: ProductData; update: ProductData };
}

/** What a topic's snapshot carries. */
export type SnapshotOf<T extends Topic> = TopicData[T]['snapshot'];
/** What each of a topic's updates carries. */
export type UpdateOf<T extends Topic> = TopicData[T]['update'];

/** TopicData covers exactly the topics (a missing topic already fails SnapshotOf; this catches an extra one). */
const _everyTopicHasData: [keyof TopicData] extends [Topic] ? ([Topic] extends [keyof TopicData] ? true : never) : never = true;

/** A topic's snapshot as a server holds it: the instant it describes, and its data. */
export interface TopicSnapshot<T extends Topic = Topic> {
  at: string;
  data: SnapshotOf<T>;
}

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  server: string;
  topics: readonly string[];
  serverTime: string;
}

/** A topic's snapshot: on subscribing, and when asked again (after a revision gap). */
export interface SnapshotMessage<T extends Topic = Topic> {
  type: 'snapshot';
  topic: T;
  /** The topic's revision the snapshot is at: the next update is rev + 1. */
  rev: number;
  at: string;
  data: SnapshotOf<T>;
}

/** One update of a topic. */
export interface UpdateMessage<T extends Topic = Topic> {
  type: 'update';
  topic: T;
  /** Counts the topic's messages in this server's life: each update is the previous rev + 1. */
  rev: number;
  at: string;
  /** Epoch ms the server published it (lag = receipt - sentAt, on synchronised clocks). */
  sentAt: number;
  data: UpdateOf<T>;
}

export interface ErrorMessage {
  type: 'error';
  error: string;
  topic?: string;
}

/**
 * A snapshot or an update of a topic in T, as one member per topic: checking `type` and `topic` narrows `data`.
 * (For a single topic T, `TopicMessage<T>` is what a subscriber to T receives.)
 */
export type TopicMessage<T extends Topic = Topic> = T extends unknown ? SnapshotMessage<T> | UpdateMessage<T> : never;

/** Server -> client. */
export type ServerMessage = HelloMessage | TopicMessage | ErrorMessage;

/** Whether a message is a snapshot or an update of the topic; narrows it to that topic's message (and data). */
export function isMessageOf<T extends Topic>(msg: ServerMessage | SnapshotMessage | UpdateMessage, topic: T): msg is TopicMessage<T> {
  return (msg.type === 'snapshot' || msg.type === 'update') && msg.topic === topic;
}

/** Client -> server. */
export type ClientMessage =
  | { op: 'subscribe'; topics: Topic[] }
  | { op: 'unsubscribe'; topics: Topic[] }
  /** Ask again for a topic's snapshot (after a revision gap). */
  | { op: 'snapshot'; topic: Topic }
  /** Overlay health report (see the overlays); the server answers nothing. */
  | { op: 'report'; report: OverlayReport };

/** A subscriber to topic T: it receives T's snapshots and in-order updates, typed. */
export type TopicListener<T extends Topic> = (msg: TopicMessage<T>) => void;

/**
 * Listeners by topic, each registered with its topic's type and called only with messages of that topic (that a
 * message's `data` fits its `topic`, as TopicData says, is the sender's word: LiveClient's is the server's).
 */
export class TopicListeners {
  private readonly byTopic = new Map<Topic, ((msg: never) => void)[]>();

  /** Adds a listener; returns the function that removes it. */
  on<T extends Topic>(topic: T, fn: TopicListener<T>): () => void {
    const list = this.byTopic.get(topic) ?? [];
    list.push(fn);
    this.byTopic.set(topic, list);
    return () => {
      const l = this.byTopic.get(topic);
      const i = l?.indexOf(fn) ?? -1;
      if (i < 0) return;
      l!.splice(i, 1);
      if (l!.length === 0) this.byTopic.delete(topic);
    };
  }

  /** Whether the topic has a listener. */
  has(topic: Topic): boolean {
    return this.byTopic.has(topic);
  }

  /** Topics with a listener, in the order their first listener came. */
  topics(): Topic[] {
    return [...this.byTopic.keys()];
  }

  /** Calls the message's topic's listeners with it. */
  emit(msg: SnapshotMessage | UpdateMessage): void {
    const list = this.byTopic.get(msg.topic);
    if (list === undefined) return;
    for (const fn of [...list]) (fn as (m: SnapshotMessage | UpdateMessage) => void)(msg);
  }
}

/** The live connection's state: `connecting` on each attempt, `open` once connected, `closed` (and why) when lost. */
export type LinkStatus = 'connecting' | 'open' | 'closed';
export type StatusListener = (status: LinkStatus, detail?: string) => void;

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
  /** Makes a socket; default `new WebSocket(url)`. */
  connect?: (url: string) => SocketLike;
  /** Reconnect backoff: first delay and cap, ms (jittered). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * The browser's (and tests') end of the live channel. Subscribers are typed by topic: `subscribe('totals', fn)`
 * calls fn with the totals' snapshots and updates. Applies snapshot-then-updates per topic, and on a revision gap
 * asks for a fresh snapshot and ignores that topic's updates until it comes. Reconnects by itself with jittered
 * exponential backoff, subscribing again to every topic it has subscribers for; its state comes as status events.
 */
export class LiveClient {
  private socket: SocketLike | null = null;
  private readonly listeners = new TopicListeners();
  private readonly statusListeners: StatusListener[] = [];
  private readonly revs = new Map<Topic, number>();
  private readonly resyncing = new Set<Topic>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** Gaps seen (each triggered a resync). */
  gaps = 0;

  constructor(private readonly opts: LiveClientOptions) {}

  /**
   * Subscribes fn to a topic's snapshots and in-order updates: the topic is subscribed to now if connected, else
   * on connecting, and again on every reconnection. Returns the function that ends it (the topic is unsubscribed
   * from when its last subscriber goes).
   */
  subscribe<T extends Topic>(topic: T, fn: TopicListener<T>): () => void {
    const fresh = !this.listeners.has(topic);
    const off = this.listeners.on(topic, fn);
    if (fresh) this.send({ op: 'subscribe', topics: [topic] });
    return () => {
      off();
      if (!this.listeners.has(topic)) this.send({ op: 'unsubscribe', topics: [topic] });
    };
  }

  /** Listens to the connection's status; returns the function that stops listening. */
  onStatus(fn: StatusListener): () => void {
    this.statusListeners.push(fn);
    return () => {
      const i = this.statusListeners.indexOf(fn);
      if (i >= 0) this.statusListeners.splice(i, 1);
    };
  }

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

  /** Drops the connection, reported `closed` with the reason, and opens a new one at once (a connection found dead). */
  reconnect(detail: string): void {
    this.stop();
    this.status('closed', detail);
    this.start();
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
      this.listeners.emit(msg);
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
    this.listeners.emit(msg);
  }

  private status(s: LinkStatus, detail?: string): void {
    for (const fn of [...this.statusListeners]) fn(s, detail);
  }

  private open(): void {
    if (this.stopped) return;
    this.status('connecting');
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
      this.status('open');
      const topics = this.listeners.topics();
      if (topics.length > 0) s.send(JSON.stringify({ op: 'subscribe', topics } satisfies ClientMessage));
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
    this.status('closed', detail);
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, min * 2 ** this.attempt++) * (0.5 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.open(), delay);
  }
}
