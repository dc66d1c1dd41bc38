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
// those tables). gap is new with the derived batch's tables inserted one statement at a time, each started as an
// orders insert ends, in the gap before the next group is due: group commit's since 3 December (new is the path
// before it). Since the evening of 3 December no path writes the fingerprint side table's row per order: gap, as
// group commit, has the engine fill it from the orders table every 5 s (one more statement in a gap; --fill-ms,
// DEFAULT_FINGERPRINT_FILL_MS); the other paths leave it empty.
// Rows are written into the filling group as they arrive (a 5 ms timer), as ingest writes each frame's rows when it
// comes in. Each run is a fresh process unless --same-process (later runs in one process came out slower).
// --chdb-route says how inserts reach chDB: through a file in tmpfs read by INSERT ... FROM INFILE (file, Gala's
// default) or through chDB's insert API (api). Several paths and routes, comma-separated, take turns in each run
// (every path with every route, alternating), and the medians of each are printed with their ratio
// to the first's. --derived-interval gives the new path's least time between two derived inserts (group commit's
// GALA_DERIVED_INTERVAL_MS, 500 by default); several values take turns the same way.
//   npm run bench:engine-paced -- [--rate 100000] [--flush 100[,50...]] [--duration 120] [--warmup 10] [--runs 1]
//     [--write-path new|gap|depth1|serial|orders|old[,...]] [--chdb-route file|api[,...]] [--derived-interval 500[,0...]]
//     [--merge-nice 10[,0...]] (chDB's merge threads this many nice levels down, as GALA_MERGE_NICE; several take turns)
//     [--same-process] [--fill-ms 5000] (the gap path's least time between two fills of the side table)
//     [--row-format RowBinary|TabSeparated[,...]] (the orders insert's format; the store's own by default)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { DEFAULT_DERIVED_INTERVAL_MS, DEFAULT_FINGERPRINT_FILL_MS, DEFAULT_MAX_DERIVED_WAITING_ORDERS, derivedStartWaitMs } from '../ingest/group-commit.ts';
import { DERIVED_TABLES, mergeDerivedRows, type DerivedRows } from '../storage/derived-fold.ts';
import { createRowWriter, type RowFormat } from '../storage/order-row-writer.ts';
import { keyMinuteRollup, keyTotalRollup, secondRollup } from '../storage/schema.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { DEFAULT_TMPFS } from '../storage/chdb/insert-spool.ts';
import { DEFAULT_MERGE_NICE } from '../storage/chdb/background-nice.ts';
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
    // The orders insert's format: the store's own (RowBinary on the file route), or as given; several take turns.
    'row-format': { type: 'string', default: '' },
    // For the new path: least ms between derived inserts (group commit's GALA_DERIVED_INTERVAL_MS); comma-separated values take turns.
    'derived-interval': { type: 'string', default: String(DEFAULT_DERIVED_INTERVAL_MS) },
    'fill-ms': { type: 'string', default: String(DEFAULT_FINGERPRINT_FILL_MS) },
    // Nice levels of chDB's merge threads below the rest (the product's GALA_MERGE_NICE, 10 by default); several take turns.
    'merge-nice': { type: 'string', default: String(DEFAULT_MERGE_NICE) },
    // Every run in one process, one after another (the runs before 3 December). Later runs in one process came out
    // slower (the orders insert alone: 5.65 µs CPU per row in a process's first run, 8.0-8.2 in its second and
    // third), so by default each run is a fresh process of its own, as the product runs one store per process.
    'same-process': { type: 'boolean', default: false },
    // Internal: this process is one run of a parent's (prints a RESULT line).
    child: { type: 'string' },
  },
});
const PATHS = ['new', 'gap', 'depth1', 'serial', 'orders', 'old'] as const;
type WritePath = (typeof PATHS)[number];
const paths = values['write-path'].split(',').map((x) => x.trim());
for (const x of paths) if (!(PATHS as readonly string[]).includes(x)) throw new Error(`--write-path must be one or more of ${PATHS.join(', ')} (comma-separated), got ${JSON.stringify(x)}`);
const WRITE_PATHS = paths as WritePath[];
const ROUTES = ['file', 'api'] as const;
type Route = (typeof ROUTES)[number];
const routes = values['chdb-route'].split(',').map((x) => x.trim());
for (const x of routes) if (!(ROUTES as readonly string[]).includes(x)) throw new Error(`--chdb-route must be one or more of ${ROUTES.join(', ')} (comma-separated), got ${JSON.stringify(x)}`);
const FORMATS = ['RowBinary', 'TabSeparated'] as const;
const formats = values['row-format'] === '' ? [''] : values['row-format'].split(',').map((x) => x.trim());
for (const x of formats) if (x !== '' && !(FORMATS as readonly string[]).includes(x)) throw new Error(`--row-format must be one or more of ${FORMATS.join(', ')} (comma-separated), got ${JSON.stringify(x)}`);
const flushes = values.flush.split(',').map((x) => Number(x.trim()));
for (const x of flushes) if (!Number.isFinite(x) || x <= 0) throw new Error(`--flush must be one or more numbers of ms above 0 (comma-separated), got ${JSON.stringify(values.flush)}`);
const nices = values['merge-nice'].split(',').map((x) => Number(x.trim()));
for (const x of nices) if (!Number.isInteger(x) || x < 0 || x > 19) throw new Error(`--merge-nice must be one or more whole numbers 0 to 19 (comma-separated), got ${JSON.stringify(values['merge-nice'])}`);
const intervals = values['derived-interval'].split(',').map((x) => Number(x.trim()));
for (const x of intervals) if (!Number.isFinite(x) || x < 0) throw new Error(`--derived-interval must be one or more numbers of ms, 0 or more (comma-separated), got ${JSON.stringify(values['derived-interval'])}`);
/** Every write path with every route (and, for the new path, every derived interval): the configurations that take turns. */
const CONFIGS = WRITE_PATHS.flatMap((path) =>
  (routes as Route[]).flatMap((route) =>
    (path === 'new' || path === 'gap' ? intervals : [0]).flatMap((derivedIntervalMs) =>
      nices.flatMap((mergeNice) =>
        flushes.flatMap((flush) => formats.map((rowFormat) => ({
          path,
          route,
          rowFormat,
          derivedIntervalMs,
          mergeNice,
          flush,
          name:
            `${path}${routes.length === 1 ? '' : `/${route}`}${(path === 'new' || path === 'gap') && intervals.length > 1 ? `/${derivedIntervalMs}ms` : ''}` +
            `${nices.length > 1 ? `/nice${mergeNice}` : ''}${flushes.length > 1 ? `/flush${flush}` : ''}${formats.length > 1 ? `/${rowFormat}` : ''}`,
        }))),
      ),
    ),
  ),
);
type Config = (typeof CONFIGS)[number];
const RATE = Number(values.rate);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);
const FILL_MS = Number(values['fill-ms']);
if (!(Number.isFinite(FILL_MS) && FILL_MS >= 0)) throw new Error(`--fill-ms must be a number of ms, 0 or more, got ${JSON.stringify(values['fill-ms'])}`);

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

