// A rehearsal with `--obs live` drives the rehearsal OBS for real (obs-websocket-js against the obs-websocket 5
// simulator); a process on air has no rehearsal routes to drive (404) and says rehearsal: null.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startObsSimulator, type ObsSimulator } from '../../test-support/obs-simulator.ts';
import { startTestSystem } from '../../test-support/system-harness.ts';
import { until } from '../../test-support/until.ts';
import type { ControlState } from '../control-room.ts';

const PRODUCER = 'test-producer-token';
let obs: ObsSimulator;
let rehearsal: Awaited<ReturnType<typeof startTestSystem>>;
let air: Awaited<ReturnType<typeof startTestSystem>>;

const call = async (port: number, method: string, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { authorization: `Bearer ${PRODUCER}` } });
  return { status: res.status, body: (await res.json()) as { error?: string; rehearsal?: unknown; history?: ControlState['history'] } & Partial<ControlState> };
};

// One embedded engine per process: the two systems run one after the other.
describe('rehearsal with --obs live', () => {
  beforeAll(async () => {
    obs = await startObsSimulator({ scenes: [{ name: 'Start' }, { name: 'Arena Wide' }] });
    rehearsal = await startTestSystem({ obsUrl: obs.url, rehearsal: { speed: 10, rate: 20, seed: 1, obs: 'live', wait: true, nightMs: null } });
  });
  afterAll(async () => {
    await rehearsal?.cleanup();
    await obs?.close();
  });

  it('a cue fired in the rehearsal switches the rehearsal OBS', async () => {
    const port = rehearsal.system.httpPort;
    await until('the rehearsal OBS connected', () => rehearsal.system.obs.status().link === 'connected');
    expect((await call(port, 'GET', '/v1/control/state')).body.rehearsal).toMatchObject({ obs: 'live', phase: 'ready' });
    expect((await call(port, 'POST', '/v1/control/cues/open-scene/fire')).status).toBe(200);
    await until('the scene switch sent to OBS', () => obs.requests.some((r) => r.requestType === 'SetCurrentProgramScene'));
    expect(obs.requests.find((r) => r.requestType === 'SetCurrentProgramScene')?.requestData).toEqual({ sceneName: 'Arena Wide' });
    const run = (await call(port, 'GET', '/v1/control/state')).body.history!.find((r) => r.cueId === 'open-scene')!;
    expect(run.details.join('\n')).not.toMatch(/logged only/);
  });
});

describe('on air', () => {
  beforeAll(async () => {
    air = await startTestSystem();
  });
  afterAll(async () => {
    await air?.cleanup();
  });

  it('on air there is no rehearsal: its routes answer 404 and the control state says null', async () => {
    const port = air.system.httpPort;
    expect(air.system.rehearsal).toBeNull();
    expect((await call(port, 'GET', '/v1/control/state')).body.rehearsal).toBeNull();
    for (const [m, p] of [['GET', '/v1/control/rehearsal'], ['POST', '/v1/control/rehearsal/start']] as const) {
      const r = await call(port, m, p);
      expect(r.status).toBe(404);
      expect(r.body.error).toBe('rehearsal: this process is on air, not a rehearsal (start one with `gala rehearse`)');
    }
    const stats = (await (await fetch(`http://127.0.0.1:${port}/v1/stats`)).json()) as Record<string, unknown>;
    expect('rehearsal' in stats).toBe(false);
  });
});
