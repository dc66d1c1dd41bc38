// The rundown parser: the default show's rundown parses, and each kind of mistake is named by its path and rule.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseShowConfig } from './show.ts';
import { parseRundown } from './rundown.ts';

const cue = (over: Record<string, unknown>) => ({ acts: [{ id: 'a', label: 'A', cues: [{ id: 'c', label: 'C', ...over }] }] });

describe('parseRundown', () => {
  it('reads the default show: acts, looks with products, on-air cues, triggers, follow modes', () => {
    const r = loadShow(DEFAULT_SHOW_FILE).rundown;
    expect(r.acts.map((a) => a.id)).toEqual(['act-opening', 'act-runway', 'act-stars', 'act-milestones']);
    expect(r.cues.find((c) => c.id === 'look-1')).toMatchObject({ kind: 'look', onAir: true, products: ['SKU-0002-00'], act: 'act-runway' });
    expect(r.cues.find((c) => c.id === 'ms-1b')?.trigger).toEqual({ metric: 'gmv', atLeast: '1000000000' });
    expect(r.cues.find((c) => c.id === 'open-scene')).toMatchObject({ follow: 'auto-continue', postWaitMs: 2000 });
    expect(r).toMatchObject({ armWindowMs: 5000, holdMs: 800, undoWindowMs: 10_000, doubleGoMs: 1000 });
  });

  it('has defaults for a show without a rundown', () => {
    expect(parseRundown(undefined)).toEqual({ acts: [], cues: [], armWindowMs: 5000, holdMs: 800, undoWindowMs: 10_000, doubleGoMs: 1000 });
  });

  it.each([
    [cue({ id: 'bad id' }), 'rundown.acts[0].cues[0].id: must be 1 to 64 of'],
    [cue({ actions: [{ type: 'graphic', graphic: 'nope', command: 'play' }] }), 'rundown.acts[0].cues[0].actions[0].graphic: must be one of counter'],
    [cue({ actions: [{ type: 'obs', obs: { type: 'scene' } }] }), 'rundown.acts[0].cues[0].actions[0].obs.scene: must be a string'],
    [cue({ actions: [{ type: 'wait' }] }), 'rundown.acts[0].cues[0].actions[0].ms: is required'],
    [cue({ preWaitMs: -1 }), 'rundown.acts[0].cues[0].preWaitMs: must be a whole number'],
    [cue({ follow: 'sometimes' }), 'rundown.acts[0].cues[0].follow: must be one of none, auto-continue, auto-follow'],
    [cue({ trigger: { metric: 'gmv', atLeast: '1.234' } }), 'rundown.acts[0].cues[0].trigger.atLeast: must be a decimal string'],
    [cue({ trigger: { metric: 'productUnits', atLeast: '5' } }), 'rundown.acts[0].cues[0].trigger.sku: must be a product SKU'],
    [cue({ trigger: { metric: 'mobileShare', atLeast: '1.5' } }), 'rundown.acts[0].cues[0].trigger.atLeast: must be a share from 0 to 1'],
    [{ acts: [{ id: 'a', label: 'A', cues: [{ id: 'c', label: 'C' }, { id: 'c', label: 'D' }] }] }, 'rundown.acts[0].cues[1].id: must be unique in the rundown'],
    [{ acts: [], doubleGoMs: 20_000 }, 'rundown.doubleGoMs: must be a whole number of milliseconds, 0 to 10000'],
  ])('names the field and the rule: %#', (raw, message) => {
    expect(() => parseRundown(raw)).toThrow(message);
  });

  it('errors in a show config say it is the show config', () => {
    expect(() => parseShowConfig({ currency: 'CNY', rundown: { acts: 3 } })).toThrow('show config rundown.acts: must be an array (got 3)');
  });
});
