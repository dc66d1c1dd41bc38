// The storage engine alone at a given rate, with group commit's timing and no network, parsing or de-duplication:
// orders "arrive" evenly at --rate, a group is inserted every --flush ms (or, while an insert runs, as soon as it
// ends), one insert at a time, exactly as ingest/group-commit.ts does. Each order's latency is its group's insert
// end minus its arrival, so the printed p99 is the floor under the ack p99 of bench:ingest at that rate, on this
// machine, with this engine, its derived tables and its merges. The write path is Gala's (--write-path new: the
// orders insert, which the ack waits for, then the group's rollup and side-table rows, in the next derived insert,
// which runs beside the next orders inserts and takes every group committed while the one before it ran), the same
// one group's derived rows at a time (depth1: the path until 3 December), the derived rows before the next group
// (serial: the path before that), the orders insert with no derived rows at all (orders: the floor of the new
// path), or the one before Gala wrote them (old: the orders insert alone, with the materialized views that filled
// those tables).
// --chdb-route says how inserts reach chDB: through a file in tmpfs read by INSERT ... FROM INFILE (file, Gala's
// default) or through chDB's insert API (api). Several paths and routes, comma-separated, take turns in each run
// (every path with every route, alternating in one process), and the medians of each are printed with their ratio
// to the first's. --derived-interval gives the new path's least time between two derived inserts (group commit's
// GALA_DERIVED_INTERVAL_MS, 500 by default); several values take turns the same way.
//   npm run bench:engine-paced -- [--rate 100000] [--flush 100] [--duration 120] [--warmup 10] [--runs 1]
//     [--write-path new|depth1|serial|orders|old[,...]] [--chdb-route file|api[,...]] [--derived-interval 500[,0...]]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { DEFAULT_DERIVED_INTERVAL_MS, DEFAULT_MAX_DERIVED_WAITING_ORDERS, derivedStartWaitMs } from '../ingest/group-commit.ts';
import { mergeDerivedRows, type DerivedRows } from '../storage/derived-fold.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import { keyMinuteRollup, keyTotalRollup, secondRollup } from '../storage/schema.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { DEFAULT_TMPFS } from '../storage/chdb/insert-spool.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { median, pct } from './stats.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseOrder, type Order } from '../domain/order.ts';
import { createSimulator } from '../simulator/simulator.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100000' },
    flush: { type: 'string', default: '100' },
    duration: { type: 'string', default: '120' },
    warmup: { type: 'string', default: '10' },
    runs: { type: 'string', default: '1' },
    // Experiment: without the two key-rollup views (brand/product/region), to see what they cost the tail.
    'no-key-views': { type: 'boolean', default: false },
    'write-path': { type: 'string', default: 'new' },
    'chdb-route': { type: 'string', default: 'file' },
    // For the new path: least ms between derived inserts (group commit's GALA_DERIVED_INTERVAL_MS); comma-separated values take turns.
    'derived-interval': { type: 'string', default: String(DEFAULT_DERIVED_INTERVAL_MS) },
  },
});
const PATHS = ['new', 'depth1', 'serial', 'orders', 'old'] as const;
type WritePath = (typeof PATHS)[number];
const paths = values['write-path'].split(',').map((x) => x.trim());
for (const x of paths) if (!(PATHS as readonly string[]).includes(x)) throw new Error(`--write-path must be one or more of ${PATHS.join(', ')} (comma-separated), got ${JSON.stringify(x)}`);
const WRITE_PATHS = paths as WritePath[];
const ROUTES = ['file', 'api'] as const;
type Route = (typeof ROUTES)[number];
const routes = values['chdb-route'].split(',').map((x) => x.trim());
for (const x of routes) if (!(ROUTES as readonly string[]).includes(x)) throw new Error(`--chdb-route must be one or more of ${ROUTES.join(', ')} (comma-separated), got ${JSON.stringify(x)}`);
const intervals = values['derived-interval'].split(',').map((x) => Number(x.trim()));
for (const x of intervals) if (!Number.isFinite(x) || x < 0) throw new Error(`--derived-interval must be one or more numbers of ms, 0 or more (comma-separated), got ${JSON.stringify(values['derived-interval'])}`);
/** Every write path with every route (and, for the new path, every derived interval): the configurations that take turns. */
const CONFIGS = WRITE_PATHS.flatMap((path) =>
  (routes as Route[]).flatMap((route) =>
    (path === 'new' ? intervals : [0]).map((derivedIntervalMs) => ({
      path,
      route,
      derivedIntervalMs,
      name: `${path}${routes.length === 1 ? '' : `/${route}`}${path === 'new' && intervals.length > 1 ? `/${derivedIntervalMs}ms` : ''}`,
    })),
  ),
);
type Config = (typeof CONFIGS)[number];
const RATE = Number(values.rate);
const FLUSH = Number(values.flush);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);

interface PooledOrder {
  order: Order;
  hi: number;
  lo: number;
}

