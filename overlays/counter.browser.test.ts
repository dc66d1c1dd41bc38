// The giant counter in headless Chromium against the whole system, fed by the simulator through the real ingest:
// transparent background with the counter drawn, the displayed value tracking and converging to /v1/stats (in
// the page and in the health report), never backwards frame by frame, current at once after a reload, holding
// through a cut connection then reconnecting and resyncing, hidden and re-shown by cues, WebGL context loss.
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { launchChromium, requireChromium, BROWSER_TEST_TIMEOUT_MS } from '../test-support/browser.ts';
import { startOrderFeed, type OrderFeed } from '../test-support/order-feed.ts';
import { cue, framesDrawn, hundredths, overlayHealth, pixelSummary, statsGmv } from '../test-support/overlay-page.ts';
import { startTestSystem } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const loadPerCore = () => loadavg()[0]! / availableParallelism();
/**
 * A wall-clock bound on CPU-bound work in the page, stretched only when the machine has more than twice as much
 * runnable work as cores (load per core above 2, as when helpers share a 2-core box): the work then waits for a
 * core roughly in proportion. Up to that load the bound is the figure as is.
 */
const bound = (ms: number) => Math.round(ms * Math.max(1, loadPerCore() / 2));

interface Frame {
  t: number;
  v: string | null;
}
/** Frames the page drew after `since` (page Date.now()), from the runtime's ring of the last 1000. */
const framesSince = (page: Page, since: number): Promise<Frame[]> => page.evaluate((s) => window.__gala!.frames.filter((f) => f.t > s), since);
const displayed = async (page: Page) => hundredths(await page.evaluate(() => window.__gala!.displayed()));

let cleanup: (() => Promise<void>) | null = null;
let browser: Browser | null = null;
let context: BrowserContext;
let page: Page;
let httpPort = 0;
/** The feed sending orders now, if any; every feed started is stopped by the end, whatever fails. */
let feed: OrderFeed | null = null;
const started: OrderFeed[] = [];
let startFeed: () => Promise<OrderFeed>;
const stopFeed = async () => {
  const f = feed;
  feed = null;
  await f?.stop();
};

