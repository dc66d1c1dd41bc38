// The module's feedbacks: buttons that light from Gala's live state, read from the latest `control`, `health` and
// `graphics` topics (never asked for: the live channel pushes every change).
import { combineRgb, type CompanionBooleanFeedbackDefinition, type CompanionFeedbackDefinitions, type DropdownChoice } from '@companion-module/base';
import type { ControlState } from '../protocol/control-state.ts';
import { GRAPHICS, type GraphicName } from '../protocol/live-protocol.ts';
import { ANY, chosenCue, cueOption } from './cue-options.ts';
import type { GalaView } from './gala-link.ts';

const WHITE = combineRgb(255, 255, 255);
const BLACK = combineRgb(0, 0, 0);
const AMBER = combineRgb(255, 170, 0);
const RED = combineRgb(204, 0, 0);
const GREEN = combineRgb(0, 153, 51);
const BLUE = combineRgb(0, 102, 204);

/** Which feedbacks each part of the view drives: checked again when that part changes. */
export const FEEDBACKS_OF = {
  control: ['standby', 'armed', 'running', 'trigger_near'],
  health: ['stale', 'storage_down'],
  graphics: ['on_air'],
  totals: [],
  link: ['link_down', 'standby', 'armed', 'running', 'trigger_near', 'stale', 'storage_down', 'on_air'],
} as const;

export function feedbackDefinitions(view: () => GalaView, cues: DropdownChoice[]): CompanionFeedbackDefinitions {
  /** A feedback about one chosen cue (or the standby cue), true when `holds` says so of the control state. */
  const aboutCue = (
    name: string,
    description: string,
    defaultStyle: CompanionBooleanFeedbackDefinition['defaultStyle'],
    standby: boolean,
    holds: (cueId: string, control: ControlState) => boolean,
  ): CompanionBooleanFeedbackDefinition => ({
    type: 'boolean',
    name,
    description,
    defaultStyle,
    options: [cueOption(cues, { standby })],
    callback: (f) => {
      const v = view();
      const c = chosenCue(f.options.cue, v);
      return c !== null && v.control !== null && holds(c, v.control);
    },
  });
  return {
    standby: aboutCue('Cue on standby', 'The chosen cue is the one GO fires next', { bgcolor: AMBER, color: BLACK }, false, (c, s) => s.standby === c),
    armed: aboutCue('Cue armed', 'An arm is in force for the chosen cue (or the standby cue), by any operator', { bgcolor: RED, color: WHITE }, true, (c, s) => s.arms.some((a) => a.cueId === c)),
    running: aboutCue('Cue running', 'The chosen cue was fired and is still running (in its waits or actions)', { bgcolor: GREEN, color: WHITE }, true, (c, s) => s.running.some((r) => r.cueId === c)),
    on_air: {
      type: 'boolean',
      name: 'Graphic on air',
      description: 'The chosen overlay graphic is shown',
      defaultStyle: { bgcolor: RED, color: WHITE },
      options: [{ type: 'dropdown', id: 'graphic', label: 'Graphic', choices: GRAPHICS.map((g) => ({ id: g, label: g })), default: 'counter' }],
      callback: (f) => view().graphics[f.options.graphic as GraphicName]?.visible === true,
    },
    trigger_near: {
      type: 'boolean',
      name: 'Data trigger about to fire',
      description: 'An armed data trigger (of the chosen cue, or any) has come this close to its threshold',
      defaultStyle: { bgcolor: BLUE, color: WHITE },
      options: [
        cueOption(cues, { any: true }),
        { type: 'number', id: 'percent', label: 'Progress at least (%)', default: 90, min: 0, max: 100 },
      ],
      callback: (f) => {
        const cue = f.options.cue === ANY ? null : chosenCue(f.options.cue, view());
        const percent = typeof f.options.percent === 'number' ? f.options.percent : 90;
        return (view().control?.triggers ?? []).some((t) => t.state === 'armed' && (cue === null || t.cueId === cue) && (t.willFire || t.progress * 100 >= percent));
      },
    },
    stale: {
      type: 'boolean',
      name: 'Input stale',
      description: "No order has arrived for the show's staleSeconds while the show is live",
      defaultStyle: { bgcolor: AMBER, color: BLACK },
      options: [],
      callback: () => view().health?.stale === true,
    },
    storage_down: {
      type: 'boolean',
      name: 'Storage down',
      description: 'ClickHouse refuses inserts: ingest answers "unavailable" until it is back',
      defaultStyle: { bgcolor: RED, color: WHITE },
      options: [],
      callback: () => view().health?.storage === 'down',
    },
    link_down: {
      type: 'boolean',
      name: 'No link to Gala',
      description: 'The live channel to Gala is down: the other feedbacks and the variables show the last state seen',
      defaultStyle: { bgcolor: RED, color: WHITE },
      options: [],
      callback: () => view().link !== 'open',
    },
  };
}
