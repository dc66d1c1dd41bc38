// The cue pickers of actions and feedbacks: the rundown's cues as dropdown choices (rebuilt when the rundown
// changes), with "the standby cue" where a button acts on whatever is on standby. Cue ids may also be typed.
import type { CompanionInputFieldDropdown, DropdownChoice } from '@companion-module/base';
import type { GalaView } from './gala-link.ts';

/** The "standby cue" and "any cue" choices; no cue id can take these values (ids are A-Z a-z 0-9 . _ : -). */
export const STANDBY = '$standby';
export const ANY = '$any';

export function cueChoices(view: GalaView): DropdownChoice[] {
  return (view.control?.rundown.cues ?? []).map((c) => ({ id: c.id, label: `${c.id}: ${c.label}${c.onAir ? ' (on air)' : ''}` }));
}

export function cueOption(choices: DropdownChoice[], opts: { standby?: boolean; any?: boolean; label?: string } = {}): CompanionInputFieldDropdown {
  const special = [...(opts.standby === true ? [{ id: STANDBY, label: 'The standby cue' }] : []), ...(opts.any === true ? [{ id: ANY, label: 'Any cue' }] : [])];
  const all = [...special, ...choices];
  return {
    type: 'dropdown',
    id: 'cue',
    label: opts.label ?? 'Cue',
    choices: all,
    default: all[0]?.id ?? '',
    allowCustom: true,
    regex: '/^(\\$standby|\\$any|[A-Za-z0-9._:-]{1,64})$/',
  };
}

/** The cue an action or feedback is about: its option, with the standby choice resolved against the state. */
export function chosenCue(option: unknown, view: GalaView): string | null {
  const v = typeof option === 'string' ? option : '';
  if (v === STANDBY) return view.control?.standby ?? null;
  return v === '' ? null : v;
}
