// The control room's pages during a rehearsal, in Chromium against a whole system started in rehearsal mode (embedded
// ClickHouse, the real ingest, the replay): the "not on air" bar on the login page, the desk and the live panel; a
// producer starting, pausing, resuming and speeding the replay from the page with the state and /v1/stats following;
// a refused speed shown in words; a data trigger fired by the simulated night; a cue's OBS steps marked
// "(logged only)"; a viewer's replay controls disabled.
// The on-air side (no bar) is checked at the end of control-room.browser.test.ts, which runs an on-air system.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium, BROWSER_TEST_TIMEOUT_MS } from '../test-support/browser.ts';
import { startTestSystem } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import type { ControlState } from './control-room.ts';

const PRODUCER = 'test-producer-token';
const VIEWER = 'test-viewer-token';
// GALA_SCREENSHOTS=1 refreshes docs/control-rehearsal.png; otherwise the picture goes to a temporary folder.
const SHOTS = process.env.GALA_SCREENSHOTS === '1' ? join(import.meta.dirname, '..', 'docs') : mkdtempSync(join(tmpdir(), 'gala-rehearsal-shots-'));

let sys: Awaited<ReturnType<typeof startTestSystem>>;
let browser: Browser;
let base: string;
const contexts: BrowserContext[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${PRODUCER}`, 'x-operator': 'test script', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
const state = async () => (await api('GET', '/v1/control/state')).body as ControlState;
const orders = async () => ((await (await fetch(`${base}/v1/stats`)).json()) as { orders: number }).orders;

/** Waits until `read` gives something truthy; if it never does, the failure shows the rehearsal's state. */
const untilDesk = <T>(what: string, read: () => T | Promise<T>) => until(what, read, { detail: async () => (await state()).rehearsal });

async function login(operator: string, token: string, next = '/control'): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[${operator}] page error: ${e.message}`));
  await page.goto(`${base}/control/login${next === '/control/live' ? '?next=live' : ''}`);
  await page.fill('#operator', operator);
  await page.fill('#token', token);
  await page.click('#login-submit');
  await page.waitForURL(`${base}${next}`);
  await page.waitForSelector('#rehearsal-panel:not([hidden])');
  return page;
}

const ok = requireChromium();

