// The module's actions: each one fixed request to Gala's control API (or the overlays' graphics API), as a Stream
// Deck button sends it. Gala decides: a refusal (a double GO, an on-air cue not armed, a role too low) fails the
// action with Gala's own message, which Companion shows.
import type { CompanionActionDefinitions, CompanionActionEvent, DropdownChoice } from '@companion-module/base';
import { GRAPHICS } from '../protocol/live-protocol.ts';
import { cueOption, STANDBY } from './cue-options.ts';

const CUE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const COMMANDS = [
  { id: 'play', label: 'Show (play)' },
  { id: 'stop', label: 'Stop' },
  { id: 'next', label: 'Next page' },
  { id: 'update', label: 'Update its data' },
];

function cueId(e: CompanionActionEvent): string {
  const v = e.options.cue;
  if (typeof v !== 'string' || !CUE_ID.test(v)) throw new Error(`cue: must be a cue id of the rundown (got ${JSON.stringify(v)})`);
  return encodeURIComponent(v);
}

/** The graphic's data option: empty, or a JSON object. */
function graphicData(raw: unknown): object | undefined {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (text === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('data: must be a JSON object, e.g. {"title": "Welcome"}');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('data: must be a JSON object, e.g. {"title": "Welcome"}');
  return v;
}

/** `post` sends one request to the connected Gala and throws with Gala's message when it refuses. */
export function actionDefinitions(post: (path: string, body?: object) => Promise<unknown>, cues: DropdownChoice[]): CompanionActionDefinitions {
  const fixed = (path: string) => async () => {
    await post(path);
  };
  // Arm, hold and release act on the standby cue through its own routes, so Gala (not a stale copy of its state
  // here) decides which cue that is.
  const twoStep = (step: 'arm' | 'hold' | 'release') => async (e: CompanionActionEvent) => {
    await post(e.options.cue === STANDBY ? `/v1/control/standby/${step}` : `/v1/control/cues/${cueId(e)}/${step}`);
  };
  return {
    go: {
      name: 'GO',
      description: "Fires the standby cue and advances. Double-GO protected (a GO inside the show's doubleGoMs fires nothing); an on-air cue needs this operator's arm first",
      options: [],
      callback: fixed('/v1/control/go'),
    },
    next: { name: 'Standby: next cue', options: [], callback: fixed('/v1/control/next') },
    back: { name: 'Standby: previous cue', options: [], callback: fixed('/v1/control/back') },
    fire: {
      name: 'Fire a cue',
      description: "Fires the chosen cue now (not a GO: it moves the standby past it). An on-air cue needs this operator's arm first",
      options: [cueOption(cues)],
      callback: async (e) => {
        await post(`/v1/control/cues/${cueId(e)}/fire`);
      },
    },
    arm: {
      name: 'Arm a cue',
      description: 'First step of arm-then-fire for on-air cues: then GO (the standby cue) or Fire (that cue) within the arm window',
      options: [cueOption(cues, { standby: true })],
      callback: twoStep('arm'),
    },
    hold: {
      name: 'Hold-to-fire: press',
      description: "Put it on the button's press, and Hold-to-fire: release on its release: the cue fires when held at least the show's holdMs",
      options: [cueOption(cues, { standby: true })],
      callback: twoStep('hold'),
    },
    release: {
      name: 'Hold-to-fire: release',
      description: "Releases this operator's hold; on the standby cue it is a GO (double-GO protected) and fires nothing if the standby moved",
      options: [cueOption(cues, { standby: true })],
      callback: twoStep('release'),
    },
    undo: { name: 'Undo the last cue', description: "Within the show's undo window; the cue goes back on standby", options: [], callback: fixed('/v1/control/undo') },
    panic: { name: 'PANIC', description: 'Stops every graphic on air and cancels running cues (undoable)', options: [], callback: fixed('/v1/control/panic') },
    graphic: {
      name: 'Show or stop a graphic',
      description: 'Drives one overlay graphic directly (needs the producer token itself)',
      options: [
        { type: 'dropdown', id: 'graphic', label: 'Graphic', choices: GRAPHICS.map((g) => ({ id: g, label: g })), default: 'lowerthird' },
        { type: 'dropdown', id: 'command', label: 'Command', choices: COMMANDS, default: 'play' },
        { type: 'textinput', id: 'data', label: 'Data (JSON object, optional)', default: '' },
      ],
      callback: async (e) => {
        const g = String(e.options.graphic);
        const cmd = String(e.options.command);
        if (!(GRAPHICS as readonly string[]).includes(g)) throw new Error(`graphic: must be one of ${GRAPHICS.join(', ')}`);
        if (!COMMANDS.some((c) => c.id === cmd)) throw new Error('command: must be play, stop, next or update');
        await post(`/v1/graphics/${g}/${cmd}`, graphicData(e.options.data));
      },
    },
  };
}
