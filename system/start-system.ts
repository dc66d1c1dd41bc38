// Wires the roles into one process: storage, the live totals, the ingest listener and the public HTTP listener.
import * as uWS from 'uWebSockets.js';
import { Hono } from 'hono';
import { createFeedRoutes } from '../aggregator/feed-routes.ts';
import { LiveHub, type SnapshotSource } from '../aggregator/live-hub.ts';
import { LiveState } from '../aggregator/live-state.ts';
import { LiveTotals, SECONDS_KEPT } from '../aggregator/live-totals.ts';
import { MilestoneTracker } from '../aggregator/milestones.ts';
import { publicOpenApi } from '../aggregator/openapi.ts';
import { loadPublicPage } from '../aggregator/page/page-assets.ts';
import { clientAddress, PublicFeed } from '../aggregator/public-feed.ts';
import { RateLimiter } from '../aggregator/rate-limit.ts';
import { Graphics } from '../overlays/server/graphics.ts';
import { OverlayRegistry } from '../overlays/server/overlay-registry.ts';
import { createOverlayRoutes } from '../overlays/server/overlay-routes.ts';
import { openControlRoom, type ControlRoom } from '../control-room/index.ts';
import { createObsPort } from '../control-room/obs/index.ts';
import type { ObsPort } from '../domain/obs-port.ts';
import { openReplay, rehearsalObs, type Replay } from '../control-room/rehearsal/index.ts';
import { createReconciler, type Reconciler } from '../aggregator/reconciler.ts';
import type { ServeConfig } from './serve-config.ts';
import { mountStartingGate } from '../http/starting-gate.ts';
import { mountFetch } from '../http/uws-fetch.ts';
import { DedupWindow } from '../ingest/dedup-window.ts';
import { GroupCommitter } from '../ingest/group-commit.ts';
import { startIngestServer, type IngestServerOptions } from '../ingest/ingest-server.ts';
import { restoreDedupWindow } from '../ingest/restore-dedup.ts';
import { Registry } from '../platform/metrics.ts';
import { registerAudienceMetrics } from './audience-metrics.ts';
import { startEngineWatch } from './engine-watch.ts';
import { timeStoreCalls } from './timed-store.ts';
import type { OrderStore } from '../storage/storage.ts';
import { silentLog, type Log } from '../platform/log.ts';
import { createProgress, type ProgressReporter } from '../platform/progress.ts';
import { openStore } from './open-store.ts';

export interface RunningSystem {
  httpPort: number;
  ingestPort: number;
  store: OrderStore;
  totals: LiveTotals;
  committer: GroupCommitter;
  metrics: Registry;
  reconciler: Reconciler;
  state: LiveState;
  hub: LiveHub;
  graphics: Graphics;
  overlays: OverlayRegistry;
  feed: PublicFeed;
  milestones: MilestoneTracker;
  control: ControlRoom;
  obs: ObsPort;
  /** The rehearsal's replay; null on air. */
  rehearsal: Replay | null;
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
}

/** Rebuilds the live totals and the de-duplication window from storage, so a restart changes no number. */
async function restore(store: OrderStore, totals: LiveTotals, dedup: DedupWindow, windowMs: number, log: Log, progress: ProgressReporter): Promise<void> {
  const nowS = Math.floor(Date.now() / 1000);
  const [rows, seconds] = await Promise.all([store.totals(), store.rolledSeconds(nowS - SECONDS_KEPT, nowS + 3600)]);
  // Nothing is being ingested yet: every stored order was received before now.
  totals.load(rows, seconds, Date.now());
  const started = Date.now();
  const n = await restoreDedupWindow(store, dedup, Date.now() - windowMs, progress);
  log('restore.done', { orders: totals.orders, dedupFingerprints: n, ms: Date.now() - started });
}

