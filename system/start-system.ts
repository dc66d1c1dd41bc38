// Wires the roles into one process: storage, ingest, the aggregator, the live channel and public feed, overlays and
// the control room, in construction order (each takes what was built before it; later ones reach back by subscription).
import * as uWS from 'uWebSockets.js';
import { Hono } from 'hono';
import { cache, createFeedRoutes } from '../aggregator/feed-routes.ts';
import { LiveHub, snapshotSource } from '../aggregator/live-hub.ts';
import { LiveState } from '../aggregator/live-state.ts';
import { openAggregator, type Aggregator, type MilestoneReader, type TotalsReader } from '../aggregator/index.ts';
import { publicOpenApi } from '../aggregator/openapi.ts';
import { loadPublicPage } from '../aggregator/page/page-assets.ts';
import { admitClient } from '../aggregator/admit-client.ts';
import { PublicFeed } from '../aggregator/public-feed.ts';
import { RateLimiter } from '../aggregator/rate-limit.ts';
import { Graphics } from '../overlays/server/graphics.ts';
import { OverlayRegistry } from '../overlays/server/overlay-registry.ts';
import { createOverlayRoutes } from '../overlays/server/overlay-routes.ts';
import { openControlRoom, type ControlRoom } from '../control-room/index.ts';
import { createObsPort } from '../control-room/obs/index.ts';
import type { ObsPort } from '../domain/obs-port.ts';
import { openReplay, rehearsalObs, type Replay } from '../control-room/rehearsal/index.ts';
import type { ServeConfig } from './serve-config.ts';
import { openClusterRouting, type ClusterRouting, type ClusterRoutingOptions } from '../cluster/cluster-routing.ts';
import { mountStartingGate } from '../http/starting-gate.ts';
import { mountFetch } from '../http/uws-fetch.ts';
import { DedupWindow } from '../ingest/dedup-window.ts';
import { GroupCommitter } from '../ingest/group-commit.ts';
import { restoreDedupWindow } from '../ingest/restore-dedup-window.ts';
import { startIngestServer, type IngestServerOptions } from '../ingest/ingest-server.ts';
import { Registry } from '../platform/metrics.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import { registerAudienceMetrics } from './audience-metrics.ts';
import { startEngineWatch } from './engine-watch.ts';
import { timeStoreCalls } from './timed-store.ts';
import type { OrderStore, ReplicaStatus } from '../storage/storage.ts';
import { silentLog, type Log } from '../platform/log.ts';
import { createProgress } from '../platform/progress.ts';
import { openStore } from './open-store.ts';
import { ClusterNodeRole } from '../cluster/index.ts';
import { coordinatorOf } from '../domain/cluster-map.ts';
import { createClusterRoutes } from '../cluster/cluster-routes.ts';
import { awaitShards } from '../cluster/await-shards.ts';
import { ShardLeases } from '../cluster/shard-leases.ts';
import { staticOwnership, type Ownership } from '../cluster/ownership.ts';
import { createShardLifecycle, registerShardMetrics, type ShardHooks, type ShardLifecycle } from '../cluster/shard-lifecycle.ts';
import type { ClusterFile, ClusterNode } from '../domain/cluster-map.ts';
import type { ReplicaView, TakeoverView } from '../protocol/cluster-protocol.ts';