/** Orders like the simulator's (brands, SKUs, regions, currencies), parsed and fingerprinted once. */
function rowPool(n: number): PooledOrder[] {
  const show = loadShow(DEFAULT_SHOW_FILE);
  const sim = createSimulator({ seed: 7, show, resendRate: 0, malformedRate: 0 });
  const rows: PooledOrder[] = [];
  while (rows.length < n) {
    const r = parseOrder(JSON.parse(sim.next().json), (c) => show.rates.has(c));
    if (!r.ok) continue;
    const [hi, lo] = fingerprint(r.order.id);
    rows.push({ order: r.order, hi, lo });
  }
  return rows;
}

/** The views of the schema before v4, for --write-path old. */
const OLD_VIEWS = [
  `CREATE MATERIALIZED VIEW gala_order_fps_mv TO gala_order_fps AS SELECT fp_hi, fp_lo, received_ms FROM gala_orders`,
  `CREATE MATERIALIZED VIEW gala_agg_second_mv TO gala_agg_second AS ${secondRollup()}`,
  `CREATE MATERIALIZED VIEW gala_agg_key_minute_mv TO gala_agg_key_minute AS ${keyMinuteRollup()}`,
  `CREATE MATERIALIZED VIEW gala_agg_key_total_mv TO gala_agg_key_total AS ${keyTotalRollup()}`,
];

interface RunResult {
  p50: number;
  p99: number;
  insertP50: number;
  insertP99: number;
  derivedP50?: number;
  derivedP99?: number;
  rssMaxMb: number;
  /** CPU of the whole process (Gala and chDB's threads) per row, after warm-up: less bent by a shared machine than latency. */
  cpuUsPerRow: number;
}

async function run(index: number, { path, route, name, derivedIntervalMs }: Config, pool: PooledOrder[]): Promise<RunResult> {
  const OLD = path === 'old';
  const dir = mkdtempSync(join(tmpdir(), 'gala-paced-'));
  const conn = createChdbConnection(dir, { tmpfs: route === 'file' ? DEFAULT_TMPFS : null });
  if (conn.insertRoute.kind !== route) throw new Error(`--chdb-route ${route}: inserts take the ${conn.insertRoute.kind} route (${JSON.stringify(conn.insertRoute)})`);
  const store = createOrderStore(conn);
  await store.migrate();
  if (OLD) for (const v of OLD_VIEWS) if (!(values['no-key-views'] && /key_(minute|total)_mv/.test(v))) await conn.command(v);
  const latencies: number[] = [];
  const inserts: number[] = [];
  const derivedInserts: number[] = [];
  let stretch: number[] = [];
  const t0 = performance.now();
  const end = t0 + (WARMUP + DURATION) * 1000;
  let sealedThrough = t0; // orders that arrived before this instant are in a group already
  let next = 0;
  let lastPrint = t0;
  let rssMax = 0;
  let cpuFrom: NodeJS.CpuUsage | null = null;
  let rowsMeasured = 0;
  /** The derived insert running beside the next orders inserts (new, depth1), at most one. */
  let derivedRunning: Promise<void> | null = null;
  /** New path: derived rows of groups committed while it runs, for the next derived insert (as group commit). */
  let derivedWaiting: DerivedRows[] = [];
  let derivedWaitingRows = 0;
  let lastDerivedStart = Number.NEGATIVE_INFINITY;
  let derivedTimer: NodeJS.Timeout | null = null;
  const startDerived = (measured: boolean, now = false): void => {
    if (derivedRunning !== null || derivedWaiting.length === 0) return;
    // As group commit: at most one start per interval, unless the waiting rows are past their bound (or the run ends).
    const wait = derivedStartWaitMs(lastDerivedStart, derivedIntervalMs, performance.now(), derivedWaitingRows, DEFAULT_MAX_DERIVED_WAITING_ORDERS);
    if (!now && wait > 0) {
      derivedTimer ??= setTimeout(() => {
        derivedTimer = null;
        startDerived(measured);
      }, Math.ceil(wait));
      return;
    }
    if (derivedTimer !== null) clearTimeout(derivedTimer);
    derivedTimer = null;
    lastDerivedStart = performance.now();
    const rows = mergeDerivedRows(derivedWaiting);
    derivedWaiting = [];
    derivedWaitingRows = 0;
    const ds = performance.now();
    derivedRunning = store.insertDerived(rows).then(() => {
      if (measured) derivedInserts.push(performance.now() - ds);
      derivedRunning = null;
      startDerived(measured);
    });
  };
  while (performance.now() < end) {
    // Wait until the oldest waiting order has waited FLUSH ms (group commit's timer), then take all that arrived.
    const due = sealedThrough + FLUSH;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const from = sealedThrough;
    const to = performance.now();
    sealedThrough = to;
    const count = Math.max(1, Math.round(((to - from) / 1000) * RATE));
    // Rows written (and, for the new path, folded) as ingest does it while a group fills; paid now, received now.
    const w = new OrderRowWriter();
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const p = pool[(next + i) % pool.length]!;
      w.add({ ...p.order, ts: now }, now, p.hi, p.lo);
    }
    next += count;
    const s = performance.now();
    await store.insertOrders({ count, tsv: w.bytes() });
    const done = performance.now();
    // The ack goes out here. The derived rows follow: before the next group's insert (serial); beside it once the
    // previous group's are in (depth1); or, as group commit does now (new), into the next derived insert, which
    // takes every group committed while the one before it ran, the next orders insert waiting only past the bound.
    const measured = s - t0 >= WARMUP * 1000;
    const derived = path === 'orders' || path === 'old' ? null : w.derived();
    if (derived !== null && path === 'serial') {
      await store.insertDerived(derived);
      if (measured) derivedInserts.push(performance.now() - done);
    } else if (derived !== null && path === 'new') {
      derivedWaiting.push(derived);
      derivedWaitingRows += count;
      startDerived(measured);
      while (derivedRunning !== null && derivedWaitingRows > DEFAULT_MAX_DERIVED_WAITING_ORDERS) await derivedRunning;
    } else if (derived !== null) {
      while (derivedRunning !== null) await derivedRunning;
      const ds = performance.now();
      derivedRunning = store.insertDerived(derived).then(() => {
        if (measured) derivedInserts.push(performance.now() - ds);
        derivedRunning = null;
      });
    }
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
    if (measured) {
      cpuFrom ??= process.cpuUsage();
      rowsMeasured += count;
      inserts.push(done - s);
      // Orders arrived evenly over [from, to): one latency per millisecond of arrivals, weighted alike.
      for (let a = from; a < to; a += 1) {
        latencies.push(done - a);
        stretch.push(done - a);
      }
    }
    if (done - lastPrint >= 10_000) {
      lastPrint = done;
      process.stdout.write(`  t=${((done - t0) / 1000).toFixed(0)}s p99=${Math.round(pct(stretch, 99))} ms, groups of ~${count} rows\n`);
      stretch = [];
    }
  }
  // The rows still waiting for their interval go in now, as at a stop.
  while (derivedRunning !== null || derivedWaiting.length > 0) {
    startDerived(false, true);
    if (derivedRunning !== null) await derivedRunning;
  }
  if (derivedTimer !== null) clearTimeout(derivedTimer);
  const cpu = cpuFrom === null ? null : process.cpuUsage(cpuFrom);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const r: RunResult = {
    p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), insertP50: Math.round(pct(inserts, 50)), insertP99: Math.round(pct(inserts, 99)),
    ...(derivedInserts.length === 0 ? {} : { derivedP50: Math.round(pct(derivedInserts, 50)), derivedP99: Math.round(pct(derivedInserts, 99)) }),
    rssMaxMb: Math.round(rssMax / 2 ** 20),
    cpuUsPerRow: cpu === null ? Number.NaN : Math.round(((cpu.user + cpu.system) / rowsMeasured) * 100) / 100,
  };
  process.stdout.write(`run ${index + 1} ${name} (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}): ${JSON.stringify({ ...r, inserts: inserts.length })}\n`);
  return r;
}

