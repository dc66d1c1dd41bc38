// The scene state machine: who is on program, what is transitioning where, whichever order OBS reports things in.
import { describe, expect, it } from 'vitest';
import { emptySceneState, reduceSceneState, UNKNOWN_SCENE, type SceneEvent, type SceneState } from './obs-scene-state.ts';

const at = '2026-11-29T20:00:00.000Z';
const base = reduceSceneState(emptySceneState, { type: 'snapshot', scenes: ['A', 'B', 'C'], program: 'A', preview: 'B', studioMode: false });
const play = (s: SceneState, events: SceneEvent[]) => events.reduce(reduceSceneState, s);

describe('scene state', () => {
  it('ignores a preview outside studio mode and takes the program at the end of our transition', () => {
    expect(base.preview).toBeNull();
    const mid = play(base, [{ type: 'requested', target: 'B' }, { type: 'transition-started', at }]);
    expect(mid.transition).toEqual({ from: 'A', to: 'B', startedAt: at });
    expect(mid.pending).toBeNull();
    expect(play(mid, [{ type: 'program-changed', scene: 'B' }]).program).toBe('A');
    expect(play(mid, [{ type: 'program-changed', scene: 'B' }, { type: 'transition-ended' }])).toMatchObject({ program: 'B', transition: null });
    // The other order gives the same end state.
    expect(play(mid, [{ type: 'transition-ended' }, { type: 'program-changed', scene: 'B' }])).toMatchObject({ program: 'B', transition: null });
  });

  it('takes the preview as the target of a studio-mode transition, and learns an unknown target from OBS', () => {
    const studio = play(base, [{ type: 'studio-mode', enabled: true }, { type: 'preview-changed', scene: 'C' }, { type: 'transition-started', at }]);
    expect(studio.transition).toMatchObject({ from: 'A', to: 'C' });
    const external = play(base, [{ type: 'transition-started', at }]);
    expect(external.transition!.to).toBe(UNKNOWN_SCENE);
    expect(play(external, [{ type: 'program-changed', scene: 'C' }]).transition!.to).toBe('C');
    expect(play(external, [{ type: 'transition-ended' }]).program).toBe('A');
  });

  it('forgets a request that did not go through and a transition whose link was lost', () => {
    const s = play(base, [{ type: 'requested', target: 'B' }, { type: 'requested', target: null }, { type: 'transition-started', at }]);
    expect(s.transition!.to).toBe(UNKNOWN_SCENE);
    expect(play(s, [{ type: 'lost' }])).toMatchObject({ transition: null, pending: null, program: 'A' });
    expect(play(base, [{ type: 'studio-mode', enabled: true }]).preview).toBe('A');
    expect(play(base, [{ type: 'studio-mode', enabled: true }, { type: 'studio-mode', enabled: false }]).preview).toBeNull();
  });
});
