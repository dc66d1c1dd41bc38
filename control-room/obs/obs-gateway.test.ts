// The OBS gateway driven through the real obs-websocket-js against the protocol simulator: switching, studio mode, batches, crashes, silence, passwords.
import { afterEach, describe, expect, it } from 'vitest';
import { startObsSimulator, type ObsSimulator, type ObsSimulatorOptions } from '../../test-support/obs-simulator.ts';
import { until as untilRead } from '../../test-support/until.ts';
import { createObsGateway, type ObsGateway, type ObsGatewayOptions } from './obs-gateway.ts';
import type { ObsStatus } from '../../domain/obs-port.ts';

const SCENES: ObsSimulatorOptions['scenes'] = [
  { name: 'Stage', items: [{ source: 'Lower third', enabled: false }, { source: 'Logo' }] },
  { name: 'Close-up' },
  { name: 'Break' },
];

let sim: ObsSimulator | null = null;
let gw: ObsGateway | null = null;
let logged: { event: string; fields: Record<string, unknown> }[] = [];

afterEach(async () => {
  await gw?.close();
  await sim?.close();
  gw = null;
  sim = null;
  logged = [];
});

async function start(simOpts: ObsSimulatorOptions = {}, gwOpts: Partial<ObsGatewayOptions> = {}): Promise<{ sim: ObsSimulator; gw: ObsGateway }> {
  sim = await startObsSimulator({
    scenes: SCENES,
    inputs: [{ name: 'Ticker', kind: 'text_ft2_source_v2', settings: { text: '' } }],
    transitionMs: 200,
    ...simOpts,
  });
  gw = createObsGateway({
    url: sim.url,
    password: simOpts.password ?? null,
    log: (event, fields = {}) => logged.push({ event, fields }),
    heartbeatMs: 100,
    timeoutMs: 400,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
    ...gwOpts,
  });
  return { sim, gw };
}

