// The show's rundown (acts and their cues, each a list of graphic / OBS / wait actions), parsed once with errors
// naming the field, the value and the rule. Used for the show config's `rundown` section and for live edits.
import type { ObsAction } from './obs-port.ts';

export const GRAPHIC_NAMES = ['counter', 'chart', 'milestone', 'product', 'lowerthird', 'leaderboard', 'wall'] as const;
export const GRAPHIC_COMMANDS = ['play', 'update', 'stop', 'next'] as const;
export const CUE_KINDS = ['performance', 'look', 'celebrity', 'milestone', 'graphic', 'scene', 'other'] as const;
/** After a cue: nothing; start the next cue when this one has started (+ post-wait); or when it has finished (+ post-wait). */
export const FOLLOW_MODES = ['none', 'auto-continue', 'auto-follow'] as const;
export const TRIGGER_METRICS = ['gmv', 'orders', 'mobileShare', 'productUnits'] as const;

export type CueKind = (typeof CUE_KINDS)[number];
export type FollowMode = (typeof FOLLOW_MODES)[number];
export type TriggerMetric = (typeof TRIGGER_METRICS)[number];

export type CueAction =
  | { type: 'graphic'; graphic: (typeof GRAPHIC_NAMES)[number]; command: (typeof GRAPHIC_COMMANDS)[number]; data?: Record<string, unknown> }
  | { type: 'obs'; obs: ObsAction }
  | { type: 'wait'; ms: number };

/** A condition on the live data: the metric reaches `atLeast` (GMV a decimal string in the display currency). */
export interface TriggerCondition {
  metric: TriggerMetric;
  /** For productUnits: the product. */
  sku?: string;
  /** GMV: decimal string; orders and productUnits: whole number as string; mobileShare: 0..1 as string. */
  atLeast: string;
}

export interface Cue {
  id: string;
  label: string;
  kind: CueKind;
  /** The act this cue belongs to. */
  act: string;
  actions: CueAction[];
  preWaitMs: number;
  postWaitMs: number;
  follow: FollowMode;
  /** On-air cues fire only through arm-then-fire or hold-to-fire. */
  onAir: boolean;
  /** See-now-buy-now looks: the products on the runway. */
  products: string[];
  trigger: TriggerCondition | null;
  notes: string;
}

export interface Act {
  id: string;
  label: string;
}

export interface Rundown {
  acts: Act[];
  cues: Cue[];
  /** How long an arm stays valid, how long a hold must last, how long a fired cue can be undone. */
  armWindowMs: number;
  holdMs: number;
  undoWindowMs: number;
  /** Double-GO protection (QLab's): a GO within this long of the GO that last fired a cue is refused; 0 turns it off. */
  doubleGoMs: number;
}

export class RundownError extends Error {
  override name = 'RundownError';
}

const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const SKU = /^\S{1,64}$/;
export const MAX_CUES = 1000;
const MAX_ACTIONS = 32;
const MAX_WAIT_MS = 10 * 60_000;
const MAX_DATA_BYTES = 16 * 1024;

function fail(path: string, rule: string, value: unknown): never {
  const shown = JSON.stringify(value);
  throw new RundownError(`${path}: ${rule}${shown === undefined ? '' : ` (got ${shown.length > 80 ? `${shown.slice(0, 80)}...` : shown})`}`);
}

function obj(path: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object', v);
  return v as Record<string, unknown>;
}

function str(path: string, v: unknown, max = 200, min = 1): string {
  if (typeof v !== 'string' || v.length < min || v.length > max) fail(path, `must be a string of ${min} to ${max} characters`, v);
  return v;
}

function id(path: string, v: unknown): string {
  if (typeof v !== 'string' || !ID.test(v)) fail(path, 'must be 1 to 64 of A-Z a-z 0-9 . _ : -', v);
  return v;
}

function ms(path: string, v: unknown, dflt: number, max = MAX_WAIT_MS): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(path, `must be a whole number of milliseconds, 0 to ${max}`, v);
  return v;
}

