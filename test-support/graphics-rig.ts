// A rig for the overlay graphics' browser tests: a system on a given show fed with simulated orders through the
// real ingest socket, one Chromium, cues through the producer API, overlay health, and pixel checks of
// transparent screenshots (decoded by the browser's own PNG decoder, summarised per region).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { GraphicState, OverlayHealth } from '../protocol/live-protocol.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseShowConfig, type ShowConfig } from '../domain/show.ts';
import { createSimulator } from '../simulator/simulator.ts';
import { launchChromium } from './browser.ts';
import { connectIngest, startTestSystem } from './system-harness.ts';

const PRODUCER = 'test-producer-token';
const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'overlays');

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Pixels {
  /** Highest alpha (0..255) in 24x24 boxes at the four corners. */
  cornerAlpha: number;
  /** Per asked region: pixels with alpha above 128, and distinct quantised opaque colours. */
  regions: { opaque: number; colours: number }[];
  /** RGBA of the asked points. */
  points: number[][];
}

/** The default show with milestones a test can cross within seconds, and any other change. */
export function testShow(change: (raw: Record<string, unknown>) => void = () => undefined): ShowConfig {
  const base = loadShow(DEFAULT_SHOW_FILE);
  const raw: Record<string, unknown> = {
    name: base.name,
    currency: base.currency,
    numerals: base.extra.numerals,
    rates: Object.fromEntries([...base.rates].filter(([c]) => c !== base.currency).map(([c, r]) => [c, r.text])),
    theme: base.theme,
    products: base.looks,
    milestones: [
      { id: 't-100k', label: '¥100,000', threshold: '100000' },
      { id: 't-1m', label: '¥1 million', threshold: '1000000' },
      { id: 't-1b', label: '¥1 billion', threshold: '1000000000' },
    ],
  };
  change(raw);
  return parseShowConfig(raw);
}

export interface GraphicsRig {
  httpPort: number;
  browser: Browser;
  /** Opens an overlay page (1920x1080) and waits until its runtime is up. */
  open(path: string): Promise<Page>;
  cue(graphic: string, command: 'play' | 'update' | 'stop' | 'next', data?: Record<string, unknown>): Promise<GraphicState>;
  health(overlay: string): Promise<OverlayHealth | undefined>;
  /** Screenshot with a transparent background, summarised; saved as docs/overlays/<name>.png when GALA_SHOTS=1. */
  pixels(page: Page, regions: Rect[], name?: string, points?: [number, number][]): Promise<Pixels>;
  visible(page: Page): Promise<string[]>;
  /** Sends orders of the test's own through the ingest socket, besides the simulated night; resolves on the ack. */
  send(orders: Record<string, unknown>[]): Promise<void>;
  /** Orders sent so far. */
  readonly sent: number;
  close(): Promise<void>;
}

export async function startGraphicsRig(show: ShowConfig = testShow(), peakPerSecond = 1200): Promise<GraphicsRig> {
  const { system, cleanup } = await startTestSystem({ show });
  const browser = await launchChromium();
  const ingest = await connectIngest(system.ingestPort);
  const startMs = Date.now();
  const sim = createSimulator({ seed: 11, show, startMs, peakPerSecond, speed: 1, resendRate: 0, malformedRate: 0, idPrefix: 'rig' });
  // Building a simulator takes a while: its clock starts at startMs, so paid-at instants follow the wall clock.
  const t0 = performance.now() - (Date.now() - startMs);
  let stopped = false;
  let batches = 0;
  // Batches go out every 100 ms without waiting for the previous acks (up to 8 in flight), so a slow commit on
  // these shared cores does not hold orders back past the end of their paid-at second.
  const inFlight = new Set<Promise<unknown>>();
  const feeding = (async () => {
    while (!stopped) {
      const due = sim.dueBy(performance.now() - t0, 1000);
      if (due > 0) {
        const p = ingest.send(sim.nextFrame(`rig-${++batches}`, due)).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= 8) await Promise.race(inFlight);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(inFlight);
  })();
  let ownBatches = 0;
  const decoder = await browser.newPage();
  const pages: Page[] = [];
  const base = `http://127.0.0.1:${system.httpPort}`;
  const auth = { authorization: `Bearer ${PRODUCER}` };
  return {
    httpPort: system.httpPort,
    browser,
    get sent() {
      return sim.emitted;
    },
    async open(path) {
      const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
      pages.push(page);
      page.on('pageerror', (e) => console.error(`overlay page error (${path}): ${e.message}`));
      await page.goto(base + path);
      await page.waitForFunction(() => window.__gala !== undefined, null, { timeout: 30_000 });
      return page;
    },
    async cue(graphic, command, data) {
      const res = await fetch(`${base}/v1/graphics/${graphic}/${command}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: data === undefined ? '' : JSON.stringify(data) });
      if (!res.ok) throw new Error(`cue ${graphic} ${command}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as GraphicState;
    },
    async health(overlay) {
      const res = await fetch(`${base}/v1/overlays`, { headers: auth });
      const list = ((await res.json()) as { overlays: OverlayHealth[] }).overlays;
      return list.filter((h) => h.overlay === overlay && h.connected).at(-1);
    },
    async pixels(page, regions, name, points = []) {
      const png = await page.screenshot({ omitBackground: true });
      if (name !== undefined && process.env.GALA_SHOTS === '1') {
        mkdirSync(DOCS, { recursive: true });
        writeFileSync(join(DOCS, `${name}.png`), png);
      }
      return decoder.evaluate(
        async ({ b64, regions, points }) => {
          const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
          const bmp = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
          const c = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d')!;
          c.drawImage(bmp, 0, 0);
          const box = (x: number, y: number, w: number, h: number) => c.getImageData(x, y, w, h).data;
          let cornerAlpha = 0;
          for (const [x, y] of [[0, 0], [bmp.width - 24, 0], [0, bmp.height - 24], [bmp.width - 24, bmp.height - 24]] as const) {
            const d = box(x, y, 24, 24);
            for (let i = 3; i < d.length; i += 4) cornerAlpha = Math.max(cornerAlpha, d[i]!);
          }
          return {
            cornerAlpha,
            regions: regions.map((r) => {
              const d = box(r.x, r.y, r.w, r.h);
              let opaque = 0;
              const colours = new Set<number>();
              for (let i = 0; i < d.length; i += 4) {
                if (d[i + 3]! <= 128) continue;
                opaque++;
                colours.add(((d[i]! >> 4) << 8) | ((d[i + 1]! >> 4) << 4) | (d[i + 2]! >> 4));
              }
              return { opaque, colours: colours.size };
            }),
            points: points.map(([x, y]) => [...box(x, y, 1, 1)]),
          };
        },
        { b64: png.toString('base64'), regions, points },
      );
    },
    visible: (page) => page.evaluate(() => window.__gala!.visible()),
    async send(orders) {
      const a = await ingest.send(JSON.stringify({ batch: `test-${++ownBatches}`, orders }));
      if (!('accepted' in a) || a.accepted !== orders.length) throw new Error(`ingest refused the test's batch: ${JSON.stringify(a)}`);
    },
    async close() {
      stopped = true;
      await feeding.catch(() => undefined);
      ingest.close();
      for (const p of pages) await p.close().catch(() => undefined);
      await browser.close();
      await cleanup();
    },
  };
}
