// `npm run bench:ingest`: sustained durable ingest through the real `gala serve` process on the embedded engine,
// with the load generator in this process on the same machine. Prints per-run figures, their medians, and the
// ceiling of the engine alone with the ratio of the two.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import type { Ack, FrameError } from '../domain/order.ts';
import { startGalaProcess } from '../test-support/gala-process.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';
import { createOrderFrames } from './order-frames.ts';
import { busiestThreads, cpuOf, rssMbOf, threadCpuByName } from './proc-stats.ts';
import { median, pct } from './stats.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
    connections: { type: 'string', default: '4' },
    batch: { type: 'string', default: '1000' },
    window: { type: 'string', default: '32' },
    'engine-seconds': { type: 'string', default: '60' },
    'no-engine': { type: 'boolean', default: false },
  },
});
const DURATION = Number(values.duration);
/** Seconds at the rate before latencies count: the fresh process's first seconds (JIT, first parts) are not its steady state. */
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);
const RATE = Number(values.rate); // orders/s in total; 0 = as fast as acks allow
const CONNS = Number(values.connections);
const BATCH = Number(values.batch);
const WINDOW = Number(values.window);
const show = loadShow(DEFAULT_SHOW_FILE);

/** CPU seconds a process has used so far, every thread; NaN once it has gone. */
const cpuSeconds = (pid: number) => {
  try {
    const c = cpuOf(`/proc/${pid}/stat`);
    return c.user + c.system;
  } catch {
    return Number.NaN;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunResult {
  ordersPerSecond: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Ack p99 over the warm-up alone, printed so what was left out is seen. */
  warmupAckP99Ms: number;
  visibleP50Ms: number;
  visibleP99Ms: number;
  rssStartMb: number;
  rssPeakMb: number;
  rssEndMb: number;
  exact: boolean;
  avgInsertRows: number;
  /** Cores used on average over the run: the gala process (all its threads), and this load generator. */
  serverCores: number;
  loadCores: number;
}

async function run(index: number): Promise<RunResult> {
  const source = createOrderFrames(BATCH, show);
  const dir = mkdtempSync(join(tmpdir(), 'gala-bench-'));
  // BENCH_SERVER_NODE_ARGS lets a profiler ride along, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const server = await startGalaProcess(['--data', dir], { GALA_DEDUP_MAX_ENTRIES: '200000000', GALA_DEDUP_EXPECTED_RATE: String(RATE > 0 ? RATE : 200_000), ...Object.fromEntries(['GALA_RECONCILE_SECONDS', 'GALA_GROUP_FLUSH_MS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]!])) }, nodeArgs);
  const pid = server.proc.pid!;
  const rssStart = rssMbOf(pid);
  let rssPeak = rssStart;
  const ackLatency: number[] = [];
  const warmLatency: number[] = [];
  /** Every ack since the last progress line. */
  let windowLatency: number[] = [];
  const acks: { t: number; cum: number }[] = [];
  const polls: { t: number; orders: number }[] = [];
  let accepted = 0;
  let next = 0;
  let stop = false;
  let lastAck = 0;

  const clients = await Promise.all(Array.from({ length: CONNS }, () => new Promise<WebSocket>((resolve, reject) => {
    // A zero masking key: ws then skips XOR-ing every byte in JavaScript, which cost the load generator more CPU
    // than the server spends unmasking (uWS unmasks every frame in C++ whatever the key). Still a masked frame.
    const ws = new WebSocket(`ws://127.0.0.1:${server.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` }, perMessageDeflate: false, generateMask: () => undefined });
    ws.once('open', () => resolve(ws)).once('error', reject);
  })));
  const t0 = performance.now();
  const serverCpu0 = cpuSeconds(pid);
  const loadCpu0 = process.cpuUsage();
  const due = () => (RATE > 0 ? Math.floor((RATE * (performance.now() - t0)) / 1000 / BATCH) : Infinity);

  const drive = (ws: WebSocket) => new Promise<void>((resolve) => {
    const sentAt = new Map<string, number>();
    const retry: number[] = [];
    const pump = () => {
      while (sentAt.size < WINDOW && !stop) {
        let n = retry.shift();
        if (n === undefined) {
          if (next >= due()) break;
          n = next++;
        }
        sentAt.set(`f-${String(n).padStart(12, '0')}`, performance.now());
        ws.send(source.frame(n), { binary: false });
      }
      if (stop && sentAt.size === 0 && retry.length === 0) {
        clearInterval(timer);
        ws.close();
        resolve();
      }
    };
    ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      const now = performance.now();
      const t = sentAt.get(a.batch!)!;
      sentAt.delete(a.batch!);
      if ('accepted' in a) {
        (now - t0 < WARMUP * 1000 ? warmLatency : ackLatency).push(now - t);
        windowLatency.push(now - t);
        accepted += a.accepted;
        acks.push({ t: now, cum: accepted });
        lastAck = now;
      } else if (a.error === 'unavailable') {
        const n = Number(a.batch!.slice(2));
        setTimeout(() => retry.push(n), a.retryAfterMs ?? 100);
      } else {
        throw new Error(`bench: unexpected answer ${JSON.stringify(a)}`);
      }
      pump();
    });
    const timer = setInterval(pump, 2);
    pump();
  });

  const sampler = (async () => {
    let lastPrint = performance.now();
    let threadsBefore = threadCpuByName(pid);
    let mergedBefore = { bytes: 0, seconds: 0 };
    let callsBefore = new Map<string, number>();
    while (!stop) {
      rssPeak = Math.max(rssPeak, rssMbOf(pid));
      const t = performance.now();
      const s = (await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/stats`)).json()) as { orders: number };
      polls.push({ t, orders: s.orders });
      if (performance.now() - lastPrint >= 10_000) {
        lastPrint = performance.now();
        // The ack tail of these 10 s alone, so a slow stretch can be matched with what the server did then.
        const recent = windowLatency;
        windowLatency = [];
        // pct sorts its own copy; the maximum is its 100th percentile.
        // What the server did in them: its busiest threads, and the engine's parts and merges (from /metrics).
        const threadsNow = threadCpuByName(pid);
        const busy = busiestThreads(threadsBefore, threadsNow, 10, 4);
        threadsBefore = threadsNow;
        const m = await (await fetch(`http://127.0.0.1:${server.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
        const num = (re: RegExp) => Number(re.exec(m)?.[1] ?? Number.NaN);
        const merged = { bytes: num(/^gala_storage_merged_bytes_total (\S+)$/m), seconds: num(/^gala_storage_merge_seconds_total (\S+)$/m) };
        const engine =
          `parts orders=${num(/^gala_storage_parts\{table="gala_orders"\} (\d+)$/m)} fps=${num(/^gala_storage_parts\{table="gala_order_fps"\} (\d+)$/m)}` +
          ` merging=${num(/^gala_storage_merges_running (\d+)$/m)} merged=${Math.round((merged.bytes - mergedBefore.bytes) / 1e6)}MB in ${(merged.seconds - mergedBefore.seconds).toFixed(1)}s`;
        mergedBefore = merged;
        // Where storage time went (calls other than inserts: reads that compete with them).
        const callsNow = new Map([...m.matchAll(/^gala_storage_call_seconds_total\{call="(\w+)"\} (\S+)$/gm)].map((x) => [x[1]!, Number(x[2])] as const));
        const calls = [...callsNow]
          .filter(([name]) => name !== 'insert')
          .map(([name, sec]) => [name, sec - (callsBefore.get(name) ?? 0)] as const)
          .filter(([, sec]) => sec >= 0.05)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([name, sec]) => `${name} ${sec.toFixed(1)}s`)
          .join(', ');
        callsBefore = callsNow;
        process.stdout.write(
          `  t=${((lastPrint - t0) / 1000).toFixed(0)}s acked=${accepted} rss=${rssMbOf(pid)}MB ack p99=${Math.round(pct(recent, 99))} max=${Math.round(pct(recent, 100))} ms | ${engine} | reads: ${calls || 'none'} | ${busy}\n`,
        );
      }
      await sleep(25);
    }
  })();
  setTimeout(() => (stop = true), (WARMUP + DURATION) * 1000);
  await Promise.all([...clients.map(drive), sampler]);

  const elapsed = (lastAck - t0) / 1000;
  const wall = (performance.now() - t0) / 1000;
  const serverCores = (cpuSeconds(pid) - serverCpu0) / wall;
  const loadCpu = process.cpuUsage(loadCpu0);
  const loadCores = (loadCpu.user + loadCpu.system) / 1e6 / wall;
  // The last acks can be a few ms ahead of /v1/stats (ack to visible is the figure measured above): wait up to 2 s
  // for the totals to reach every acknowledged order, then compare them exactly.
  const readStats = async () => (await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/stats`)).json()) as { orders: number; gmv: string };
  let stats = await readStats();
  for (const until = performance.now() + 2000; stats.orders < accepted && performance.now() < until; stats = await readStats()) await sleep(20);
  const metrics = await (await fetch(`http://127.0.0.1:${server.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const sum = Number(/gala_ingest_insert_rows_sum (\d+)/.exec(metrics)?.[1] ?? 0);
  const cnt = Number(/gala_ingest_insert_rows_count (\d+)/.exec(metrics)?.[1] ?? 1);
  process.stdout.write(`  insert seconds: ${[...metrics.matchAll(/gala_ingest_insert_seconds_bucket\{le="([^"]+)"\} (\d+)/g)].map((m) => `<=${m[1]}:${m[2]}`).join(' ')}\n`);
  const rssEnd = rssMbOf(pid);
  server.proc.kill('SIGTERM');
  await server.exited;
  // What the server logged, by event: a drift, a repair or a storage error during a run is worth seeing.
  const events = new Map<string, number>();
  for (const line of server.stderr().split('\n')) {
    const e = /"event":"([^"]+)"/.exec(line)?.[1];
    if (e !== undefined) events.set(e, (events.get(e) ?? 0) + 1);
  }
  process.stdout.write(`  server log (its last 20 kB): ${[...events].map(([e, n]) => `${e} x${n}`).join(', ') || 'nothing'}\n`);
  rmSync(dir, { recursive: true, force: true });

  // Ack-to-visible: for each ack, the first later poll of /v1/stats whose order count includes it.
  const visible: number[] = [];
  let p = 0;
  for (const a of acks) {
    while (p < polls.length && (polls[p]!.t < a.t || polls[p]!.orders < a.cum)) p++;
    if (p >= polls.length) break;
    visible.push(polls[p]!.t - a.t);
  }
  const r: RunResult = {
    ordersPerSecond: Math.round(accepted / elapsed),
    ackP50Ms: Math.round(pct(ackLatency, 50)),
    ackP99Ms: Math.round(pct(ackLatency, 99)),
    warmupAckP99Ms: Math.round(pct(warmLatency, 99)),
    visibleP50Ms: Math.round(pct(visible, 50)),
    visibleP99Ms: Math.round(pct(visible, 99)),
    rssStartMb: rssStart,
    rssPeakMb: rssPeak,
    rssEndMb: rssEnd,
    exact: stats.orders === accepted && stats.gmv === source.gmv(accepted / BATCH),
    avgInsertRows: Math.round(sum / Math.max(1, cnt)),
    serverCores: Math.round(serverCores * 100) / 100,
    loadCores: Math.round(loadCores * 100) / 100,
  };
  process.stdout.write(`run ${index + 1}: ${JSON.stringify(r)}\n`);
  return r;
}

