// Driving overlay pages from tests and benchmarks: open one in Chromium, wait for frames it has drawn, read what it
// displays and what the server says (/v1/stats, overlay health), fire cues, and read a screenshot's pixels with the
// browser's decoder.
import type { Browser, Page } from 'playwright-core';
import type { OverlayHealth } from '../protocol/live-protocol.ts';

export const PRODUCER_TOKEN = 'test-producer-token';

/** A fresh 1920x1080 page on an overlay, resolved once it displays a value. */
export async function openOverlay(browser: Browser, httpPort: number, path: string, timeoutMs = 30_000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  page.on('pageerror', (e) => console.error(`overlay page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${httpPort}${path}`);
  await page.waitForFunction(() => window.__gala?.displayed() != null, null, { timeout: timeoutMs });
  return page;
}

/**
 * Waits until the page's own frame loop has drawn `frames` frames from now, two of them `afterMs` or more from now
 * (page clock): an animation timed by the clock and started by now is then over on screen, and one stepped per
 * frame has taken that many steps, however slowly a loaded machine draws. A frame is stamped when it ends, so the
 * second frame past the mark was computed past it. Reads the runtime's frame ring (`window.__gala.frames`).
 */
export async function framesDrawn(page: Page, o: { afterMs?: number; frames?: number } = {}, timeoutMs = 60_000): Promise<void> {
  const since = await page.evaluate(() => Date.now());
  await page.waitForFunction(
    ({ since, afterMs, frames }) => {
      const drawn = window.__gala?.frames.filter((f) => f.t > since) ?? [];
      return drawn.length >= frames && drawn.filter((f) => f.t >= since + afterMs).length >= 2;
    },
    { since, afterMs: o.afterMs ?? 0, frames: o.frames ?? 2 },
    { timeout: timeoutMs },
  );
}

/** The display-currency GMV of /v1/stats, in hundredths. */
export async function statsGmv(httpPort: number): Promise<bigint> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/stats`);
  if (!res.ok) throw new Error(`/v1/stats: HTTP ${res.status}`);
  return hundredths(((await res.json()) as { gmv: string }).gmv);
}

export async function overlayHealth(httpPort: number): Promise<OverlayHealth[]> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/overlays`, { headers: { authorization: `Bearer ${PRODUCER_TOKEN}` } });
  if (!res.ok) throw new Error(`/v1/overlays: HTTP ${res.status}`);
  return ((await res.json()) as { overlays: OverlayHealth[] }).overlays;
}

export async function cue(httpPort: number, graphic: string, command: 'play' | 'update' | 'stop' | 'next'): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/graphics/${graphic}/${command}`, { method: 'POST', headers: { authorization: `Bearer ${PRODUCER_TOKEN}` } });
  if (!res.ok) throw new Error(`cue ${graphic} ${command}: HTTP ${res.status} ${await res.text()}`);
}

/** "1234.50" -> 123450n; a null (nothing displayed) is -1n so it compares below any figure. */
export function hundredths(decimal: string | null): bigint {
  if (decimal === null) return -1n;
  const m = /^(\d+)\.(\d{2})$/.exec(decimal);
  if (m === null) throw new Error(`not a two-decimal figure: ${JSON.stringify(decimal)}`);
  return BigInt(m[1]!) * 100n + BigInt(m[2]!);
}

export interface PixelSummary {
  width: number;
  height: number;
  /** Highest alpha in 40x40 boxes at the four corners. */
  cornerAlpha: number;
  /** Pixels with alpha above 128 in the central 1000x300 box. */
  opaqueCentre: number;
  /** Distinct opaque colours (quantised) in that box: text on a panel has many, a flat fill one. */
  centreColours: number;
}

/** Decodes a PNG screenshot with the browser's own decoder (in a blank page) and summarises its alpha. */
export async function pixelSummary(browser: Browser, png: Buffer): Promise<PixelSummary> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
      const bmp = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
      const canvas = new OffscreenCanvas(bmp.width, bmp.height);
      const g = canvas.getContext('2d')!;
      g.drawImage(bmp, 0, 0);
      const { data, width, height } = g.getImageData(0, 0, bmp.width, bmp.height);
      const a = (x: number, y: number) => data[(y * width + x) * 4 + 3]!;
      let cornerAlpha = 0;
      for (const [x0, y0] of [[0, 0], [width - 40, 0], [0, height - 40], [width - 40, height - 40]] as const)
        for (let y = y0; y < y0 + 40; y++) for (let x = x0; x < x0 + 40; x++) cornerAlpha = Math.max(cornerAlpha, a(x, y));
      let opaqueCentre = 0;
      const colours = new Set<number>();
      for (let y = height / 2 - 150; y < height / 2 + 150; y++)
        for (let x = width / 2 - 500; x < width / 2 + 500; x++) {
          if (a(x, y) <= 128) continue;
          opaqueCentre++;
          const i = (y * width + x) * 4;
          colours.add(((data[i]! >> 4) << 8) | ((data[i + 1]! >> 4) << 4) | (data[i + 2]! >> 4));
        }
      return { width, height, cornerAlpha, opaqueCentre, centreColours: colours.size };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}