export interface RunningSystem {
  httpPort: number;
  ingestPort: number;
  store: OrderStore;
  aggregator: Aggregator;
  /** The aggregator's parts, as readers (and tests) use them. */
  totals: TotalsReader;
  milestones: MilestoneReader;
  reconciler: Aggregator['reconciler'];
  committer: GroupCommitter;
  metrics: Registry;
  state: LiveState;
  hub: LiveHub;
  graphics: Graphics;
  overlays: OverlayRegistry;
  feed: PublicFeed;
  control: ControlRoom;
  obs: ObsPort;
  /** The rehearsal's replay; null on air. */
  rehearsal: Replay | null;
  /** This node's cluster role; null on a single node. */
  cluster: ClusterNodeRole | null;
  /** A cluster node's links to its peers and its router; null for a single node. */
  routing: ClusterRouting | null;
  /** Graceful stop: refuse new work, commit and acknowledge what is in flight, close everything. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Log;
  /** Group-commit tuning (tests shorten it; production keeps the defaults). */
  flushIntervalMs?: number;
  maxBufferedOrders?: number;
  /** Ingest listener tuning (frame size, backpressure, in-flight caps). */
  ingest?: Pick<IngestServerOptions, 'maxFrameBytes' | 'maxBackpressureBytes' | 'maxInflightPerConnection'>;
  /** Live channel and SSE tuning (tests shrink them). */
  live?: { maxBackpressureBytes?: number; heartbeatMs?: number };
  /** Called once each listener is bound, with the contract's "listening" line. */
  onListening?: (line: string) => void;
  /** Lines for the operator's console: how a long start (restoring, repairing) is going. */
  print?: (line: string) => void;
  /** The OBS the control room drives (the system closes it); default: log-only. */
  obs?: ObsPort;
  /** Cluster link tuning (tests shorten the beat and the silence limit). */
  cluster?: { beatMs?: number; silentAfterMs?: number; startWaitMs?: number };
  /** A cluster node's peer-link tuning (tests shorten the timeouts). */
  clusterLink?: ClusterRoutingOptions['link'];
  /** Replication: what opens the shard leases (default openLeasedOwnership below; tests drive leases by hand). */
  leases?: (opts: LeasedOwnershipOptions) => LeasedOwnership;
}