/** Waits until the gateway (or the simulator) is in some state; if it never is, the failure shows the status. */
const until = (what: string, pred: () => boolean) => untilRead(what, pred, { everyMs: 10, detail: () => gw?.status() });
const connected = () => until('the link', () => gw!.status().link === 'connected');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('obs gateway: state and scene switching', () => {
  it('reads the scene list, program and studio mode on connect, and measures the heartbeat', async () => {
    await start();
    await connected();
    const s = gw!.status();
    expect(s).toMatchObject({ configured: true, link: 'connected', scenes: ['Stage', 'Close-up', 'Break'], programScene: 'Stage', previewScene: null, studioMode: false, transition: null, lastError: null });
    expect(s.url).toBe(sim!.url);
    await until('a heartbeat', () => gw!.status().rttMs !== null);
    expect(sim!.requests.some((r) => r.requestType === 'GetStats')).toBe(true);
  });

  it('switches the program scene and follows the transition itself', async () => {
    await start();
    await connected();
    const seen: ObsStatus[] = [];
    gw!.onStatus((s) => seen.push(s));
    const res = await gw!.run([{ type: 'scene', scene: 'Close-up' }]);
    expect(res).toMatchObject({ ok: true, logOnly: false });
    expect(res.results[0]!.detail).toBe('program switched to "Close-up"');
    await until('the transition', () => gw!.status().transition !== null);
    expect(gw!.status().transition).toMatchObject({ from: 'Stage', to: 'Close-up' });
    expect(gw!.status().programScene).toBe('Stage');
    await until('the end of the transition', () => gw!.status().transition === null);
    expect(gw!.status().programScene).toBe('Close-up');
    expect(sim!.programScene).toBe('Close-up');
    // Program changed only once the transition ended, and every change bumped the revision.
    const duringTransition = seen.filter((s) => s.transition !== null);
    expect(duringTransition.every((s) => s.programScene === 'Stage')).toBe(true);
    expect(seen.map((s) => s.rev)).toEqual([...seen.map((s) => s.rev)].sort((a, b) => a - b));
    const again = await gw!.run([{ type: 'scene', scene: 'Close-up' }]);
    expect(again.results[0]!.detail).toBe('"Close-up" is already on program');
  });

  it('follows a switch made in OBS itself, learning the target when OBS reports the new program', async () => {
    await start();
    await connected();
    sim!.switchProgramFromUi('Break');
    await until('the transition', () => gw!.status().transition !== null);
    expect(gw!.status().transition!.to).toBe('(unknown)');
    await until('the end', () => gw!.status().transition === null);
    expect(gw!.status().programScene).toBe('Break');
  });

  it('re-reads OBS when a transition never reports its end (OBS does not for an interrupted one)', async () => {
    await start({ transitionMs: 100 }, { transitionGraceMs: 600 });
    await connected();
    const seen: { at: number; transition: boolean }[] = [];
    gw!.onStatus((st) => seen.push({ at: Date.now(), transition: st.transition !== null }));
    sim!.dropEvent('SceneTransitionEnded');
    await gw!.run([{ type: 'scene', scene: 'Break' }]);
    await until('the transition', () => gw!.status().transition !== null);
    await until('the watchdog', () => gw!.status().transition === null);
    // Kept through the transition's 100 ms and the 600 ms grace (timers never fire early), then cleared by the
    // watchdog's re-read: timed by the gateway's own status changes, not by when this test looked.
    const began = seen.find((st) => st.transition)!.at;
    const cleared = seen.find((st) => st.at >= began && !st.transition)!.at;
    expect(cleared - began).toBeGreaterThanOrEqual(600);
    expect(gw!.status().programScene).toBe('Break');
    expect(logged.some((l) => l.event === 'obs.transition_unfinished')).toBe(true);
  });

  it('does studio mode preview-then-take, and queues a conflicting cue until the transition ends', async () => {
    await start({ studioMode: true, transitionMs: 400 });
    await connected();
    expect(gw!.status()).toMatchObject({ studioMode: true, previewScene: 'Stage', programScene: 'Stage' });
    expect((await gw!.run([{ type: 'preview', scene: 'Break' }])).ok).toBe(true);
    expect(gw!.status().previewScene).toBe('Break');
    const take = await gw!.run([{ type: 'take' }]);
    expect(take.ok).toBe(true);
    await until('the take', () => gw!.status().transition !== null);
    expect(gw!.status().transition).toMatchObject({ from: 'Stage', to: 'Break' });
    // A producer fires the next scene while the take is still fading: it waits, it does not cut the fade. Timed on
    // the simulator's clock from the take it received: the 400 ms fade has run before the next scene is asked for.
    const next = await gw!.run([{ type: 'scene', scene: 'Close-up' }]);
    const takenAt = sim!.requests.find((r) => r.requestType === 'TriggerStudioModeTransition')!.at;
    const endedAt = sim!.requests.find((r) => r.requestType === 'SetCurrentPreviewScene' && r.requestData?.sceneName === 'Close-up')!.at;
    expect(next.ok).toBe(true);
    expect(next.results[0]!.detail).toMatch(/after waiting \d+ ms for the transition to "Break"/);
    expect(endedAt - takenAt).toBeGreaterThanOrEqual(390);
    await until('the second transition to end', () => gw!.status().programScene === 'Close-up' && gw!.status().transition === null);
    // OBS swapped the old program into preview after each take.
    expect(gw!.status().previewScene).toBe('Break');
    expect(sim!.programScene).toBe('Close-up');
  });

  it('bounds the cues waiting for a transition and refuses the rest', async () => {
    await start({ transitionMs: 600 }, { maxWaiting: 2 });
    await connected();
    await gw!.run([{ type: 'scene', scene: 'Close-up' }]);
    await until('the transition', () => gw!.status().transition !== null);
    const queued = [gw!.run([{ type: 'scene', scene: 'Break' }]), gw!.run([{ type: 'scene', scene: 'Stage' }])];
    const third = await gw!.run([{ type: 'scene', scene: 'Break' }]);
    expect(third.ok).toBe(false);
    expect(third.results[0]!.detail).toContain('OBS busy');
    expect((await Promise.all(queued)).map((r) => r.ok)).toEqual([true, true]);
    await until('the last transition', () => gw!.status().programScene === 'Stage' && gw!.status().transition === null);
  });
});