process.stdout.write(`${RUNS} runs of ${DURATION} s after ${WARMUP} s of warm-up (latencies from after it; orders/s over both), ${CONNS} connections, window ${WINDOW}, batches of ${BATCH}, rate ${RATE || 'max'}\n`);
const results: RunResult[] = [];
for (let i = 0; i < RUNS; i++) results.push(await run(i));
const med = {
  ordersPerSecond: median(results.map((r) => r.ordersPerSecond)),
  ackP50Ms: median(results.map((r) => r.ackP50Ms)),
  ackP99Ms: median(results.map((r) => r.ackP99Ms)),
  visibleP99Ms: median(results.map((r) => r.visibleP99Ms)),
  rssPeakMb: median(results.map((r) => r.rssPeakMb)),
  serverCores: median(results.map((r) => r.serverCores)),
  loadCores: median(results.map((r) => r.loadCores)),
  serverUsPerOrder: median(results.map((r) => Math.round((r.serverCores / r.ordersPerSecond) * 1e8) / 100)),
  loadUsPerOrder: median(results.map((r) => Math.round((r.loadCores / r.ordersPerSecond) * 1e8) / 100)),
  everyRunExact: results.every((r) => r.exact),
};
process.stdout.write(`median: ${JSON.stringify(med)}\n`);
if (!values['no-engine']) {
  const groupRows = median(results.map((r) => r.avgInsertRows)) || 50_000;
  const engine = (mode: string) => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', new URL('./engine-ceiling.ts', import.meta.url).pathname, values['engine-seconds']!, String(groupRows), mode], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as { engineRowsPerSecond: number; cpuUsPerRow: number };
  };
  // Gala's own route to the engine (TabSeparated through a tmpfs file), then the issue's naive engine path
  // (JSONEachRow through chDB's insert API): the same rows into the orders table, no network, no validation. Each
  // with its CPU per row (every thread): what the engine alone costs, against what the whole path costs per order.
  const ceiling = engine('gala');
  process.stdout.write(`engine alone, Gala's route (${groupRows}-row inserts): ${ceiling.engineRowsPerSecond} rows/s, ${ceiling.cpuUsPerRow} µs CPU per row; ratio ingest/engine-alone: ${(med.ordersPerSecond / ceiling.engineRowsPerSecond).toFixed(2)}\n`);
  const naive = engine('naive');
  process.stdout.write(`naive engine path, JSONEachRow through chDB's insert API (${groupRows}-row inserts): ${naive.engineRowsPerSecond} rows/s, ${naive.cpuUsPerRow} µs CPU per row; ratio ingest/naive: ${(med.ordersPerSecond / naive.engineRowsPerSecond).toFixed(2)}\n`);
  process.stdout.write(`whole path, CPU per order (median run): server ${med.serverUsPerOrder} µs + load generator ${med.loadUsPerOrder} µs\n`);
}
