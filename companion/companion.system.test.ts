// The Companion module against a running Gala (embedded ClickHouse, real sockets): the module is built as
// `npm run build:companion` builds it and run as Companion runs it, a child process driven over the base
// library's IPC by test-support/companion-host.ts. Its actions change Gala's state; its feedbacks and variables
// follow Gala's state as it changes (orders through the real ingest, storage refusing inserts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import type { ControlState } from '../protocol/control-state.ts';
import type { OrderStore } from '../storage/storage.ts';
import { startCompanionHost, type CompanionHost } from '../test-support/companion-host.ts';
import { connectIngest, startTestSystem } from '../test-support/system-harness.ts';
import { buildCompanionModule } from './build-module.ts';

const PRODUCER = 'test-producer-token';
const VIEWER = 'test-viewer-token';

let sys: Awaited<ReturnType<typeof startTestSystem>>;
let base: string;
let moduleDir: string;
let deck: CompanionHost;

beforeAll(async () => {
  moduleDir = mkdtempSync(join(tmpdir(), 'gala-companion-'));
  // Input goes stale after 1 s without orders, so the test can watch it come and go.
  // A longer double-GO window and hold than the show's: a bounce travels Companion's IPC and HTTP, which a loaded
  // machine can stretch past a second, and these tests are about what the buttons do, not how fast the machine is.
  const show = loadShow(DEFAULT_SHOW_FILE);
  show.rundown = { ...show.rundown, doubleGoMs: 3000, holdMs: 2000, armWindowMs: 20_000 };
  [sys] = await Promise.all([startTestSystem({ producerTokens: [PRODUCER], viewerTokens: [VIEWER], staleSeconds: 1, show }), buildCompanionModule(moduleDir)]);
  base = `http://127.0.0.1:${sys.system.httpPort}`;
  deck = await startCompanionHost({ moduleDir, config: { url: base, operator: 'Deck 1' }, secrets: { token: PRODUCER } });
});
afterAll(async () => {
  await deck?.close();
  await sys?.cleanup();
  if (moduleDir !== undefined) rmSync(moduleDir, { recursive: true, force: true });
});

