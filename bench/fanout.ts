// `npm run bench:fanout`: live fan-out of the real `gala serve` process. Thousands of subscribers (WebSocket
// topic `second` and SSE /v1/stats/stream, mixed) held by load-generator child processes on the same machine, while
// orders arrive at a modest rate; every per-second frame's delivery latency, frames missed, server CPU and RSS.
// Then GET /v1/stats under autocannon with If-None-Match, as a poller or CDN that revalidates would send it.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';
import type { WorkerCommand, WorkerReply, WorkerResult } from './fanout-subscribers.ts';
import { cpuOf } from './proc-stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '30' },
    subscribers: { type: 'string', default: '20000' },
    'sse-share': { type: 'string', default: '0.5' },
    workers: { type: 'string', default: '2' },
    rate: { type: 'string', default: '1000' },
    'http-seconds': { type: 'string', default: '10' },
    'http-connections': { type: 'string', default: '100' },
    'http-workers': { type: 'string', default: '2' },
    'http-pipelining': { type: 'string', default: '1' },
    'no-http': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const DURATION = Number(values.duration);
const WANTED = Number(values.subscribers);
const SSE_SHARE = Number(values['sse-share']);
const WORKERS = Number(values.workers);
const RATE = Number(values.rate);
const HTTP_SECONDS = Number(values['http-seconds']);
const HTTP_CONNECTIONS = Number(values['http-connections']);
const HTTP_WORKERS = Number(values['http-workers']);
const HTTP_PIPELINING = Number(values['http-pipelining']);
/** File descriptors the server keeps for itself beyond the subscribers (ClickHouse opened ~100 more during a run). */
const FD_MARGIN = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: Float64Array, p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** CPU of a process or one of its threads (`/proc/<pid>/task/<tid>/stat`) in s, user and system apart. */
function proc(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const cpu = cpuOf(`/proc/${pid}/stat`);
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return {
    rssMb: Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024),
    cpuSeconds: cpu.user + cpu.system,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    fdLimit: Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? 1024),
  };
}