export async function startSystem(cfg: ServeConfig, opts: StartOptions = {}): Promise<RunningSystem> {
  const log = opts.log ?? silentLog;
  const metrics = new Registry();
  // The store is opened before anything listens: a data directory another process holds is refused before this
  // process announces a port.
  const store = timeStoreCalls(await openStore(cfg, log), metrics);
  // Then the HTTP listener is bound: until the node serves, /healthz says what a long start is doing and how far
  // it has got, and everything else is 503.
  const progress = createProgress({ log, print: opts.print });
  const httpApp = uWS.App();
  const gate = mountStartingGate(httpApp, () => {
    const now = progress.current();
    return { phase: now?.task ?? 'starting', progress: now };
  });
  const httpListen = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    httpApp.listen(cfg.host, cfg.httpPort, (s) => (s ? resolve(s) : reject(new Error(`http: cannot listen on ${cfg.host}:${cfg.httpPort}`)))),
  );
  const httpPort = uWS.us_socket_local_port(httpListen);
  opts.onListening?.(`listening http=${httpPort}`);
  await store.migrate();
  if (cfg.cluster != null) await awaitShards(store, cfg.cluster.file.clickhouseCluster, { progress, log, print: opts.print });
  // After a crash, a group's orders may be stored without its rollup rows and side-table fill (killed between the two
  // inserts): put in what the derived tables lack for the runs since the last clean stop, before anything reads
  // them (nothing is being inserted yet).
  const runStartedMs = Date.now();
  const run = await store.beginRun(runStartedMs);
  if (!run.previousStoppedCleanly) {
    const t0 = Date.now();
    const added = await progress.run('restore.repair_derived', 'tables checked', (p) => store.repairDerived(Math.min(run.uncleanSinceMs ?? runStartedMs, runStartedMs - cfg.dedupWindowMs), p));
    log('restore.derived_checked', { added, ms: Date.now() - t0 });
  }
  // Storage is the truth: the de-duplication window and the aggregator's figures are restored from it before
  // ingest opens, so a restart changes no number.
  const dedup = new DedupWindow({ windowMs: cfg.dedupWindowMs, maxEntries: cfg.dedupMaxEntries, expectedPerSecond: cfg.dedupExpectedPerSecond });
  await restoreDedupWindow(store, dedup, Date.now() - dedup.windowMs, progress);
  const clusterCfg = cfg.cluster ?? null;
  // Who commits which partition: issue 14's fixed map, or with replication the shard leases, whose acquire and
  // release run the shard lifecycle (bound below, once the router, the aggregator and the figures link exist).
  let lifecycle: ShardLifecycle | null = null;
  const hooks: ShardHooks = {
    acquire: (shard, epoch) => lifecycle!.acquire(shard, epoch),
    release: (shard) => lifecycle!.release(shard),
  };
  const leased = clusterCfg !== null && clusterCfg.file.replication != null ? (opts.leases ?? openLeasedOwnership)({ ...clusterCfg, hooks, log, metrics, store }) : null;
  if (leased !== null) replicaMetrics(metrics, store);
  const ownership: Ownership | null = clusterCfg === null ? null : (leased?.ownership ?? staticOwnership(clusterCfg.file, clusterCfg.self.id));
  const aggregator = await openAggregator({
    store, show: cfg.show, reconcileIntervalMs: cfg.reconcileIntervalMs, rehearsal: cfg.rehearsal != null, metrics, log,
    cluster: clusterCfg === null ? undefined : { coordinator: coordinatorOf(clusterCfg.file).id === clusterCfg.self.id, replicated: leased !== null },
  });
  const cluster = clusterCfg === null ? null : new ClusterNodeRole({ ...clusterCfg, ingestTokens: cfg.ingestTokens, aggregator, store, metrics, log, runStartedMs, ...opts.cluster });
  /** A cluster node other than the coordinator shows the coordinator's graphics and control state, not its own. */
  const mirrors = cluster !== null && !cluster.isCoordinator;

  // An order: socket -> validate -> de-duplicate -> commit (ingest) -> aggregate (the sink) -> publish (the live
  // state on the live channel, the public feed's stats and SSE). The publishing side is built before ingest opens.
  const committer = new GroupCommitter({
    store,
    dedup,
    currencies: [...cfg.show.rates.keys()],
    flushIntervalMs: opts.flushIntervalMs ?? cfg.flushIntervalMs,
    derivedIntervalMs: cfg.derivedIntervalMs,
    maxBufferedOrders: opts.maxBufferedOrders,
    sink: aggregator,
    // For the crash test only: die the hard way between a group's orders insert and its derived rows' insert.
    afterOrdersInsert: process.env.GALA_TEST_KILL_AFTER_ORDERS_INSERT === '1' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
    metrics,
    log,
  });
  const limiter = new RateLimiter({ perSecond: cfg.publicRatePerSecond, burst: cfg.publicBurst });
  const publicFeed = new PublicFeed({
    limiter,
    heartbeatMs: opts.live?.heartbeatMs,
    maxBufferedBytes: opts.live?.maxBackpressureBytes,
    stats: () => ({ key: aggregator.statsKey(), body: () => aggregator.stats() }),
  });
  const liveState = new LiveState({
    show: cfg.show,
    totals: aggregator.totals,
    store,
    milestones: aggregator.milestones,
    reconciler: aggregator.reconciler,
    storageState: () => (committer.state === 'down' ? 'down' : 'up'),
    ingestLagMs: () => committer.lastCommitLagMs,
    startsAtMs: () => aggregator.startsAtMs,
    staleSeconds: cfg.staleSeconds,
    rehearsal: cfg.rehearsal != null,
    log,
    // Each SSE stats event describes the second just published, even when the beat runs late and publishes two.
    onSecond: (f) => publicFeed.emit('stats', aggregator.stats(f)),
    peers: cluster === null ? undefined : () => cluster.peers(),
    coordination:
      leased?.zookeeperState === undefined || clusterCfg === null
        ? undefined
        : () => {
            const zookeeper = leased.zookeeperState!()[clusterCfg.self.id] ?? 'unknown';
            return { zookeeper, acksPaused: zookeeper !== 'connected' };
          },
    // The leaderboards span the cluster: the coordinator reads them and sends them; the others serve those.
    coordinatorBoards: cluster === null || cluster.isCoordinator ? undefined : () => cluster.coordinatorBoards(),
    onBoards: cluster?.isCoordinator === true ? (b, at) => cluster.leaderboardsRead(b, at) : undefined,
  });
  aggregator.onMilestone((m) => {
    liveState.milestoneCrossed(m);
    publicFeed.emit('milestone', m);
  });
  // A cluster node splits each batch by owner and forwards the other owners' parts over its links to them.
  const routing = cfg.cluster ? openClusterRouting({ cluster: cfg.cluster, token: cfg.ingestTokens[0], committer, ownership: ownership!, currencies: [...cfg.show.rates.keys()], metrics, link: opts.clusterLink, log }) : null;
  if (leased !== null) {
    lifecycle = createShardLifecycle({
      routing: routing!,
      aggregator,
      server: cluster!.server,
      // From this node's own replica: the shard's every id within the window's span, the previous holder's included.
      restoreWindow: () => restoreDedupWindow(store, dedup, Date.now() - dedup.windowMs, progress),
      fillSideTable: (sinceMs) => committer.fillSince(sinceMs),
      log,
    });
    registerShardMetrics(metrics, () => leased.ownership.shards());
  }
  const ingest = await startIngestServer({ ...opts.ingest, host: cfg.host, port: cfg.ingestPort, tokens: cfg.ingestTokens, currencies: [...cfg.show.rates.keys()], committer, route: routing?.route, metrics, log, mount: cluster === null ? undefined : (app) => cluster.server.mount(app) });

  const graphics = new Graphics();
  const overlays = new OverlayRegistry();
  const obs = opts.obs ?? (cfg.rehearsal != null ? rehearsalObs(cfg, cfg.rehearsal, log) : createObsPort(cfg, log));
  const replay = cfg.rehearsal != null ? openReplay(cfg, cfg.rehearsal, ingest.port, log) : null;
  const rehearsal = replay === null ? null : { replay, obs: cfg.rehearsal!.obs };
  const control = await openControlRoom({ cfg, graphics, totals: aggregator.totals, state: liveState, obs, log, rehearsal, sessionCheck: cluster?.sessionCheck() });
  const liveSnapshot = snapshotSource({
    ...liveState.snapshots(),
    graphics: () => cluster?.graphicsSnapshot() ?? { at: new Date().toISOString(), data: graphics.snapshot() },
    overlays: () => ({ at: new Date().toISOString(), data: { overlays: overlays.list() } }),
    control: () => cluster?.controlSnapshot() ?? { at: new Date().toISOString(), data: control.room.state() },
  });
  // A cluster node passes the control room's calls to the coordinator; the coordinator accepts what they pass on.
  const clusterHttp = cluster?.httpRoutes() ?? null;
  // A cluster node also answers GET /v1/cluster, inside the public feed.
  const clusterRoutes =
    cfg.cluster != null
      ? createClusterRoutes({
          cluster: cfg.cluster,
          cacheControl: cache(1),
          peerStates: routing?.peerStates,
          ...(leased === null ? {} : { ownership: leased.ownership, replicaStatus: leased.replicaStatus, zookeeperState: leased.zookeeperState, lastTakeover: leased.lastTakeover }),
        })
      : undefined;
  const web = new Hono<HttpEnv>()
    .route('/', clusterHttp ?? new Hono<HttpEnv>())
    .get('/healthz', (c) => c.json({ ok: true, storage: committer.state, ...(liveState.healthData().coordination === undefined ? {} : { coordination: liveState.healthData().coordination }) }))
    .route('/', createOverlayRoutes({ producerTokens: cfg.producerTokens, graphics, registry: overlays, snapshot: liveSnapshot, audit: (e) => control.room.record({ ...e, role: 'producer', via: 'token' }), onBuildError: (e) => log('overlays.build_error', { error: String(e) }) }))
    .route('/', control.routes)
    .route('/', createFeedRoutes({ show: cfg.show, totals: aggregator.totals, state: liveState, store, limiter, openapi: () => publicOpenApi(cfg.show, { cluster: cfg.cluster != null }), page: loadPublicPage(), extra: clusterRoutes }));
  const hub = new LiveHub(httpApp, {
    producerTokens: cfg.producerTokens,
    maxBackpressureBytes: opts.live?.maxBackpressureBytes,
    snapshot: liveSnapshot,
    authorize: (h) => control.room.liveAuthorized(h),
    onReport: (socket, report) => overlays.report(socket, report),
    onClose: (socket) => overlays.closed(socket),
    watchProduct: (sku) => liveState.watchProduct(sku),
    admit: (res) => admitClient(limiter, res) !== null,
  });
  // The hub reads the graphics and the control room for its snapshots; their changes reach it by subscription.
  if (!mirrors) {
    graphics.onChange((g) => hub.publish('graphics', g.changedAt, g));
    control.room.onState((at, s) => hub.publish('control', at, s));
  }
  cluster?.start({ hub, graphics, control: control.room, boards: liveState });
  // The leases start claiming once the router, the figures link and the shard lifecycle are in place.
  await leased?.start();
  // A cluster node serves once it holds every reachable peer's figures: its totals never start below the cluster's.
  // Waited for before the public routes are mounted: mounting them replaces the starting gate's catch-all.
  await cluster?.peersHeard(opts.cluster?.startWaitMs ?? 5000);
  const stopOverlayWatch = overlays.watch((at, list) => hub.publish('overlays', at, { overlays: list }));
  publicFeed.mount(httpApp);
  mountFetch(httpApp, (req, env) => web.fetch(req, env), { maxBodyBytes: 1024 * 1024, onError: (e) => log('http.error', { error: String(e) }) });
  liveState.start(hub);
  const engineWatch = startEngineWatch(store, metrics, 10_000, log);
  metrics.gauge('gala_live_connections', 'Live channel WebSocket connections', () => hub.connections);
  metrics.counterReading('gala_live_dropped_total', 'Live channel subscribers dropped for falling behind', () => hub.dropped);
  metrics.gauge('gala_sse_streams', 'Open SSE streams of /v1/stats/stream', () => publicFeed.streamCount);
  metrics.gauge('gala_input_stale', '1 when no order arrived for GALA_STALE_SECONDS while the show is live', () => (liveState.healthData().stale ? 1 : 0));
  registerAudienceMetrics(metrics, hub, overlays);
  gate.open();
  opts.onListening?.(`listening ingest=${ingest.port}`);
  if (replay !== null && cfg.rehearsal?.wait === false) replay.start();

  let closing: Promise<void> | null = null;
  return {
    httpPort,
    ingestPort: ingest.port,
    store,
    aggregator,
    totals: aggregator.totals,
    milestones: aggregator.milestones,
    reconciler: aggregator.reconciler,
    committer,
    metrics,
    state: liveState,
    hub,
    graphics,
    overlays,
    feed: publicFeed,
    control: control.room,
    obs,
    rehearsal: replay,
    cluster,
    routing,
    close() {
      closing ??= (async () => {
        await replay?.close();
        uWS.us_listen_socket_close(httpListen);
        await ingest.close();
        // A lease held is handed back (its in-flight commits answered, its final figures sent) while the link is up.
        await leased?.close();
        // After ingest: the figures of the last commits have gone out on the link (it shares ingest's listener).
        cluster?.close();
        routing?.close();
        // After ingest: the last commits' milestone crossings are recorded and published before the feeds close.
        await aggregator.close();
        stopOverlayWatch();
        liveState.stop();
        publicFeed.close();
        await engineWatch.stop();
        await control.close();
        await obs.close();
        httpApp.close();
        // Every insert is over: this run stopped cleanly (if storage is down, the next start checks, which is safe),
        // unless derived rows may still be missing: then the run is left unclean and the next start repairs them.
        if (committer.derivedPending) log('system.derived_left_for_next_start', {});
        else await store.endRun(runStartedMs).catch((e: unknown) => log('system.end_run_failed', { error: String(e) }));
        await store.close();
        log('system.stopped', {});
      })();
      return closing;
    },
  };
}

