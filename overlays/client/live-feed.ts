// An overlay page's live feed: the snapshots the page was served with, then the live channel (LiveClient:
// snapshot then updates, resync on gaps, reconnect with backoff), its topics' messages held while the page sets
// up and delivered in order after, typed per topic; and a connection that goes silent is dropped and reopened.
import {
  isMessageOf,
  LIVE_PATH,
  LiveClient,
  TopicListeners,
  type ClientMessage,
  type LinkStatus,
  type ShowData,
  type SnapshotMessage,
  type StatusListener,
  type Topic,
  type TopicListener,
  type UpdateMessage,
} from '../../protocol/live-protocol.ts';
import { readBoot } from './boot.ts';

/** Messages kept while the page sets up; more means setup is stuck, and the client starts over. */
const EARLY_MAX = 2000;
/** No message at all for this long (the `second` heartbeat comes every second) means a dead connection. */
const SILENT_MS = 3500;

type Message = SnapshotMessage | UpdateMessage;

export interface LiveFeedOptions {
  params: URLSearchParams;
  /** The page's topics (the show, the graphics and the `second` heartbeat are always subscribed to). */
  topics: Topic[];
  /** Every show message that comes while the page sets up (the page's own snapshot first): the theme. */
  onEarlyShow: (show: ShowData) => void;
}

export interface LiveFeed {
  /** Subscribes to a topic's snapshots and updates (held until `ready`). */
  on<T extends Topic>(topic: T, fn: TopicListener<T>): void;
  /** Listens to the live connection's status. */
  onStatus(fn: StatusListener): void;
  /** Subscribes to one more topic for as long as the page wants it, reconnections included. */
  watch(topic: Topic): void;
  unwatch(topic: Topic): void;
  /** Sends a client message if connected (a health report). */
  send(msg: ClientMessage): boolean;
  /** The page has set up: the messages held meanwhile are delivered in order, and from now on each as it comes. */
  ready(): void;
  readonly connected: boolean;
  /** The instant (ISO) the last message was delivered. */
  readonly lastUpdate: string | null;
}

/**
 * Opens the live channel at once, while Pixi starts and the page builds its scene (a few hundred ms in software
 * rendering), so a reloaded overlay has the current figures by its first frame.
 */
export function openLiveFeed(opts: LiveFeedOptions): LiveFeed {
  const { params } = opts;
  const listeners = new TopicListeners();
  const statusListeners: StatusListener[] = [];
  let connected = false;
  let lastUpdate: string | null = null;
  // `second` comes every second whatever happens: the heartbeat that tells a silent connection from a quiet show.
  const topicList = [...new Set<Topic>(['show', 'graphics', 'second', ...opts.topics])];

  // Messages that arrive before the page has registered its listeners wait here, in order.
  let early: Message[] | null = [];
  let lastMessageAt = performance.now();
  const deliver = (m: Message) => {
    lastUpdate = new Date().toISOString();
    listeners.emit(m);
  };
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const token = params.get('token');
  const receive = (m: Message) => {
    if (m.topic === 'totals' && performance.getEntriesByName('gala:live').length === 0) performance.mark('gala:live');
    if (early !== null && isMessageOf(m, 'show')) opts.onEarlyShow(m.data);
    if (early === null) deliver(m);
    else if (early.length < EARLY_MAX) early.push(m);
    else {
      // Setup is taking very long: start over with fresh snapshots rather than keep an unbounded backlog.
      early = [];
      client.stop();
      client.start();
    }
  };
  // The snapshots the page was served with (client/boot.ts) come first: with them the page sets up and draws the
  // figure of the instant it was served without waiting for its live connection, whose own snapshots (as new or
  // newer) then take over. Never a zero or a blank, whichever comes first.
  for (const s of readBoot()) receive({ type: 'snapshot', topic: s.topic, rev: 0, at: s.at, data: s.data });
  const client = new LiveClient({
    url: `${proto}://${location.host}${LIVE_PATH}${token ? `?token=${encodeURIComponent(token)}` : ''}`,
    maxBackoffMs: 5000,
  });
  const fromServer = (m: Message) => {
    lastMessageAt = performance.now();
    receive(m);
  };
  // Each topic the page wants, watched ones included, by what ends its subscription: a reconnection subscribes
  // again to all of them.
  const subscribed = new Map<Topic, () => void>();
  for (const t of topicList) subscribed.set(t, client.subscribe(t, fromServer));
  client.onStatus((s: LinkStatus, detail) => {
    connected = s === 'open';
    if (connected) lastMessageAt = performance.now();
    for (const fn of statusListeners) fn(s, detail);
  });
  client.start();
  // A connection can die without a close (a pulled cable, a sleeping NAT, offline emulation): the socket still
  // says open while nothing arrives. Past SILENT_MS without even the per-second heartbeat it is dropped, and the
  // client reconnects (with backoff while the network stays down) and resyncs from fresh snapshots.
  setInterval(() => {
    if (connected && performance.now() - lastMessageAt > SILENT_MS) client.reconnect('silent');
  }, 500);

  return {
    on(topic, fn) {
      listeners.on(topic, fn);
    },
    onStatus(fn) {
      statusListeners.push(fn);
    },
    watch(topic) {
      if (subscribed.has(topic)) return;
      subscribed.set(topic, client.subscribe(topic, fromServer));
    },
    unwatch(topic) {
      const off = subscribed.get(topic);
      if (off === undefined) return;
      subscribed.delete(topic);
      off();
    },
    send(msg) {
      return client.send(msg);
    },
    ready() {
      const waiting = early ?? [];
      early = null;
      for (const m of waiting) deliver(m);
    },
    get connected() {
      return connected;
    },
    get lastUpdate() {
      return lastUpdate;
    },
  };
}