/** Orders at RATE per second in batches every 100 ms, paid now, so every per-second frame has figures. */
async function feedOrders(port: number): Promise<{ stop: () => Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` }, perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let accepted = 0;
  ws.on('message', (d) => (accepted += (JSON.parse(String(d)) as { accepted?: number }).accepted ?? 0));
  let n = 0;
  const per = Math.max(1, Math.round(RATE / 10));
  const timer = setInterval(() => {
    const ts = Date.now();
    const orders = Array.from({ length: per }, (_, i) => ({ id: `fo-${n}-${i}`, ts, amount: `${10 + (i % 90)}.${String(i % 100).padStart(2, '0')}`, currency: 'CNY', channel: i % 10 === 0 ? 'desktop' : 'mobile', brand: `brand-${i % 50}`, sku: `sku-${i % 500}`, region: 'Zhejiang' }));
    ws.send(JSON.stringify({ batch: `fb-${n++}`, orders }));
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      await sleep(500);
      ws.close();
      return accepted;
    },
  };
}

function startWorker(): { child: ChildProcess; ask: (c: WorkerCommand) => Promise<WorkerReply> } {
  const child = fork(new URL('./fanout-subscribers.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    ask: (c) =>
      new Promise((resolve, reject) => {
        child.once('message', (m) => resolve(m as WorkerReply));
        child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
        child.send(c);
      }),
  };
}

interface FanoutRun {
  subscribers: number;
  ws: number;
  sse: number;
  connectSeconds: number;
  dueP50: number;
  dueP99: number;
  sentP50: number;
  sentP99: number;
  maxFromDue: number;
  wsDueP50: number;
  wsDueP99: number;
  sseDueP50: number;
  sseDueP99: number;
  frames: number;
  missed: number;
  missedWs: number;
  missedSse: number;
  /** The machine's 1-minute load average at the end of the window: other work on the machine skews everything. */
  loadAverage: number;
  /**
   * CPU of the server's main thread per measured second (one frame each), ms, user and system: the frame's
   * fan-out (this one thread writes every socket, mostly system time in send) and the orders' ingest.
   */
  mainThreadUserMs: number;
  mainThreadSystemMs: number;
  /** CPU of all load generators together over the window, % of one core, and their worst event-loop delay p99. */
  generatorCpuPercent: number;
  generatorLoopDelayP99: number;
  lost: number;
  serverCpuPercent: number;
  rssMb: number;
  rssPeakMb: number;
}

async function fanout(run: number, server: GalaProcess): Promise<FanoutRun> {
  const pid = server.proc.pid!;
  const before = proc(pid);
  const room = before.fdLimit - before.fds - FD_MARGIN;
  const total = Math.min(WANTED, room);
  if (total < WANTED) process.stdout.write(`  note: the server may open ${before.fdLimit} files (RLIMIT_NOFILE) and holds ${before.fds}: ${total} subscribers fit, not ${WANTED}\n`);
  const sse = Math.round(total * SSE_SHARE);
  const ws = total - sse;
  const workers = Array.from({ length: WORKERS }, startWorker);
  const t0 = performance.now();
  const share = (n: number, w: number) => Math.floor(n / WORKERS) + (w < n % WORKERS ? 1 : 0);
  // The ramp can be slow on a busy machine: say how far it got every 10 s.
  const progress = setInterval(() => process.stdout.write(`  connecting: server holds ${proc(pid).fds} files\n`), 10_000);
  const connected = await Promise.all(workers.map((w, i) => w.ask({ cmd: 'connect', port: server.httpPort, ws: share(ws, i), sse: share(sse, i), sourceBase: `127.${run + 1}.${i + 1}`, concurrency: 64 })));
  clearInterval(progress);
  const connectSeconds = (performance.now() - t0) / 1000;
  const got = connected.reduce((a, c) => (c.type === 'connected' ? { ws: a.ws + c.ws, sse: a.sse + c.sse, failed: a.failed + c.failed } : a), { ws: 0, sse: 0, failed: 0 });
  process.stdout.write(`  ${got.ws} WebSocket + ${got.sse} SSE subscribers in ${round(connectSeconds)} s (${got.failed} refused); server fds ${proc(pid).fds}\n`);
  // Let the snapshots of the ramp drain, then measure whole seconds.
  await sleep(3000);
  const fromSecond = Math.floor(Date.now() / 1000) + 1;
  const toSecond = fromSecond + DURATION - 1;
  const measured = Promise.all(workers.map((w) => w.ask({ cmd: 'measure', fromSecond, toSecond })));
  await sleep(fromSecond * 1000 - Date.now());
  const cpu0 = proc(pid).cpuSeconds;
  const main0 = cpuOf(`/proc/${pid}/task/${pid}/stat`);
  const w0 = performance.now();
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, proc(pid).rssMb)), 500);
  await sleep((toSecond + 1) * 1000 - Date.now());
  const cpu1 = proc(pid).cpuSeconds;
  const main1 = cpuOf(`/proc/${pid}/task/${pid}/stat`);
  const wallSeconds = (performance.now() - w0) / 1000;
  const rssMb = proc(pid).rssMb;
  clearInterval(sampler);
  const results = (await measured).map((r) => (r as { result: WorkerResult }).result);
  await Promise.all(workers.map((w) => w.ask({ cmd: 'close' }).catch(() => undefined)));
  const merge = (pick: (r: WorkerResult) => number[]) => Float64Array.from(results.flatMap(pick)).sort();
  const due = merge((r) => r.fromDue);
  const sent = merge((r) => r.fromSent);
  const wsDue = merge((r) => r.wsFromDue);
  const sseDue = merge((r) => r.sseFromDue);
  const r: FanoutRun = {
    subscribers: got.ws + got.sse,
    ws: got.ws,
    sse: got.sse,
    connectSeconds: round(connectSeconds),
    dueP50: round(pct(due, 50)),
    dueP99: round(pct(due, 99)),
    sentP50: round(pct(sent, 50)),
    sentP99: round(pct(sent, 99)),
    maxFromDue: round(due.at(-1) ?? Number.NaN),
    wsDueP50: round(pct(wsDue, 50)),
    wsDueP99: round(pct(wsDue, 99)),
    sseDueP50: round(pct(sseDue, 50)),
    sseDueP99: round(pct(sseDue, 99)),
    frames: results.reduce((a, x) => a + x.received, 0),
    missed: results.reduce((a, x) => a + x.missed, 0),
    missedWs: results.reduce((a, x) => a + x.missedWs, 0),
    missedSse: results.reduce((a, x) => a + x.missedSse, 0),
    loadAverage: round(loadavg()[0]!),
    mainThreadUserMs: round(((main1.user - main0.user) * 1000) / DURATION),
    mainThreadSystemMs: round(((main1.system - main0.system) * 1000) / DURATION),
    generatorCpuPercent: round((results.reduce((a, x) => a + x.cpuSeconds, 0) / wallSeconds) * 100),
    generatorLoopDelayP99: round(Math.max(...results.map((x) => x.loopDelayP99))),
    lost: results.reduce((a, x) => a + x.lost, 0),
    serverCpuPercent: round(((cpu1 - cpu0) / wallSeconds) * 100),
    rssMb,
    rssPeakMb: Math.max(rssPeak, rssMb),
  };
  return r;
}

interface HttpRun {
  serverCpuPercent: number;
  requestsPerSecond: number;
  notModified: number;
  ok: number;
  other: number;
  latencyP50: number;
  latencyP99: number;
}

/**
 * /v1/stats revalidated: every connection sends If-None-Match with the newest ETag seen, as a poller or a CDN
 * edge does; the tag changes each second (the snapshot's asOf), so about one answer per connection a second is 200.
 */
async function statsLoad(server: GalaProcess): Promise<HttpRun> {
  const url = `http://127.0.0.1:${server.httpPort}/v1/stats`;
  const pid = server.proc.pid!;
  const cpu0 = proc(pid).cpuSeconds;
  const t0 = performance.now();
  const hook = (f: string) => fileURLToPath(new URL(`./etag-poller/${f}`, import.meta.url));
  const result = await autocannon({
    url,
    connections: HTTP_CONNECTIONS,
    pipelining: HTTP_PIPELINING,
    duration: HTTP_SECONDS,
    ...(HTTP_WORKERS > 0 ? { workers: HTTP_WORKERS } : {}),
    requests: [{ method: 'GET', path: '/v1/stats', setupRequest: hook('setup-request.cjs'), onResponse: hook('on-response.cjs') } as unknown as autocannon.Request],
  });
  const serverCpuPercent = round(((proc(pid).cpuSeconds - cpu0) / ((performance.now() - t0) / 1000)) * 100);
  const codes = (result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats;
  const notModified = codes['304']?.count ?? 0;
  const ok = codes['200']?.count ?? 0;
  return {
    serverCpuPercent,
    requestsPerSecond: Math.round(result.requests.average),
    notModified,
    ok,
    other: Object.entries(codes).reduce((a, [code, c]) => (code === '200' || code === '304' ? a : a + c.count), 0) + result.errors + result.timeouts,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
  };
}

process.stdout.write(`${RUNS} runs: ${WANTED} subscribers (${Math.round(SSE_SHARE * 100)}% SSE) over ${WORKERS} load-generator processes, ${DURATION} s measured, ${RATE} orders/s; then /v1/stats for ${HTTP_SECONDS} s with ${HTTP_CONNECTIONS} connections, pipelining ${HTTP_PIPELINING}, ${HTTP_WORKERS} autocannon threads\n`);
const fanouts: FanoutRun[] = [];
const https: HttpRun[] = [];
for (let run = 0; run < RUNS; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'gala-fanout-'));
  // The per-client rate limit is off: every subscriber comes from this one machine.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const server = await startGalaProcess(['--data', dir], { GALA_PUBLIC_RATE: '0' }, nodeArgs);
  try {
    const feeder = await feedOrders(server.ingestPort);
    await sleep(1500);
    const f = await fanout(run, server);
    fanouts.push(f);
    process.stdout.write(`run ${run + 1} fan-out: ${JSON.stringify(f)}\n`);
    if (!values['no-http']) {
      await sleep(1000);
      const h = await statsLoad(server);
      https.push(h);
      process.stdout.write(`run ${run + 1} /v1/stats: ${JSON.stringify(h)}\n`);
    }
    const accepted = await feeder.stop();
    process.stdout.write(`  orders acknowledged during the run: ${accepted}\n`);
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
const med = (pick: (r: FanoutRun) => number) => median(fanouts.map(pick));
process.stdout.write(
  `median fan-out: ${JSON.stringify({
    subscribers: med((r) => r.subscribers),
    fromDueP50Ms: med((r) => r.dueP50),
    fromDueP99Ms: med((r) => r.dueP99),
    fromSentP50Ms: med((r) => r.sentP50),
    fromSentP99Ms: med((r) => r.sentP99),
    framesMissed: med((r) => r.missed),
    serverCpuPercent: med((r) => r.serverCpuPercent),
    mainThreadMsPerFrame: med((r) => r.mainThreadUserMs + r.mainThreadSystemMs),
    rssPeakMb: med((r) => r.rssPeakMb),
  })}\n`,
);
if (https.length > 0) {
  const hm = (pick: (r: HttpRun) => number) => median(https.map(pick));
  process.stdout.write(`median /v1/stats: ${JSON.stringify({ requestsPerSecond: hm((r) => r.requestsPerSecond), latencyP50Ms: hm((r) => r.latencyP50), latencyP99Ms: hm((r) => r.latencyP99), share304: round(hm((r) => r.notModified / Math.max(1, r.notModified + r.ok)), 3) })}\n`);
}
