// `npm run bench:overlays`: frame times and CPU per frame of the counter scene (Pixi, WebGL through SwiftShader) in
// headless Chromium, with the live totals changing once a second from the whole system fed by the simulator,
// against a baseline: the same counter (same model, formatting and live client) as plain DOM text and CSS.
// Each run measures both scenes, one after the other, each in a fresh browser; medians of the runs are printed.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test-support/browser.ts';
import { startOrderFeed } from '../test-support/order-feed.ts';
import { startTestSystem } from '../test-support/system-harness.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '5' },
  },
});
const DURATION = Number(values.duration);
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const HERE = dirname(fileURLToPath(import.meta.url));
const CLOCK_TICKS = 100; // USER_HZ of /proc/<pid>/stat on Linux

interface SceneFigures {
  frames: number;
  fps: number;
  intervalP50: number;
  intervalP99: number;
  /** Renderer main thread busy per frame (CDP TaskDuration), ms; of which script. */
  taskMsPerFrame: number;
  scriptMsPerFrame: number;
  /** CPU of every Chromium process (renderer, GPU/SwiftShader, browser) per frame, ms, and in cores. */
  chromiumCpuMsPerFrame: number;
  chromiumCores: number;
}

/** User + system CPU seconds of every process descending from this one (the browsers it launched). */
function descendantCpuSeconds(): number {
  const procs = new Map<number, { ppid: number; cpu: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  for (const [pid, p] of procs) {
    if (pid === process.pid) continue;
    for (let up = p.ppid; up > 1; up = procs.get(up)?.ppid ?? 0) {
      if (up === process.pid) {
        total += p.cpu;
        break;
      }
    }
  }
  return total;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((s.length - 1) * q))]!;
};
const median = (xs: number[]) => quantile(xs, 0.5);

/** The DOM baseline as one HTML page with its script inlined, bundled from bench/overlay-dom-counter.ts. */
async function domCounterHtml(): Promise<string> {
  const out = await build({ entryPoints: [join(HERE, 'overlay-dom-counter.ts')], bundle: true, write: false, format: 'esm', minify: true, target: ['chrome110'], logLevel: 'silent' });
  const js = out.outputFiles[0]!.text.replaceAll('</script', '<\\/script');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>DOM counter (bench baseline)</title></head><body><script type="module">${js}</script></body></html>`;
}

async function measure(page: Page): Promise<SceneFigures> {
  await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: 60_000 });
  await sleep(WARMUP * 1000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  // A string, not a function: tsx would wrap a named inner function in a helper the page does not have.
  await page.evaluate(`(() => {
    const times = [];
    window.__frameTimes = times;
    const tick = (t) => { times.push(t); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  })()`);
  const m0 = await metrics();
  const c0 = descendantCpuSeconds();
  await sleep(DURATION * 1000);
  const m1 = await metrics();
  const c1 = descendantCpuSeconds();
  const times = await page.evaluate(() => (window as unknown as { __frameTimes: number[] }).__frameTimes);
  const intervals = times.slice(1).map((t, i) => t - times[i]!);
  const frames = intervals.length;
  return {
    frames,
    fps: frames / DURATION,
    intervalP50: quantile(intervals, 0.5),
    intervalP99: quantile(intervals, 0.99),
    taskMsPerFrame: ((m1.TaskDuration! - m0.TaskDuration!) * 1000) / frames,
    scriptMsPerFrame: ((m1.ScriptDuration! - m0.ScriptDuration!) * 1000) / frames,
    chromiumCpuMsPerFrame: ((c1 - c0) * 1000) / frames,
    chromiumCores: (c1 - c0) / DURATION,
  };
}

const { system, cfg, cleanup } = await startTestSystem();
// The live totals change once a second: every second one batch of what the simulator has due.
const feed = await startOrderFeed({ ingestPort: system.ingestPort, show: cfg.show, peakPerSecond: Number(values.rate), batch: 10_000, lingerMs: 1000, idPrefix: 'bench' });
// The baseline page is served by the bench itself, on a port of its own, and reads the system's live channel.
const html = await domCounterHtml();
const domServer = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html));
await new Promise<void>((resolve) => domServer.listen(0, '127.0.0.1', resolve));
const domUrl = `http://127.0.0.1:${(domServer.address() as AddressInfo).port}/`;
const base = `http://127.0.0.1:${system.httpPort}`;
const results: Record<'pixi' | 'dom', SceneFigures[]> = { pixi: [], dom: [] };
try {
  // Builds the overlay pages before the first measurement.
  await fetch(`${base}/overlays/counter`);
  for (let run = 1; run <= RUNS; run++) {
    for (const scene of ['pixi', 'dom'] as const) {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
        page.on('pageerror', (e) => console.error(`${scene} page error: ${e.message}`));
        await page.goto(scene === 'pixi' ? `${base}/overlays/counter` : `${domUrl}?live=${encodeURIComponent(`ws://127.0.0.1:${system.httpPort}/v1/live`)}`);
        const f = await measure(page);
        results[scene].push(f);
        console.log(
          `run ${run} ${scene.padEnd(4)}  ${f.fps.toFixed(1).padStart(5)} fps  frame interval p50 ${f.intervalP50.toFixed(1)} ms p99 ${f.intervalP99.toFixed(1)} ms  ` +
            `main thread ${f.taskMsPerFrame.toFixed(2)} ms/frame (script ${f.scriptMsPerFrame.toFixed(2)})  all Chromium CPU ${f.chromiumCpuMsPerFrame.toFixed(2)} ms/frame = ${f.chromiumCores.toFixed(2)} cores`,
        );
      } finally {
        await browser.close();
      }
    }
  }
} finally {
  await feed.stop();
  domServer.close();
  await cleanup();
}

const row = (name: string, xs: SceneFigures[]) => {
  const m = (k: keyof SceneFigures) => median(xs.map((x) => x[k]));
  return `| ${name} | ${m('fps').toFixed(1)} | ${m('intervalP50').toFixed(1)} / ${m('intervalP99').toFixed(1)} ms | ${m('taskMsPerFrame').toFixed(2)} ms (script ${m('scriptMsPerFrame').toFixed(2)}) | ${m('chromiumCpuMsPerFrame').toFixed(2)} ms | ${m('chromiumCores').toFixed(2)} |`;
};
console.log(`\nmedians of ${RUNS} runs of ${DURATION} s, totals updated once a second:`);
console.log('| scene | fps | frame interval p50 / p99 | main thread per frame | all Chromium CPU per frame | cores |');
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(row('counter (Pixi, WebGL in SwiftShader)', results.pixi));
console.log(row('baseline (DOM text + CSS)', results.dom));
