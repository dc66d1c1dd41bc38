// What the metrics cost ingest: the updates the hot path makes per batch, per ack and per insert, and a scrape every
// 15 s, at a rate equivalent to --rate orders/s, on prom-client (the platform/metrics.ts facade) and on the
// hand-written registry it replaced. Prints the CPU they take per second of that work, as a % of one core
// (medians of alternating runs, with the spread).
//   npm run bench:metrics -- [--rate 100000] [--batches 1000,100,10] [--runs 7] [--batches-per-run 360000]
//
// Per batch, group commit counts its orders by outcome (three labelled increments), and answers it: one labelled
// increment and one observation of its commit lag. Per insert (one every --flush-ms): a labelled increment, two
// observations, and the timed store's count of the call. Gauges are read only at scrape time. Orders per batch
// decide how many batches a second carries: the bench:ingest load generator sends 1,000.
import { parseArgs } from 'node:util';
import { Registry as PromRegistry } from '../platform/metrics.ts';
import { Registry as HandRegistry } from './hand-written-registry.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100000' },
    batches: { type: 'string', default: '1000,100,10' },
    runs: { type: 'string', default: '7' },
    'batches-per-run': { type: 'string', default: '360000' },
    'flush-ms': { type: 'string', default: '100' },
    'scrape-seconds': { type: 'string', default: '15' },
  },
});
const RATE = Number(values.rate);
const BATCH_SIZES = values.batches.split(',').map(Number);
const RUNS = Number(values.runs);
const BATCHES_PER_RUN = Number(values['batches-per-run']);
const INSERTS_PER_SECOND = 1000 / Number(values['flush-ms']);
const SCRAPE_SECONDS = Number(values['scrape-seconds']);

/** What ingest does to its metrics, whichever registry holds them. */
interface HotPath {
  batch(accepted: number, duplicates: number, rejected: number, commitSeconds: number): void;
  insert(rows: number, seconds: number): void;
  scrape(): string | Promise<string>;
}

const COMMIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const INSERT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROWS_BUCKETS = [100, 1000, 5000, 10000, 25000, 50000, 100000, 250000];
/** The gauges a running system registers (read at scrape time only), by name. */
const GAUGES = [
  'gala_ingest_buffer_orders', 'gala_ingest_buffer_fill_ratio', 'gala_storage_up', 'gala_dedup_entries', 'gala_dedup_bytes',
  'gala_dedup_window_seconds', 'gala_dedup_evicted_early_total', 'gala_ingest_connections', 'gala_reconcile_drift_currencies',
  'gala_reconcile_repairs_total', 'gala_late_duplicate_copies', 'gala_reconcile_age_seconds', 'gala_live_connections',
  'gala_live_dropped_total', 'gala_sse_streams', 'gala_input_stale', 'gala_storage_merges_running', 'gala_storage_merge_rows_read',
];
const ENGINE_COUNTERS = ['gala_storage_merges_total', 'gala_storage_merged_rows_total', 'gala_storage_merged_bytes_total', 'gala_storage_merge_seconds_total'];
const TABLES = ['gala_orders', 'gala_order_fps', 'gala_agg_second', 'gala_agg_key_minute', 'gala_agg_key_total', 'gala_milestones', 'gala_runs', 'gala_schema_migrations'];
const CALLS = ['insert', 'totals', 'rolledSeconds', 'fingerprintsSince', 'duplicateIds', 'engineStats', 'ping', 'migrate'];

type Inc = { inc(by: number, labels: Record<string, string>): void };

/** Group commit's updates for one batch: its orders by outcome, then its answer and commit lag. */
function perBatch(orders: Inc, batches: Inc, commit: { observe(v: number): void }): HotPath['batch'] {
  return (accepted, duplicates, rejected, commitSeconds) => {
    orders.inc(accepted, { outcome: 'accepted' });
    orders.inc(duplicates, { outcome: 'duplicate' });
    orders.inc(rejected, { outcome: 'rejected' });
    batches.inc(1, { answer: 'ack' });
    commit.observe(commitSeconds);
  };
}

let sink = 0;
const read = () => ++sink;

function handPath(): HotPath {
  const r = new HandRegistry();
  const orders = r.counter('gala_ingest_orders_total', 'Orders by outcome');
  const batches = r.counter('gala_ingest_batches_total', 'Batches by answer');
  const commit = r.histogram('gala_ingest_commit_seconds', 'Batch arrival to durable', COMMIT_BUCKETS);
  const inserts = r.counter('gala_ingest_inserts_total', 'Inserts by result');
  const insertSeconds = r.histogram('gala_ingest_insert_seconds', 'Insert duration', INSERT_BUCKETS);
  const insertRows = r.histogram('gala_ingest_insert_rows', 'Orders per insert', ROWS_BUCKETS);
  r.counter('gala_ingest_frame_errors_total', 'Frames refused');
  r.counter('gala_ingest_unauthorized_total', 'Refused for a token');
  for (const g of GAUGES) r.gauge(g, g, read);
  // As system/engine-watch.ts and system/timed-store.ts render their labelled families today.
  r.text(() => [...TABLES.map((t) => `gala_storage_parts{table="${t}"} ${read()}`), ...ENGINE_COUNTERS.map((c) => `${c} ${read()}`)].join('\n'));
  const calls = new Map<string, { n: number; seconds: number }>(CALLS.map((c) => [c, { n: 1, seconds: 0.001 }]));
  r.text(() => [...calls].map(([c, v]) => `gala_storage_calls_total{call="${c}"} ${v.n}\ngala_storage_call_seconds_total{call="${c}"} ${v.seconds.toFixed(6)}`).join('\n'));
  return {
    batch: perBatch(orders, batches, commit),
    insert(rows, seconds) {
      const c = calls.get('insert')!;
      c.n++;
      c.seconds += seconds;
      inserts.inc(1, { result: 'ok' });
      insertSeconds.observe(seconds);
      insertRows.observe(rows);
    },
    scrape: () => r.render(),
  };
}

