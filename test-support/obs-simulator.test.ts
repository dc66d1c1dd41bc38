// The OBS simulator against the protocol: a raw JSON client checks handshake, close codes, requests, batches and events; obs-websocket-js checks msgpack.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OBSWebSocket } from 'obs-websocket-js';
import { startObsSimulator, type ObsSimulator, type ObsSimulatorOptions } from './obs-simulator.ts';
import { until } from './until.ts';

const SCENES: ObsSimulatorOptions['scenes'] = [
  { name: 'Stage', items: [{ source: 'Lower third' }, { source: 'Logo', enabled: false }] },
  { name: 'Close-up' },
  { name: 'Break' },
];

interface Msg { op: number; d: Record<string, unknown> }

/** A hand-rolled obs-websocket JSON client: every frame it gets, in order, and how it closed. */
class RawClient {
  private readonly inbox: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  private events: string[] = [];
  /** Every frame in arrival order, as `event:<type>` or `response:<requestType>`: what came before what. */
  readonly frames: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;
  constructor(url: string, protocol: string | null = 'obswebsocket.json') {
    this.ws = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
    this.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Msg;
      if (m.op === 5) this.events.push(String(m.d.eventType));
      this.frames.push(m.op === 5 ? `event:${String(m.d.eventType)}` : m.op === 7 ? `response:${String(m.d.requestType)}` : `op:${m.op}`);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.inbox.push(m);
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }
  /** The next frame; the timeout only bounds a hang (a loaded machine is slow), unless a test waits for silence. */
  next(timeoutMs = 30_000): Promise<Msg> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message within timeout')), timeoutMs);
      this.waiters.push((x) => { clearTimeout(t); resolve(x); });
    });
  }
  /** The next message with this op, skipping others (events interleave with responses). */
  async nextOp(op: number, timeoutMs = 30_000): Promise<Msg> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.op === op) return m;
    }
  }
  send(op: number, d: unknown): void {
    this.ws.send(JSON.stringify({ op, d }));
  }
  async identify(extra: Record<string, unknown> = {}): Promise<Msg> {
    await this.next();
    this.send(1, { rpcVersion: 1, ...extra });
    return this.next();
  }
  async request(requestType: string, requestData?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const requestId = `r${Math.random()}`;
    this.send(6, { requestType, requestId, requestData });
    for (;;) {
      const m = await this.nextOp(7);
      if (m.d.requestId === requestId) return m.d;
    }
  }
  /** Event types received since the last drain, in order, left in place. */
  peekEvents(): string[] {
    return [...this.events];
  }
  /** Event types received since the last drain, in order. */
  drainEvents(): string[] {
    return this.events.splice(0);
  }
}

const b64sha = (s: string) => createHash('sha256').update(s).digest('base64');

let sim: ObsSimulator | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await sim?.close();
  sim = null;
});

async function start(opts: ObsSimulatorOptions = {}): Promise<ObsSimulator> {
  sim = await startObsSimulator({ scenes: SCENES, inputs: [{ name: 'Ticker', kind: 'text_ft2_source_v2', settings: { text: 'hello' } }], transitionMs: 150, ...opts });
  return sim;
}
function client(protocol?: string | null): RawClient {
  const c = new RawClient(sim!.url, protocol);
  clients.push(c);
  return c;
}

