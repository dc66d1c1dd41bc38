// Headless Chromium for browser tests and benchmarks: Debian's /usr/bin/chromium driven by playwright-core, with
// the flags this machine needs (software WebGL through SwiftShader for Pixi). In CI a missing browser fails.
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // Pixi v8 needs WebGL; without a GPU, Chromium gives it only through SwiftShader when told to.
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  // A hidden or occluded headless page must keep its frame loop running at full rate.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** CHROMIUM_BIN, else Debian's chromium. */
export function chromiumPath(): string | null {
  for (const file of [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (file === undefined || file === '') continue;
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // try the next one
    }
  }
  return null;
}

/**
 * The bound on one browser test: a hang detector, not a guess of how long a test takes. Browser tests wait on
 * conditions in the page; on a loaded 2-core machine a test that loads several Pixi pages in software GL can take
 * a minute, and that must not count as a failure. Passed as the describe's timeout in every browser test file.
 */
export const BROWSER_TEST_TIMEOUT_MS = 180_000;

/**
 * Whether browser tests can run here. With CI=true a missing browser throws (when the test file loads), so CI
 * fails rather than skipping; elsewhere the caller skips with this reason printed.
 */
export function requireChromium(): boolean {
  if (chromiumPath() !== null) return true;
  const why = 'browser tests need Chromium: apt-get install chromium (or set CHROMIUM_BIN)';
  if (process.env.CI === 'true') throw new Error(`${why}; CI=true, so this is a failure, not a skip`);
  console.warn(`skipping: ${why}`);
  return false;
}

export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === null) throw new Error('Chromium not found: apt-get install chromium (or set CHROMIUM_BIN)');
  return chromium.launch({ executablePath, headless: true, ...opts, args: [...CHROMIUM_FLAGS, ...(opts.args ?? [])] });
}