function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(path, `must be one of ${allowed.join(', ')}`, v);
  return v as T;
}

function parseObsAction(path: string, raw: unknown): ObsAction {
  const o = obj(path, raw);
  const type = oneOf(`${path}.type`, o.type, ['scene', 'preview', 'take', 'source-visible', 'text', 'custom-event'] as const);
  switch (type) {
    case 'scene':
    case 'preview':
      return { type, scene: str(`${path}.scene`, o.scene) };
    case 'take':
      return { type };
    case 'source-visible':
      if (typeof o.visible !== 'boolean') fail(`${path}.visible`, 'must be true or false', o.visible);
      return { type, scene: str(`${path}.scene`, o.scene), source: str(`${path}.source`, o.source), visible: o.visible };
    case 'text':
      return { type, source: str(`${path}.source`, o.source), text: str(`${path}.text`, o.text, 4000, 0) };
    case 'custom-event': {
      const data = obj(`${path}.data`, o.data);
      if (JSON.stringify(data).length > MAX_DATA_BYTES) fail(`${path}.data`, `must be at most ${MAX_DATA_BYTES} bytes of JSON`, undefined);
      return { type, data };
    }
  }
}

export function parseCueAction(path: string, raw: unknown): CueAction {
  const o = obj(path, raw);
  const type = oneOf(`${path}.type`, o.type, ['graphic', 'obs', 'wait'] as const);
  if (type === 'wait') {
    if (o.ms === undefined) fail(`${path}.ms`, 'is required for a wait', o.ms);
    return { type, ms: ms(`${path}.ms`, o.ms, 0) };
  }
  if (type === 'obs') return { type, obs: parseObsAction(`${path}.obs`, o.obs) };
  const graphic = oneOf(`${path}.graphic`, o.graphic, GRAPHIC_NAMES);
  const command = oneOf(`${path}.command`, o.command, GRAPHIC_COMMANDS);
  if (o.data === undefined) return { type, graphic, command };
  const data = obj(`${path}.data`, o.data);
  if (JSON.stringify(data).length > MAX_DATA_BYTES) fail(`${path}.data`, `must be at most ${MAX_DATA_BYTES} bytes of JSON`, undefined);
  return { type, graphic, command, data };
}

const WHOLE = /^\d{1,15}$/;
const DECIMAL = /^\d{1,16}(?:\.\d{1,2})?$/;
const SHARE = /^(?:0(?:\.\d{1,6})?|1(?:\.0{1,6})?)$/;

export function parseTrigger(path: string, raw: unknown): TriggerCondition {
  const o = obj(path, raw);
  const metric = oneOf(`${path}.metric`, o.metric, TRIGGER_METRICS);
  const atLeast = typeof o.atLeast === 'number' ? String(o.atLeast) : o.atLeast;
  const rule = metric === 'gmv' ? DECIMAL : metric === 'mobileShare' ? SHARE : WHOLE;
  const ruleText = metric === 'gmv' ? 'a decimal string with at most 2 fraction digits' : metric === 'mobileShare' ? 'a share from 0 to 1 (at most 6 fraction digits)' : 'a whole number';
  if (typeof atLeast !== 'string' || !rule.test(atLeast)) fail(`${path}.atLeast`, `must be ${ruleText}`, o.atLeast);
  if (metric === 'productUnits') {
    if (typeof o.sku !== 'string' || !SKU.test(o.sku)) fail(`${path}.sku`, 'must be a product SKU (1 to 64 characters, no spaces) for productUnits', o.sku);
    return { metric, sku: o.sku, atLeast };
  }
  return { metric, atLeast };
}