describe('obs simulator: handshake and close codes', () => {
  it('says Hello without a challenge when no password is set, and identifies', async () => {
    await start();
    const c = client();
    const hello = await c.next();
    expect(hello.op).toBe(0);
    expect(hello.d.rpcVersion).toBe(1);
    expect(hello.d.authentication).toBeUndefined();
    c.send(1, { rpcVersion: 1 });
    expect(await c.next()).toEqual({ op: 2, d: { negotiatedRpcVersion: 1 } });
  });

  it('checks the salted SHA-256 challenge and closes with 4009 on a wrong or missing answer', async () => {
    await start({ password: 'sesame' });
    const good = client();
    const hello = await good.next();
    const auth = hello.d.authentication as { challenge: string; salt: string };
    expect(auth.challenge.length).toBeGreaterThan(20);
    good.send(1, { rpcVersion: 1, authentication: b64sha(b64sha(`sesame${auth.salt}`) + auth.challenge) });
    expect((await good.next()).op).toBe(2);

    const wrong = client();
    const h2 = (await wrong.next()).d.authentication as { challenge: string; salt: string };
    expect(h2.challenge).not.toBe(auth.challenge);
    wrong.send(1, { rpcVersion: 1, authentication: b64sha(b64sha(`open${h2.salt}`) + h2.challenge) });
    expect((await wrong.closed).code).toBe(4009);

    const missing = client();
    await missing.next();
    missing.send(1, { rpcVersion: 1 });
    expect((await missing.closed).code).toBe(4009);
  });

  it.each([
    ['a request before Identify', (c: RawClient) => c.send(6, { requestType: 'GetVersion', requestId: '1' }), 4007],
    ['an unsupported rpcVersion', (c: RawClient) => c.send(1, { rpcVersion: 2 }), 4010],
    ['an Identify without rpcVersion', (c: RawClient) => c.send(1, {}), 4003],
    ['an rpcVersion that is not a number', (c: RawClient) => c.send(1, { rpcVersion: '1' }), 4004],
    ['a pre-5 message', (c: RawClient) => c.ws.send(JSON.stringify({ 'request-type': 'GetVersion', 'message-id': '1' })), 4010],
    ['text that is not JSON', (c: RawClient) => c.ws.send('{nope'), 4002],
    ['a binary frame on the JSON subprotocol', (c: RawClient) => c.ws.send(Buffer.from('{}')), 4002],
    ['a message without op', (c: RawClient) => c.ws.send(JSON.stringify({ d: {} })), 4006],
    ['a message without d', (c: RawClient) => c.ws.send(JSON.stringify({ op: 1 })), 4003],
  ])('closes on %s with %s', async (_what, act, code) => {
    await start();
    const c = client();
    await c.next();
    act(c);
    expect((await c.closed).code).toBe(code);
  });

  it.each([
    ['a second Identify', { op: 1, d: { rpcVersion: 1 } }, 4008],
    ['an unknown op', { op: 42, d: {} }, 4006],
    ['a request without requestType', { op: 6, d: { requestId: 'x' } }, 4003],
    ['a request without requestId', { op: 6, d: { requestType: 'GetVersion' } }, 4003],
    ['a batch with execution type None', { op: 8, d: { requestId: 'b', executionType: -1, requests: [] } }, 4005],
    ['a batch with a non-boolean haltOnFailure', { op: 8, d: { requestId: 'b', haltOnFailure: 'yes', requests: [] } }, 4004],
    ['a batch whose requests is not an array', { op: 8, d: { requestId: 'b', requests: {} } }, 4004],
    ['a Reidentify with a non-integer subscription', { op: 3, d: { eventSubscriptions: 'all' } }, 4004],
  ])('after Identify, closes on %s with %s', async (_what, msg, code) => {
    await start();
    const c = client();
    await c.identify();
    c.send(msg.op, msg.d);
    expect((await c.closed).code).toBe(code);
  });

  it('refuses a subprotocol OBS does not speak, and speaks JSON when none is named', async () => {
    await start();
    const bad = new WebSocket(sim!.url, 'graphql-ws');
    const status = await new Promise<number>((resolve) => bad.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }));
    expect(status).toBe(400);
    const plain = client(null);
    expect((await plain.identify()).op).toBe(2);
  });
});

