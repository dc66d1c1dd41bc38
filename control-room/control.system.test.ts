// The control room against the whole system (embedded ClickHouse, real sockets): every route refuses the
// anonymous, roles and CSRF, the OpenAPI document (validated, and covering every route), two GOs at once,
// arm-then-fire and undo over HTTP, the `control` live topic, a data trigger fired by real ingest, HTML kept as
// data, and a button's fixed requests: the plain GO, double-GO protection, arm-then-GO and hold-then-release of
// the standby cue (the audit across a restart: control-audit.system.test.ts).
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isMessageOf, type ServerMessage } from '../protocol/live-protocol.ts';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { formatHundredths } from '../domain/money.ts';
import { connectIngest, startTestSystem } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import type { AuditEntry } from './audit-log.ts';
import { controlOpenApi } from './control-openapi.ts';
import type { ControlState } from './control-room.ts';
import { createControlRoutes } from './control-routes.ts';

const PRODUCER = 'test-producer-token';
const ADMIN = 'test-admin-token';
const VIEWER = 'test-viewer-token';
const tokens = { producerTokens: [PRODUCER], adminTokens: [ADMIN], viewerTokens: [VIEWER] };

type Sys = Awaited<ReturnType<typeof startTestSystem>>;
let sys: Sys;
let base: string;

/** A bounce must land inside the window even when the machine takes a second between two requests. */
const DOUBLE_GO_MS = 3000;

beforeAll(async () => {
  // Wider arm window, a longer hold and a longer double-GO window than the show's: on a loaded machine the gap
  // between two requests can take seconds, and these tests are about what the room does, not how fast the machine
  // is (an early release must stay early, an arm must outlive the steps before its fire, a bounce must bounce).
  const show = loadShow(DEFAULT_SHOW_FILE);
  show.rundown = { ...show.rundown, armWindowMs: 20_000, holdMs: 2000, doubleGoMs: DOUBLE_GO_MS };
  sys = await startTestSystem({ ...tokens, show });
  base = `http://127.0.0.1:${sys.system.httpPort}`;
});
afterAll(async () => {
  await sys?.cleanup();
});

interface Call {
  token?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field by the tests
async function call(method: string, path: string, c: Call = {}, at = base): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...c.headers };
  if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
  if (c.cookie !== undefined) headers.cookie = c.cookie;
  if (c.csrf !== undefined) headers['x-csrf-token'] = c.csrf;
  if (c.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${at}${path}`, { method, headers, body: c.body === undefined ? undefined : JSON.stringify(c.body), redirect: 'manual' });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // CSV or empty
  }
  return { status: res.status, body, headers: res.headers };
}

async function login(operator: string, token: string, at = base) {
  const r = await call('POST', '/control/login', { body: { token, operator } }, at);
  expect(r.status).toBe(200);
  const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  return { cookie, csrf: r.body.csrf as string, setCookie: r.headers.get('set-cookie')! };
}

const state = async () => (await call('GET', '/v1/control/state', { token: VIEWER })).body as ControlState;

/** Every route of the control API, from the app itself, so a route added later is tested too. */
function allRoutes(): { method: string; path: string }[] {
  const app = createControlRoutes(sys.system.control, { openapi: controlOpenApi });
  const seen = new Set<string>();
  return app.routes
    .map((r) => ({ method: r.method, path: r.path.replace(':id', 'open-scene') }))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`) !== undefined);
}

