// A rehearsal against the whole system (embedded ClickHouse, real sockets, the real ingest): the replay at high
// speed reaching /v1/stats, everything marked rehearsal, a cue's OBS steps logged and never sent to the OBS that is
// configured, a data trigger firing on the replayed orders, start/pause/resume/speed/restart over the API and audited,
// refused for a viewer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage, ShowData } from '../../protocol/live-protocol.ts';
import { startObsSimulator, type ObsSimulator } from '../../test-support/obs-simulator.ts';
import { startTestSystem } from '../../test-support/system-harness.ts';
import { until } from '../../test-support/until.ts';
import type { AuditEntry } from '../audit-log.ts';
import type { ControlState } from '../control-room.ts';
import type { RehearsalView } from './replay.ts';

const PRODUCER = 'test-producer-token';
const VIEWER = 'test-viewer-token';

let obs: ObsSimulator;
let sys: Awaited<ReturnType<typeof startTestSystem>>;
let base: string;

beforeAll(async () => {
  obs = await startObsSimulator({ scenes: [{ name: 'Arena Wide' }, { name: 'Runway' }] });
  // An OBS url is known (as on the night), yet the rehearsal in log mode must never connect to it.
  sys = await startTestSystem({
    producerTokens: [PRODUCER],
    viewerTokens: [VIEWER],
    obsUrl: obs.url,
    rehearsal: { speed: 20, rate: 50, seed: 7, obs: 'log', wait: true, nightMs: null },
  });
  base = `http://127.0.0.1:${sys.system.httpPort}`;
});
afterAll(async () => {
  await sys?.cleanup();
  await obs?.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field
async function call(method: string, path: string, token: string | null = PRODUCER, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'x-operator': 'Rita' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
const view = async () => (await call('GET', '/v1/control/rehearsal', VIEWER)).body.rehearsal as RehearsalView;
const state = async () => (await call('GET', '/v1/control/state', VIEWER)).body as ControlState;
const stats = async () => (await (await fetch(`${base}/v1/stats`)).json()) as { orders: number; gmv: string; rehearsal?: boolean };

describe('rehearsal mode', () => {
  it('is marked everywhere before anything is replayed: show topic, /v1/stats, control state', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${sys.system.httpPort}/v1/live`);
    const show = new Promise<ShowData>((resolve) =>
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as ServerMessage;
        if (m.type === 'snapshot' && m.topic === 'show') resolve(m.data);
      }),
    );
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['show'] }));
    expect((await show).rehearsal).toBe(true);
    ws.close();
    expect((await stats()).rehearsal).toBe(true);
    const s = await state();
    expect(s.rehearsal).toMatchObject({ phase: 'ready', speed: 20, rate: 50, obs: 'log', sent: 0 });
    expect(s.obs).toMatchObject({ link: 'log-only', configured: true });
  });

  it('a viewer cannot drive the replay; nobody without a token can', async () => {
    for (const p of ['start', 'pause', 'resume', 'speed', 'restart']) {
      const v = await call('POST', `/v1/control/rehearsal/${p}`, VIEWER, {});
      expect(v.status, p).toBe(403);
      expect(v.body.error).toMatch(/^role: rehearsal\.\w+ needs the producer role/);
      expect((await call('POST', `/v1/control/rehearsal/${p}`, null, {})).status).toBe(401);
    }
    expect((await view()).phase).toBe('ready');
  });

  it('replays the night through the real ingest into /v1/stats; a data trigger fires on it; a cue\'s OBS steps are logged, not sent', async () => {
    const start = await call('POST', '/v1/control/rehearsal/start');
    expect(start.status).toBe(200);
    expect(start.body.rehearsal.phase).toBe('running');
    expect((await call('POST', '/v1/control/rehearsal/start')).body.error).toBe('rehearsal: cannot start while the replay is running');
    await until('orders in /v1/stats', stats, (s) => s.orders > 200);

    // A data trigger on the replayed GMV.
    const gmv = BigInt(Math.floor(Number((await stats()).gmv))) + 20_000n;
    const arm = await call('POST', '/v1/control/triggers/ms-1b/arm', PRODUCER, { condition: { metric: 'gmv', atLeast: gmv.toString() } });
    expect(arm.status).toBe(200);
    expect(arm.body.trigger.state).toBe('armed');
    const fired = await until('the trigger firing', state, (s) => s.history.some((r) => r.cueId === 'ms-1b' && r.phase === 'done'));
    const run = fired.history.find((r) => r.cueId === 'ms-1b')!;
    expect(run.cause).toBe('trigger');
    expect(run.details.join('\n')).toMatch(/obs scene \(logged only\): ok log only: would switch program to "Arena Wide"/);
    expect(fired.rehearsal!.acked).toBeGreaterThan(0);

    // A cue fired by hand: its OBS step is logged too, and the OBS on the configured url never heard from us.
    const fire = await call('POST', '/v1/control/cues/look-out/fire');
    expect(fire.status).toBe(200);
    expect(obs.connections).toBe(0);
    expect(obs.requests).toEqual([]);
  });

  it('pause, resume, speed and restart over the API, each audited; the simulated clock follows the speed', async () => {
    const speed = await call('POST', '/v1/control/rehearsal/speed', PRODUCER, { speed: 100 });
    expect(speed.status).toBe(200);
    expect(speed.body.rehearsal.speed).toBe(100);
    const tooFast = await call('POST', '/v1/control/rehearsal/speed', PRODUCER, { speed: 101 });
    expect(tooFast.status).toBe(400);
    expect(tooFast.body.error).toBe('speed: must be a number from 1 to 100 (got 101)');
    expect((await call('POST', '/v1/control/rehearsal/speed', PRODUCER, { speed: '9' })).body.error).toMatch(/^speed: must be a number/);

    const t0 = await view();
    const at0 = Date.now();
    const t1 = await until('a simulated minute', view, (v) => v.simMs - t0.simMs > 60_000);
    // At 100x over however long that took: faster than the 20x the replay ran at before (a busy machine lags the
    // clock a little, the ingest window too, but not to a quarter of the speed).
    expect(t1.simMs - t0.simMs).toBeGreaterThanOrEqual(((Date.now() - at0) * 100) / 4);
    expect(t1.simClock).toMatch(/^\d\d:\d\d:\d\d$/);

    const pause = await call('POST', '/v1/control/rehearsal/pause');
    expect(pause.body.rehearsal.phase).toBe('paused');
    await until('acks of what was in flight', view, (v) => v.inFlight === 0);
    const p0 = await view();
    await new Promise((r) => setTimeout(r, 400));
    const p1 = await view();
    expect([p1.sent, p1.simMs]).toEqual([p0.sent, p0.simMs]);
    // Once paused and drained, /v1/stats holds every order the replay had accepted.
    await until('stats caught up', stats, (s) => s.orders === p1.accepted);

    expect((await call('POST', '/v1/control/rehearsal/resume')).body.rehearsal.phase).toBe('running');
    await until('orders flowing again', view, (v) => v.sent > p1.sent);
    const restart = await call('POST', '/v1/control/rehearsal/restart');
    expect(restart.body.rehearsal).toMatchObject({ run: 2, phase: 'running' });
    expect(restart.body.rehearsal.simMs).toBeLessThan(p1.simMs);
    expect(restart.body.state.rehearsal.run).toBe(2);

    const audit = (await call('GET', '/v1/control/audit?operator=Rita&limit=200', VIEWER)).body.entries as AuditEntry[];
    const seen = audit.filter((e) => e.action.startsWith('rehearsal.')).map((e) => `${e.action}:${e.result}:${e.status}`);
    for (const a of ['rehearsal.start:ok:200', 'rehearsal.start:refused:409', 'rehearsal.speed:ok:200', 'rehearsal.speed:refused:400', 'rehearsal.pause:ok:200', 'rehearsal.resume:ok:200', 'rehearsal.restart:ok:200']) {
      expect(seen).toContain(a);
    }
    expect(seen).toContain('rehearsal.pause:refused:403');
    expect(audit.find((e) => e.action === 'rehearsal.speed' && e.result === 'ok')).toMatchObject({ role: 'producer', detail: 'speed 20x -> 100x' });
    expect((await call('POST', '/v1/control/rehearsal/pause')).status).toBe(200);
  });
});