// ---- Replicated clusters: the shard leases ------------------------------------------------------------------

/**
 * This node's ClickHouse replica as system.replicas tells it (the worst of Gala's tables), for /metrics: the same lag
 * /v1/cluster and the live panel show. One read serves the scrape's families (at most one a second); a replica that
 * does not answer gives no sample.
 */
function replicaMetrics(metrics: Registry, store: Pick<OrderStore, 'replicaStatus'>): void {
  let last: { at: number; status: Promise<ReplicaStatus | null> } | null = null;
  const status = (): Promise<ReplicaStatus | null> => {
    if (last === null || Date.now() - last.at >= 1000) last = { at: Date.now(), status: store.replicaStatus() };
    return last.status;
  };
  metrics.gaugeAsync('gala_replica_delay_seconds', "How far this node's ClickHouse replica is behind its shard (s, system.replicas absolute_delay)", async () => (await status())?.absoluteDelayS ?? null);
  metrics.gaugeAsync('gala_replica_queue_size', "Fetches and merges waiting in this node's replica's replication queue", async () => (await status())?.queueSize ?? null);
  metrics.gaugeAsync('gala_replica_readonly', "1 while this node's replica cannot write (its ZooKeeper session is lost)", async () => {
    const r = await status();
    return r === null ? null : r.readonly ? 1 : 0;
  });
  metrics.gaugeAsync('gala_replica_active_replicas', "Replicas of this node's shard with a live ZooKeeper session", async () => (await status())?.activeReplicas ?? null);
}

