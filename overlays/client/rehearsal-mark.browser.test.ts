// In Chromium: a rehearsal is marked on screen: an overlay draws the red REHEARSAL tag at the top right of the graphics-safe area (pixels read back from a screenshot) and the journalists' page shows its rehearsal bar, because the show topic says rehearsal.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, requireChromium, BROWSER_TEST_TIMEOUT_MS } from '../../test-support/browser.ts';
import { framesDrawn } from '../../test-support/overlay-page.ts';
import { startTestSystem } from '../../test-support/system-harness.ts';

const run = requireChromium();
let sys: Awaited<ReturnType<typeof startTestSystem>>;
let browser: Browser;

beforeAll(async () => {
  if (!run) return;
  sys = await startTestSystem({ rehearsal: { speed: 1, rate: 1, seed: 1, obs: 'log', wait: true, nightMs: null } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await sys?.cleanup();
});

/** Pixels of a screenshot region that are the tag's red, decoded by the browser on a blank page. */
async function redPixels(page: Page, blank: Page, clip: { x: number; y: number; width: number; height: number }): Promise<number> {
  const png = await page.screenshot({ clip, omitBackground: true });
  return blank.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const g = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d')!;
    g.drawImage(bmp, 0, 0);
    const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! > 170 && d[i + 1]! < 90 && d[i + 2]! < 90 && d[i + 3]! > 200) n++;
    return n;
  }, png.toString('base64'));
}

it.runIf(run)('an overlay in a rehearsal shows the REHEARSAL tag', async () => {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const blank = await browser.newPage();
  await page.goto(`http://127.0.0.1:${sys.system.httpPort}/overlays/counter`);
  await page.waitForFunction(() => document.body.dataset.rehearsal === '1', undefined, { timeout: 20_000 });
  // Frames drawn since the mark went on the stage: the screenshot shows it, however slowly the page draws.
  await framesDrawn(page, { frames: 3 });
  const tag = await redPixels(page, blank, { x: 1500, y: 40, width: 340, height: 100 });
  const elsewhere = await redPixels(page, blank, { x: 80, y: 40, width: 340, height: 100 });
  expect(tag).toBeGreaterThan(3000);
  expect(elsewhere).toBe(0);
}, BROWSER_TEST_TIMEOUT_MS);

it.runIf(run)('the journalists\' page of a rehearsal shows the rehearsal bar', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://127.0.0.1:${sys.system.httpPort}/`);
  await page.locator('#rehearsal-bar').waitFor({ state: 'visible', timeout: 20_000 });
  expect(await page.locator('#rehearsal-bar').textContent()).toContain('REHEARSAL');
  expect(await page.locator('#status-text').textContent()).toContain('rehearsal');
}, BROWSER_TEST_TIMEOUT_MS);
