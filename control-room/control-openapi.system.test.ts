// The control room's OpenAPI document held strictly to what the API answers: no answer schema left open, and every
// documented route called on a running system (on air, then in a rehearsal), its success and the errors it can give
// (401, 403, 400, 404, 409), each answer validated against the document for its status (headers, closed schemas).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem } from '../test-support/system-harness.ts';
import { createOpenApiCheck, openObjectSchemas, type OpenApiDoc } from '../test-support/openapi-check.ts';

const PRODUCER = 'test-producer-token';
const ADMIN = 'test-admin-token';
const VIEWER = 'test-viewer-token';
const tokens = { producerTokens: [PRODUCER], adminTokens: [ADMIN], viewerTokens: [VIEWER] };

type Sys = Awaited<ReturnType<typeof startTestSystem>>;
let sys: Sys | null = null;
let base = '';
let doc: OpenApiDoc;
let api: ReturnType<typeof createOpenApiCheck>;
/** `METHOD /documented/path status` of every answer validated, for the coverage check at the end. */
const seen = new Set<string>();

interface Call {
  token?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/**
 * Calls `url` (the documented `path` with its parameters filled in), expects `status`, and validates the answer
 * against the document. Returns the parsed body.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answer was validated against its schema
async function call(method: string, path: string, status: number, c: Call = {}, url = path): Promise<any> {
  const headers: Record<string, string> = { 'x-operator': 'Olga', ...c.headers };
  if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
  if (c.cookie !== undefined) headers.cookie = c.cookie;
  if (c.csrf !== undefined) headers['x-csrf-token'] = c.csrf;
  let body: string | URLSearchParams | undefined;
  if (c.form !== undefined) body = new URLSearchParams(c.form);
  else if (c.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  }
  const res = await fetch(base + url, { method, headers, body, redirect: 'manual' });
  if (res.status !== status) throw new Error(`${method} ${url}: expected ${status}, got ${res.status} ${await res.text()}`);
  const parsed = await api.conforms(method, path, res, `${method} ${url}`);
  seen.add(`${method} ${path} ${status}`);
  return parsed;
}

/** Resolves once the clock has passed `t` (epoch ms): a rule that counts time (holdMs, doubleGoMs) is waited out. */
async function waitPast(t: number): Promise<void> {
  while (Date.now() <= t) await new Promise((r) => setTimeout(r, t - Date.now() + 1));
}

/** Every documented operation, with `{id}` filled in. */
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path, url: path.replace('{id}', 'look-out') })));

async function start(over: Parameters<typeof startTestSystem>[0]): Promise<void> {
  sys = await startTestSystem({ ...tokens, ...over });
  base = `http://127.0.0.1:${sys.system.httpPort}`;
  const res = await fetch(`${base}/v1/control/openapi.json`, { headers: { authorization: `Bearer ${VIEWER}` } });
  doc = (await res.clone().json()) as OpenApiDoc;
  api = createOpenApiCheck(doc);
  await api.conforms('GET', '/v1/control/openapi.json', res);
  seen.add('GET /v1/control/openapi.json 200');
}
const stop = async () => {
  await sys?.cleanup();
  sys = null;
};

