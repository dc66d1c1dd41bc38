// Memory over a long show: runs an overlay against the whole system fed by the simulator at a speed-up, cutting
// its connection and cueing it off and on now and then, and samples the page's heap after a forced GC, its DOM
// counters and its Pixi display objects. Used by `npm run bench:overlay-soak` and, short, by a browser test.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CDPSession } from 'playwright-core';
import { launchChromium } from './browser.ts';
import { startOrderFeed } from './order-feed.ts';
import { cue, hundredths, openOverlay, statsGmv } from './overlay-page.ts';
import { startTestSystem } from './system-harness.ts';
import { until } from './until.ts';

export interface SoakOptions {
  overlay: string;
  /** Wall-clock seconds to run at least: longer on a loaded machine, until every planned sample and cut is done. */
  durationS: number;
  /** Simulated seconds per second: 30 plays half an hour of the show each minute. */
  speed: number;
  /** Orders per wall-clock second at the peak of the simulated night. */
  peakPerSecond: number;
  /** Seconds between samples. */
  sampleEveryS: number;
  /** Seconds between a connection cut (3 s offline) and between a stop/play cue pair; 0 for none. */
  disturbEveryS: number;
  log?: (line: string) => void;
}

export interface SoakSample {
  atS: number;
  /** JS heap in use after a full GC, bytes. */
  heapBytes: number;
  nodes: number;
  listeners: number;
  documents: number;
  /** Display objects in the Pixi stage. */
  objects: number;
  displayed: string | null;
}

export interface SoakResult {
  samples: SoakSample[];
  /** Median heap after GC over the first and the last third of the samples. */
  firstThirdHeap: number;
  lastThirdHeap: number;
  /** Simulated minutes of the show covered. */
  showMinutes: number;
  finalDisplayed: bigint;
  finalStats: bigint;
  cuts: number;
  cues: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function sample(cdp: CDPSession, at: number, read: () => Promise<{ objects: number; displayed: string | null }>): Promise<SoakSample> {
  // Twice: the first collection can leave objects that only become garbage once finalizers ran.
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  const page = await read();
  return { atS: at, heapBytes: heap.usedSize, nodes: dom.nodes, listeners: dom.jsEventListeners, documents: dom.documents, ...page };
}

export async function runOverlaySoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => undefined);
  const { system, cfg, cleanup } = await startTestSystem();
  const browser = await launchChromium();
  try {
    const feed = await startOrderFeed({ ingestPort: system.ingestPort, show: cfg.show, peakPerSecond: o.peakPerSecond, speed: o.speed, idPrefix: 'soak' });
    try {
      const page = await openOverlay(browser, system.httpPort, `/overlays/${o.overlay}`);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('HeapProfiler.enable');
      const read = () => page.evaluate(() => ({ objects: window.__gala!.objects(), displayed: window.__gala!.displayed() }));
      const samples: SoakSample[] = [];
      const t0 = Date.now();
      let nextSample = 0;
      let nextDisturb = o.disturbEveryS;
      let cuts = 0;
      let cues = 0;
      // What the duration plans, done whatever the machine's load: a loaded machine stretches the run rather than
      // skipping the last cut or samples (the test counts them).
      const plannedCuts = o.disturbEveryS > 0 ? Math.floor(o.durationS / o.disturbEveryS) : 0;
      const plannedSamples = Math.floor(o.durationS / o.sampleEveryS) + 1;
      while (Date.now() - t0 < o.durationS * 1000 || cuts < plannedCuts || samples.length < plannedSamples) {
        const at = (Date.now() - t0) / 1000;
        if (at >= nextSample) {
          const s = await sample(cdp, at, read);
          samples.push(s);
          log(`${at.toFixed(0).padStart(5)} s  heap ${(s.heapBytes / 1e6).toFixed(2)} MB  nodes ${s.nodes}  listeners ${s.listeners}  pixi objects ${s.objects}  shows ${s.displayed}`);
          nextSample += o.sampleEveryS;
        }
        if (cuts < plannedCuts && at >= nextDisturb) {
          nextDisturb += o.disturbEveryS;
          // A silent cut (offline emulation), then a hide and a show: the paths a night exercises now and then.
          await cdp.send('Network.enable');
          await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
          await sleep(3000);
          await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
          cuts++;
          await cue(system.httpPort, o.overlay, 'stop');
          await sleep(1000);
          await cue(system.httpPort, o.overlay, 'play');
          cues += 2;
        }
        await sleep(200);
      }
      await feed.stop();
      const finalStats = await statsGmv(system.httpPort);
      // Let it reconnect (after the last cut) and land on the final figure; the caller compares the two, so a page
      // that never lands is reported with what it shows rather than thrown.
      const shown = async () => hundredths((await read()).displayed);
      const finalDisplayed = await until('the final figure', shown, (v) => v === finalStats, { timeoutMs: 60_000, everyMs: 250 }).catch(shown);
      samples.push(await sample(cdp, (Date.now() - t0) / 1000, read));
      const third = Math.max(1, Math.floor(samples.length / 3));
      return {
        samples,
        firstThirdHeap: median(samples.slice(0, third).map((s) => s.heapBytes)),
        lastThirdHeap: median(samples.slice(-third).map((s) => s.heapBytes)),
        showMinutes: (o.durationS * o.speed) / 60,
        finalDisplayed,
        finalStats,
        cuts,
        cues,
      };
    } finally {
      await feed.stop().catch(() => undefined);
    }
  } finally {
    await browser.close();
    await cleanup();
  }
}
