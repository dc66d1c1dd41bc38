// One node's part in the cluster's one set of figures and one control room: it serves its figures (and, on the
// coordinator, the control, graphics, milestone and leaderboard states) on the link, subscribes to every peer's, and
// on the other nodes mirrors the coordinator's states onto its own live channel (its leaderboards too, instead of
// reading them over the cluster again) and proxies the control API to it.
import type { Hono } from 'hono';
import type { Aggregator } from '../aggregator/index.ts';
import type { LiveHub } from '../aggregator/live-hub.ts';
import type { ControlRoom } from '../control-room/index.ts';
import type { SessionCheck } from '../control-room/sessions.ts';
import { coordinatorOf, httpHostOf, shardCount, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { Log } from '../platform/log.ts';
import type { Registry } from '../platform/metrics.ts';
import type { BoardsMessage, ClusterMessage, ControlMessage, FiguresWire, GraphicsMessage } from '../protocol/cluster-protocol.ts';
import type { LeaderboardsData, PeerHealth } from '../protocol/live-protocol.ts';
import type { OrderStore, TotalsRow } from '../storage/storage.ts';
import { acceptProxiedRequests, createControlProxy } from './control-proxy.ts';
import { RemoteSessions } from './remote-sessions.ts';
import { PeerLink } from './link-client.ts';
import { LinkServer } from './link-server.ts';

/** A peer heard from neither figures nor beat for longer than this is flagged silent to operators. */
export const PEER_SILENT_AFTER_MS = 3000;

export interface ClusterNodeOptions {
  file: ClusterFile;
  self: ClusterNode;
  /** The ingest tokens: the first is presented to peers, all admit them. */
  ingestTokens: readonly string[];
  aggregator: Aggregator;
  /** Reads the stored figures of a peer not heard at start (through the Distributed orders table). */
  store: Pick<OrderStore, 'totalsByOwner'>;
  metrics: Registry;
  log: Log;
  /** This run's start (epoch ms): orders this node's figures against its earlier runs'. */
  runStartedMs: number;
  /** Link tuning (tests shorten the beat). */
  beatMs?: number;
  silentAfterMs?: number;
}

export interface LiveParts {
  hub: LiveHub;
  graphics: Graphics;
  control: ControlRoom;
  /** Where the coordinator's leaderboards are served from on the other nodes (the live state). */
  boards?: { adoptBoards(boards: LeaderboardsData, atMs: number): void };
}

export class ClusterNodeRole {
  readonly isCoordinator: boolean;
  readonly server: LinkServer;
  private readonly links: PeerLink[];
  private hub: LiveHub | null = null;
  private mirroredControl: Omit<ControlMessage, 'type'> | null = null;
  private mirroredGraphics: GraphicsMessage['graphics'] | null = null;
  private readonly silentAfterMs: number;
  /** Peers whose figures arrived at least once, and who waits for all of them. */
  private readonly heardFrom = new Set<string>();
  private onHeard: (() => void) | null = null;
  /** On a node other than the coordinator: the coordinator's answers on session cookies, briefly remembered. */
  readonly remoteSessions: RemoteSessions | null;
  /** On the coordinator: its latest leaderboards read, for the others. */
  private boardsRead: Omit<BoardsMessage, 'type'> | null = null;
  /** Elsewhere: the link to the coordinator, and on which of its openings its boards last arrived (null: never). */
  private readonly coordinatorLink: PeerLink | null;
  private boardsOpening: number | null = null;
  private boardsFromCoordinator = false;
  private boardsTarget: LiveParts['boards'] | null = null;
  private readonly figuresDelay;

  constructor(private readonly opts: ClusterNodeOptions) {
    const coordinator = coordinatorOf(opts.file);
    this.isCoordinator = coordinator.id === opts.self.id;
    this.silentAfterMs = opts.silentAfterMs ?? PEER_SILENT_AFTER_MS;
    const token = opts.ingestTokens[0];
    if (token === undefined) throw new Error('cluster: GALA_INGEST_TOKEN must hold a token: nodes present it to one another');
    const { self } = opts;
    this.remoteSessions = this.isCoordinator ? null : new RemoteSessions({ coordinator, token, selfHost: httpHostOf(self), log: opts.log });
    // With replication a node publishes the figures of the shard whose lease it holds, and beats only without one.
    const slot = opts.file.replication == null ? undefined : () => opts.aggregator.ownSlot();
    this.server = new LinkServer({ node: opts.self.id, run: opts.runStartedMs, tokens: opts.ingestTokens, aggregator: opts.aggregator, metrics: opts.metrics, log: opts.log, beatMs: opts.beatMs, slot });
    this.links = opts.file.nodes
      .filter((n) => n.id !== opts.self.id)
      .map((peer) => new PeerLink({ peer, token, log: opts.log, onMessage: (m) => this.received(peer, m) }));
    this.figuresDelay = opts.metrics.histogram('gala_cluster_figures_delay_seconds', 'From a peer sending its figures (their asOf) to their arrival here', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], ['peer']);
    this.coordinatorLink = this.links.find((l) => l.node === coordinator.id) ?? null;
    if (!this.isCoordinator) {
      opts.metrics.gauge('gala_cluster_leaderboards_from_coordinator', '1 while this node serves the coordinator\'s leaderboards; 0 while it reads them itself (the coordinator silent)', () => (this.coordinatorBoards() ? 1 : 0));
    }
    opts.metrics.gauges('gala_cluster_peer_silence_seconds', 'Seconds since each peer\'s figures (or a beat) last arrived; -1 before any', ['peer'], () =>
      this.links.map((l) => [{ peer: l.node }, l.lastHeardMs === null ? -1 : (Date.now() - l.lastHeardMs) / 1000] as const),
    );
    const remote = this.remoteSessions;
    if (remote !== null) opts.metrics.counterReading('gala_cluster_session_checks_total', 'Control-room session cookies this node asked the coordinator about (answers are remembered for seconds)', () => remote.asked);
    opts.metrics.gauges('gala_cluster_peer_link_up', '1 while the figures link to a peer is open', ['peer'], () => this.links.map((l) => [{ peer: l.node }, l.up ? 1 : 0] as const));
  }

  /**
   * Routes for the HTTP app, ahead of the local ones: on every node but the coordinator, the control API proxy; on
   * the coordinator, the acceptance of what the others pass on.
   */
  httpRoutes(): Hono<HttpEnv> {
    const { file, ingestTokens, log } = this.opts;
    return this.isCoordinator ? acceptProxiedRequests(ingestTokens) : createControlProxy({ coordinator: coordinatorOf(file), token: ingestTokens[0]!, log });
  }

  /** Where this node checks a session cookie: on the coordinator its own store (undefined), elsewhere the coordinator. */
  sessionCheck(): SessionCheck | undefined {
    return this.remoteSessions?.check;
  }

  /** Hooks the live parts in once they exist, then subscribes to every peer. */
  start(parts: LiveParts): void {
    this.hub = parts.hub;
    this.boardsTarget = parts.boards ?? null;
    const { aggregator } = this.opts;
    if (this.isCoordinator) {
      this.server.serveCoordinatorStates({
        milestones: () => aggregator.milestones.list(),
        control: () => ({ at: new Date().toISOString(), state: parts.control.state() }),
        graphics: () => parts.graphics.snapshot().graphics,
        boards: () => this.boardsRead,
      });
      aggregator.onMilestone(() => this.server.changed('milestones'));
      parts.control.onState(() => this.server.changed('control'));
      parts.graphics.onChange(() => this.server.changed('graphics'));
    }
    for (const l of this.links) l.start();
  }

  /**
   * Resolves once every peer's figures arrived, or after `timeoutMs` (a peer may be down): a node opens its feeds
   * only then, so a restarted node does not first show its own partitions alone, less than it showed before.
   * A peer still unheard then (its process down) is seeded with its partitions' figures as stored: every order it
   * committed is on its shard, read through the Distributed table (that shard answers: a node starts only once
   * every shard does, see await-shards.ts). Seeded as run 0, so the peer's own figures replace them once it is back.
   */
  async peersHeard(timeoutMs: number): Promise<void> {
    await this.heardOrTimeout(timeoutMs);
    if (this.opts.file.replication != null) return this.seedShards();
    const unheard = this.links.filter((l) => !this.heardFrom.has(l.node)).map((l) => l.node);
    if (unheard.length === 0) return;
    const { file, store, aggregator, log } = this.opts;
    let rows: (TotalsRow & { owner: number })[];
    try {
      rows = await store.totalsByOwner(file.partitions, file.nodes.length);
    } catch (e) {
      // A shard gone since the start's check: the peer's figures come when its link does.
      log('cluster.seed_failed', { peers: unheard, error: String(e) });
      return;
    }
    const asOf = Date.now();
    for (const node of unheard) {
      if (this.heardFrom.has(node)) continue;
      const owner = file.nodes.findIndex((n) => n.id === node);
      const total = figuresOf(rows.filter((r) => r.owner === owner));
      aggregator.applyFigures({ type: 'figures', node, run: 0, seq: 0, asOf, full: true, total, seconds: [] });
      log('cluster.peer_seeded', { peer: node, orders: total.orders });
    }
  }

  /**
   * Replication: every shard whose figures this node holds from no one (its holder down, or a standby heard only)
   * and whose lease it does not hold is seeded with its stored figures, at epoch 0 and run 0: any holder's replace
   * them (a lease's epoch is at least 1).
   */
  private async seedShards(): Promise<void> {
    const { file, store, aggregator, log } = this.opts;
    const held = new Set(aggregator.totals.partsHeld().map((p) => p.node));
    const own = aggregator.ownSlot()?.slot;
    const shards = shardCount(file);
    const missing: number[] = [];
    for (let s = 1; s <= shards; s++) if (!held.has(`shard:${s}`) && own !== `shard:${s}`) missing.push(s);
    if (missing.length === 0) return;
    let rows: (TotalsRow & { owner: number })[];
    try {
      // partition mod S is the shard's index: the "owners" of S are the shards.
      rows = await store.totalsByOwner(file.partitions, shards);
    } catch (e) {
      log('cluster.seed_failed', { shards: missing, error: String(e) });
      return;
    }
    const asOf = Date.now();
    for (const s of missing) {
      const slot = `shard:${s}`;
      if (aggregator.totals.partsHeld().some((p) => p.node === slot) || aggregator.ownSlot()?.slot === slot) continue;
      const total = figuresOf(rows.filter((r) => r.owner === s - 1));
      aggregator.applyFigures({ type: 'figures', node: this.opts.self.id, slot, epoch: 0, run: 0, seq: 0, asOf, full: true, total, seconds: [] });
      log('cluster.shard_seeded', { shard: s, orders: total.orders });
    }
  }

  private heardOrTimeout(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const check = () => {
        if (this.links.every((l) => this.heardFrom.has(l.node))) done();
      };
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.onHeard = check;
      check();
    });
  }

  /** On a node other than the coordinator, the coordinator's control state once heard (null: not yet, or coordinator). */
  controlSnapshot(): { at: string; data: ControlMessage['state'] } | null {
    const m = this.mirroredControl;
    return m === null ? null : { at: m.at, data: m.state };
  }

  graphicsSnapshot(): { at: string; data: { graphics: GraphicsMessage['graphics'] } } | null {
    const g = this.mirroredGraphics;
    if (g === null) return null;
    const at = Object.values(g).reduce((t, s) => (s.changedAt > t ? s.changedAt : t), '');
    return { at, data: { graphics: g } };
  }

  /**
   * On the coordinator: the leaderboards it just read over the cluster (changed since its last read), sent to every
   * other node, which serves them instead of reading them itself.
   */
  leaderboardsRead(boards: LeaderboardsData, atMs: number): void {
    if (!this.isCoordinator) return;
    this.boardsRead = { at: atMs, boards };
    this.server.changed('boards');
  }

  /**
   * On a node other than the coordinator: whether the coordinator's leaderboards are current here, that is, they
   * arrived on the link as it is open now and the coordinator is not silent. While not, this node reads the boards
   * itself (logged once per change, flagged in the health topic and in the metrics).
   */
  coordinatorBoards(): boolean {
    const l = this.coordinatorLink;
    const now = l !== null && l.up && this.boardsOpening === l.opens && l.lastHeardMs !== null && Date.now() - l.lastHeardMs <= this.silentAfterMs;
    if (now !== this.boardsFromCoordinator) {
      this.boardsFromCoordinator = now;
      this.opts.log(now ? 'cluster.leaderboards_from_coordinator' : 'cluster.leaderboards_read_here', { coordinator: l?.node ?? null });
    }
    return now;
  }

  /** Every peer as this node hears it, for the health topic. */
  peers(): PeerHealth[] {
    const now = Date.now();
    return this.links.map((l) => {
      const since = l.lastHeardMs === null ? null : now - l.lastHeardMs;
      return { node: l.node, link: l.up ? 'up' : 'down', secondsSinceFigures: since === null ? null : Math.floor(since / 1000), silent: since === null || since > this.silentAfterMs };
    });
  }

  close(): void {
    for (const l of this.links) l.close();
    this.server.close();
  }

  private received(peer: ClusterNode, m: ClusterMessage): void {
    const { aggregator } = this.opts;
    switch (m.type) {
      case 'figures':
        if (m.node !== peer.id) return this.opts.log('cluster.link_wrong_node', { peer: peer.id, node: m.node });
        this.figuresDelay.observe(Math.max(0, Date.now() - m.asOf) / 1000, { peer: peer.id });
        aggregator.applyFigures(m);
        if (!this.heardFrom.has(peer.id)) {
          this.heardFrom.add(peer.id);
          this.onHeard?.();
        }
        return;
      case 'beat':
        if (m.node !== peer.id) return;
        aggregator.heard(m);
        // A replicated standby publishes beats only: it is heard all the same.
        if (this.opts.file.replication != null && !this.heardFrom.has(peer.id)) {
          this.heardFrom.add(peer.id);
          this.onHeard?.();
        }
        return;
      case 'milestones':
        if (this.isCoordinator) return;
        for (const x of [...m.milestones].sort((a, b) => a.crossedAt.localeCompare(b.crossedAt))) aggregator.adoptMilestone(x);
        return;
      case 'control':
        if (this.isCoordinator) return;
        if (JSON.stringify(this.mirroredControl?.state) === JSON.stringify(m.state)) return;
        this.mirroredControl = { at: m.at, state: m.state };
        this.hub?.publish('control', m.at, m.state);
        return;
      case 'boards':
        if (this.isCoordinator || peer.id !== this.coordinatorLink?.node) return;
        this.boardsOpening = this.coordinatorLink.opens;
        this.boardsTarget?.adoptBoards(m.boards, m.at);
        return;
      case 'graphics': {
        if (this.isCoordinator) return;
        const before = this.mirroredGraphics;
        this.mirroredGraphics = m.graphics;
        for (const s of Object.values(m.graphics)) {
          const old = before?.[s.name];
          if (old === undefined || old.rev !== s.rev || old.changedAt !== s.changedAt) this.hub?.publish('graphics', s.changedAt, s);
        }
        return;
      }
    }
  }
}

/** A node's cumulative figures as the link carries them, from its stored totals rows. */
function figuresOf(rows: readonly TotalsRow[]): FiguresWire {
  const currencies: FiguresWire['currencies'] = {};
  let orders = 0;
  let mobileOrders = 0;
  const sums = new Map<string, { amount: bigint; mobile: bigint; orders: number }>();
  for (const r of rows) {
    const c = sums.get(r.currency) ?? { amount: 0n, mobile: 0n, orders: 0 };
    c.amount += r.hundredths;
    c.orders += r.orders;
    orders += r.orders;
    if (r.channel === 'mobile') {
      c.mobile += r.hundredths;
      mobileOrders += r.orders;
    }
    sums.set(r.currency, c);
  }
  for (const [currency, c] of sums) currencies[currency] = { amount: String(c.amount), mobile: String(c.mobile), orders: c.orders };
  return { orders, mobileOrders, currencies };
}
