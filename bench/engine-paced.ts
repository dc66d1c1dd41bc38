// The storage engine alone at a given rate, with group commit's timing and no network, parsing or de-duplication:
// orders "arrive" evenly at --rate, a group is inserted every --flush ms (or, while an insert runs, as soon as it
// ends), one insert at a time, exactly as ingest/group-commit.ts does. Each order's latency is its group's insert
// end minus its arrival, so the printed p99 is the floor under the ack p99 of bench:ingest at that rate, on this
// machine, with this engine, its derived tables and its merges. The write path is Gala's (--write-path new: the
// orders insert, which the ack waits for, then the group's rollup and side-table rows, before the next group) or
// the one before it (old: the orders insert alone, with the materialized views that filled those tables).
//   npm run bench:engine-paced -- [--rate 100000] [--flush 100] [--duration 120] [--warmup 10] [--runs 1] [--write-path new|old]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import { keyMinuteRollup, keyTotalRollup, secondRollup } from '../storage/schema.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
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
  },
});
const OLD = values['write-path'] === 'old';
if (!OLD && values['write-path'] !== 'new') throw new Error(`--write-path must be new or old, got ${values['write-path']}`);
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

async function run(index: number, pool: PooledOrder[]): Promise<{ p50: number; p99: number; insertP99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-paced-'));
  const conn = createChdbConnection(dir);
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
    // The ack goes out here; the derived rows follow before the next group's insert can start.
    const derived = OLD ? null : w.derived();
    if (derived !== null) await store.insertDerived(derived);
    const derivedDone = performance.now();
    if (s - t0 >= WARMUP * 1000) {
      inserts.push(done - s);
      if (!OLD) derivedInserts.push(derivedDone - done);
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
  const r = {
    p50: Math.round(pct(latencies, 50)), p99: Math.round(pct(latencies, 99)), insertP50: Math.round(pct(inserts, 50)), insertP99: Math.round(pct(inserts, 99)), inserts: inserts.length,
    ...(OLD ? {} : { derivedP50: Math.round(pct(derivedInserts, 50)), derivedP99: Math.round(pct(derivedInserts, 99)) }),
  };
  process.stdout.write(`run ${index + 1}: ${JSON.stringify(r)}\n`);
  return r;
}

process.stdout.write(`engine alone, paced: ${RATE} rows/s, flush ${FLUSH} ms, ${RUNS} x ${DURATION} s after ${WARMUP} s of warm-up, write path ${OLD ? 'old (views)' : 'new (derived inserts)'}\n`);
const pool = rowPool(200_000);
const results = [];
for (let i = 0; i < RUNS; i++) results.push(await run(i, pool));
process.stdout.write(`median: ${JSON.stringify({ p50: median(results.map((r) => r.p50)), p99: median(results.map((r) => r.p99)), insertP99: median(results.map((r) => r.insertP99)) })}\n`);
