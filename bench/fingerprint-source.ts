// Can the fingerprint reads go to the orders table instead of the side table (gala_order_fps)? On each engine, a
// night's worth of rows is written through the store (orders, then derived rows, as ingest does), then each read is
// timed both ways, the two sources alternating which goes first, and the medians printed with their ratio:
//   restore    restart restore (fingerprintsSince): fingerprints received in the last tenth, in arrival order
//   lookup     storedFingerprints without an arrival range: 5,000 fingerprints, which are stored
//   duplicates duplicateIds' incremental look: fingerprints seen twice with a copy in the last tenth, one slice
//              of --slices (the reconciler reads 256 a look: the side table reads its slice's share of the rows,
//              the orders table, ordered by arrival, its whole fp_hi column for each)
//   side insert what the side table costs each group: its insert of one group's fingerprints
// The orders table is ordered by received_ms; the side table by (fp_hi, fp_lo). 18.16 has no projections, and
// skip indices are tried (and reported) on the orders table's fp_hi.
//   npm run bench:fingerprints -- [--rows 2000000] [--group 20000] [--runs 5] [--slices 256] [--engines chdb,server]
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import { median } from './stats.ts';
import { openEngine, timed, type BenchEngine } from './two-engines.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    group: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '5' },
    engines: { type: 'string', default: 'chdb,server' },
    slices: { type: 'string', default: '256' },
  },
});
const ROWS = Number(values.rows);
const GROUP = Number(values.group);
const RUNS = Number(values.runs);
/** The reconciler cuts each look into this many fingerprint slices (its default) and reads one at a time. */
const SLICES = Number(values.slices);
const BASE_MS = 1_750_000_000_000;

/** A group of orders, one in a thousand a resend of an order of ten groups before. */
function group(g: number): OrderRowWriter {
  const w = new OrderRowWriter();
  const received = BASE_MS + g * 100;
  for (let i = 0; i < GROUP; i++) {
    const id = i % 1000 === 0 && g >= 10 ? `o-${g - 10}-${i + 1}` : `o-${g}-${i}`;
    const [hi, lo] = fingerprint(id);
    w.add({ id, ts: received - (i % 5000), hundredths: 1000 + i, currency: 'EUR', channel: 'mobile', brand: `B${i % 50}`, sku: `S${i % 5000}`, category: '', region: `R${i % 30}` }, received, hi, lo);
  }
  return w;
}

async function fill(e: BenchEngine): Promise<number> {
  const groups = Math.ceil(ROWS / GROUP);
  for (let g = 0; g < groups; g++) {
    const w = group(g);
    await e.store.insert({ count: w.count, data: w.bytes(), derived: w.derived() });
  }
  return groups;
}

async function skipIndex(e: BenchEngine): Promise<string> {
  try {
    // 18.16 has no such setting or index; current releases dropped the setting (indices are always on).
    await e.conn.command('SET allow_experimental_data_skipping_indices = 1').catch(() => undefined);
    await e.conn.command('ALTER TABLE gala_orders ADD INDEX fp_probe fp_hi TYPE minmax GRANULARITY 1');
    await e.conn.command('ALTER TABLE gala_orders DROP INDEX fp_probe');
    return 'accepted (minmax on a random fingerprint prunes nothing: every granule spans the whole range)';
  } catch (err) {
    return `refused: ${String(err).split('\n')[0]!.slice(0, 160)}`;
  }
}

async function bench(name: 'chdb' | 'server'): Promise<void> {
  const e = await openEngine(name);
  try {
    const t0 = performance.now();
    const groups = await fill(e);
    process.stdout.write(`${name}: ${groups * GROUP} rows in ${groups} groups, ${((performance.now() - t0) / 1000).toFixed(1)} s; skip index on fp_hi: ${await skipIndex(e)}\n`);
    const since = BASE_MS + Math.floor(groups * 0.9) * 100;
    const probe = Array.from({ length: 5000 }, (_, i) => fingerprint(`o-${(i * 7) % groups}-${(i * 13) % GROUP}`));
    const list = probe.map(([hi, lo]) => `(${hi}, ${lo})`).join(', ');
    const slice = `fp_hi < ${Math.floor(2 ** 32 / SLICES)}`;
    const dupes = (from: string) => `SELECT fp_hi, fp_lo, groupArray(received_ms) AS at FROM ${from} AND ${slice}
      GROUP BY fp_hi, fp_lo HAVING count() > 1 AND max(received_ms) >= ${since} LIMIT 100000 SETTINGS max_threads = 1`;
    const reads: { name: string; side: string; orders: string }[] = [
      {
        name: 'restore',
        side: `SELECT fp_hi, fp_lo, received_ms FROM gala_order_fps WHERE received_ms >= ${since} ORDER BY received_ms, fp_hi, fp_lo`,
        orders: `SELECT fp_hi, fp_lo, received_ms FROM gala_orders WHERE received_ms >= ${since} ORDER BY received_ms, fp_hi, fp_lo`,
      },
      {
        name: 'lookup',
        side: `SELECT DISTINCT fp_hi, fp_lo FROM gala_order_fps WHERE received_ms >= 0 AND (fp_hi, fp_lo) IN (${list})`,
        orders: `SELECT DISTINCT fp_hi, fp_lo FROM gala_orders WHERE (fp_hi, fp_lo) IN (${list})`,
      },
      { name: 'duplicates', side: dupes('gala_order_fps WHERE received_ms >= 0'), orders: dupes('gala_orders WHERE 1') },
    ];
    const samples = new Map<string, number[]>();
    const add = (k: string, ms: number) => samples.set(k, [...(samples.get(k) ?? []), ms]);
    const lines = async (sql: string) => (await e.conn.queryTsv(sql)).split('\n').length - 1;
    for (const r of reads) {
      const [a, b] = [await lines(r.side), await lines(r.orders)];
      if (a !== b) throw new Error(`${name} ${r.name}: side table gives ${a} rows, orders table ${b}`);
      process.stdout.write(`  ${r.name}: ${a} rows either way\n`);
    }
    for (let run = 0; run < RUNS; run++) {
      for (const r of reads) {
        const order = run % 2 === 0 ? (['side', 'orders'] as const) : (['orders', 'side'] as const);
        for (const src of order) add(`${r.name} ${src}`, await timed(() => e.conn.queryTsv(r[src])));
      }
      const w = group(groups + run);
      const derived = w.derived()!;
      add('side insert', await timed(() => e.conn.insertTsv('gala_order_fps', ['fp_hi', 'fp_lo', 'received_ms'], derived.tsv.gala_order_fps!)));
    }
    for (const r of reads) {
      const s = median(samples.get(`${r.name} side`)!);
      const o = median(samples.get(`${r.name} orders`)!);
      process.stdout.write(`${name} ${r.name}: side table ${s.toFixed(1)} ms, orders table ${o.toFixed(1)} ms (orders/side ${(o / s).toFixed(2)})\n`);
    }
    process.stdout.write(`${name} side insert per group of ${GROUP}: ${median(samples.get('side insert')!).toFixed(1)} ms\n`);
  } finally {
    await e.close();
  }
}

process.stdout.write(`fingerprint source: ${ROWS} rows, groups of ${GROUP}, ${RUNS} alternating runs, medians\n`);
for (const name of values.engines.split(',')) await bench(name as 'chdb' | 'server');