describe('the control API on air, against its OpenAPI document', () => {
  beforeAll(() => start({}));
  afterAll(stop);

  it('leaves no object of any answer open to undocumented fields', () => {
    expect(openObjectSchemas(doc)).toEqual([]);
  });

  it('refuses every route without credentials (401) and a viewer on every action (403), as documented', async () => {
    for (const o of operations()) {
      if (o.path === '/control/login') continue;
      await call(o.method, o.path, 401, {}, o.url);
      const action = o.method !== 'GET' && o.path !== '/control/logout';
      if (action) await call(o.method, o.path, 403, { token: VIEWER, body: {} }, o.url);
    }
  });

  it('logs in and out as documented', async () => {
    const r = await fetch(`${base}/control/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: PRODUCER, operator: 'Olga' }) });
    const login = (await api.conforms('POST', '/control/login', r)) as { csrf: string };
    seen.add('POST /control/login 200');
    const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    await call('POST', '/control/login', 303, { form: { token: PRODUCER, operator: 'Form' } });
    await call('POST', '/control/login', 401, { body: { token: 'wrong', operator: 'Mallory' } });
    await call('POST', '/control/login', 400, { body: { operator: 'NoToken' } });
    await call('POST', '/control/login', 403, { body: { token: PRODUCER, operator: 'Olga' }, headers: { origin: 'https://evil.example' } });

    expect(await call('GET', '/v1/control/session', 200, { cookie })).toMatchObject({ via: 'session', role: 'producer' });
    expect(await call('GET', '/v1/control/session', 200, { token: ADMIN })).toMatchObject({ via: 'token', csrf: null, expiresAt: null });
    await call('POST', '/control/logout', 403, { cookie });
    await call('POST', '/control/logout', 400, { token: VIEWER, body: '[1]' });
    await call('POST', '/control/logout', 200, { cookie, csrf: login.csrf });
  });

  it('answers every read as documented', async () => {
    for (const path of ['/v1/control/state', '/v1/control/rundown', '/v1/control/triggers', '/v1/control/audit']) await call('GET', path, 200, { token: VIEWER });
    await call('GET', '/v1/control/audit', 200, { token: VIEWER }, '/v1/control/audit?limit=5&after=1&operator=Olga&action=login');
    await call('GET', '/v1/control/audit', 400, { token: VIEWER }, '/v1/control/audit?limit=0');
    await call('GET', '/v1/control/audit.csv', 200, { token: VIEWER });
    await call('GET', '/v1/control/audit.csv', 400, { token: VIEWER }, '/v1/control/audit.csv?limit=x');
    // On air there is no rehearsal: every rehearsal route answers its documented 404.
    await call('GET', '/v1/control/rehearsal', 404, { token: VIEWER });
    for (const a of ['start', 'pause', 'resume', 'speed', 'restart']) await call('POST', `/v1/control/rehearsal/${a}`, 404, { token: PRODUCER, body: { speed: 2 } });
  });

  it('answers the playhead, two-step firing, undo and panic as documented', async () => {
    const p = { token: PRODUCER };
    await call('POST', '/v1/control/standby', 200, { ...p, body: { cueId: 'open-title' } });
    await call('POST', '/v1/control/standby', 404, { ...p, body: { cueId: 'nope' } });
    await call('POST', '/v1/control/standby', 409, { ...p, body: { cueId: 'open-title', rev: 0 } });
    await call('POST', '/v1/control/standby', 400, { ...p, body: {} });
    await call('POST', '/v1/control/go', 400, { ...p, body: { standby: 5 } });
    await call('POST', '/v1/control/go', 409, { ...p, body: { standby: 'look-2' } });
    // open-title waits 6 s between its steps: the answer carries a run in a wait, with phaseEndsAt.
    const go = await call('POST', '/v1/control/go', 200, { ...p, body: { standby: 'open-title' } });
    expect(go.fired).toMatchObject({ cueId: 'open-title', cause: 'go' });
    await call('POST', '/v1/control/next', 200, p);
    await call('POST', '/v1/control/back', 200, p);

    await call('POST', '/v1/control/cues/{id}/fire', 409, p, '/v1/control/cues/look-1/fire');
    await call('POST', '/v1/control/cues/{id}/fire', 404, p, '/v1/control/cues/nope/fire');
    await call('POST', '/v1/control/cues/{id}/fire', 400, { ...p, body: { armId: 5 } }, '/v1/control/cues/look-1/fire');
    const arm = await call('POST', '/v1/control/cues/{id}/arm', 200, p, '/v1/control/cues/look-1/arm');
    const held = await call('GET', '/v1/control/state', 200, { token: VIEWER });
    expect(held.arms).toEqual([expect.objectContaining({ cueId: 'look-1' })]);
    await call('POST', '/v1/control/cues/{id}/arm', 404, p, '/v1/control/cues/nope/arm');
    await call('POST', '/v1/control/cues/{id}/fire', 200, { ...p, body: { armId: arm.armId } }, '/v1/control/cues/look-1/fire');

    const early = await call('POST', '/v1/control/cues/{id}/hold', 200, p, '/v1/control/cues/look-2/hold');
    expect((await call('GET', '/v1/control/state', 200, { token: VIEWER })).holds).toHaveLength(1);
    await call('POST', '/v1/control/cues/{id}/release', 409, { ...p, body: { holdId: early.holdId } }, '/v1/control/cues/look-2/release');
    await call('POST', '/v1/control/cues/{id}/hold', 404, p, '/v1/control/cues/nope/hold');
    const hold = await call('POST', '/v1/control/cues/{id}/hold', 200, p, '/v1/control/cues/look-2/hold');
    // The rule itself: a release fires only once the hold has lasted holdMs, i.e. after fireAfter.
    await waitPast(Date.parse(hold.fireAfter));
    await call('POST', '/v1/control/cues/{id}/release', 200, { ...p, body: { holdId: hold.holdId } }, '/v1/control/cues/look-2/release');
    await call('POST', '/v1/control/cues/{id}/release', 400, { ...p, body: { holdId: '' } }, '/v1/control/cues/look-2/release');

    const undo = await call('POST', '/v1/control/undo', 200, p);
    expect(undo.undone.cueId).toBe('look-2');
    expect(undo.state.undo).toBeNull();
    await call('POST', '/v1/control/undo', 409, p);
    const panic = await call('POST', '/v1/control/panic', 200, p);
    expect(panic.stopped).toContain('counter');
    expect((await call('POST', '/v1/control/undo', 200, p)).undone.cueId).toBeNull();

    // A button's fixed requests on the standby cue. Double-GO protection counts from the GO that last fired a cue
    // (doubleGoMs), and a standby release is a GO: each waits the rule out, as the hold waited out holdMs above.
    const { doubleGoMs } = (await call('GET', '/v1/control/rundown', 200, { token: VIEWER })).rundown;
    await call('POST', '/v1/control/standby', 200, { ...p, body: { cueId: 'look-1' } });
    await call('POST', '/v1/control/standby/arm', 200, p);
    await waitPast(Date.parse(go.fired.firedAt) + doubleGoMs);
    const plain = await call('POST', '/v1/control/go', 200, p);
    expect(plain.fired).toMatchObject({ cueId: 'look-1', cause: 'go' });
    const press = await call('POST', '/v1/control/standby/hold', 200, p);
    expect(press.cueId).toBe('look-2');
    await waitPast(Math.max(Date.parse(press.fireAfter), Date.parse(plain.fired.firedAt) + doubleGoMs));
    const released = await call('POST', '/v1/control/standby/release', 200, p);
    expect(released.fired).toMatchObject({ cueId: 'look-2' });
  });

  it('answers data triggers as documented', async () => {
    const p = { token: PRODUCER };
    const armed = await call('POST', '/v1/control/triggers/{id}/arm', 200, p, '/v1/control/triggers/ms-1b/arm');
    expect(armed.trigger).toMatchObject({ cueId: 'ms-1b', state: 'armed', willFire: false });
    await call('POST', '/v1/control/triggers/{id}/arm', 200, { ...p, body: { condition: { metric: 'productUnits', sku: 'SKU-9', atLeast: '5' } } }, '/v1/control/triggers/look-out/arm');
    expect((await call('GET', '/v1/control/triggers', 200, { token: VIEWER })).triggers).toHaveLength(2);
    await call('POST', '/v1/control/triggers/{id}/arm', 409, { ...p, body: { condition: { metric: 'orders', atLeast: '0' } } }, '/v1/control/triggers/ms-mobile/arm');
    await call('POST', '/v1/control/triggers/{id}/arm', 400, p, '/v1/control/triggers/board/arm');
    await call('POST', '/v1/control/triggers/{id}/arm', 404, p, '/v1/control/triggers/nope/arm');
    await call('POST', '/v1/control/triggers/{id}/disarm', 200, p, '/v1/control/triggers/ms-1b/disarm');
    await call('POST', '/v1/control/triggers/{id}/disarm', 200, p, '/v1/control/triggers/look-out/disarm');
    await call('POST', '/v1/control/triggers/{id}/disarm', 404, p, '/v1/control/triggers/ms-1b/disarm');
  });

  it('answers rundown edits as documented', async () => {
    const a = { token: ADMIN };
    let { rundownRev } = await call('GET', '/v1/control/rundown', 200, { token: VIEWER });
    const cue = {
      id: 'oa-cue',
      label: 'Every kind of step',
      kind: 'graphic',
      actions: [
        { type: 'graphic', graphic: 'lowerthird', command: 'play', data: { name: 'Ada', title: 'Host' } },
        { type: 'wait', ms: 10 },
        { type: 'obs', obs: { type: 'source-visible', scene: 'Runway', source: 'Logo', visible: true } },
        { type: 'obs', obs: { type: 'custom-event', data: { look: 3 } } },
      ],
      trigger: { metric: 'productUnits', sku: 'SKU-1', atLeast: '3' },
      products: ['SKU-1'],
    };
    await call('POST', '/v1/control/rundown/cues', 409, { ...a, body: { rundownRev: rundownRev + 5, cue } });
    await call('POST', '/v1/control/rundown/cues', 404, { ...a, body: { rundownRev, after: 'nope', cue } });
    await call('POST', '/v1/control/rundown/cues', 400, { ...a, body: { rundownRev, act: 'act-stars', cue: { ...cue, follow: 'later' } } });
    const added = await call('POST', '/v1/control/rundown/cues', 201, { ...a, body: { rundownRev, act: 'act-stars', cue } });
    expect(added.cue).toMatchObject({ id: 'oa-cue', act: 'act-stars', follow: 'none', notes: '' });
    rundownRev = added.rundownRev;
    const upd = await call('PUT', '/v1/control/rundown/cues/{id}', 200, { ...a, body: { rundownRev, cue: { label: 'Text and scene', actions: [{ type: 'obs', obs: { type: 'text', source: 'Caption', text: 'Hi' } }, { type: 'obs', obs: { type: 'scene', scene: 'Runway' } }, { type: 'obs', obs: { type: 'take' } }] } } }, '/v1/control/rundown/cues/oa-cue');
    rundownRev = upd.rundownRev;
    await call('PUT', '/v1/control/rundown/cues/{id}', 404, { ...a, body: { rundownRev, cue: { label: 'x' } } }, '/v1/control/rundown/cues/nope');
    await call('PUT', '/v1/control/rundown/cues/{id}', 409, { ...a, body: { rundownRev: rundownRev - 1, cue: { label: 'x' } } }, '/v1/control/rundown/cues/oa-cue');
    const moved = await call('POST', '/v1/control/rundown/cues/{id}/move', 200, { ...a, body: { after: null, rundownRev } }, '/v1/control/rundown/cues/oa-cue/move');
    rundownRev = moved.rundownRev;
    await call('POST', '/v1/control/rundown/cues/{id}/move', 400, { ...a, body: { rundownRev } }, '/v1/control/rundown/cues/oa-cue/move');
    await call('POST', '/v1/control/rundown/cues/{id}/move', 404, { ...a, body: { after: null, rundownRev } }, '/v1/control/rundown/cues/nope/move');
    await call('POST', '/v1/control/rundown/cues/{id}/move', 409, { ...a, body: { after: null, rundownRev: rundownRev - 1 } }, '/v1/control/rundown/cues/oa-cue/move');
    await call('DELETE', '/v1/control/rundown/cues/{id}', 409, a, `/v1/control/rundown/cues/oa-cue?rundownRev=${rundownRev - 1}`);
    await call('DELETE', '/v1/control/rundown/cues/{id}', 400, a, '/v1/control/rundown/cues/oa-cue');
    await call('DELETE', '/v1/control/rundown/cues/{id}', 200, a, `/v1/control/rundown/cues/oa-cue?rundownRev=${rundownRev}`);
    await call('DELETE', '/v1/control/rundown/cues/{id}', 404, a, `/v1/control/rundown/cues/oa-cue?rundownRev=${rundownRev + 1}`);
  });
});

describe('the control API in a rehearsal, against its OpenAPI document', () => {
  beforeAll(() => start({ rehearsal: { speed: 2, rate: 5, seed: 3, obs: 'log', wait: true, nightMs: null } }));
  afterAll(stop);

  it('answers the replay routes as documented', async () => {
    const p = { token: PRODUCER };
    expect((await call('GET', '/v1/control/rehearsal', 200, { token: VIEWER })).rehearsal).toMatchObject({ phase: 'ready', obs: 'log' });
    const refused = await call('POST', '/v1/control/rehearsal/pause', 409, p);
    expect(refused.state.rehearsal.phase).toBe('ready');
    await call('POST', '/v1/control/rehearsal/restart', 409, p);
    await call('POST', '/v1/control/rehearsal/start', 200, p);
    await call('POST', '/v1/control/rehearsal/speed', 200, { ...p, body: { speed: 3 } });
    await call('POST', '/v1/control/rehearsal/speed', 400, { ...p, body: { speed: 500 } });
    await call('POST', '/v1/control/rehearsal/pause', 200, p);
    await call('POST', '/v1/control/rehearsal/resume', 200, p);
    expect((await call('POST', '/v1/control/rehearsal/restart', 200, p)).rehearsal.run).toBe(2);
    expect((await call('GET', '/v1/control/state', 200, { token: VIEWER })).rehearsal).toMatchObject({ phase: 'running', speed: 3 });
  });

  it("answers the public feed's snapshot, marked rehearsal, as its own document says", async () => {
    const feed = createOpenApiCheck((await (await fetch(`${base}/v1/openapi.json`)).json()) as OpenApiDoc);
    expect(await feed.conforms('GET', '/v1/stats', await fetch(`${base}/v1/stats`))).toMatchObject({ rehearsal: true });
  });

  it('has called every documented route and seen its success answer', () => {
    const missing = operations()
      .filter((o) => ![200, 201, 303].some((s) => seen.has(`${o.method} ${o.path} ${s}`)))
      .map((o) => `${o.method} ${o.path}`);
    expect(missing).toEqual([]);
  });
});