describe('obs simulator: requests', () => {
  it('answers with realistic data and the protocol status codes', async () => {
    await start();
    const c = client();
    await c.identify();
    const version = await c.request('GetVersion');
    expect(version.requestStatus).toEqual({ result: true, code: 100 });
    expect((version.responseData as { rpcVersion: number }).rpcVersion).toBe(1);
    const list = (await c.request('GetSceneList')).responseData as { currentProgramSceneName: string; scenes: { sceneName: string; sceneIndex: number }[] };
    expect(list.currentProgramSceneName).toBe('Stage');
    expect(list.scenes.map((s) => s.sceneName)).toEqual(['Break', 'Close-up', 'Stage']);
    expect(list.scenes.map((s) => s.sceneIndex)).toEqual([0, 1, 2]);
    expect((await c.request('Frobnicate')).requestStatus).toMatchObject({ result: false, code: 204 });
    expect((await c.request('SetCurrentProgramScene', {})).requestStatus).toMatchObject({ result: false, code: 300 });
    expect((await c.request('SetCurrentProgramScene', { sceneName: 'Nowhere' })).requestStatus).toMatchObject({ result: false, code: 600 });
    expect((await c.request('SetCurrentPreviewScene', { sceneName: 'Break' })).requestStatus).toMatchObject({ code: 506 });
    expect((await c.request('SetCurrentSceneTransitionDuration', { transitionDuration: 10 })).requestStatus).toMatchObject({ code: 402 });
    expect((await c.request('Sleep', { sleepMillis: 10 })).requestStatus).toMatchObject({ code: 206 });
    const tr = (await c.request('GetCurrentSceneTransition')).responseData as { transitionName: string; transitionDuration: number };
    expect(tr).toMatchObject({ transitionName: 'Fade', transitionDuration: 150 });
  });

  it('shows and hides scene items and sets text, with their events', async () => {
    await start();
    const c = client();
    await c.identify();
    const id = ((await c.request('GetSceneItemId', { sceneName: 'Stage', sourceName: 'Logo' })).responseData as { sceneItemId: number }).sceneItemId;
    expect((await c.request('SetSceneItemEnabled', { sceneName: 'Stage', sceneItemId: id, sceneItemEnabled: true })).requestStatus).toMatchObject({ code: 100 });
    expect(sim!.itemEnabled('Stage', 'Logo')).toBe(true);
    const items = (await c.request('GetSceneItemList', { sceneName: 'Stage' })).responseData as { sceneItems: { sourceName: string; sceneItemEnabled: boolean }[] };
    expect(items.sceneItems.find((i) => i.sourceName === 'Logo')?.sceneItemEnabled).toBe(true);
    expect((await c.request('SetSceneItemEnabled', { sceneName: 'Stage', sceneItemId: 999, sceneItemEnabled: true })).requestStatus).toMatchObject({ code: 600 });
    await c.request('SetInputSettings', { inputName: 'Ticker', inputSettings: { text: 'GMV 1,000,000' } });
    const settings = (await c.request('GetInputSettings', { inputName: 'Ticker' })).responseData as { inputSettings: { text: string } };
    expect(settings.inputSettings.text).toBe('GMV 1,000,000');
    expect(c.drainEvents()).toEqual(['SceneItemEnableStateChanged', 'InputSettingsChanged']);
    expect(sim!.requests.map((r) => r.requestType)).toContain('SetInputSettings');
  });
});

