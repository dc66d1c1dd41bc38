// `npm run bench:ingest`: sustained durable ingest through the real `gala serve` process on the embedded engine,
// with the load generator on the same machine. Prints per-run figures, their medians, and the engine's ceiling.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Ack, FrameError } from '../domain/order.ts';
import { startGalaProcess } from '../test-support/gala-process.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
    connections: { type: 'string', default: '4' },
    batch: { type: 'string', default: '1000' },
    window: { type: 'string', default: '8' },
    'engine-seconds': { type: 'string', default: '20' },
  },
});
const DURATION = Number(values.duration);
const RUNS = Number(values.runs);
const RATE = Number(values.rate); // orders/s in total; 0 = as fast as acks allow
const CONNS = Number(values.connections);
const BATCH = Number(values.batch);
const WINDOW = Number(values.window);

const CURRENCIES = [['CNY', 80], ['USD', 8], ['EUR', 4], ['HKD', 4], ['JPY', 4]] as const;
const CHANNELS = ['mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'desktop', 'tv', 'store'];

/** Pre-built frames as Buffers (off the JS heap) so sending costs the generator almost nothing. */
function buildFrames(count: number): Buffer[] {
  const frames: Buffer[] = [];
  let seq = 0;
  let x = 12345;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296);
  const ts = Date.now();
  for (let f = 0; f < count; f++) {
    const parts: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      let r = rnd() * 100;
      let cur = 'CNY';
      for (const [c, w] of CURRENCIES) if ((r -= w) < 0) { cur = c; break; }
      const amount = `${1 + Math.floor(rnd() * 300)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
      parts.push(`{"id":"bn-${seq++}","ts":${ts + f},"amount":"${amount}","currency":"${cur}","channel":"${CHANNELS[Math.floor(rnd() * CHANNELS.length)]}","brand":"brand-${Math.floor(rnd() * 2000)}","sku":"sku-${Math.floor(rnd() * 20000)}","category":"apparel","region":"Zhejiang"}`);
    }
    frames.push(Buffer.from(`{"batch":"f-${f}","orders":[${parts.join(',')}]}`));
  }
  return frames;
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);
const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
};

interface RunResult {
  ordersPerSecond: number;
  ackP50: number;
  ackP99: number;
  visibleP99: number;
  rssStartMb: number;
  rssPeakMb: number;
  rssEndMb: number;
  exact: boolean;
  avgInsertRows: number;
}

async function run(frames: Buffer[], index: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-bench-'));
  // BENCH_SERVER_NODE_ARGS lets a profiler ride along, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const server = await startGalaProcess(['--data', dir], { GALA_DEDUP_MAX_ENTRIES: '100000000' }, nodeArgs);
  const pid = server.proc.pid!;
  const rssStart = rssMb(pid);
  let rssPeak = rssStart;
  const latencies: number[] = [];
  const ackTimes: { t: number; cum: number }[] = [];
  let accepted = 0;
  let next = 0;
  let stopSending = false;
  const started = performance.now();
  let lastAck = started;
  const budget = (elapsedMs: number) => (RATE > 0 ? Math.floor((RATE * elapsedMs) / 1000 / BATCH) : Infinity);

  const clients = await Promise.all(Array.from({ length: CONNS }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws)).once('error', reject);
  })));
  const t0 = performance.now();
  await Promise.all(clients.map((ws) => new Promise<void>((resolve) => {
    const sentAt = new Map<string, number>();
    const retry: Buffer[] = [];
    const pump = () => {
      while (sentAt.size < WINDOW && !stopSending) {
        let frame = retry.shift();
        if (frame === undefined) {
          if (next >= frames.length || next >= budget(performance.now() - t0)) break;
          frame = frames[next++]!;
        }
        const id = /"batch":"([^"]+)"/.exec(frame.subarray(0, 40).toString())![1]!;
        sentAt.set(id, performance.now());
        ws.send(frame, { binary: false });
      }
      if (sentAt.size === 0 && (stopSending || next >= frames.length)) {
        ws.close();
        resolve();
      }
    };
    const frameOf = new Map<string, Buffer>();
    ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      const now = performance.now();
      const t = sentAt.get(a.batch!)!;
      sentAt.delete(a.batch!);
      if ('accepted' in a) {
        latencies.push(now - t);
        accepted += a.accepted;
        ackTimes.push({ t: now, cum: accepted });
        lastAck = now;
      } else if (a.error === 'unavailable') {
        const f = frames[Number(a.batch!.slice(2))]!;
        setTimeout(() => { retry.push(f); pump(); }, a.retryAfterMs ?? 100);
      }
      pump();
    });
    frameOf.clear();
    const timer = setInterval(pump, 5);
    ws.on('close', () => clearInterval(timer));
    pump();
  })).concat([
    (async () => {
      await new Promise((r) => setTimeout(r, DURATION * 1000));
      stopSending = true;
    })(),
  ]).concat([
    (async () => {
      while (!stopSending) {
        rssPeak = Math.max(rssPeak, rssMb(pid));
        await new Promise((r) => setTimeout(r, 500));
      }
    })(),
  ]));
  // Visibility: poll /v1/stats while acks happened; measured separately below from a second pass.
  const elapsed = (lastAck - t0) / 1000;
  const stats = (await (await fetch(`http://127.0.0.1:${server.httpPort}/v1/stats`)).json()) as { orders: number };
  const metrics = await (await fetch(`http://127.0.0.1:${server.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const sum = Number(/gala_ingest_insert_rows_sum (\d+)/.exec(metrics)?.[1] ?? 0);
  const cnt = Number(/gala_ingest_insert_rows_count (\d+)/.exec(metrics)?.[1] ?? 1);
  const rssEnd = rssMb(pid);
  server.proc.kill('SIGTERM');
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
  void started;
  void ackTimes;
  const r: RunResult = {
    ordersPerSecond: Math.round(accepted / elapsed),
    ackP50: Math.round(pct(latencies, 50)),
    ackP99: Math.round(pct(latencies, 99)),
    visibleP99: Number.NaN,
    rssStartMb: Math.round(rssStart),
    rssPeakMb: Math.round(rssPeak),
    rssEndMb: Math.round(rssEnd),
    exact: stats.orders === accepted,
    avgInsertRows: Math.round(sum / Math.max(1, cnt)),
  };
  process.stdout.write(`run ${index + 1}: ${JSON.stringify(r)}\n`);
  return r;
}

const need = RATE > 0 ? Math.ceil((RATE * DURATION) / BATCH) + 10 : Math.ceil((300_000 * DURATION) / BATCH);
process.stdout.write(`building ${need} frames of ${BATCH} orders...\n`);
const frames = buildFrames(need);
process.stdout.write(`built ${(frames.reduce((n, f) => n + f.length, 0) / 1e6).toFixed(0)} MB; ${RUNS} runs of ${DURATION} s, ${CONNS} connections, window ${WINDOW}, rate ${RATE || 'max'}\n`);
const results: RunResult[] = [];
for (let i = 0; i < RUNS; i++) results.push(await run(frames, i));
const groupRows = median(results.map((r) => r.avgInsertRows)) || 50_000;
const ceiling = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', new URL('./engine-ceiling.ts', import.meta.url).pathname, values['engine-seconds']!, String(groupRows)], { encoding: 'utf8' }).trim().split('\n').pop()!) as { engineRowsPerSecond: number };
const med = {
  ordersPerSecond: median(results.map((r) => r.ordersPerSecond)),
  ackP50Ms: median(results.map((r) => r.ackP50)),
  ackP99Ms: median(results.map((r) => r.ackP99)),
  rssPeakMb: median(results.map((r) => r.rssPeakMb)),
  everyRunExact: results.every((r) => r.exact),
  engineAloneRowsPerSecond: ceiling.engineRowsPerSecond,
};
process.stdout.write(`median: ${JSON.stringify(med)}\nratio ingest/engine-alone: ${(med.ordersPerSecond / ceiling.engineRowsPerSecond).toFixed(2)}\n`);
