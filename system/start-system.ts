// Wires the roles into one process: storage, the live totals, the ingest listener and the public HTTP listener.
import * as uWS from 'uWebSockets.js';
import { Hono } from 'hono';
import { createStatsRoutes } from '../aggregator/stats-routes.ts';
import { LiveTotals } from '../aggregator/live-totals.ts';
import { createReconciler, type Reconciler } from '../aggregator/reconciler.ts';
import type { ServeConfig } from '../cli/config.ts';
import { mountFetch } from '../http/uws-fetch.ts';
import { DedupWindow } from '../ingest/dedup-window.ts';
import { GroupCommitter } from '../ingest/group-commit.ts';
import { startIngestServer, type IngestServerOptions } from '../ingest/ingest-server.ts';
import { Registry } from '../ingest/metrics.ts';
import type { OrderStore } from '../storage/storage.ts';
import { silentLog, type Log } from './log.ts';
import { openStore } from './open-store.ts';

export interface RunningSystem {
  httpPort: number;
  ingestPort: number;
  store: OrderStore;
  totals: LiveTotals;
  committer: GroupCommitter;
  metrics: Registry;
  reconciler: Reconciler;
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
  /** Called once each listener is bound, with the contract's "listening" line. */
  onListening?: (line: string) => void;
}

/** Rebuilds the live totals and the de-duplication window from storage, so a restart changes no number. */
async function restore(store: OrderStore, totals: LiveTotals, dedup: DedupWindow, windowMs: number, log: Log): Promise<void> {
  const nowS = Math.floor(Date.now() / 1000);
  const [rows, seconds] = await Promise.all([store.totals(), store.perSecond(nowS - 3600, nowS + 3600)]);
  totals.load(rows, seconds);
  const started = Date.now();
  const n = await store.fingerprintsSince(Date.now() - windowMs, (p) => {
    for (let i = 0; i < p.count; i++) dedup.add(p.hi[i]!, p.lo[i]!, p.receivedMs[i]!);
  });
  log('restore.done', { orders: totals.orders, dedupFingerprints: n, ms: Date.now() - started });
}

export async function startSystem(cfg: ServeConfig, opts: StartOptions = {}): Promise<RunningSystem> {
  const log = opts.log ?? silentLog;
  const store = await openStore(cfg, log);
  await store.migrate();
  const metrics = new Registry();
  const totals = new LiveTotals(cfg.show);
  const dedup = new DedupWindow({ windowMs: cfg.dedupWindowMs, maxEntries: cfg.dedupMaxEntries, expectedPerSecond: cfg.dedupExpectedPerSecond });
  await restore(store, totals, dedup, cfg.dedupWindowMs, log);

  const committer = new GroupCommitter({
    store,
    dedup,
    currencies: [...cfg.show.rates.keys()],
    flushIntervalMs: opts.flushIntervalMs,
    maxBufferedOrders: opts.maxBufferedOrders,
    onCommitted: (orders) => totals.apply(orders),
    metrics,
    log,
  });
  const ingest = await startIngestServer({ ...opts.ingest, host: cfg.host, port: cfg.ingestPort, tokens: cfg.ingestTokens, currencies: [...cfg.show.rates.keys()], committer, metrics, log });

  const reconciler = createReconciler({ store, totals, show: cfg.show, intervalMs: cfg.reconcileIntervalMs, metrics, log });
  if (cfg.reconcileIntervalMs > 0) reconciler.start();
  const web = new Hono().route('/', createStatsRoutes({ totals, reconciler })).get('/healthz', (c) => c.json({ ok: true, storage: committer.state }));
  const httpApp = uWS.App();
  mountFetch(httpApp, (req) => web.fetch(req), { maxBodyBytes: 1024 * 1024, onError: (e) => log('http.error', { error: String(e) }) });
  const httpListen = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    httpApp.listen(cfg.host, cfg.httpPort, (s) => (s ? resolve(s) : reject(new Error(`http: cannot listen on ${cfg.host}:${cfg.httpPort}`)))),
  );
  const httpPort = uWS.us_socket_local_port(httpListen);
  opts.onListening?.(`listening http=${httpPort}`);
  opts.onListening?.(`listening ingest=${ingest.port}`);

  let closing: Promise<void> | null = null;
  return {
    httpPort,
    ingestPort: ingest.port,
    store,
    totals,
    committer,
    metrics,
    reconciler,
    close() {
      closing ??= (async () => {
        uWS.us_listen_socket_close(httpListen);
        await ingest.close();
        await reconciler.stop();
        httpApp.close();
        await store.close();
        log('system.stopped', {});
      })();
      return closing;
    },
  };
}