describe('obs simulator: batches', () => {
  async function batch(c: RawClient, d: Record<string, unknown>) {
    c.send(8, { requestId: 'b1', ...d });
    return (await c.nextOp(9)).d as { requestId: string; results: { requestType: string; requestStatus: { code: number } }[] };
  }

  it('runs serially in order, sleeps, and halts on failure only when asked', async () => {
    await start();
    const c = client();
    await c.identify();
    const t0 = Date.now();
    const ok = await batch(c, { requests: [{ requestType: 'GetVersion' }, { requestType: 'Sleep', requestData: { sleepMillis: 120 } }, { requestType: 'GetStats' }] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    expect(ok.requestId).toBe('b1');
    expect(ok.results.map((r) => [r.requestType, r.requestStatus.code])).toEqual([['GetVersion', 100], ['Sleep', 100], ['GetStats', 100]]);
    const requests = [{ requestType: 'SetCurrentProgramScene', requestData: { sceneName: 'Nowhere' } }, { requestType: 'GetVersion' }];
    expect((await batch(c, { haltOnFailure: true, requests })).results.map((r) => r.requestStatus.code)).toEqual([600]);
    expect((await batch(c, { haltOnFailure: false, requests })).results.map((r) => r.requestStatus.code)).toEqual([600, 100]);
  });

  it('paces SerialFrame by frames and refuses Sleep in Parallel', async () => {
    await start();
    const c = client();
    await c.identify();
    const t0 = Date.now();
    const frames = await batch(c, { executionType: 1, requests: [{ requestType: 'Sleep', requestData: { sleepFrames: 6 } }, { requestType: 'Sleep', requestData: { sleepMillis: 5 } }] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(frames.results.map((r) => r.requestStatus.code)).toEqual([100, 300]);
    const par = await batch(c, { executionType: 2, requests: [{ requestType: 'GetVersion' }, { requestType: 'Sleep', requestData: { sleepMillis: 5 } }] });
    expect(par.results.map((r) => r.requestStatus.code)).toEqual([100, 206]);
    expect(sim!.requests.filter((r) => r.batch !== null).map((r) => r.batch)).toEqual([1, 1, 2, 2]);
  });
});

describe('obs simulator: events and transitions', () => {
  it('changes program at the end of the transition and honours subscriptions and Reidentify', async () => {
    await start({ transitionMs: 1000 });
    const all = client();
    await all.identify();
    const scenesOnly = client();
    await scenesOnly.identify({ eventSubscriptions: 4 });
    await all.request('SetCurrentProgramScene', { sceneName: 'Close-up' });
    expect(sim!.transitioning).toBe(true); // 1 s of transition: set just now
    const during = ((await all.request('GetCurrentProgramScene')).responseData as { sceneName: string }).sceneName;
    await until('the end of the transition', () => all.peekEvents().includes('SceneTransitionEnded') && scenesOnly.peekEvents().length > 0);
    expect(sim!.transitioning).toBe(false);
    // Program changes at the end: asked before OBS announced the change (the order the frames came in, not the
    // clock), the answer is the old scene.
    expect(all.frames.indexOf('response:GetCurrentProgramScene')).toBeLessThan(all.frames.indexOf('event:CurrentProgramSceneChanged'));
    expect(during).toBe('Stage');
    expect(all.drainEvents()).toEqual(['SceneTransitionStarted', 'CurrentProgramSceneChanged', 'SceneTransitionEnded']);
    expect(scenesOnly.drainEvents()).toEqual(['CurrentProgramSceneChanged']);
    scenesOnly.send(3, { eventSubscriptions: 16 });
    expect((await scenesOnly.nextOp(2)).d.negotiatedRpcVersion).toBe(1);
    expect(sim!.subscriptions()).toEqual([4095, 16]);
    await all.request('SetCurrentProgramScene', { sceneName: 'Stage' });
    await until('the second transition seen', () => scenesOnly.peekEvents().includes('SceneTransitionEnded'));
    expect(scenesOnly.drainEvents()).toEqual(['SceneTransitionStarted', 'SceneTransitionEnded']);
  });

  it('does studio mode: preview, take with a transition, swap', async () => {
    await start({ transitionMs: 100 });
    const c = client();
    await c.identify();
    await c.request('SetStudioModeEnabled', { studioModeEnabled: true });
    await c.request('SetCurrentPreviewScene', { sceneName: 'Break' });
    expect(sim!.previewScene).toBe('Break');
    await c.request('TriggerStudioModeTransition');
    await until('the take over', () => c.peekEvents().filter((e) => e === 'CurrentPreviewSceneChanged').length === 2);
    // The take answered first, the program changed after (the order the frames came in, not the clock).
    expect(c.frames.indexOf('response:TriggerStudioModeTransition')).toBeLessThan(c.frames.indexOf('event:CurrentProgramSceneChanged'));
    expect(sim!.programScene).toBe('Break');
    expect(sim!.previewScene).toBe('Stage');
    expect(c.drainEvents()).toEqual(['StudioModeStateChanged', 'CurrentPreviewSceneChanged', 'SceneTransitionStarted', 'CurrentProgramSceneChanged', 'SceneTransitionEnded', 'CurrentPreviewSceneChanged']);
  });
});

describe('obs simulator: msgpack with obs-websocket-js, and failure controls', () => {
  it('speaks msgpack to obs-websocket-js with a password and relays custom events', async () => {
    await start({ password: 'sesame' });
    const obs = new OBSWebSocket();
    try {
      const info = await obs.connect(sim!.url, 'sesame');
      expect(info.negotiatedRpcVersion).toBe(1);
      const got = new Promise<unknown>((resolve) => obs.once('CustomEvent', resolve));
      await obs.call('BroadcastCustomEvent', { eventData: { cue: 'confetti', n: 3 } });
      expect(await got).toEqual({ cue: 'confetti', n: 3 });
      const scenes = await obs.call('GetSceneList');
      expect(scenes.currentProgramSceneName).toBe('Stage');
    } finally {
      await obs.disconnect();
    }
  });

  it('kills silently, restarts on the same port, stops with ExitStarted, and goes silent', async () => {
    await start();
    const port = sim!.port;
    const a = client();
    await a.identify();
    await sim!.kill();
    expect((await a.closed).code).toBe(1006);
    await sim!.restart();
    expect(sim!.port).toBe(port);
    const b = client();
    await b.identify();
    await sim!.stop();
    expect((await b.nextOp(5)).d.eventType).toBe('ExitStarted');
    expect((await b.closed).code).toBe(1001);
    await sim!.restart();
    const c = client();
    await c.identify();
    sim!.goSilent();
    c.send(6, { requestType: 'GetStats', requestId: 'hb' });
    await expect(c.next(300)).rejects.toThrow('no message');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });
});