async function run(index: number, { path, route, name, derivedIntervalMs, mergeNice, flush: FLUSH, rowFormat }: Config, pool: PooledOrder[]): Promise<RunResult> {
  const OLD = path === 'old';
  const dir = mkdtempSync(join(tmpdir(), 'gala-paced-'));
  const conn = createChdbConnection(dir, { tmpfs: route === 'file' ? DEFAULT_TMPFS : null, mergeNice });
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
  // Rows are written (and, for the new path, folded) as they arrive, as ingest writes each frame's rows when it comes
  // in: a 5 ms timer writes the orders that arrived since it last ran into the filling group, so that only the last few
  // ms of a group are written after it is sealed.
  const format: RowFormat = rowFormat === '' ? store.orderFormat : (rowFormat as RowFormat);
  if (!conn.rowFormats.includes(format)) throw new Error(`--row-format ${format}: the ${route} route takes ${conn.rowFormats.join(', ')}`);
  let w = createRowWriter(format);
  let filled = 0; // rows of the filling group written so far
  const fill = (upTo: number): void => {
    const due = Math.round(((upTo - sealedThrough) / 1000) * RATE);
    const now = Date.now();
    for (; filled < due; filled++) {
      const p = pool[next++ % pool.length]!;
      w.add({ ...p.order, ts: now }, now, p.hi, p.lo);
    }
  };
  const filler = setInterval(() => fill(performance.now()), 5);
  // gap: the derived batch's tables go in one statement at a time, each started as an orders insert ends (in the
  // gap before the next group is due), so that they seldom run beside an orders insert.
  let gapBatch: DerivedRows | null = null;
  let gapNext = 0;
  let gapStarted = 0;
  // The side table's fill, as group commit's: the arrivals owed since the last one, every FILL_MS, after a batch's tables.
  let owedFrom = Number.POSITIVE_INFINITY;
  let owedThrough = Number.NEGATIVE_INFINITY;
  let lastFill = performance.now();
  const startGap = (measured: boolean, now = false): void => {
    if (derivedRunning !== null) return;
    if (gapBatch === null) {
      if (derivedWaiting.length === 0) return;
      if (!now && derivedStartWaitMs(lastDerivedStart, derivedIntervalMs, performance.now(), derivedWaitingRows, DEFAULT_MAX_DERIVED_WAITING_ORDERS) > 0) return;
      lastDerivedStart = performance.now();
      gapBatch = mergeDerivedRows(derivedWaiting);
      derivedWaiting = [];
      derivedWaitingRows = 0;
      gapNext = 0;
      gapStarted = performance.now();
    }
    const batch = gapBatch;
    const step = gapNext++;
    const statement =
      step < DERIVED_TABLES.length
        ? store.insertDerived(batch, [DERIVED_TABLES[step]!.table])
        : ((lastFill = performance.now()), store.fillFingerprints(owedFrom, owedThrough).then(() => {
            owedFrom = Number.POSITIVE_INFINITY;
            owedThrough = Number.NEGATIVE_INFINITY;
          }));
    derivedRunning = statement.then(() => {
      derivedRunning = null;
      if (step === DERIVED_TABLES.length - 1) {
        owedFrom = Math.min(owedFrom, batch.receivedFromMs);
        owedThrough = Math.max(owedThrough, batch.receivedThroughMs);
      }
      // After the last table: the fill, when its interval is over (or at the end of the run), else the batch is done.
      const fillNow = step === DERIVED_TABLES.length - 1 && (now || performance.now() - lastFill >= FILL_MS);
      if (step >= DERIVED_TABLES.length - 1 && !fillNow) {
        if (measured) derivedInserts.push(performance.now() - gapStarted);
        gapBatch = null;
      }
      if (now) startGap(measured, now);
    });
  };
  while (performance.now() < end) {
    // Wait until the oldest waiting order has waited FLUSH ms (group commit's timer), then take all that arrived.
    const due = sealedThrough + FLUSH;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const from = sealedThrough;
    const to = performance.now();
    fill(to);
    if (filled === 0) continue;
    const count = filled;
    const group = w;
    sealedThrough = to;
    w = createRowWriter(format);
    filled = 0;
    const s = performance.now();
    await store.insertOrders({ count, data: group.bytes(), format: group.format });
    const done = performance.now();
    // The ack goes out here. The derived rows follow: before the next group's insert (serial); beside it once the
    // previous group's are in (depth1); or, as group commit does now (new), into the next derived insert, which
    // takes every group committed while the one before it ran, the next orders insert waiting only past the bound.
    const measured = s - t0 >= WARMUP * 1000;
    const derived = path === 'orders' || path === 'old' ? null : group.derived();
    if (derived !== null && path === 'serial') {
      await store.insertDerived(derived);
      if (measured) derivedInserts.push(performance.now() - done);
    } else if (derived !== null && path === 'gap') {
      derivedWaiting.push(derived);
      derivedWaitingRows += count;
      startGap(measured);
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
  clearInterval(filler);
  // The rows still waiting for their interval go in now, as at a stop.
  while (path === 'gap' && (derivedRunning !== null || gapBatch !== null || derivedWaiting.length > 0)) {
    if (derivedRunning !== null) await derivedRunning;
    else startGap(false, true);
  }
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

/** One run in a fresh process: this script again with --child, its result read from the line it prints. */
function freshRun(index: number, c: Config): RunResult {
  const args = [
    ...process.execArgv, fileURLToPath(import.meta.url), '--child', `${index}:${c.name}`,
    '--rate', String(RATE), '--flush', String(c.flush), '--duration', String(DURATION), '--warmup', String(WARMUP),
    '--write-path', c.path, '--chdb-route', c.route, '--derived-interval', String(c.derivedIntervalMs), '--merge-nice', String(c.mergeNice), '--fill-ms', String(FILL_MS),
    ...(c.rowFormat === '' ? [] : ['--row-format', c.rowFormat]),
    ...(values['no-key-views'] ? ['--no-key-views'] : []),
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || line === undefined) throw new Error(`bench:engine-paced: run ${index + 1} of ${c.name} failed (exit ${r.status}): ${r.stdout.slice(-2000)}`);
  process.stdout.write(r.stdout.split('\n').filter((l) => l.length > 0 && !l.startsWith('RESULT ')).map((l) => `${l}\n`).join(''));
  return JSON.parse(line.slice('RESULT '.length)) as RunResult;
}

if (values.child !== undefined) {
  // One run of a parent's: its index and configuration name, so that its lines read as the parent's would.
  const [i, name] = [Number(values.child.slice(0, values.child.indexOf(':'))), values.child.slice(values.child.indexOf(':') + 1)];
  const r = await run(i, { ...CONFIGS[0]!, name }, rowPool(200_000));
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  process.exit(0);
}
process.stdout.write(`engine alone, paced: ${RATE} rows/s, flush ${flushes.join(', ')} ms, ${RUNS} x ${DURATION} s after ${WARMUP} s of warm-up, ${CONFIGS.map((c) => c.name).join(', ')} taking turns, ${values['same-process'] ? 'every run in this process' : 'each run a fresh process'} (load ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
const pool = values['same-process'] ? rowPool(200_000) : [];
const results = new Map<string, RunResult[]>(CONFIGS.map((c) => [c.name, []]));
// Every other run in reverse order, so that neither configuration always runs first after a pause or a drift.
for (let i = 0; i < RUNS; i++) for (const c of i % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) results.get(c.name)!.push(values['same-process'] ? await run(i, c, pool) : freshRun(i, c));
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
