// The storage engine alone at a given rate, with group commit's timing and no network, parsing or de-duplication:
// orders "arrive" evenly at --rate, a group is inserted every --flush ms (or, while an insert runs, as soon as it
// ends), one insert at a time, exactly as ingest/group-commit.ts does. Each order's latency is its group's insert
// end minus its arrival, so the printed p99 is the floor under the ack p99 of bench:ingest at that rate, on this
// machine, with this engine, its views and its merges.
//   npm run bench:engine-paced -- [--rate 100000] [--flush 100] [--duration 120] [--warmup 10] [--runs 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { encodeOrderRow } from '../storage/order-rows.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { median, pct } from './stats.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseOrder } from '../domain/order.ts';
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
  },
});
const RATE = Number(values.rate);
const FLUSH = Number(values.flush);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);

/** Rows like the simulator's (brands, SKUs, regions, currencies), encoded once; ids made unique per use below. */
function rowPool(n: number): string[] {
  const show = loadShow(DEFAULT_SHOW_FILE);
  const sim = createSimulator({ seed: 7, show, resendRate: 0, malformedRate: 0 });
  const now = Date.now();
  const rows: string[] = [];
  while (rows.length < n) {
    const r = parseOrder(JSON.parse(sim.next().json), (c) => show.rates.has(c));
    if (!r.ok) continue;
    const [hi, lo] = fingerprint(r.order.id);
    rows.push(encodeOrderRow({ ...r.order, ts: now }, now, hi, lo));
  }
  return rows;
}

async function run(index: number, pool: string[]): Promise<{ p50: number; p99: number; insertP99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-paced-'));
  const conn = createChdbConnection(dir);
  const store = createOrderStore(conn);
  await store.migrate();
  if (values['no-key-views']) for (const v of ['gala_agg_key_minute_mv', 'gala_agg_key_total_mv']) await conn.command(`DROP TABLE ${v}`);
  const latencies: number[] = [];
  const inserts: number[] = [];
  let stretch: number[] = [];
  const t0 = performance.now();
  const end = t0 + (WARMUP + DURATION) * 1000;
  let sealedThrough = t0; // orders that arrived before this instant are in a group already
  let next = 0;
  let lastPrint = t0;
  while (performance.now() < end) {
    // Wait until the oldest waiting order has waited FLUSH ms (group commit's timer), then take all that arrived.
    const due = sealedThrough + FLUSH;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const from = sealedThrough;
    const to = performance.now();
    sealedThrough = to;
    const count = Math.max(1, Math.round(((to - from) / 1000) * RATE));
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(pool[(next + i) % pool.length]!);
    next += count;
    const s = performance.now();
    await store.insert({ count, tsv: parts.join('') });
    const done = performance.now();
    if (s - t0 >= WARMUP * 1000) {
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
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const r = { p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), insertP50: Math.round(pct(inserts, 50)), insertP99: Math.round(pct(inserts, 99)), inserts: inserts.length };
  process.stdout.write(`run ${index + 1}: ${JSON.stringify(r)}\n`);
  return r;
}

process.stdout.write(`engine alone, paced: ${RATE} rows/s, flush ${FLUSH} ms, ${RUNS} x ${DURATION} s after ${WARMUP} s of warm-up\n`);
const pool = rowPool(200_000);
const results = [];
for (let i = 0; i < RUNS; i++) results.push(await run(i, pool));
process.stdout.write(`median: ${JSON.stringify({ p50: median(results.map((r) => r.p50)), p99: median(results.map((r) => r.p99)), insertP99: median(results.map((r) => r.insertP99)) })}\n`);
