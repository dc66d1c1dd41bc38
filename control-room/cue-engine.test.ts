// The cue list's rules with real Graphics and a recording OBS: GO and its race, the plain GO and double-GO
// protection, arm-then-fire, hold-to-fire (by id and on the standby cue), pre/post waits and follow chains (fake
// timers), undo within its window, panic, and edits with revision checks.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseRundown } from '../domain/rundown.ts';
import { Graphics } from '../overlays/server/graphics.ts';
import { createMemoryObs } from '../test-support/memory-obs.ts';
import { ControlError } from './control-error.ts';
import { CueEngine, type Actor } from './cue-engine.ts';

const ann: Actor = { operator: 'Ann', role: 'producer', via: 'session' };
const bob: Actor = { operator: 'Bob', role: 'producer', via: 'token' };

const rundown = () =>
  parseRundown({
    armWindowMs: 5000,
    holdMs: 800,
    undoWindowMs: 10_000,
    acts: [
      { id: 'a1', label: 'Act 1', cues: [
        { id: 'c1', label: 'Lower third', actions: [{ type: 'graphic', graphic: 'lowerthird', command: 'play', data: { title: 'Hello' } }] },
        { id: 'c2', label: 'Scene and product', onAir: true, actions: [{ type: 'obs', obs: { type: 'scene', scene: 'Runway' } }, { type: 'graphic', graphic: 'product', command: 'play', data: { sku: 'S1' } }] },
        { id: 'c3', label: 'Pre-wait', preWaitMs: 2000, actions: [{ type: 'graphic', graphic: 'lowerthird', command: 'stop' }] },
      ] },
      { id: 'a2', label: 'Act 2', cues: [
        { id: 'f1', label: 'Chain start', follow: 'auto-follow', postWaitMs: 1000, actions: [{ type: 'graphic', graphic: 'leaderboard', command: 'play' }, { type: 'wait', ms: 500 }] },
        { id: 'f2', label: 'Chain continue', follow: 'auto-continue', postWaitMs: 300, actions: [{ type: 'graphic', graphic: 'milestone', command: 'play' }] },
        { id: 'f3', label: 'Chain end', actions: [{ type: 'graphic', graphic: 'leaderboard', command: 'stop' }] },
        { id: 'f4', label: 'On air, never by a chain', onAir: true, actions: [] },
      ] },
    ],
  });

function setup() {
  const graphics = new Graphics();
  const obs = createMemoryObs();
  let changes = 0;
  const engine = new CueEngine({ rundown: rundown(), graphics, obs, onChange: () => changes++ });
  return { graphics, obs, engine, changes: () => changes };
}

function conflict(fn: () => unknown, status = 409): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ControlError);
    expect((e as ControlError).status).toBe(status);
    return (e as Error).message;
  }
  throw new Error('expected a ControlError');
}