describe('control room security', () => {
  it('every control route refuses a request without a valid session or token', async () => {
    const routes = allRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(25);
    for (const r of routes) {
      if (r.path === '/control/login') continue;
      for (const c of [{}, { token: 'wrong' }, { cookie: 'gala_session=forged' }] as Call[]) {
        const res = await call(r.method, r.path, { ...c, body: r.method === 'GET' ? undefined : {} });
        expect(res.status, `${r.method} ${r.path} ${JSON.stringify(c)}`).toBe(401);
        expect(res.body.error).toMatch(/^authorization: /);
      }
    }
    const bad = await call('POST', '/control/login', { body: { token: 'wrong', operator: 'Mallory' } });
    expect(bad.status).toBe(401);
  });

  it('a viewer watches but cannot fire, arm, undo or edit; a producer cannot edit the rundown', async () => {
    const refusedForViewer = allRoutes().filter((r) => r.method !== 'GET' && !r.path.startsWith('/control/'));
    for (const r of refusedForViewer) {
      const res = await call(r.method, r.path, { token: VIEWER, body: {} });
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.body.error).toMatch(/^role: .* needs the (producer|admin) role/);
    }
    const edits = allRoutes().filter((r) => r.path.startsWith('/v1/control/rundown/'));
    expect(edits.length).toBe(4);
    for (const r of edits) expect((await call(r.method, r.path, { token: PRODUCER, body: {} })).status, `${r.method} ${r.path}`).toBe(403);
    expect((await call('GET', '/v1/control/state', { token: VIEWER })).status).toBe(200);
    const audit = (await call('GET', '/v1/control/audit?action=go&limit=50', { token: VIEWER })).body.entries as AuditEntry[];
    expect(audit.some((e) => e.operator === 'viewer token' && e.result === 'refused' && e.status === 403)).toBe(true);
  });

  it('session cookies: HttpOnly, SameSite=Strict, __Host- and Secure over HTTPS; unsafe requests need the CSRF token and a same-site Origin', async () => {
    const ann = await login('Ann', PRODUCER);
    expect(ann.setCookie).toMatch(/^gala_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict$/);
    const tls = await call('POST', '/control/login', { body: { token: PRODUCER, operator: 'Ann' }, headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('set-cookie')).toMatch(/^__Host-gala_session=.*; Path=\/; HttpOnly; Secure; SameSite=Strict$/);

    const s = await state();
    const noCsrf = await call('POST', '/v1/control/next', { cookie: ann.cookie, body: {} });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toMatch(/^x-csrf-token: /);
    const crossSite = await call('POST', '/v1/control/next', { cookie: ann.cookie, csrf: ann.csrf, body: {}, headers: { origin: 'https://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error).toBe('origin: cross-site request refused');
    expect((await state()).standby).toBe(s.standby);
    const ok = await call('POST', '/v1/control/next', { cookie: ann.cookie, csrf: ann.csrf, body: {}, headers: { origin: base } });
    expect(ok.status).toBe(200);
    expect((await call('POST', '/v1/control/back', { cookie: ann.cookie, csrf: ann.csrf })).status).toBe(200);
    const crossLogin = await call('POST', '/control/login', { body: { token: PRODUCER, operator: 'Ann' }, headers: { origin: 'https://evil.example' } });
    expect(crossLogin.status).toBe(403);
    const refusals = (await call('GET', '/v1/control/audit?operator=Ann', { token: VIEWER })).body.entries as AuditEntry[];
    expect(refusals.filter((e) => e.result === 'refused' && e.status === 403).map((e) => e.detail)).toEqual(['x-csrf-token: required, the csrf value of GET /v1/control/session', 'origin: cross-site request refused']);

    const form = await fetch(`${base}/control/login`, { method: 'POST', body: new URLSearchParams({ token: PRODUCER, operator: 'Form' }), redirect: 'manual' });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/control');
    const session = await call('GET', '/v1/control/session', { cookie: form.headers.get('set-cookie')!.split(';')[0] });
    expect(session.body).toMatchObject({ operator: 'Form', role: 'producer', via: 'session' });
    expect(session.body.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const out = await call('POST', '/control/logout', { cookie: ann.cookie, csrf: ann.csrf });
    expect(out.status).toBe(200);
    expect((await call('GET', '/v1/control/state', { cookie: ann.cookie })).status).toBe(401);
  });

  it('show data holding HTML comes back as JSON data, never as a page', async () => {
    const { rundownRev } = (await call('GET', '/v1/control/rundown', { token: ADMIN })).body;
    const label = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const add = await call('POST', '/v1/control/rundown/cues', { token: ADMIN, body: { rundownRev, act: 'act-stars', cue: { id: 'xss', label, actions: [{ type: 'graphic', graphic: 'lowerthird', command: 'play', data: { title: label } }] } } });
    expect(add.status).toBe(201);
    const r = await call('GET', '/v1/control/rundown', { token: VIEWER });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.body.rundown.cues.find((c: { id: string }) => c.id === 'xss').label).toBe(label);
    const del = await call('DELETE', `/v1/control/rundown/cues/xss?rundownRev=${r.body.rundownRev}`, { token: ADMIN });
    expect(del.status).toBe(200);
  });
});

describe('control room API', () => {
  it('is described by a valid OpenAPI 3.1 document that lists exactly the routes served', async () => {
    const doc = (await call('GET', '/v1/control/openapi.json', { token: VIEWER })).body;
    const v = new Validator();
    const res = await v.validate(doc);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(v.version).toBe('3.1');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const served = allRoutes().map((r) => `${r.method} ${r.path.replace('open-scene', '{id}')}`);
    expect(documented.sort()).toEqual(served.sort());
  });

  it('two operators pressing GO at once fire one cue; the other gets 409 with the current state', async () => {
    const s0 = await state();
    const standby = s0.rundown.cues.find((c) => !c.onAir && c.follow === 'none')!.id;
    await call('POST', '/v1/control/standby', { token: PRODUCER, body: { cueId: standby } });
    const fired0 = (await state()).history.length;
    const [a, b] = await Promise.all([
      call('POST', '/v1/control/go', { token: PRODUCER, body: { standby }, headers: { 'x-operator': 'Ann' } }),
      call('POST', '/v1/control/go', { token: PRODUCER, body: { standby }, headers: { 'x-operator': 'Bob' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const lost = a.status === 409 ? a : b;
    expect(lost.body.error).toMatch(/^standby: the standby cue changed/);
    expect(lost.body.state.standby).not.toBe(standby);
    const s1 = await state();
    expect(s1.history.length - fired0).toBe(1);
    expect(s1.history[0]).toMatchObject({ cueId: standby, cause: 'go' });
  });

  it('arm-then-fire, undo (graphics and OBS scene back), panic, next/back, hold, over HTTP and on the control topic', async () => {
    const p = { token: PRODUCER, headers: { 'x-operator': 'Ann' } };
    // A live-channel subscriber with a session cookie sees every change.
    const ann = await login('Ann', PRODUCER);
    const ws = new WebSocket(`ws://127.0.0.1:${sys.system.httpPort}/v1/live`, { headers: { cookie: ann.cookie } });
    const got: ServerMessage[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as ServerMessage));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['control'] }));
    const anon = new WebSocket(`ws://127.0.0.1:${sys.system.httpPort}/v1/live`);
    const anonGot: ServerMessage[] = [];
    anon.on('message', (d) => anonGot.push(JSON.parse(String(d)) as ServerMessage));
    await new Promise((r) => anon.once('open', r));
    anon.send(JSON.stringify({ op: 'subscribe', topics: ['control'] }));

    await sys.system.obs.run([{ type: 'scene', scene: 'Before' }]);
    const before = sys.system.graphics.get('product');
    await call('POST', '/v1/control/standby', { ...p, body: { cueId: 'look-1' } });
    const noArm = await call('POST', '/v1/control/go', { ...p, body: { standby: 'look-1' } });
    expect(noArm.status).toBe(409);
    expect(noArm.body.error).toMatch(/^armId: on-air cue "look-1"/);
    const arm = await call('POST', '/v1/control/cues/look-1/arm', p);
    expect(arm.status).toBe(200);
    const fire = await call('POST', '/v1/control/cues/look-1/fire', { ...p, body: { armId: arm.body.armId } });
    expect(fire.status).toBe(200);
    expect(fire.body.fired).toMatchObject({ cueId: 'look-1', operator: 'Ann' });
    await until('the product card following the cue', () => sys.system.graphics.get('product').data.sku === 'SKU-0002-00');
    expect(sys.system.graphics.get('product')).toMatchObject({ visible: true, data: { sku: 'SKU-0002-00' } });
    expect(sys.system.obs.status().programScene).toBe('Runway');
    expect((await state()).standby).toBe('look-2');

    const undo = await call('POST', '/v1/control/undo', p);
    expect(undo.status).toBe(200);
    expect(undo.body.undone.cueId).toBe('look-1');
    expect(sys.system.graphics.get('product').visible).toBe(before.visible);
    await until('the OBS scene back', () => sys.system.obs.status().programScene === 'Before');
    expect(undo.body.state.standby).toBe('look-1');
    expect((await call('POST', '/v1/control/undo', p)).status).toBe(409);

    const hold = await call('POST', '/v1/control/cues/look-2/hold', p);
    const early = await call('POST', '/v1/control/cues/look-2/release', { ...p, body: { holdId: hold.body.holdId } });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatch(/^hold: released after \d+ ms; hold at least 2000 ms/);
    const hold2 = await call('POST', '/v1/control/cues/look-2/hold', p);
    // Released once the server's own clock has passed the instant it said the hold would fire after.
    await until('held past fireAfter', () => Date.now() > Date.parse(hold2.body.fireAfter as string));
    const rel = await call('POST', '/v1/control/cues/look-2/release', { ...p, body: { holdId: hold2.body.holdId } });
    expect(rel.status).toBe(200);
    expect(rel.body.fired).toMatchObject({ cueId: 'look-2', cause: 'hold' });

    const panic = await call('POST', '/v1/control/panic', p);
    expect(panic.status).toBe(200);
    expect(panic.body.stopped).toContain('counter');
    expect(sys.system.graphics.get('counter').visible).toBe(false);
    expect((await call('POST', '/v1/control/undo', p)).status).toBe(200);
    expect(sys.system.graphics.get('counter').visible).toBe(true);
    await call('POST', '/v1/control/standby', { ...p, body: { cueId: 'look-1' } });
    expect((await call('POST', '/v1/control/next', p)).body.state.standby).toBe('look-2');
    expect((await call('POST', '/v1/control/back', p)).body.state.standby).toBe('look-1');
    expect((await call('POST', '/v1/control/cues/nope/arm', p)).status).toBe(404);
    expect((await call('POST', '/v1/control/go', { ...p, body: { standby: 5 } })).body.error).toBe('standby: must be a non-empty string');
    expect((await call('POST', '/v1/control/go', { ...p, body: '[1]' as unknown })).status).toBe(400);

    // Every change above has reached the subscriber: it holds the room's current revision.
    const rev = (await state()).rev;
    const controlMessages = () => got.filter((m) => isMessageOf(m, 'control'));
    await until('the control topic at the current revision', () => controlMessages().some((m) => m.data.rev === rev));
    await until('the anonymous subscriber refused', () => anonGot.some((m) => m.type === 'error'));
    const control = controlMessages();
    expect(control[0]?.type).toBe('snapshot');
    const revs = control.map((m) => m.rev);
    expect(revs.slice(1)).toEqual(revs.slice(1).map((_, i) => revs[0]! + i + 1));
    const seen = control.map((m) => m.data.history[0]?.cueId);
    expect(seen).toContain('look-1');
    expect(seen).toContain('look-2');
    expect(anonGot.some((m) => m.type === 'error' && m.error === 'topics: "control" needs the producer token')).toBe(true);
    expect(anonGot.some((m) => m.type === 'snapshot')).toBe(false);
    ws.close();
    anon.close();

    const audit = (await call('GET', '/v1/control/audit?operator=Ann', { token: VIEWER })).body.entries as AuditEntry[];
    const actions = audit.map((e) => `${e.action}:${e.result}`);
    for (const a of ['arm:ok', 'fire:ok', 'undo:ok', 'hold:ok', 'release:refused', 'release:ok', 'panic:ok', 'go:refused']) expect(actions).toContain(a);
    expect(audit.find((e) => e.action === 'fire')).toMatchObject({ role: 'producer', via: 'token', target: 'look-1', status: 200, detail: 'fired look-1' });
  });

  it('rundown edits by an admin check the revision', async () => {
    const { rundownRev } = (await call('GET', '/v1/control/rundown', { token: ADMIN })).body;
    const move = await call('POST', '/v1/control/rundown/cues/board-off/move', { token: ADMIN, body: { after: null, rundownRev } });
    expect(move.status).toBe(200);
    expect(move.body.rundown.cues[0].id).toBe('board-off');
    const stale = await call('PUT', '/v1/control/rundown/cues/board-off', { token: ADMIN, body: { rundownRev, cue: { label: 'x' } } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatch(/^rundownRev: the rundown changed/);
    const upd = await call('PUT', '/v1/control/rundown/cues/board-off', { token: ADMIN, body: { rundownRev: rundownRev + 1, cue: { label: 'Board off', actions: [{ type: 'graphic', graphic: 'leaderboard', command: 'stop' }] } } });
    expect(upd.status).toBe(200);
    const bad = await call('PUT', '/v1/control/rundown/cues/board-off', { token: ADMIN, body: { rundownRev: rundownRev + 2, cue: { label: 'x', follow: 'later' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('cue.follow: must be one of none, auto-continue, auto-follow (got "later")');
    const back = await call('POST', '/v1/control/rundown/cues/board-off/move', { token: ADMIN, body: { after: 'board', rundownRev: rundownRev + 2 } });
    expect(back.body.rundown.cues.findIndex((c: { id: string }) => c.id === 'board-off')).toBe(back.body.rundown.cues.findIndex((c: { id: string }) => c.id === 'board') + 1);
  });

  it('a data trigger fires its cue once when orders through the real ingest push GMV over the threshold', async () => {
    const gmv0 = sys.system.totals.gmvHundredths();
    const threshold = ((gmv0 + 150_000n) / 100n).toString();
    const arm = await call('POST', '/v1/control/triggers/ms-mobile/arm', { token: PRODUCER, headers: { 'x-operator': 'Cy' }, body: { condition: { metric: 'gmv', atLeast: threshold } } });
    expect(arm.status).toBe(200);
    expect(arm.body.trigger).toMatchObject({ state: 'armed', willFire: false });
    const already = await call('POST', '/v1/control/triggers/ms-1b/arm', { token: PRODUCER, body: { condition: { metric: 'orders', atLeast: '0' } } });
    expect(already.status).toBe(409);
    const ingest = await connectIngest(sys.system.ingestPort);
    const order = (i: number) => ({ id: `trig-${i}`, ts: Date.now(), amount: '1000.00', currency: 'CNY', channel: 'mobile' });
    // Acked: in the totals the trigger is measured against. Below the threshold it is armed and will not fire.
    await ingest.send(JSON.stringify({ batch: 'b1', orders: [order(1)] }));
    expect((await state()).triggers.find((t) => t.cueId === 'ms-mobile')).toMatchObject({ state: 'armed', current: formatHundredths(gmv0 + 100_000n), willFire: false });
    expect((await state()).history.some((r) => r.cueId === 'ms-mobile')).toBe(false);
    await ingest.send(JSON.stringify({ batch: 'b2', orders: [order(2)] }));
    const s = await until('the trigger fired', state, (v) => v.history.some((r) => r.cueId === 'ms-mobile'));
    expect(s.history.filter((r) => r.cueId === 'ms-mobile').map((r) => [r.cause, r.operator])).toEqual([['trigger', 'Cy']]);
    expect(s.triggers.find((t) => t.cueId === 'ms-mobile')).toMatchObject({ state: 'fired' });
    // Fired once: a third order over the threshold, measured, fires nothing more.
    await ingest.send(JSON.stringify({ batch: 'b3', orders: [order(3)] }));
    const after = await state();
    expect(after.triggers.find((t) => t.cueId === 'ms-mobile')).toMatchObject({ state: 'fired', current: formatHundredths(gmv0 + 300_000n) });
    expect(after.history.filter((r) => r.cueId === 'ms-mobile')).toHaveLength(1);
    ingest.close();
    const audit = (await call('GET', '/v1/control/audit?action=trigger.fire', { token: VIEWER })).body.entries as AuditEntry[];
    expect(audit).toMatchObject([{ operator: 'Cy', via: 'trigger', target: 'ms-mobile', result: 'ok' }]);
    expect((await call('POST', '/v1/control/triggers/ms-mobile/disarm', { token: PRODUCER })).status).toBe(200);
    expect((await call('GET', '/v1/control/triggers', { token: VIEWER })).body.triggers).toEqual([]);
  });

  it("a product trigger fires when the look's units sold reach N", async () => {
    const arm = await call('POST', '/v1/control/triggers/look-out/arm', { token: PRODUCER, body: { condition: { metric: 'productUnits', sku: 'TRIG-SKU', atLeast: '2' } } });
    expect(arm.status).toBe(200);
    const ingest = await connectIngest(sys.system.ingestPort);
    const order = (i: number) => ({ id: `sku-${i}`, ts: Date.now(), amount: '10.00', currency: 'CNY', channel: 'tv', sku: 'TRIG-SKU' });
    await ingest.send(JSON.stringify({ batch: 's1', orders: [order(1)] }));
    // Product units are read from the rollups once a second: wait for the first unit to show, however loaded.
    const waiting = await until('the first unit measured', async () => (await state()).triggers.find((t) => t.cueId === 'look-out'), (t) => t?.current === '1');
    expect(waiting).toMatchObject({ state: 'armed', current: '1', willFire: false });
    await ingest.send(JSON.stringify({ batch: 's2', orders: [order(2)] }));
    const s = await until('the trigger fired', state, (v) => v.history.some((r) => r.cueId === 'look-out' && r.cause === 'trigger'));
    expect(s.triggers.find((t) => t.cueId === 'look-out')).toMatchObject({ state: 'fired', current: '2' });
    ingest.close();
  });
});

describe('GO from a button: fixed requests and double-GO protection', () => {
  const deck = { token: PRODUCER, headers: { 'x-operator': 'Deck' } };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  /** Waits out double-GO protection: the engine counts doubleGoMs from the firing of the last GO (or any cue, to be safe). */
  const afterDoubleGoWindow = async () => {
    const s = await state();
    if (s.history[0] !== undefined) await sleep(Date.parse(s.history[0].firedAt) + s.rundown.doubleGoMs + 20 - Date.now());
  };

  it('a plain GO (no body, or {}) fires the standby cue; another GO inside doubleGoMs is refused with 409 and the state; after it, GO fires again', async () => {
    await call('POST', '/v1/control/standby', { ...deck, body: { cueId: 'ms-mobile' } });
    await afterDoubleGoWindow();
    const first = await call('POST', '/v1/control/go', deck);
    expect(first.status).toBe(200);
    expect(first.body.fired).toMatchObject({ cueId: 'ms-mobile', cause: 'go', operator: 'Deck' });
    expect(first.body.state.standby).toBe('ms-off');
    expect(first.body.state.rundown.doubleGoMs).toBe(DOUBLE_GO_MS);

    const bounce = await call('POST', '/v1/control/go', { ...deck, body: {} });
    expect(bounce.status).toBe(409);
    expect(bounce.body.error).toMatch(/^go: double-GO protection: \d+ ms after the GO that fired "ms-mobile" \(Deck\); a GO within 3000 ms fires nothing$/);
    expect(bounce.body.state.standby).toBe('ms-off');
    expect(bounce.body.state.history[0]).toMatchObject({ cueId: 'ms-mobile' });
    // The strict form that names the right standby cue is inside the window too: two desks, one cue.
    const strict = await call('POST', '/v1/control/go', { ...deck, body: { standby: 'ms-off' } });
    expect(strict.status).toBe(409);
    expect(strict.body.error).toMatch(/^go: double-GO protection/);
    expect((await state()).history[0]?.cueId).toBe('ms-mobile');

    await sleep(Date.parse(first.body.fired.firedAt) + DOUBLE_GO_MS + 20 - Date.now());
    const again = await call('POST', '/v1/control/go', deck);
    expect(again.status).toBe(200);
    expect(again.body.fired).toMatchObject({ cueId: 'ms-off', cause: 'go' });

    const audit = (await call('GET', '/v1/control/audit?operator=Deck&action=go', { token: VIEWER })).body.entries as AuditEntry[];
    expect(audit.map((e) => [e.result, e.status, e.detail?.replace(/\d+ ms after/, 'N ms after')])).toEqual([
      ['ok', 200, 'fired ms-mobile (plain GO)'],
      ['refused', 409, 'go: double-GO protection: N ms after the GO that fired "ms-mobile" (Deck); a GO within 3000 ms fires nothing'],
      ['refused', 409, 'go: double-GO protection: N ms after the GO that fired "ms-mobile" (Deck); a GO within 3000 ms fires nothing'],
      ['ok', 200, 'fired ms-off (plain GO)'],
    ]);
  });

  it('two desks pressing a plain GO at once fire one cue', async () => {
    await call('POST', '/v1/control/standby', { ...deck, body: { cueId: 'ms-mobile' } });
    await afterDoubleGoWindow();
    const fired0 = (await state()).history.length;
    const [a, b] = await Promise.all([
      call('POST', '/v1/control/go', { token: PRODUCER, headers: { 'x-operator': 'Deck A' } }),
      call('POST', '/v1/control/go', { token: PRODUCER, headers: { 'x-operator': 'Deck B' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).body.error).toMatch(/^go: double-GO protection/);
    const s = await state();
    expect(s.history.length - fired0).toBe(1);
    expect(s.history[0]).toMatchObject({ cueId: 'ms-mobile', cause: 'go' });
    expect(s.standby).toBe('ms-off');
  });

  it('an on-air cue by fixed requests: arm the standby cue, then GO; hold the standby cue, then release', async () => {
    await call('POST', '/v1/control/standby', { ...deck, body: { cueId: 'look-1' } });
    await afterDoubleGoWindow();
    const unarmed = await call('POST', '/v1/control/go', deck);
    expect(unarmed.status).toBe(409);
    expect(unarmed.body.error).toMatch(/^armId: on-air cue "look-1"/);

    const arm = await call('POST', '/v1/control/standby/arm', deck);
    expect(arm.status).toBe(200);
    expect(arm.body).toMatchObject({ cueId: 'look-1' });
    // Another operator's plain GO does not use Deck's arm.
    const other = await call('POST', '/v1/control/go', { token: PRODUCER, headers: { 'x-operator': 'Other' } });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/^armId: /);
    const go = await call('POST', '/v1/control/go', deck);
    expect(go.status).toBe(200);
    expect(go.body.fired).toMatchObject({ cueId: 'look-1', cause: 'go', operator: 'Deck' });
    expect(go.body.state).toMatchObject({ standby: 'look-2', arms: [] });

    const hold = await call('POST', '/v1/control/standby/hold', deck);
    expect(hold.status).toBe(200);
    expect(hold.body).toMatchObject({ cueId: 'look-2' });
    expect((await state()).holds).toMatchObject([{ cueId: 'look-2', operator: 'Deck' }]);
    // Released once held long enough and outside the GO's double-GO window (the release is a GO too).
    await sleep(Math.max(Date.parse(hold.body.fireAfter), Date.parse(go.body.fired.firedAt) + DOUBLE_GO_MS) + 20 - Date.now());
    const rel = await call('POST', '/v1/control/standby/release', deck);
    expect(rel.status).toBe(200);
    expect(rel.body.fired).toMatchObject({ cueId: 'look-2', cause: 'hold', operator: 'Deck' });
    expect(rel.body.state).toMatchObject({ standby: 'look-out', holds: [] });
    await until('the look-2 product card on air', () => sys.system.graphics.get('product').data.sku === 'SKU-0003-00');
    expect(sys.system.graphics.get('product').visible).toBe(true);

    const early = await call('POST', '/v1/control/standby/hold', deck);
    expect(early.status).toBe(200);
    const refused = await call('POST', '/v1/control/standby/release', deck);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/^hold: released after \d+ ms; hold at least 2000 ms/);
    expect(refused.body.state.standby).toBe('look-out');
    const audit = (await call('GET', '/v1/control/audit?operator=Deck', { token: VIEWER })).body.entries as AuditEntry[];
    expect(audit.filter((e) => e.action === 'arm' || e.action === 'hold' || e.action === 'release').map((e) => `${e.action}:${e.result}`)).toEqual(['arm:ok', 'hold:ok', 'release:ok', 'hold:ok', 'release:refused']);
  });
});