// Skips only off CI, after printing why (no Chromium on a developer's machine): with CI=true, requireChromium()
// throws and the file fails.
describe.skipIf(!ok)('the control room during a rehearsal, in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let desk: Page;

  beforeAll(async () => {
    sys = await startTestSystem({ producerTokens: [PRODUCER], viewerTokens: [VIEWER], rehearsal: { speed: 20, rate: 50, seed: 7, obs: 'log', wait: true, nightMs: null } });
    base = `http://127.0.0.1:${sys.system.httpPort}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await sys?.cleanup();
    if (process.env.GALA_SCREENSHOTS !== '1') rmSync(SHOTS, { recursive: true, force: true });
  });

  it('warns on the login page before anyone logs in', async () => {
    const ctx = await browser.newContext();
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(`${base}/control/login`);
    await page.waitForSelector('#rehearsal-bar');
    expect(await page.textContent('#rehearsal-bar')).toContain('REHEARSAL — NOT ON AIR');
  });

  it('the desk shows the bar, a blue top bar and the replay ready, with OBS log only', async () => {
    desk = await login('Rita', PRODUCER);
    expect(await desk.textContent('#rehearsal-bar .rehearsal-word')).toBe('REHEARSAL — NOT ON AIR');
    expect(await desk.evaluate(() => document.body.classList.contains('is-rehearsal'))).toBe(true);
    // The striped top bar is what sets a rehearsal desk apart at a glance.
    expect(await desk.$eval('#topbar', (e) => getComputedStyle(e).backgroundImage)).toContain('repeating-linear-gradient');
    expect(await desk.textContent('#rehearsal-phase')).toBe('READY');
    expect(await desk.textContent('#rehearsal-obs')).toBe('log only — nothing sent to OBS');
    expect(await desk.isDisabled('#rehearsal-start')).toBe(false);
    expect(await desk.isDisabled('#rehearsal-pause')).toBe(true);
  });

  it('a producer starts, pauses and resumes the replay from the page; orders stop while paused', async () => {
    await desk.click('#rehearsal-start');
    await untilDesk('the replay running', async () => (await state()).rehearsal?.phase === 'running');
    await desk.waitForFunction(() => document.querySelector('#rehearsal-phase')?.textContent === 'RUNNING');
    await untilDesk('orders through ingest', async () => (await orders()) > 100);

    await desk.click('#rehearsal-pause');
    await untilDesk('the replay paused', async () => (await state()).rehearsal?.phase === 'paused');
    await desk.waitForFunction(() => document.querySelector('#rehearsal-phase')?.textContent === 'PAUSED');
    // What was in flight lands (acked, so in /v1/stats); after that, over a while, nothing more comes while paused.
    const drained = await untilDesk('nothing in flight', async () => { const r = (await state()).rehearsal; return r?.inFlight === 0 && r; });
    await untilDesk('/v1/stats holding what was accepted', async () => (await orders()) === drained.accepted);
    const paused = await orders();
    const sentPaused = (await state()).rehearsal!.sent;
    await new Promise((r) => setTimeout(r, 1500));
    expect(await orders()).toBe(paused);
    expect((await state()).rehearsal!.sent).toBe(sentPaused);
    expect(await desk.isDisabled('#rehearsal-pause')).toBe(true);

    await desk.click('#rehearsal-resume');
    await untilDesk('the replay running again', async () => (await state()).rehearsal?.phase === 'running');
    await untilDesk('orders growing again', async () => (await orders()) > paused + 50);
    // The page shows the figures of the state: sent goes past what it was when paused.
    await desk.waitForFunction((n) => Number(document.querySelector('[data-rh="sent"]')?.textContent?.replace(/,/g, '')) > n, sentPaused);
  });

  it('a producer changes the speed (typed and presets); a refused speed is shown in words', async () => {
    await desk.fill('#rehearsal-speed', '40');
    await desk.press('#rehearsal-speed', 'Enter');
    await untilDesk('speed 40', async () => (await state()).rehearsal?.speed === 40);
    await desk.waitForFunction(() => document.querySelector('[data-rh="speed"]')?.textContent === '40x');
    await desk.click('.rh-preset[data-speed="10"]');
    await untilDesk('speed 10', async () => (await state()).rehearsal?.speed === 10);
    await desk.waitForFunction(() => document.querySelector('.rh-preset.is-current')?.textContent === '10x');

    await desk.fill('#rehearsal-speed', '500');
    await desk.click('#rehearsal-speed-set');
    await desk.waitForSelector('#rehearsal-error:not([hidden])');
    expect(await desk.textContent('#rehearsal-error')).toMatch(/Speed 500x refused \(400\): speed: must be a number from 1 to 100/);
    expect((await state()).rehearsal?.speed).toBe(10);
    // The next good answer clears the message.
    await desk.click('.rh-preset[data-speed="30"]');
    await desk.waitForSelector('#rehearsal-error', { state: 'hidden' });
    expect((await state()).rehearsal?.speed).toBe(30);
  });

  it('a data trigger armed on the desk fires when the simulated night crosses its threshold', async () => {
    const row = '#triggers li[data-trigger="ms-1b"]';
    // The replay runs at 30x: paused, the night stands still while the trigger is armed just ahead of it (arming a
    // trigger whose condition already holds is refused).
    expect((await api('POST', '/v1/control/rehearsal/pause')).status).toBe(200);
    const drained = await untilDesk('the replay paused and drained', async () => { const r = (await state()).rehearsal; return r?.phase === 'paused' && r.inFlight === 0 && r; });
    await untilDesk('/v1/stats holding what was accepted', async () => (await orders()) === drained.accepted);
    const gmv = BigInt(((await (await fetch(`${base}/v1/stats`)).json()) as { gmv: string }).gmv.replace('.', ''));
    const threshold = (gmv / 100n + 50_000n).toString();
    await desk.fill(`${row} input.threshold`, threshold);
    await desk.click(`${row} button[data-trigger-arm]`);
    await desk.waitForSelector(`${row}.trig-armed`);
    expect((await state()).history.some((h) => h.cueId === 'ms-1b')).toBe(false);
    expect((await api('POST', '/v1/control/rehearsal/resume')).status).toBe(200);
    await desk.waitForSelector(`${row}.trig-fired`, { timeout: 30_000 });
    const fired = (await state()).history.find((h) => h.cueId === 'ms-1b')!;
    expect(fired).toMatchObject({ cause: 'trigger' });
    const at = BigInt(((await (await fetch(`${base}/v1/stats`)).json()) as { gmv: string }).gmv.replace('.', ''));
    expect(at >= BigInt(threshold) * 100n).toBe(true);
  });

  it('a cue\'s OBS steps show as "(logged only)" in the fired list', async () => {
    const cue = (await state()).rundown.cues.find((c) => c.id === 'ms-1b')!;
    let armId: string | undefined;
    if (cue.onAir) armId = (await api('POST', '/v1/control/cues/ms-1b/arm')).body.armId as string;
    expect((await api('POST', '/v1/control/cues/ms-1b/fire', { armId })).status).toBe(200);
    await desk.waitForSelector('#history .logged-only-mark');
    const line = await desk.textContent('#history li.logged-only');
    expect(line).toMatch(/obs scene \(logged only\): ok .*would switch program to "Arena Wide"/);
    // Tall enough that the fired list with its "(logged only)" marks is in the picture.
    await desk.setViewportSize({ width: 1600, height: 1300 });
    await desk.screenshot({ path: join(SHOTS, 'control-rehearsal.png') });
    expect(statSync(join(SHOTS, 'control-rehearsal.png')).size).toBeGreaterThan(20_000);
  });

  it('the live panel carries the bar and the panel too', async () => {
    const live = await login('Rita (live)', PRODUCER, '/control/live');
    expect(await live.textContent('#rehearsal-bar .rehearsal-word')).toBe('REHEARSAL — NOT ON AIR');
    await live.waitForFunction(() => document.querySelector('#rehearsal-phase')?.textContent === 'RUNNING');
  });

  it('a viewer sees the replay but every control is disabled', async () => {
    const viewer = await login('Val', VIEWER);
    expect(await viewer.textContent('#rehearsal-bar .rehearsal-word')).toBe('REHEARSAL — NOT ON AIR');
    await viewer.waitForFunction(() => document.querySelector('#rehearsal-phase')?.textContent === 'RUNNING');
    for (const id of ['#rehearsal-start', '#rehearsal-pause', '#rehearsal-resume', '#rehearsal-restart', '#rehearsal-speed', '#rehearsal-speed-set', '.rh-preset[data-speed="100"]']) {
      expect(await viewer.isDisabled(id), id).toBe(true);
    }
    expect(await viewer.textContent('#rehearsal-panel')).toContain('Viewer: watch only');
  });
});