describe('CueEngine', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('GO fires the standby cue and advances; a GO carrying a stale standby is refused and fires nothing', () => {
    const { engine, graphics } = setup();
    expect(engine.snapshot().standby).toBe('c1');
    const run = engine.go({ standby: 'c1' }, ann);
    expect(run.cueId).toBe('c1');
    expect(graphics.get('lowerthird')).toMatchObject({ visible: true, data: { title: 'Hello' } });
    expect(engine.snapshot()).toMatchObject({ standby: 'c2', next: 'c3' });
    // Bob saw c1 on standby too and pressed at the same moment: his GO must not fire c2.
    expect(conflict(() => engine.go({ standby: 'c1' }, bob))).toMatch(/^standby: /);
    expect(engine.snapshot().history).toHaveLength(1);
  });

  it('a plain GO fires whatever is on standby; any GO within doubleGoMs of the last one fires nothing; undo ends the window', () => {
    const { engine } = setup();
    engine.setStandby('c3', ann);
    expect(engine.go({}, ann)).toMatchObject({ cueId: 'c3', cause: 'go' });
    expect(engine.snapshot().standby).toBe('f1');
    // A bounced button, and another desk naming the right standby cue: both inside the window.
    vi.advanceTimersByTime(999);
    expect(conflict(() => engine.go({}, ann))).toBe('go: double-GO protection: 999 ms after the GO that fired "c3" (Ann); a GO within 1000 ms fires nothing');
    expect(conflict(() => engine.go({ standby: 'f1' }, bob))).toMatch(/^go: double-GO protection: 999 ms/);
    expect(engine.snapshot()).toMatchObject({ standby: 'f1', history: [{ cueId: 'c3' }] });
    vi.advanceTimersByTime(1);
    expect(engine.go({}, bob)).toMatchObject({ cueId: 'f1', operator: 'Bob' });
    // Undoing the cue a GO fired takes that GO back: the cue, on standby again, may be GOne at once.
    engine.undo(ann);
    expect(engine.snapshot().standby).toBe('f1');
    expect(engine.go({}, ann)).toMatchObject({ cueId: 'f1' });
    expect(conflict(() => engine.go({}, ann))).toMatch(/^go: double-GO/);
    // Firing by id is not a GO: the window does not stop it.
    expect(engine.fire('c1', {}, bob).cueId).toBe('c1');
  });

  it('a bounced fire by id fires once: the same cue again within doubleGoMs is refused (the arm survives); another cue, or after the window, fires', () => {
    const { engine, graphics } = setup();
    expect(engine.fire('c1', {}, ann)).toMatchObject({ cueId: 'c1', cause: 'fire' });
    // Ann's button bounced, and Bob pressed the same cue's button a moment later: neither fires it again.
    expect(conflict(() => engine.fire('c1', {}, ann))).toMatch(/^fire: double-fire protection: "c1" was fired 0 ms ago \(Ann\)/);
    vi.advanceTimersByTime(400);
    expect(conflict(() => engine.fire('c1', {}, bob))).toMatch(/^fire: double-fire protection: "c1" was fired 400 ms ago/);
    expect(engine.snapshot().history.filter((r) => r.cueId === 'c1')).toHaveLength(1);
    // An on-air cue's bounce keeps its arm: the refusal comes before the arm is taken.
    const armed = engine.arm('f4', bob);
    engine.fire('f4', { armId: armed.armId }, bob);
    const rearmed = engine.arm('f4', bob);
    expect(conflict(() => engine.fire('f4', { armId: rearmed.armId }, bob))).toMatch(/^fire: double-fire/);
    expect(engine.snapshot().arms).toEqual([{ cueId: 'f4', operator: 'Bob', expiresAt: rearmed.expiresAt }]);
    // Other cues are not held back, and the same cue fires again once the window has passed.
    expect(engine.fire('c3', {}, ann).cueId).toBe('c3');
    vi.advanceTimersByTime(engine.snapshot().rundown.doubleGoMs);
    expect(engine.fire('c1', {}, bob)).toMatchObject({ cueId: 'c1', operator: 'Bob' });
    expect(graphics.get('lowerthird').data).toEqual({ title: 'Hello' });
  });

  it('arm-then-fire by fixed requests: the standby cue armed, then a plain GO or a fire without arm id from the same operator', () => {
    const { engine } = setup();
    engine.setStandby('c2', ann);
    expect(conflict(() => engine.go({}, ann))).toMatch(/^armId: on-air cue "c2"/);
    expect(engine.armStandby(ann)).toMatchObject({ cueId: 'c2' });
    // Ann's arm is Ann's: Bob's plain GO is refused, and leaves the arm in force.
    expect(conflict(() => engine.go({}, bob))).toMatch(/^armId: /);
    expect(engine.go({}, ann)).toMatchObject({ cueId: 'c2', cause: 'go' });
    expect(engine.snapshot().arms).toEqual([]);
    engine.arm('f4', bob);
    expect(engine.fire('f4', {}, bob)).toMatchObject({ cueId: 'f4', cause: 'fire' });
    expect(conflict(() => engine.fire('f4', {}, bob))).toMatch(/^armId: /);
  });

  it('a bounced GO on an on-air cue keeps the arm: it is taken only by the GO that fires', () => {
    const { engine } = setup();
    engine.go({}, ann);
    engine.armStandby(ann);
    expect(conflict(() => engine.go({}, ann))).toMatch(/^go: double-GO/);
    expect(engine.snapshot().arms).toMatchObject([{ cueId: 'c2', operator: 'Ann' }]);
    vi.advanceTimersByTime(1000);
    expect(engine.go({}, ann).cueId).toBe('c2');
  });

  it('hold-to-fire on the standby cue by fixed requests: the release fires it as a GO, unless the standby moved', () => {
    const { engine } = setup();
    engine.setStandby('c2', ann);
    expect(conflict(() => engine.releaseStandby(ann))).toMatch(/^hold: you hold no cue/);
    engine.pressStandby(ann);
    vi.advanceTimersByTime(800);
    expect(engine.releaseStandby(ann)).toMatchObject({ cueId: 'c2', cause: 'hold', operator: 'Ann' });
    expect(engine.snapshot()).toMatchObject({ standby: 'c3', holds: [] });
    // The release counted as a GO.
    expect(conflict(() => engine.go({}, bob))).toMatch(/^go: double-GO/);
    vi.advanceTimersByTime(1000);
    engine.pressStandby(ann);
    engine.go({}, bob);
    vi.advanceTimersByTime(800);
    expect(conflict(() => engine.releaseStandby(ann))).toBe('standby: the standby cue changed while you held "c3" (it is "f1"); nothing fired');
    expect(engine.snapshot().holds).toEqual([]);
    // By id, without a hold id: the caller's own press of that cue.
    engine.press('f4', bob);
    vi.advanceTimersByTime(800);
    expect(conflict(() => engine.release('f4', undefined, ann))).toMatch(/^holdId: you hold no press of cue "f4"/);
    expect(engine.release('f4', undefined, bob)).toMatchObject({ cueId: 'f4', cause: 'hold' });
  });

  it('an on-air cue fires only with a fresh arm id, used once', () => {
    const { engine, obs, graphics } = setup();
    engine.setStandby('c2', ann);
    expect(conflict(() => engine.go({ standby: 'c2' }, ann))).toMatch(/^armId: /);
    expect(obs.runs).toHaveLength(0);
    const armed = engine.arm('c2', ann);
    expect(engine.snapshot().arms).toEqual([{ cueId: 'c2', operator: 'Ann', expiresAt: armed.expiresAt }]);
    expect(JSON.stringify(engine.snapshot())).not.toContain(armed.armId);
    vi.advanceTimersByTime(5001);
    expect(conflict(() => engine.fire('c2', { armId: armed.armId }, ann))).toMatch(/^armId: /);
    const again = engine.arm('c2', ann);
    engine.fire('c2', { armId: again.armId }, ann);
    expect(obs.runs).toEqual([[{ type: 'scene', scene: 'Runway' }]]);
    expect(conflict(() => engine.fire('c2', { armId: again.armId }, bob))).toMatch(/^armId: /);
    expect(graphics.get('product').visible).toBe(false); // runs after the OBS batch resolves
  });

  it('hold-to-fire: a short press is refused, a long one fires', () => {
    const { engine } = setup();
    const h = engine.press('c2', ann);
    vi.advanceTimersByTime(300);
    expect(conflict(() => engine.release('c2', h.holdId, ann))).toMatch(/^hold: released after 300 ms/);
    const h2 = engine.press('c2', ann);
    vi.advanceTimersByTime(800);
    expect(engine.release('c2', h2.holdId, ann)).toMatchObject({ cueId: 'c2', cause: 'hold' });
  });

  it('a pre-wait delays the actions', async () => {
    const { engine, graphics } = setup();
    engine.go({ standby: 'c1' }, ann);
    engine.fire('c3', {}, ann);
    expect(engine.snapshot().running.find((r) => r.cueId === 'c3')?.phase).toBe('pre-wait');
    await vi.advanceTimersByTimeAsync(1999);
    expect(graphics.get('lowerthird').visible).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(graphics.get('lowerthird').visible).toBe(false);
  });

  it('auto-follow and auto-continue chain cues, and a chain stops before an on-air cue', async () => {
    const { engine, graphics } = setup();
    engine.setStandby('f1', ann);
    engine.go({ standby: 'f1' }, ann);
    expect(graphics.get('leaderboard').visible).toBe(true);
    // f1: 500 ms wait action, then 1000 ms post-wait, then f2.
    await vi.advanceTimersByTimeAsync(1499);
    expect(graphics.get('milestone').visible).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(graphics.get('milestone').visible).toBe(true);
    // f2 auto-continues 300 ms after its actions start: f3 stops the leaderboard.
    await vi.advanceTimersByTimeAsync(300);
    expect(graphics.get('leaderboard').visible).toBe(false);
    const s = engine.snapshot();
    expect(s.history.map((r) => [r.cueId, r.cause])).toEqual([['f3', 'follow'], ['f2', 'follow'], ['f1', 'go']]);
    expect(s.standby).toBe('f4');
  });

  it('auto-continue follows even when its post-wait ends before the follow timer (clock and timers disagree)', async () => {
    const graphics = new Graphics();
    let skewMs = 0;
    const engine = new CueEngine({ rundown: rundown(), graphics, obs: createMemoryObs(), onChange: () => undefined, now: () => Date.now() + skewMs });
    engine.setStandby('f2', ann);
    graphics.command('leaderboard', 'play');
    engine.go({ standby: 'f2' }, ann);
    // The engine's clock runs 5 ms ahead of the timers once the actions started: the post-wait sleep then ends
    // before the 300 ms follow timer, and ending the run must not drop the follow.
    skewMs = 5;
    await vi.advanceTimersByTimeAsync(400);
    expect(engine.snapshot().history.map((r) => [r.cueId, r.cause])).toEqual([['f3', 'follow'], ['f2', 'go']]);
    expect(graphics.get('leaderboard').visible).toBe(false);
  });

  it('undo restores graphics and the OBS scene, puts the cue back on standby, and only within its window', async () => {
    const { engine, graphics, obs } = setup();
    await obs.run([{ type: 'scene', scene: 'Wide' }]);
    graphics.command('product', 'play', { sku: 'OLD' });
    engine.setStandby('c2', ann);
    engine.go({ standby: 'c2', armId: engine.arm('c2', ann).armId }, ann);
    await vi.advanceTimersByTimeAsync(0);
    expect(obs.status().programScene).toBe('Runway');
    expect(graphics.get('product').data).toEqual({ sku: 'S1' });
    const u = engine.undo(bob);
    expect(u.cueId).toBe('c2');
    expect(graphics.get('product')).toMatchObject({ visible: true, data: { sku: 'OLD' } });
    await vi.advanceTimersByTimeAsync(0);
    expect(obs.status().programScene).toBe('Wide');
    expect(engine.snapshot().standby).toBe('c2');
    expect(conflict(() => engine.undo(bob))).toBe('undo: nothing to undo');
    engine.go({ standby: 'c2', armId: engine.arm('c2', ann).armId }, ann);
    vi.advanceTimersByTime(10_001);
    expect(conflict(() => engine.undo(bob))).toMatch(/^undo: nothing to undo|^undo: the window/);
  });

  it('panic stops every graphic and cancels running cues; undo brings the graphics back', async () => {
    const { engine, graphics } = setup();
    engine.go({ standby: 'c1' }, ann);
    await vi.advanceTimersByTimeAsync(0);
    engine.fire('c3', {}, ann);
    const p = engine.panic(ann);
    expect(p.stopped.sort()).toEqual(['chart', 'counter', 'lowerthird', 'wall']);
    expect(p.cancelled).toEqual(['c3']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(engine.snapshot().history[0]).toMatchObject({ cueId: 'c3', phase: 'cancelled' });
    engine.undo(ann);
    expect(['counter', 'chart', 'wall', 'lowerthird'].map((g) => graphics.get(g as 'counter').visible)).toEqual([true, true, true, true]);
  });

  it('edits check the rundown revision and keep the playhead sensible', () => {
    const { engine } = setup();
    const rev = engine.getRundown().rundownRev;
    engine.addCue({ id: 'n1', label: 'New' }, { after: 'c1' }, rev);
    expect(engine.cues().map((c) => c.id).slice(0, 3)).toEqual(['c1', 'n1', 'c2']);
    expect(conflict(() => engine.addCue({ id: 'n2', label: 'Stale' }, {}, rev))).toMatch(/^rundownRev: the rundown changed/);
    expect(conflict(() => engine.addCue({ id: 'c1', label: 'Dup' }, {}, rev + 1))).toMatch(/^cue.id: /);
    expect(conflict(() => engine.addCue({ id: 'bad id', label: 'x' }, {}, rev + 1), 400)).toMatch(/^cue.id: must be/);
    engine.moveCue('n1', { after: 'f4' }, rev + 1);
    expect(engine.cues().at(-1)).toMatchObject({ id: 'n1', act: 'a2' });
    engine.updateCue('n1', { label: 'Renamed', onAir: true }, rev + 2);
    expect(engine.cue('n1')).toMatchObject({ label: 'Renamed', onAir: true });
    engine.deleteCue('c1', rev + 3);
    expect(engine.snapshot().standby).toBe('c2');
    expect(conflict(() => engine.cue('c1'), 404)).toMatch(/^cue: no cue "c1"/);
  });
});