function promPath(): HotPath {
  const r = new PromRegistry();
  const orders = r.counter('gala_ingest_orders_total', 'Orders by outcome', ['outcome']);
  const batches = r.counter('gala_ingest_batches_total', 'Batches by answer', ['answer']);
  const commit = r.histogram('gala_ingest_commit_seconds', 'Batch arrival to durable', COMMIT_BUCKETS);
  const inserts = r.counter('gala_ingest_inserts_total', 'Inserts by result', ['result']);
  const insertSeconds = r.histogram('gala_ingest_insert_seconds', 'Insert duration', INSERT_BUCKETS);
  const insertRows = r.histogram('gala_ingest_insert_rows', 'Orders per insert', ROWS_BUCKETS);
  r.counter('gala_ingest_frame_errors_total', 'Frames refused');
  r.counter('gala_ingest_unauthorized_total', 'Refused for a token');
  for (const g of GAUGES) r.gauge(g, g, read);
  r.gauges('gala_storage_parts', 'Parts per table', ['table'], () => TABLES.map((t) => [{ table: t }, read()] as const));
  for (const c of ENGINE_COUNTERS) r.counterReading(c, c, read);
  const calls = r.counter('gala_storage_calls_total', 'Storage calls', ['call']);
  const callSeconds = r.counter('gala_storage_call_seconds_total', 'Time in storage calls', ['call']);
  for (const c of CALLS) calls.inc(1, { call: c });
  return {
    batch: perBatch(orders, batches, commit),
    insert(rows, seconds) {
      calls.inc(1, { call: 'insert' });
      callSeconds.inc(seconds, { call: 'insert' });
      inserts.inc(1, { result: 'ok' });
      insertSeconds.observe(seconds);
      insertRows.observe(rows);
    },
    scrape: () => r.render(),
  };
}

/** No registry: what the loop itself costs. */
function nonePath(): HotPath {
  let n = 0;
  return {
    batch(accepted, duplicates, rejected, commitSeconds) {
      n += accepted + duplicates + rejected + commitSeconds;
    },
    insert(rows, seconds) {
      n += rows + seconds;
    },
    scrape: () => String(n),
  };
}

const VARIANTS: Record<string, () => HotPath> = { hand: handPath, 'prom-client': promPath, none: nonePath };

// Commit lags and insert times spread over the buckets as a night's are (20-600 ms and 30-300 ms), precomputed.
const LAGS = Array.from({ length: 1024 }, (_, i) => 0.02 * 30 ** ((i * 0.618) % 1));
const INSERT_TIMES = Array.from({ length: 1024 }, (_, i) => 0.03 * 10 ** ((i * 0.618) % 1));

/** One run: BATCHES_PER_RUN batches of `size` orders as the hot path sees them; CPU per second of work, % of a core. */
async function run(make: () => HotPath, size: number): Promise<number> {
  const p = make();
  const seconds = (BATCHES_PER_RUN * size) / RATE;
  const batchesPerInsert = Math.max(1, Math.round(RATE / size / INSERTS_PER_SECOND));
  const batchesPerScrape = Math.max(1, Math.round((RATE / size) * SCRAPE_SECONDS));
  const rowsPerInsert = Math.round(RATE / INSERTS_PER_SECOND);
  let scraped = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < BATCHES_PER_RUN; i++) {
    // About one batch in a hundred carries a resend, one in a thousand a rejected order.
    const dup = i % 100 === 0 ? 1 : 0;
    const rej = i % 1000 === 0 ? 1 : 0;
    p.batch(size - dup - rej, dup, rej, LAGS[i & 1023]!);
    if (i % batchesPerInsert === 0) p.insert(rowsPerInsert, INSERT_TIMES[i & 1023]!);
    if (i % batchesPerScrape === batchesPerScrape - 1) scraped += (await p.scrape()).length;
  }
  const d = process.cpuUsage(t0);
  if (scraped < 0) throw new Error('unreachable: keeps the scrapes from being optimised away');
  return ((d.user + d.system) / 1e6 / seconds) * 100;
}

const fmt = (x: number) => (x < 0.1 ? x.toFixed(4) : x.toFixed(3));

console.log(`metrics on the ingest hot path at ${RATE} orders/s: ${RUNS} alternating runs of ${BATCHES_PER_RUN} batches per variant and batch size`);
console.log(`(${INSERTS_PER_SECOND} inserts/s, a scrape every ${SCRAPE_SECONDS} s); CPU per second of work, % of one core`);
for (const size of BATCH_SIZES) {
  const names = Object.keys(VARIANTS);
  // Warm up every variant (JIT), then alternate their order from run to run.
  for (const n of names) await run(VARIANTS[n]!, size);
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let k = 0; k < RUNS; k++) {
    for (const n of k % 2 === 0 ? names : [...names].reverse()) samples.get(n)!.push(await run(VARIANTS[n]!, size));
  }
  const floor = median(samples.get('none')!);
  console.log(`\n${size} orders per batch (${RATE / size} batches/s):`);
  for (const n of names) {
    const xs = samples.get(n)!;
    const m = median(xs);
    const net = n === 'none' ? '' : `  net of the loop ${fmt(m - floor)}%`;
    console.log(`  ${n.padEnd(12)} median ${fmt(m)}%  spread ${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}%${net}  runs ${xs.map(fmt).join(' ')}`);
  }
}
