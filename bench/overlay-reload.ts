// `npx tsx bench/overlay-reload.ts`: how long a reloaded overlay takes to show the live figure, and where the time
// goes, from the page's own timeline marks (navigation, script start, first totals, Pixi ready, setup, first frame
// with the figure, that frame on screen), in headless Chromium against the whole system fed by the simulator. Prints
// each reload and the medians. `--variants served,no-preload,no-boot` alternates reloads between the page as served
// and the page without its modulepreload links or its inlined snapshots, so a busy machine weighs on every variant
// alike.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchChromium } from '../test-support/browser.ts';
import { startOrderFeed } from '../test-support/order-feed.ts';
import { startTestSystem } from '../test-support/system-harness.ts';

const { values } = parseArgs({
  options: {
    reloads: { type: 'string', default: '7' },
    overlay: { type: 'string', default: 'counter' },
    variants: { type: 'string', default: 'served' },
    /** A PNG of the page after the last reload, to look at. */
    screenshot: { type: 'string' },
  },
});
const RELOADS = Number(values.reloads);
const VARIANTS = values.variants.split(',');
const REWRITE: Record<string, (html: string) => string> = {
  served: (h) => h,
  'no-preload': (h) => h.replace(/<link rel="modulepreload"[^>]*>\n/g, ''),
  'no-boot': (h) => h.replace(/(<script type="application\/json" id="gala-boot">)[^<]*/, '$1[]'),
};
for (const v of VARIANTS) if (REWRITE[v] === undefined) throw new Error(`--variants: unknown "${v}" (known: ${Object.keys(REWRITE).join(', ')})`);

const t = await startTestSystem();
const feed = await startOrderFeed({ ingestPort: t.system.ingestPort, show: t.cfg.show, peakPerSecond: 400, idPrefix: 'reload' });
// A page answered by page.route has no address space, so Chromium's local network access checks would block its
// live connection to 127.0.0.1: off for the rewritten variants.
const rewriting = VARIANTS.some((v) => v !== 'served');
const browser = await launchChromium(rewriting ? { args: ['--disable-features=LocalNetworkAccessChecks'] } : {});
try {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const url = `http://127.0.0.1:${t.system.httpPort}/overlays/${values.overlay}`;
  let variant = VARIANTS[0]!;
  if (rewriting) {
    // Raw CDP interception of the page's own document only: Playwright's page.route would also turn off the HTTP
    // cache for every script, which a reload normally uses.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `*/overlays/${values.overlay}`, requestStage: 'Response' }] });
    cdp.on('Fetch.requestPaused', (e) => {
      void (async () => {
        const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: e.requestId });
        const html = base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
        await cdp.send('Fetch.fulfillRequest', { requestId: e.requestId, responseCode: e.responseStatusCode ?? 200, responseHeaders: e.responseHeaders, body: Buffer.from(REWRITE[variant]!(html)).toString('base64') });
      })();
    });
  }
  await page.goto(url);
  await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: 30_000 });
  await sleep(1000);
  const rows = new Map<string, Record<string, number>[]>(VARIANTS.map((v) => [v, []]));
  for (let k = 0; k < RELOADS * VARIANTS.length; k++) {
    variant = VARIANTS[k % VARIANTS.length]!;
    await page.reload({ waitUntil: 'commit' });
    await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: 10_000 });
    await sleep(300);
    const row = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const r: Record<string, number> = { response: nav.responseEnd, domInteractive: nav.domInteractive };
      for (const m of performance.getEntriesByType('mark')) if (m.name.startsWith('gala:')) r[m.name.slice(5)] = m.startTime;
      const frames = window.__gala!.frames;
      const first = frames.findIndex((f) => f.v !== null);
      if (first >= 0) r.figureFrame = frames[first]!.t - performance.timeOrigin;
      // The first figure is drawn at once (outside an animation frame) and again in the next animation frame; the
      // animation frame after that runs once the compositor has committed it (the canvas read back included): by
      // then it is on screen.
      if (first >= 0 && first + 2 < frames.length) r.onScreen = frames[first + 2]!.t - performance.timeOrigin;
      return r;
    });
    rows.get(variant)!.push(row);
    console.log(`${variant.padEnd(10)} ${Object.entries(row).map(([k2, v]) => `${k2} ${v.toFixed(0)}`).join('  ')}`);
    await sleep(700);
  }
  if (values.screenshot !== undefined) {
    await sleep(1500);
    await page.screenshot({ path: values.screenshot, omitBackground: true });
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [v, rs] of rows) {
    const keys = Object.keys(rs[0]!);
    console.log(`median ${v} (${rs.length} reloads): ${keys.map((k2) => `${k2} ${median(rs.map((r) => r[k2] ?? NaN)).toFixed(0)}`).join('  ')}`);
    // Each stage's own length, reload by reload, then its median: what a change to one stage did.
    const stages: [string, string, string][] = [['script', '', 'start'], ['pixi', 'start', 'pixi'], ['setup', 'pixi', 'setup'], ['first frame', 'setup', 'figure'], ['to screen', 'figure', 'onScreen']];
    const len = (r: Record<string, number>, a: string, b: string) => (r[b] ?? NaN) - (a === '' ? 0 : (r[a] ?? NaN));
    console.log(`stages ${v}: ${stages.map(([n, a, b]) => `${n} ${median(rs.map((r) => len(r, a, b))).toFixed(0)}`).join('  ')}`);
  }
} finally {
  await browser.close();
  await feed.stop();
  await t.cleanup();
}