/** What the leases give a replicated node: its ownership, their start and stop, and what /v1/cluster shows of them. */
export interface LeasedOwnership {
  /** Who commits each partition now; its mayAck gates every local ack. */
  ownership: Ownership;
  /** Joins (membership) and starts claiming; resolves once connected, not once a lease is held. */
  start(): Promise<void>;
  /** Hands a held lease back (hooks.release runs), leaves the membership, closes the session. */
  close(): Promise<void>;
  /** For GET /v1/cluster and the live panel: each node's replica lag, ZooKeeper states, the last takeover. */
  replicaStatus?: () => Promise<Readonly<Record<string, ReplicaView>>>;
  zookeeperState?: () => Readonly<Record<string, string>>;
  lastTakeover?: () => TakeoverView | null;
}

export interface LeasedOwnershipOptions {
  file: ClusterFile;
  self: ClusterNode;
  /**
   * The node's side of a lease: `acquire(shard, epoch)` rebuilds the dedup window and the shard's figures from this
   * node's replica and resolves when it may ack (call it after the claim, before setting serving); `release(shard)`
   * stops new commits of the shard, waits for those in flight to be answered, sends the final figures, and resolves
   * (call it before deleting the owner node on handback, and when the lease is lost).
   */
  hooks: ShardHooks;
  log: Log;
  metrics: Registry;
  /** This node's replica's lag, for operators. */
  store?: Pick<OrderStore, 'replicaStatus'>;
}