// Skips only off CI, after printing why (no Chromium on a developer's machine): with CI=true, requireChromium()
// throws and the file fails.
describe.skipIf(!requireChromium())('giant counter overlay in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    const t = await startTestSystem();
    cleanup = t.cleanup;
    httpPort = t.system.httpPort;
    startFeed = async () => {
      await stopFeed();
      feed = await startOrderFeed({ ingestPort: t.system.ingestPort, show: t.cfg.show, peakPerSecond: 400, idPrefix: `feed${started.length + 1}` });
      started.push(feed);
      return feed;
    };
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    // Counts the page's WebSocket attempts (when each was made), to see the reconnect backoff from outside.
    await context.addInitScript(() => {
      const Native = window.WebSocket;
      const made: number[] = [];
      Object.assign(window, { __socketsMade: made });
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          made.push(Date.now());
        }
      };
    });
    await startFeed();
    await until('some GMV', async () => (await statsGmv(httpPort)) > 0n);
  });

  afterAll(async () => {
    feed = null;
    for (const f of started) await f.stop().catch(() => undefined);
    await browser?.close();
    await cleanup?.();
  });

  it('loads on a transparent background showing the current figure at once, the counter drawn', async () => {
    page = await context.newPage();
    page.on('pageerror', (e) => console.error(`overlay page error: ${e.message}`));
    const before = await statsGmv(httpPort);
    await page.goto(`http://127.0.0.1:${httpPort}/overlays/counter`);
    await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: 30_000 });
    // The first figure drawn is the live one, never a zero counting up.
    const first = (await framesSince(page, 0)).find((f) => f.v !== null)!;
    expect(hundredths(first.v)).toBeGreaterThanOrEqual(before);
    await framesDrawn(page, { afterMs: 1500 }); // past any glide, so the screenshot shows digits at rest
    const png = await page.screenshot({ omitBackground: true });
    if (process.env.GALA_SAVE_SCREENSHOTS === '1') {
      const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'overlays', 'counter.png');
      mkdirSync(dirname(out), { recursive: true });
      await page.screenshot({ path: out, omitBackground: true });
    }
    const px = await pixelSummary(browser!, png);
    expect([px.width, px.height]).toEqual([1920, 1080]);
    expect(px.cornerAlpha).toBe(0);
    expect(px.opaqueCentre).toBeGreaterThan(100_000); // the panel and the digits
    expect(px.centreColours).toBeGreaterThan(20); // glyph edges and shadows over the panel: not a flat fill
  });

  it('tracks /v1/stats while orders flow, never decreases across 300 frames, converges within 2 s once they stop', async () => {
    // The totals updates the page could get meanwhile, counted by a subscriber of the test's own on the same channel.
    let updates = 0;
    const sub = new WebSocket(`ws://127.0.0.1:${httpPort}/v1/live`);
    sub.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string; topic?: string };
      if (m.type === 'update' && m.topic === 'totals') updates++;
    });
    await new Promise((r) => sub.once('open', r));
    sub.send(JSON.stringify({ op: 'subscribe', topics: ['totals'] }));
    const mark = await page.evaluate(() => Date.now());
    const frames: Frame[] = [];
    const samples: { before: bigint; shown: bigint; after: bigint; at: number; lagBound: number }[] = [];
    while (frames.length < 300) {
      const before = await statsGmv(httpPort);
      const shown = await displayed(page);
      const after = await statsGmv(httpPort);
      samples.push({ before, shown, after, at: Date.now(), lagBound: bound(2000) });
      frames.push(...(await framesSince(page, frames.at(-1)?.t ?? mark)));
      await sleep(400);
    }
    sub.close();
    expect(feed!.sent).toBeGreaterThan(1000);
    let changes = 0;
    for (let i = 1; i < frames.length; i++) {
      const a = hundredths(frames[i - 1]!.v);
      const b = hundredths(frames[i]!.v);
      if (b < a) throw new Error(`frame ${i} went backwards: ${frames[i - 1]!.v} -> ${frames[i]!.v}`);
      if (b > a) changes++;
    }
    // It moves at the live rate between updates, not only when an update lands (4 a second at most): more steps
    // than updates came. (It used to ask for a change in 60% of frames, but on a loaded machine the commits and so
    // the updates come in bursts, and the figure rightly rests at each one until the next; and a page drawing
    // fewer frames than updates arrive cannot show anything between them, which it then says.)
    if (frames.length > updates) expect(changes, `${changes} steps over ${frames.length} frames, ${updates} updates`).toBeGreaterThan(updates);
    else console.warn(`counter: ${frames.length} frames for ${updates} updates: too few frames to see motion between updates`);
    for (const s of samples) {
      expect(s.shown).toBeGreaterThan(0n);
      expect(s.shown).toBeLessThanOrEqual(s.after); // never ahead of the truth
      // ...and never more than 2 s behind it: at least what /v1/stats said 2 s earlier.
      const earlier = samples.filter((x) => x.at <= s.at - s.lagBound).at(-1);
      if (earlier !== undefined) expect(s.shown).toBeGreaterThanOrEqual(earlier.before);
    }

    await stopFeed();
    const stopped = Date.now();
    let inPage = 0;
    let inHealth = 0;
    await until('displayed = /v1/stats in the page and in the health report', async () => {
      const truth = await statsGmv(httpPort);
      if (inPage === 0 && (await displayed(page)) === truth) inPage = Date.now() - stopped;
      const h = (await overlayHealth(httpPort)).find((o) => o.overlay === 'counter' && o.connected);
      if (inHealth === 0 && h !== undefined && hundredths(h.displayed) === truth) inHealth = Date.now() - stopped;
      return inPage > 0 && inHealth > 0;
    });
    const within = bound(2000);
    expect(inPage, `load per core ${loadPerCore().toFixed(1)}`).toBeLessThanOrEqual(within);
    expect(inHealth, `load per core ${loadPerCore().toFixed(1)}`).toBeLessThanOrEqual(within);
    const h = (await overlayHealth(httpPort)).find((o) => o.overlay === 'counter')!;
    expect(h.fps).toBeGreaterThan(0);
    expect(h.visible).toEqual(['counter']);
  }, 240_000);

  it('shows the current figure within 1 s of a reload mid-show', async () => {
    const moving = await statsGmv(httpPort);
    await startFeed();
    await until('the figure moving again (mid-show)', async () => (await statsGmv(httpPort)) > moving);
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const before = await statsGmv(httpPort);
      await page.reload({ waitUntil: 'commit' });
      await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: 30_000 });
      await framesDrawn(page, { frames: 3 }); // frames to check after the first figure
      const drawn = await framesSince(page, 0);
      const first = drawn.findIndex((f) => f.v !== null);
      // No blank and no zero: from its first figure on, every frame shows at least the figure from before the
      // reload, and none goes blank again.
      for (const f of drawn.slice(first)) expect(hundredths(f.v)).toBeGreaterThanOrEqual(before);
      // Timed from the navigation's start in the browser (the reload itself) to the first frame with the figure.
      times.push(await page.evaluate((t) => t - performance.timeOrigin, drawn[first]!.t));
    }
    // The median of five: one reload slowed by a neighbour's burst is not the page. The whole path is CPU work in
    // software rendering (script, Pixi and its WebGL context, the font atlas, the first draw): about 0.6-0.8 s here
    // with other work on the machine. The bound is the 1 s, which a page twice as slow as today's fails.
    // The only tolerance is for a machine overloaded by other processes (load per core above 2: this test itself
    // keeps about one core and a half busy), where the wall clock measures the neighbours: then the bound grows
    // with the load, as every other bound in this file does (bound()). It used to stay at 1.25 s, which two suites
    // and a neighbour's on two cores (load per core 19) exceeded with a median of 1.26-1.47 s.
    // It can, because the page comes with the figures of the instant it was served (not only via its socket).
    const before = await statsGmv(httpPort);
    const html = await (await fetch(`http://127.0.0.1:${httpPort}/overlays/counter`)).text();
    const boot = JSON.parse(/<script type="application\/json" id="gala-boot">([^<]*)<\/script>/.exec(html)![1]!) as { topic: string; data: { gmv?: string } }[];
    expect(boot.map((b) => b.topic).sort()).toEqual(['graphics', 'show', 'totals']);
    expect(hundredths(boot.find((b) => b.topic === 'totals')!.data.gmv!)).toBeGreaterThanOrEqual(before);
    const median = times.sort((a, b) => a - b)[2]!;
    const load = loadPerCore();
    const within = bound(1000);
    const note = `reload to current figure: ${times.map((t) => t.toFixed(0)).join(', ')} ms (load per core ${load.toFixed(1)}, bound ${within} ms)`;
    if (within > 1000) console.warn(`${note}: machine overloaded by other processes`);
    expect(median, note).toBeLessThanOrEqual(within);
  }, 180_000);

  it('holds the last value through a cut connection, reconnects with backoff and resyncs', async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const offline = (on: boolean) => cdp.send('Network.emulateNetworkConditions', { offline: on, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await until('connected', () => page.evaluate(() => window.__gala!.connected()));
    const attemptsBefore = await page.evaluate(() => (window as unknown as { __socketsMade: number[] }).__socketsMade.length);
    const cutAt = await page.evaluate(() => Date.now());
    // Offline emulation leaves the socket open but silent, like a pulled cable: nothing says it is gone.
    await offline(true);
    await until('the page to notice the cut', async () => !(await page.evaluate(() => window.__gala!.connected())));
    const noticedAfter = (await page.evaluate(() => Date.now())) - cutAt;
    // The server's figure moves on meanwhile; the page tries again, and again.
    const socketsMade = () => page.evaluate(() => (window as unknown as { __socketsMade: number[] }).__socketsMade.slice());
    await until('four attempts while cut', async () => (await socketsMade()).length - attemptsBefore >= 4, { everyMs: 250 });
    const attempts = await socketsMade();
    const during = await framesSince(page, cutAt);
    const restored = Date.now();
    const truthAtRestore = await statsGmv(httpPort);
    await offline(false);
    await until('reconnected', () => page.evaluate(() => window.__gala!.connected()));
    const reconnectedAfter = Date.now() - restored;
    await until('resynced to the figure the server had at the restore', async () => (await displayed(page)) >= truthAtRestore);
    await cdp.detach();

    // The heartbeat comes every second and 3.5 s of silence is a dead connection.
    expect(noticedAfter).toBeLessThan(bound(6000));
    // Kept the last value: no blank, no drop, frozen (no extrapolation by default) once it had reached it.
    expect(during.length).toBeGreaterThan(10);
    for (let i = 1; i < during.length; i++) {
      expect(during[i]!.v).not.toBeNull();
      expect(hundredths(during[i]!.v)).toBeGreaterThanOrEqual(hundredths(during[i - 1]!.v));
    }
    expect(hundredths(during.at(-1)!.v)).toBeLessThan(truthAtRestore);
    // Tried again while cut, waiting longer each time.
    const tries = attempts.slice(attemptsBefore);
    // Backoff: the k-th wait is at least 125 * 2^k ms (250 ms doubling, jitter down to half), so n attempts span
    // at least 125 * (2^(n-1) - 1) ms. A slow machine only stretches the span; a client retrying at a fixed pace
    // would make more attempts than that allows.
    const span = tries.at(-1)! - tries[0]!;
    expect(tries.length, `attempts at +${tries.map((t) => t - tries[0]!).join(', +')} ms`).toBeLessThanOrEqual(Math.log2(span / 125 + 1) + 1);
    expect(reconnectedAfter).toBeLessThan(bound(7000)); // the 5 s backoff ceiling, plus slack
  });

  it('hides the counter on a stop cue after its out animation and brings it back on play with the current value', async () => {
    await stopFeed();
    const truth = await statsGmv(httpPort);
    await until('displayed = /v1/stats', async () => (await displayed(page)) === truth);
    // Every frame's visibility, from inside the page.
    await page.evaluate(() => {
      const log: { t: number; shown: boolean; v: string | null }[] = [];
      Object.assign(window, { __visLog: log });
      const tick = () => {
        log.push({ t: Date.now(), shown: window.__gala!.visible().includes('counter'), v: window.__gala!.displayed() });
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const log = () => page.evaluate(() => (window as unknown as { __visLog: { t: number; shown: boolean; v: string | null }[] }).__visLog);
    const stopAt = Date.now();
    await cue(httpPort, 'counter', 'stop');
    await until('hidden', async () => !(await page.evaluate(() => window.__gala!.visible().includes('counter'))));
    const hidden = (await log()).find((f) => f.t > stopAt && !f.shown)!;
    expect(hidden.t - stopAt).toBeGreaterThanOrEqual(300); // the out animation (350 ms) played first
    expect(hidden.t - stopAt).toBeLessThan(bound(3000));
    await until('health says hidden', async () => (await overlayHealth(httpPort)).some((o) => o.overlay === 'counter' && o.connected && o.visible.length === 0));

    const playAt = Date.now();
    await cue(httpPort, 'counter', 'play');
    // The page's own per-frame log, not visible(): the check must read the first frame that drew it again.
    await until('shown again', async () => (await log()).some((f) => f.t > playAt && f.shown));
    const back = (await log()).filter((f) => f.t > playAt && f.shown);
    expect(hundredths(back[0]!.v)).toBe(truth); // the right figure from its first frame back, no count-up
  });

  it('recovers from a WebGL context loss: draws the counter again and reports the loss', async () => {
    const lost = await page.evaluate(() => {
      const canvas = document.querySelector('canvas')!;
      const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
      const ext = gl?.getExtension('WEBGL_lose_context');
      if (ext == null) return false;
      ext.loseContext();
      return true;
    });
    expect(lost).toBe(true);
    await until('context restored', () => page.evaluate(() => window.__gala!.contextLosses === 1 && !(document.querySelector('canvas')!.getContext('webgl2') ?? document.querySelector('canvas')!.getContext('webgl'))!.isContextLost()));
    await startFeed(); // a new figure must draw on the restored context
    const truthBefore = await statsGmv(httpPort);
    await until('moving again', async () => (await displayed(page)) > truthBefore);
    await framesDrawn(page, { afterMs: 1500, frames: 10 }); // drawn on the restored context, digits at rest
    const px = await pixelSummary(browser!, await page.screenshot({ omitBackground: true }));
    expect(px.cornerAlpha).toBe(0);
    expect(px.opaqueCentre).toBeGreaterThan(100_000);
    expect(px.centreColours).toBeGreaterThan(20);
    await until('health reports the loss', async () => (await overlayHealth(httpPort)).some((o) => o.overlay === 'counter' && o.connected && o.contextLosses === 1));
  });
});