export async function startSystem(cfg: ServeConfig, opts: StartOptions = {}): Promise<RunningSystem> {
  const log = opts.log ?? silentLog;
  // The HTTP listener is bound first: until the node serves, /healthz says what a long start is doing and how far
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
  const metrics = new Registry();
  const store = timeStoreCalls(await openStore(cfg, log), metrics);
  await store.migrate();
  // After a crash, an insert may have been cut between its orders part and its views' parts: put back what the
  // rollups and the fingerprint side table lack before anything reads them (nothing is being inserted yet).
  const runStartedMs = Date.now();
  if (!(await store.beginRun(runStartedMs)).previousStoppedCleanly) {
    const t0 = Date.now();
    const added = await progress.run('restore.repair_derived', 'rows compared', (p) => store.repairDerived(runStartedMs - cfg.dedupWindowMs, p));
    log('restore.derived_checked', { added, ms: Date.now() - t0 });
  }
  const totals = new LiveTotals(cfg.show);
  const dedup = new DedupWindow({ windowMs: cfg.dedupWindowMs, maxEntries: cfg.dedupMaxEntries, expectedPerSecond: cfg.dedupExpectedPerSecond });
  await restore(store, totals, dedup, cfg.dedupWindowMs, log, progress);

  // The show starts at its configured instant, else at the first order held, else now.
  const startsAtMs = cfg.show.startsAt ?? (totals.firstSecond() ?? Math.floor(Date.now() / 1000)) * 1000;
  let state: LiveState | null = null;
  let feed: PublicFeed | null = null;
  const milestones = new MilestoneTracker({
    store,
    show: cfg.show,
    startsAtMs: () => startsAtMs,
    onCrossed: (m) => {
      state?.milestoneCrossed(m);
      feed?.emit('milestone', m);
    },
    log,
  });
  await milestones.load(totals.gmvHundredths(), totals.orders, async () => {
    const rows = await store.rolledSeconds(0, Math.floor(Date.now() / 1000) + 3600);
    const bySecond = new Map<number, { second: number; sums: Map<string, bigint>; orders: number }>();
    for (const r of rows) {
      const e = bySecond.get(r.second) ?? { second: r.second, sums: new Map<string, bigint>(), orders: 0 };
      e.sums.set(r.currency, (e.sums.get(r.currency) ?? 0n) + r.hundredths);
      e.orders += r.orders;
      bySecond.set(r.second, e);
    }
    return [...bySecond.values()].sort((a, b) => a.second - b.second).map((e) => ({ second: e.second, display: totals.displayOf(e.sums), orders: e.orders }));
  });

  const committer = new GroupCommitter({
    store,
    dedup,
    currencies: [...cfg.show.rates.keys()],
    flushIntervalMs: opts.flushIntervalMs ?? cfg.flushIntervalMs,
    maxBufferedOrders: opts.maxBufferedOrders,
    onCommitted: (orders, receivedThroughMs) => {
      const before = new Map(totals.currencySums());
      const ordersBefore = totals.orders;
      totals.apply(orders, receivedThroughMs);
      milestones.check(before, ordersBefore, totals.gmvHundredths(), orders);
    },
    metrics,
    log,
  });
  const ingest = await startIngestServer({ ...opts.ingest, host: cfg.host, port: cfg.ingestPort, tokens: cfg.ingestTokens, currencies: [...cfg.show.rates.keys()], committer, metrics, log });

  const reconciler = createReconciler({
    store,
    totals,
    show: cfg.show,
    intervalMs: cfg.reconcileIntervalMs,
    metrics,
    log,
    onDrift: async () => {
      // Rebuilt only if no commit lands meanwhile; otherwise the next check looks again.
      const rev = totals.revision;
      const through = totals.appliedThroughMs;
      const rows = await store.totals(through);
      if (totals.revision === rev) totals.load(rows, null, through);
    },
  });
  if (cfg.reconcileIntervalMs > 0) reconciler.start();

  const liveState = new LiveState({
    show: cfg.show,
    totals,
    store,
    milestones,
    reconciler,
    storageState: () => (committer.state === 'down' ? 'down' : 'up'),
    ingestLagMs: () => committer.lastCommitLagMs,
    startsAtMs: () => startsAtMs,
    staleSeconds: cfg.staleSeconds,
    rehearsal: cfg.rehearsal != null,
    log,
    // Each SSE stats event describes the second just published, even when the beat runs late and publishes two.
    onSecond: (f) => feed?.emit('stats', { ...statsBody(), lastSecond: { second: f.start, gmv: f.gmv, orders: f.orders, mobileShare: f.mobileShare, mobileOrderShare: f.mobileOrderShare } }),
  });
  state = liveState;
  const limiter = new RateLimiter({ perSecond: cfg.publicRatePerSecond, burst: cfg.publicBurst });
  const statsBody = () => ({ ...totals.snapshot(), ...totals.rate(), reconciliation: reconciler.report(), ...(cfg.rehearsal != null ? { rehearsal: true } : {}) });
  const publicFeed = new PublicFeed({
    limiter,
    heartbeatMs: opts.live?.heartbeatMs,
    maxBufferedBytes: opts.live?.maxBackpressureBytes,
    stats: () => ({ key: `${totals.revision}|${Math.floor(Date.now() / 1000)}|${reconciler.report().checkedAt}|${totals.status}`, body: statsBody }),
  });
  feed = publicFeed;

  let hubRef: LiveHub | null = null;
  const graphics = new Graphics((g) => hubRef?.publish('graphics', g.changedAt, g));
  const overlays = new OverlayRegistry();
  const obs = opts.obs ?? (cfg.rehearsal != null ? rehearsalObs(cfg, cfg.rehearsal, log) : createObsPort(cfg, log));
  const replay = cfg.rehearsal != null ? openReplay(cfg, cfg.rehearsal, ingest.port, log) : null;
  const rehearsal = replay === null ? null : { replay, obs: cfg.rehearsal!.obs };
  const control = await openControlRoom({ cfg, graphics, totals, state: liveState, obs, log, publish: (at, s) => hubRef?.publish('control', at, s), rehearsal });
  const liveSnapshot: SnapshotSource = (t) =>
    t === 'graphics'
      ? { at: new Date().toISOString(), data: graphics.snapshot() }
      : t === 'overlays'
        ? { at: new Date().toISOString(), data: { overlays: overlays.list() } }
        : t === 'control'
          ? { at: new Date().toISOString(), data: control.room.state() }
          : liveState.snapshot(t);
  const web = new Hono<{ Bindings: { remoteAddress?: string } }>()
    .get('/healthz', (c) => c.json({ ok: true, storage: committer.state }))
    .route('/', createOverlayRoutes({ producerTokens: cfg.producerTokens, graphics, registry: overlays, snapshot: liveSnapshot, onBuildError: (e) => log('overlays.build_error', { error: String(e) }) }))
    .route('/', control.routes)
    .route('/', createFeedRoutes({ show: cfg.show, totals, state: liveState, store, limiter, openapi: () => publicOpenApi(cfg.show), page: loadPublicPage() }));
  const hub = new LiveHub(httpApp, {
    producerTokens: cfg.producerTokens,
    maxBackpressureBytes: opts.live?.maxBackpressureBytes,
    snapshot: liveSnapshot,
    authorize: (h) => control.room.liveAuthorized(h),
    onReport: (socket, report) => overlays.report(socket, report),
    onClose: (socket) => overlays.closed(socket),
    watchProduct: (sku) => liveState.watchProduct(sku),
    admit: (res) => {
      const d = limiter.take(clientAddress(res));
      if (d.allowed) return true;
      res.cork(() => {
        res.writeStatus('429 Too Many Requests');
        for (const [k, v] of Object.entries(d.headers)) res.writeHeader(k, v);
        res.end(JSON.stringify({ error: `rate limit: too many requests from this client; retry after ${d.retryAfterSeconds} s` }));
      });
      return false;
    },
  });
  hubRef = hub;
  publicFeed.mount(httpApp);
  // Overlay health goes to the control room once a second, when it changed.
  let overlaysJson = '';
  const overlaysTimer = setInterval(() => {
    const list = overlays.list();
    const j = JSON.stringify(list.map((o) => ({ ...o, reportedAt: '' })));
    if (j === overlaysJson) return;
    overlaysJson = j;
    hub.publish('overlays', new Date().toISOString(), { overlays: list });
  }, 1000);
  overlaysTimer.unref();
  mountFetch(httpApp, (req, env) => web.fetch(req, env), { maxBodyBytes: 1024 * 1024, onError: (e) => log('http.error', { error: String(e) }) });
  liveState.start(hub);
  // After the show's end, the figures turn final once a reconciliation completed after it agrees with storage.
  const finalTimer = setInterval(() => {
    const end = cfg.show.endsAt;
    if (end === null || totals.status === 'final' || Date.now() < end) return;
    const rep = reconciler.report();
    if (rep.checkedAt !== null && Date.parse(rep.checkedAt) > end && Object.keys(rep.drift).length === 0) {
      totals.status = 'final';
      totals.revision++;
      log('show.final', { gmv: totals.snapshot().gmv, orders: totals.orders });
    }
  }, 250);
  finalTimer.unref();
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
    totals,
    committer,
    metrics,
    reconciler,
    state: liveState,
    hub,
    graphics,
    overlays,
    feed: publicFeed,
    milestones,
    control: control.room,
    obs,
    rehearsal: replay,
    close() {
      closing ??= (async () => {
        await replay?.close();
        uWS.us_listen_socket_close(httpListen);
        await ingest.close();
        await milestones.flush();
        clearInterval(finalTimer);
        clearInterval(overlaysTimer);
        liveState.stop();
        publicFeed.close();
        await reconciler.stop();
        await engineWatch.stop();
        await control.close();
        await obs.close();
        httpApp.close();
        // Every insert is over: this run stopped cleanly (if storage is down, the next start checks, which is safe).
        await store.endRun(runStartedMs).catch((e: unknown) => log('system.end_run_failed', { error: String(e) }));
        await store.close();
        log('system.stopped', {});
      })();
      return closing;
    },
  };
}