process.stdout.write(`engine alone, paced: ${RATE} rows/s, flush ${FLUSH} ms, ${RUNS} x ${DURATION} s after ${WARMUP} s of warm-up, ${CONFIGS.map((c) => c.name).join(', ')} taking turns (load ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
const pool = rowPool(200_000);
const results = new Map<string, RunResult[]>(CONFIGS.map((c) => [c.name, []]));
// Every other run in reverse order, so that neither configuration always runs first after a pause or a drift.
for (let i = 0; i < RUNS; i++) for (const c of i % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) results.get(c.name)!.push(await run(i, c, pool));
const medians = new Map([...results].map(([x, rs]) => {
  const m = (k: keyof RunResult) => median(rs.map((r) => r[k]).filter((v): v is number => v !== undefined));
  return [x, { p50: m('p50'), p99: m('p99'), insertP50: m('insertP50'), insertP99: m('insertP99'), derivedP50: m('derivedP50'), derivedP99: m('derivedP99'), rssMaxMb: m('rssMaxMb'), cpuUsPerRow: m('cpuUsPerRow') }] as const;
}));
const firstName = CONFIGS[0]!.name;
const first = medians.get(firstName)!;
for (const [x, m] of medians) {
  const r = (k: 'p50' | 'p99' | 'insertP99' | 'derivedP99' | 'cpuUsPerRow') => (Number.isNaN(m[k]) || Number.isNaN(first[k]) ? '-' : (m[k] / first[k]).toFixed(2));
  const ratio = x === firstName ? '' : ` vs ${firstName}: p50 ${r('p50')}x, p99 ${r('p99')}x, insert p99 ${r('insertP99')}x, derived p99 ${r('derivedP99')}x, CPU per row ${r('cpuUsPerRow')}x`;
  process.stdout.write(`median ${x}: ${JSON.stringify(m)}${ratio}\n`);
}
