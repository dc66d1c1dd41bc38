// What is on program and preview, and which transition runs from where to where: tracked from OBS events, since v5 events never name the scenes of a transition.

export interface ObsTransition {
  from: string | null;
  /** The scene being transitioned to; UNKNOWN_SCENE when OBS was switched by someone else outside studio mode. */
  to: string;
  startedAt: string;
}

export interface SceneState {
  scenes: string[];
  program: string | null;
  preview: string | null;
  studioMode: boolean;
  transition: ObsTransition | null;
  /** The target of the program change the gateway last asked for, until OBS starts its transition. */
  pending: string | null;
}

export const UNKNOWN_SCENE = '(unknown)';

export type SceneEvent =
  /** What a full read of OBS said (after connecting, or after a transition was lost). */
  | { type: 'snapshot'; scenes: string[]; program: string; preview: string | null; studioMode: boolean }
  /** The gateway is about to ask OBS to bring `target` to program (null: the request did not go through). */
  | { type: 'requested'; target: string | null }
  | { type: 'transition-started'; at: string }
  | { type: 'transition-ended' }
  | { type: 'program-changed'; scene: string }
  | { type: 'preview-changed'; scene: string }
  | { type: 'studio-mode'; enabled: boolean }
  | { type: 'scene-list'; scenes: string[] }
  /** The link to OBS is gone: a transition in flight can no longer be followed. */
  | { type: 'lost' };

export const emptySceneState: SceneState = { scenes: [], program: null, preview: null, studioMode: false, transition: null, pending: null };

export function reduceSceneState(s: SceneState, e: SceneEvent): SceneState {
  switch (e.type) {
    case 'snapshot':
      return { ...s, scenes: e.scenes, program: e.program, preview: e.studioMode ? e.preview : null, studioMode: e.studioMode, transition: null };
    case 'requested':
      return { ...s, pending: e.target };
    case 'transition-started': {
      // Our own request names the target; a take in studio mode goes to preview; anything else is a switch made in OBS itself.
      const to = s.pending ?? (s.studioMode ? s.preview : null) ?? UNKNOWN_SCENE;
      return { ...s, transition: { from: s.program, to, startedAt: e.at }, pending: null };
    }
    case 'program-changed':
      // During a transition the report only names its target (and tells an unknown one): the program is
      // taken to have changed when the transition ends, whichever of the two events OBS sends first.
      return s.transition ? { ...s, transition: { ...s.transition, to: e.scene } } : { ...s, program: e.scene };
    case 'transition-ended': {
      if (!s.transition) return s;
      const landed = s.transition.to === UNKNOWN_SCENE ? s.program : s.transition.to;
      return { ...s, program: landed, transition: null };
    }
    case 'preview-changed':
      return { ...s, preview: s.studioMode ? e.scene : s.preview };
    case 'studio-mode':
      return { ...s, studioMode: e.enabled, preview: e.enabled ? s.program : null };
    case 'scene-list':
      return { ...s, scenes: e.scenes };
    case 'lost':
      return { ...s, transition: null, pending: null };
  }
}