describe('obs gateway: cues as batches', () => {
  it('runs a multi-step cue as one request batch', async () => {
    await start();
    await connected();
    const cue = [
      { type: 'text', source: 'Ticker', text: 'GMV ¥1,000,000' },
      { type: 'source-visible', scene: 'Stage', source: 'Lower third', visible: true },
      { type: 'custom-event', data: { moment: 'milestone' } },
      { type: 'scene', scene: 'Break' },
    ] as const;
    const res = await gw!.run(cue);
    expect(res.ok).toBe(true);
    expect(res.results.map((r) => r.ok)).toEqual([true, true, true, true]);
    const cueRequests = sim!.requests.filter((r) => ['SetInputSettings', 'SetSceneItemEnabled', 'BroadcastCustomEvent', 'SetCurrentProgramScene'].includes(r.requestType));
    expect(cueRequests.map((r) => r.requestType)).toEqual(['SetInputSettings', 'SetSceneItemEnabled', 'BroadcastCustomEvent', 'SetCurrentProgramScene']);
    expect(new Set(cueRequests.map((r) => r.batch)).size).toBe(1);
    expect(cueRequests[0]!.batch).not.toBeNull();
    expect(sim!.inputSettings('Ticker').text).toBe('GMV ¥1,000,000');
    expect(sim!.itemEnabled('Stage', 'Lower third')).toBe(true);
    // The scene item id was looked up once; the second run reuses it.
    await gw!.run([{ type: 'source-visible', scene: 'Stage', source: 'Lower third', visible: false }]);
    expect(sim!.requests.filter((r) => r.requestType === 'GetSceneItemId')).toHaveLength(1);
    expect(sim!.itemEnabled('Stage', 'Lower third')).toBe(false);
  });

  it('halts a batch at the first step OBS refuses and says which steps did not run', async () => {
    await start();
    await connected();
    const res = await gw!.run([
      { type: 'custom-event', data: { n: 1 } },
      { type: 'text', source: 'No such input', text: 'x' },
      { type: 'scene', scene: 'Break' },
    ]);
    expect(res.ok).toBe(false);
    expect(res.results.map((r) => r.ok)).toEqual([true, false, false]);
    expect(res.results[1]!.detail).toMatch(/OBS refused SetInputSettings \(600/);
    expect(res.results[2]!.detail).toBe('not run: an earlier step failed');
    // Never sent, so OBS cannot switch later either.
    expect(sim!.requests.some((r) => r.requestType === 'SetCurrentProgramScene')).toBe(false);
    expect(sim!.programScene).toBe('Stage');
    expect(gw!.status().programScene).toBe('Stage');
  });

  it('refuses a cue that cannot run whole before sending anything', async () => {
    await start();
    await connected();
    const before = sim!.requests.filter((r) => r.requestType !== 'GetStats').length;
    const cases = [
      [[{ type: 'text', source: 'Ticker', text: 'x' }, { type: 'scene', scene: 'Backstage' }], 'OBS has no scene "Backstage"'],
      [[{ type: 'preview', scene: 'Break' }], 'needs studio mode'],
      [[{ type: 'scene', scene: 'Break' }, { type: 'scene', scene: 'Stage' }], 'change the program scene once'],
    ] as const;
    for (const [actions, why] of cases) {
      const res = await gw!.run(actions);
      expect(res.ok).toBe(false);
      expect(res.results.every((r) => !r.ok && r.detail.includes(why) && r.detail.endsWith('nothing sent'))).toBe(true);
    }
    const missingSource = await gw!.run([{ type: 'source-visible', scene: 'Stage', source: 'Ghost', visible: true }, { type: 'scene', scene: 'Break' }]);
    expect(missingSource.results[0]!.detail).toBe('OBS has no source "Ghost" in scene "Stage"; nothing sent');
    const sent = sim!.requests.filter((r) => r.requestType !== 'GetStats').slice(before).map((r) => r.requestType);
    expect(sent).toEqual(['GetSceneItemId']);
  });
});

describe('obs gateway: failures', () => {
  it('reconnects after OBS is killed and restarted mid-show, re-reading its state', async () => {
    await start({}, { timeoutMs: 2000 });
    await connected();
    await gw!.run([{ type: 'scene', scene: 'Close-up' }]);
    await until('program', () => gw!.status().programScene === 'Close-up');
    const killedAt = Date.now();
    await sim!.kill();
    await until('the loss', () => gw!.status().link === 'reconnecting');
    const during = await gw!.run([{ type: 'scene', scene: 'Break' }]);
    expect(during.ok).toBe(false);
    expect(during.results[0]!.detail).toMatch(/^OBS is not connected \(reconnecting/);
    // While OBS was down an operator changed scene in it (scene collection reopened on another scene).
    sim!.switchProgramFromUi('Break');
    // It keeps trying, with growing (jittered, capped at 200 ms here) delays rather than a tight loop: delays of
    // at least 25, 50, then 100 ms each allow at most 2 + 1 per 100 ms of attempts, however long this took.
    const failed = () => logged.filter((l) => l.event === 'obs.connect_failed');
    await until('two failed attempts', () => failed().length >= 2);
    const retries = failed();
    expect(retries.length).toBeLessThanOrEqual(2 + (Date.now() - killedAt) / 100);
    expect(retries.map((l) => l.fields.attempt)).toEqual(retries.map((_, i) => i + 1));
    await sim!.restart();
    await connected();
    expect(gw!.status().programScene).toBe('Break');
    expect(logged.some((l) => l.event === 'obs.disconnected')).toBe(true);
    const after = await gw!.run([{ type: 'scene', scene: 'Stage' }]);
    expect(after.ok).toBe(true);
    await until('program back on Stage', () => gw!.status().programScene === 'Stage');
  });

  it('detects an OBS that goes silent with the heartbeat and reconnects when it answers again', async () => {
    await start({}, { heartbeatMs: 100, timeoutMs: 300 });
    await connected();
    sim!.goSilent();
    await until('the heartbeat to notice', () => gw!.status().link === 'reconnecting');
    // Noticed by the heartbeat's own 300 ms timeout (not a socket error or a longer default): the error says so.
    // How soon in wall-clock time is the scheduler's business; a wrong timeout would name another figure.
    expect(gw!.status().lastError).toContain('did not answer the heartbeat within 300 ms');
    expect(gw!.status().rttMs).toBeNull();
    sim!.goSilent(false);
    await connected();
    expect(sim!.sessions).toBe(1);
  });

  it('refuses a wrong password with a message naming GALA_OBS_PASSWORD, without a tight retry loop', async () => {
    sim = await startObsSimulator({ scenes: SCENES, password: 'right horse battery' });
    gw = createObsGateway({ url: sim.url, password: 'wrong', log: (event, fields = {}) => logged.push({ event, fields }), backoffBaseMs: 10, slowRetryMs: 5000 });
    await until('auth-failed', () => gw!.status().link === 'auth-failed');
    const failedAt = Date.now();
    expect(gw!.status().lastError).toMatch(/refused the password.*GALA_OBS_PASSWORD/);
    await sleep(500);
    // No tight loop: one more try per slowRetryMs (5 s) at the most, whatever this pause really lasted.
    expect(sim.connections).toBeLessThanOrEqual(1 + Math.floor((Date.now() - failedAt) / 5000));
    expect(logged.filter((l) => l.event === 'obs.auth_failed')).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain('wrong');
    const res = await gw!.run([{ type: 'scene', scene: 'Break' }]);
    expect(res.results[0]!.detail).toContain('auth-failed');
  });

  it('says the password is missing when OBS asks for one and none is set', async () => {
    sim = await startObsSimulator({ scenes: SCENES, password: 'pw' });
    gw = createObsGateway({ url: sim.url, password: null, log: () => {}, slowRetryMs: 5000 });
    await until('auth-failed', () => gw!.status().link === 'auth-failed');
    expect(gw!.status().lastError).toContain('GALA_OBS_PASSWORD is not set');
  });

  it('follows close codes: a clean OBS exit reconnects, a kick (4011) stays off', async () => {
    await start();
    await connected();
    await sim!.stop();
    await until('the exit', () => gw!.status().link === 'reconnecting');
    expect(gw!.status().lastError).toContain('1001');
    expect(logged.some((l) => l.event === 'obs.exit_started')).toBe(true);
    await sim!.restart();
    await connected();
    sim!.kickAll();
    await until('off', () => gw!.status().link === 'off');
    expect(gw!.status().lastError).toContain('4011');
    const connections = sim!.connections;
    await sleep(400);
    expect(sim!.connections).toBe(connections);
  });

  it('refuses a url that is not a WebSocket url, naming the setting', () => {
    expect(() => createObsGateway({ url: 'http://obs:4455', password: null, log: () => {} })).toThrow(/GALA_OBS_URL: must be a ws:\/\//);
  });
});