/**
 * The shard leases of a replicated cluster (cluster/shard-leases.ts, over ZooKeeper) with the node's hooks, and the
 * operators' view of them: this node's replica lag (system.replicas), ZooKeeper as this node sees it (its own
 * session; a peer is "member" while its membership node exists, else "absent"), the last takeover.
 */
function openLeasedOwnership(opts: LeasedOwnershipOptions): LeasedOwnership {
  const leases = new ShardLeases({ file: opts.file, self: opts.self, hooks: opts.hooks, metrics: opts.metrics, log: opts.log });
  const store = opts.store;
  return {
    ownership: leases,
    start: () => leases.start(),
    close: () => leases.close(),
    replicaStatus: store === undefined ? undefined : async () => {
      const r = await store.replicaStatus();
      return r === null ? {} : { [opts.self.id]: { delaySeconds: r.absoluteDelayS, queueSize: r.queueSize, readonly: r.readonly } };
    },
    zookeeperState: () => {
      const members = new Set(leases.memberIds());
      const out: Record<string, string> = {};
      for (const n of opts.file.nodes) out[n.id] = n.id === opts.self.id ? leases.zookeeperState() : members.has(n.id) ? 'member' : 'absent';
      return out;
    },
    lastTakeover: () => leases.lastTakeover(),
  };
}