const state = async () => (await (await fetch(`${base}/v1/control/state`, { headers: { authorization: `Bearer ${VIEWER}` } })).json()) as ControlState;
const standby = async (cueId: string) => {
  const r = await fetch(`${base}/v1/control/standby`, { method: 'POST', headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' }, body: JSON.stringify({ cueId }) });
  expect(r.status).toBe(200);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
/** Waits out double-GO protection, counted from the firing of the newest cue (GO or not, to be safe). */
const afterDoubleGoWindow = async () => {
  const s = await state();
  if (s.history[0] !== undefined) await sleep(Date.parse(s.history[0].firedAt) + s.rundown.doubleGoMs + 20 - Date.now());
};
const label = async (id: string) => (await state()).rundown.cues.find((c) => c.id === id)!.label;
let orderSeq = 0;
/** Sends `n` orders through the real ingest and waits for the ack. */
async function ingest(n: number, amount = '100.00', channel = 'mobile') {
  const c = await connectIngest(sys.system.ingestPort);
  const orders = Array.from({ length: n }, () => ({ id: `deck-${++orderSeq}`, ts: Date.now(), amount, currency: 'CNY', channel }));
  const ack = await c.send(JSON.stringify({ batch: `deck-b${orderSeq}`, orders }));
  c.close();
  return ack;
}

describe('the Companion module, hosted as Companion hosts it, against a running Gala', () => {
  it('registers its actions, feedbacks and variables, links with the producer token, and fills the cue pickers from the rundown', async () => {
    await deck.until('status ok', () => deck.status()?.status === 'ok');
    expect(deck.actions().map((a) => a.id).sort()).toEqual(['arm', 'back', 'fire', 'go', 'graphic', 'hold', 'next', 'panic', 'release', 'undo']);
    expect(deck.feedbacks().map((f) => f.id).sort()).toEqual(['armed', 'link_down', 'on_air', 'running', 'stale', 'standby', 'storage_down', 'trigger_near']);
    await deck.until('the rundown in the cue pickers', () => JSON.stringify(deck.actions().find((a) => a.id === 'fire')?.options).includes('look-1: '));
    const arm = deck.actions().find((a) => a.id === 'arm')!.options[0] as unknown as { choices: { id: string }[]; default: string };
    expect(arm.default).toBe('$standby');
    expect(arm.choices.map((c) => c.id)).toEqual(['$standby', ...(await state()).rundown.cues.map((c) => c.id)]);
    await deck.until('variables', () => deck.variable('standby_id') === 'open-scene' && deck.variable('link') === 'open');
    expect(deck.variable('standby_label')).toBe(await label('open-scene'));
    expect(deck.variable('next_label')).toBe(await label('open-title'));
  });

  it('says so when Gala refuses its token, when its settings are wrong, and when Gala cannot be reached', async () => {
    const wrong = await startCompanionHost({ moduleDir, config: { url: base, operator: 'Deck 2' }, secrets: { token: 'not-a-token' } });
    try {
      await wrong.until('authentication failure', () => wrong.status()?.status === 'authentication_failure');
      expect(wrong.status()?.message).toMatch(/token refused/);
      expect((await wrong.execute('next')).errorMessage).toMatch(/^401: authorization: /);
    } finally {
      await wrong.close();
    }
    const bad = await startCompanionHost({ moduleDir, config: { url: 'gala.local', operator: 'Deck 3' }, secrets: { token: PRODUCER } });
    try {
      await bad.until('bad config', () => bad.status()?.status === 'bad_config');
      expect(bad.status()?.message).toMatch(/^url: /);
    } finally {
      await bad.close();
    }
    // A port nothing listens on (the HTTP port of a Gala that was stopped).
    const gone = await startCompanionHost({ moduleDir, config: { url: 'http://127.0.0.1:1', operator: 'Deck 4' }, secrets: { token: PRODUCER } });
    try {
      await gone.placeFeedback('link', 'link_down');
      await gone.until('no link', () => gone.feedbackValue('link') === true && gone.status()?.status === 'connection_failure');
      expect(gone.variable('link')).toBe('closed');
      expect((await gone.execute('go')).errorMessage).toMatch(/^POST \/v1\/control\/go: Gala did not answer/);
    } finally {
      await gone.close();
    }
    await deck.placeFeedback('link', 'link_down');
    await deck.until('the deck linked', () => deck.feedbackValue('link') === false);
  });

  it('GO fires the standby cue and the standby feedback and labels follow; a second GO inside doubleGoMs fails with Gala\'s 409; after it, GO fires again', async () => {
    await deck.placeFeedback('sb-mobile', 'standby', { cue: 'ms-mobile' });
    await standby('ms-mobile');
    await deck.until('standby feedback on', () => deck.feedbackValue('sb-mobile') === true);
    await deck.until('standby label', () => deck.variable('standby_id') === 'ms-mobile');
    expect(deck.variable('next_id')).toBe('ms-off');
    await afterDoubleGoWindow();

    expect(await deck.execute('go')).toEqual({ success: true });
    const s = await state();
    expect(s.history[0]).toMatchObject({ cueId: 'ms-mobile', cause: 'go', operator: 'Deck 1' });
    await deck.until('standby moved on the deck', () => deck.variable('standby_id') === 'ms-off' && deck.feedbackValue('sb-mobile') === false);
    expect(deck.variable('standby_label')).toBe(await label('ms-off'));

    const bounce = await deck.execute('go');
    expect(bounce.success).toBe(false);
    expect(bounce.errorMessage).toMatch(/^409: go: double-GO protection: \d+ ms after the GO that fired "ms-mobile" \(Deck 1\)/);
    expect((await state()).history[0]?.cueId).toBe('ms-mobile');

    await sleep(Date.parse(s.history[0]!.firedAt) + s.rundown.doubleGoMs + 20 - Date.now());
    expect(await deck.execute('go')).toEqual({ success: true });
    expect((await state()).history[0]).toMatchObject({ cueId: 'ms-off', cause: 'go' });
    await deck.until('nothing left on standby', () => deck.variable('standby_id') === '');
  });

  it('next and back move the standby cue', async () => {
    await standby('look-1');
    expect(await deck.execute('next')).toEqual({ success: true });
    expect((await state()).standby).toBe('look-2');
    expect(await deck.execute('back')).toEqual({ success: true });
    expect((await state()).standby).toBe('look-1');
  });

  it('an on-air cue from buttons: arm then GO, hold then release; the armed and on-air feedbacks follow; fire a chosen cue', async () => {
    await deck.placeFeedback('armed', 'armed', { cue: '$standby' });
    await deck.placeFeedback('product-on', 'on_air', { graphic: 'product' });
    await standby('look-1');
    await afterDoubleGoWindow();
    const unarmed = await deck.execute('go');
    expect(unarmed.errorMessage).toMatch(/^409: armId: on-air cue "look-1"/);

    expect(await deck.execute('arm', { cue: '$standby' })).toEqual({ success: true });
    await deck.until('armed feedback on', () => deck.feedbackValue('armed') === true);
    expect((await state()).arms).toMatchObject([{ cueId: 'look-1', operator: 'Deck 1' }]);
    expect(await deck.execute('go')).toEqual({ success: true });
    const fired = (await state()).history[0]!;
    expect(fired).toMatchObject({ cueId: 'look-1', cause: 'go', operator: 'Deck 1' });
    await deck.until('armed feedback off, the product card on air', () => deck.feedbackValue('armed') === false && deck.feedbackValue('product-on') === true);

    expect(await deck.execute('hold', { cue: '$standby' })).toEqual({ success: true });
    const hold = (await state()).holds[0]!;
    expect(hold).toMatchObject({ cueId: 'look-2', operator: 'Deck 1' });
    // Released once held long enough and outside the GO's double-GO window: the standby release is a GO too.
    await sleep(Math.max(Date.parse(hold.fireAfter), Date.parse(fired.firedAt) + (await state()).rundown.doubleGoMs) + 20 - Date.now());
    expect(await deck.execute('release', { cue: '$standby' })).toEqual({ success: true });
    expect((await state()).history[0]).toMatchObject({ cueId: 'look-2', cause: 'hold', operator: 'Deck 1' });
    await deck.until('the look-2 card', () => sys.system.graphics.get('product').data.sku === 'SKU-0003-00');

    expect(await deck.execute('fire', { cue: 'look-out' })).toEqual({ success: true });
    expect((await state()).history[0]).toMatchObject({ cueId: 'look-out', cause: 'fire' });
    await deck.until('the product card off air', () => deck.feedbackValue('product-on') === false);
    expect(sys.system.graphics.get('product').visible).toBe(false);
    // A chosen on-air cue: arm it, then fire it, with no ids in the requests.
    expect(await deck.execute('arm', { cue: 'look-2' })).toEqual({ success: true });
    expect(await deck.execute('fire', { cue: 'look-2' })).toEqual({ success: true });
    await deck.until('the card back on air', () => deck.feedbackValue('product-on') === true);
  });

  it('shows and stops a graphic, PANIC stops everything on air, undo brings it back', async () => {
    await deck.placeFeedback('lt-on', 'on_air', { graphic: 'lowerthird' });
    await deck.placeFeedback('counter-on', 'on_air', { graphic: 'counter' });
    expect(await deck.execute('graphic', { graphic: 'lowerthird', command: 'play', data: '{"title": "From the deck"}' })).toEqual({ success: true });
    expect(sys.system.graphics.get('lowerthird')).toMatchObject({ visible: true, data: { title: 'From the deck' } });
    await deck.until('lower third on air', () => deck.feedbackValue('lt-on') === true);
    expect((await deck.execute('graphic', { graphic: 'lowerthird', command: 'play', data: '[1]' })).errorMessage).toMatch(/^data: must be a JSON object/);

    sys.system.graphics.command('counter', 'play');
    await deck.until('counter on air', () => deck.feedbackValue('counter-on') === true);
    expect(await deck.execute('panic')).toEqual({ success: true });
    expect(sys.system.graphics.get('counter').visible).toBe(false);
    await deck.until('nothing on air', () => deck.feedbackValue('counter-on') === false && deck.feedbackValue('lt-on') === false);
    expect(await deck.execute('undo')).toEqual({ success: true });
    await deck.until('counter back', () => deck.feedbackValue('counter-on') === true);
    expect(sys.system.graphics.get('lowerthird').visible).toBe(true);

    expect(await deck.execute('graphic', { graphic: 'lowerthird', command: 'stop', data: '' })).toEqual({ success: true });
    await deck.until('lower third off', () => deck.feedbackValue('lt-on') === false);
    const audit = (await (await fetch(`${base}/v1/control/audit?operator=Deck%201`, { headers: { authorization: `Bearer ${VIEWER}` } })).json()) as { entries: { action: string; result: string }[] };
    for (const a of ['go:ok', 'go:refused', 'arm:ok', 'release:ok', 'fire:ok', 'panic:ok', 'undo:ok']) expect(audit.entries.map((e) => `${e.action}:${e.result}`)).toContain(a);
  });

  it('the GMV, orders, mobile share and orders/s variables follow orders through the real ingest', async () => {
    expect(await ingest(3, '1000.50', 'mobile')).toMatchObject({ accepted: 3 });
    expect(await ingest(1, '1000.50', 'desktop')).toMatchObject({ accepted: 1 });
    const t = sys.system.totals.snapshot();
    await deck.until('GMV on the deck', () => deck.variable('gmv') === t.gmv);
    expect(t.gmv).toBe('4002.00');
    expect(deck.variable('gmv_formatted')).toBe('4,002.00');
    expect(deck.variable('currency')).toBe('CNY');
    expect(deck.variable('orders')).toBe(4);
    expect(deck.variable('mobile_share')).toBe('75.0%');
    expect(typeof deck.variable('orders_per_second')).toBe('number');
  });

  it('a data trigger about to fire lights its button, and goes dark once it fired', async () => {
    const orders0 = sys.system.totals.orders;
    const atLeast = orders0 + 4;
    // Lit from (orders0 + 1) / atLeast: dark now, lit after two more orders, dark again once the trigger fired.
    await deck.placeFeedback('near', 'trigger_near', { cue: 'ms-mobile', percent: ((orders0 + 1) / atLeast) * 100 });
    const arm = await fetch(`${base}/v1/control/triggers/ms-mobile/arm`, { method: 'POST', headers: { authorization: `Bearer ${PRODUCER}`, 'content-type': 'application/json' }, body: JSON.stringify({ condition: { metric: 'orders', atLeast: String(atLeast) } }) });
    expect(arm.status).toBe(200);
    await deck.until('the trigger armed on the deck', () => deck.feedbackValue('near') === false && (sys.system.control.state().triggers.length ?? 0) > 0);
    await ingest(2);
    await deck.until('about to fire', () => deck.feedbackValue('near') === true);
    await ingest(2);
    await deck.until('fired', () => deck.feedbackValue('near') === false);
    expect((await state()).history.find((r) => r.cueId === 'ms-mobile' && r.cause === 'trigger')).toBeDefined();
  });

  it('stale input and storage down light their buttons, and go dark when input and storage are back', async () => {
    await deck.placeFeedback('stale', 'stale');
    await deck.placeFeedback('storage', 'storage_down');
    await deck.until('stale after 1 s without orders', () => deck.feedbackValue('stale') === true, 10_000);
    expect(deck.feedbackValue('storage')).toBe(false);
    await ingest(1);
    await deck.until('input flowing', () => deck.feedbackValue('stale') === false);

    // The embedded engine cannot be stopped from outside: storage is made to refuse inserts and pings, as a
    // ClickHouse that went away does, and given back.
    const store = sys.system.store as { insertOrders: OrderStore['insertOrders']; ping: OrderStore['ping'] };
    const real = { insertOrders: store.insertOrders, ping: store.ping };
    store.insertOrders = async () => {
      throw new Error('storage refuses inserts (test)');
    };
    store.ping = async () => false;
    try {
      expect(await ingest(1)).toMatchObject({ error: 'unavailable' });
      await deck.until('storage down on the deck', () => deck.feedbackValue('storage') === true);
    } finally {
      Object.assign(store, real);
    }
    await deck.until('storage back', () => deck.feedbackValue('storage') === false, 15_000);
  });
});