/** One cue, from the show config or an admin's edit; `act` is the act it belongs to. */
export function parseCue(path: string, raw: unknown, act: string): Cue {
  const o = obj(path, raw);
  const actionsRaw = o.actions ?? [];
  if (!Array.isArray(actionsRaw) || actionsRaw.length > MAX_ACTIONS) fail(`${path}.actions`, `must be an array of at most ${MAX_ACTIONS} actions`, actionsRaw);
  const products = o.products ?? [];
  if (!Array.isArray(products) || products.length > 50) fail(`${path}.products`, 'must be an array of at most 50 SKUs', products);
  products.forEach((p: unknown, i) => {
    if (typeof p !== 'string' || !SKU.test(p)) fail(`${path}.products[${i}]`, 'must be a product SKU (1 to 64 characters, no spaces)', p);
  });
  if (o.onAir !== undefined && typeof o.onAir !== 'boolean') fail(`${path}.onAir`, 'must be true or false', o.onAir);
  return {
    id: id(`${path}.id`, o.id),
    label: str(`${path}.label`, o.label),
    kind: o.kind === undefined ? 'other' : oneOf(`${path}.kind`, o.kind, CUE_KINDS),
    act,
    actions: actionsRaw.map((a: unknown, i: number) => parseCueAction(`${path}.actions[${i}]`, a)),
    preWaitMs: ms(`${path}.preWaitMs`, o.preWaitMs, 0),
    postWaitMs: ms(`${path}.postWaitMs`, o.postWaitMs, 0),
    follow: o.follow === undefined ? 'none' : oneOf(`${path}.follow`, o.follow, FOLLOW_MODES),
    onAir: (o.onAir as boolean | undefined) ?? false,
    products: products as string[],
    trigger: o.trigger === undefined || o.trigger === null ? null : parseTrigger(`${path}.trigger`, o.trigger),
    notes: o.notes === undefined ? '' : str(`${path}.notes`, o.notes, 2000, 0),
  };
}

/** Parses the `rundown` section: `{acts: [{id, label, cues: [...]}], armWindowMs?, holdMs?, undoWindowMs?, doubleGoMs?}`. */
export function parseRundown(raw: unknown, path = 'rundown'): Rundown {
  if (raw === undefined || raw === null) return { acts: [], cues: [], armWindowMs: 5000, holdMs: 800, undoWindowMs: 10_000, doubleGoMs: 1000 };
  const o = obj(path, raw);
  const actsRaw = o.acts ?? [];
  if (!Array.isArray(actsRaw)) fail(`${path}.acts`, 'must be an array', actsRaw);
  const acts: Act[] = [];
  const cues: Cue[] = [];
  const seen = new Set<string>();
  actsRaw.forEach((a: unknown, i: number) => {
    const ap = `${path}.acts[${i}]`;
    const ao = obj(ap, a);
    const act = { id: id(`${ap}.id`, ao.id), label: str(`${ap}.label`, ao.label) };
    if (acts.some((x) => x.id === act.id)) fail(`${ap}.id`, 'must be unique among acts', act.id);
    acts.push(act);
    const cuesRaw = ao.cues ?? [];
    if (!Array.isArray(cuesRaw)) fail(`${ap}.cues`, 'must be an array', cuesRaw);
    cuesRaw.forEach((c: unknown, j: number) => {
      const cue = parseCue(`${ap}.cues[${j}]`, c, act.id);
      if (seen.has(cue.id)) fail(`${ap}.cues[${j}].id`, 'must be unique in the rundown', cue.id);
      seen.add(cue.id);
      cues.push(cue);
    });
  });
  if (cues.length > MAX_CUES) fail(`${path}`, `must hold at most ${MAX_CUES} cues`, cues.length);
  return {
    acts,
    cues,
    armWindowMs: ms(`${path}.armWindowMs`, o.armWindowMs, 5000, 60_000),
    holdMs: ms(`${path}.holdMs`, o.holdMs, 800, 10_000),
    undoWindowMs: ms(`${path}.undoWindowMs`, o.undoWindowMs, 10_000, 10 * 60_000),
    doubleGoMs: ms(`${path}.doubleGoMs`, o.doubleGoMs, 1000, 10_000),
  };
}
