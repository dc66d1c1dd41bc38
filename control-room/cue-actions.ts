// Runs a cue's actions (graphics commands, OBS steps batched together, waits) and captures what undoing them needs:
// the previous state of each graphic touched and the OBS program/preview scenes before.
import type { GraphicName, GraphicState } from '../protocol/live-protocol.ts';
import type { CueAction } from '../domain/rundown.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { ObsAction, ObsPort } from '../domain/obs-port.ts';

/** What undoing a cue restores. */
export interface UndoSnapshot {
  graphics: GraphicState[];
  obs: ObsAction[];
  /** Steps that cannot be undone (OBS text, custom events), said in words. */
  irreversible: string[];
}

export interface RunContext {
  graphics: Graphics;
  obs: ObsPort;
  /** Sleeps; resolves false when the run was cancelled meanwhile (panic, undo). */
  sleep: (ms: number) => Promise<boolean>;
  cancelled: () => boolean;
}

/** Captures, before a cue's actions run, what undoing them must restore. */
export function captureUndo(actions: readonly CueAction[], graphics: Graphics, obs: ObsPort): UndoSnapshot {
  const names = new Set<GraphicName>();
  const inverse: ObsAction[] = [];
  const irreversible: string[] = [];
  const status = obs.status();
  let scene = false;
  let preview = false;
  for (const a of actions) {
    if (a.type === 'graphic') names.add(a.graphic);
    if (a.type !== 'obs') continue;
    const o = a.obs;
    if (o.type === 'scene' || o.type === 'take') scene = true;
    else if (o.type === 'preview') preview = true;
    // OBS is not asked for a source's visibility before: a cue that shows a source is undone by hiding it.
    else if (o.type === 'source-visible') inverse.unshift({ ...o, visible: !o.visible });
    else if (o.type === 'text') irreversible.push(`obs text of "${o.source}"`);
    else irreversible.push('obs custom event');
  }
  if (preview && status.previewScene !== null) inverse.push({ type: 'preview', scene: status.previewScene });
  if (scene && status.programScene !== null) inverse.push({ type: 'scene', scene: status.programScene });
  return { graphics: [...names].map((n) => graphics.get(n)), obs: inverse, irreversible };
}

/** The state every graphic had before; restores each one that changed since. Returns what it did. */
export function restoreGraphics(before: readonly GraphicState[], graphics: Graphics): string[] {
  const done: string[] = [];
  for (const p of before) {
    const c = graphics.get(p.name);
    if (c.rev === p.rev) continue;
    if (p.visible) {
      graphics.command(p.name, 'play', p.data);
      for (let i = 0; i < p.page; i++) graphics.command(p.name, 'next');
      done.push(`${p.name}: back on air as before`);
    } else if (c.visible) {
      graphics.command(p.name, 'stop');
      done.push(`${p.name}: off air`);
    }
  }
  return done;
}

/**
 * Runs actions in order: graphics at once, consecutive OBS steps as one batch, waits as timers. Stops early when
 * the run is cancelled. Returns one line per step and whether all succeeded.
 */
export async function runActions(actions: readonly CueAction[], ctx: RunContext): Promise<{ ok: boolean; details: string[] }> {
  const details: string[] = [];
  let ok = true;
  let i = 0;
  while (i < actions.length) {
    if (ctx.cancelled()) {
      details.push('cancelled');
      return { ok: false, details };
    }
    const a = actions[i]!;
    if (a.type === 'wait') {
      i++;
      if (!(await ctx.sleep(a.ms))) {
        details.push('cancelled');
        return { ok: false, details };
      }
      continue;
    }
    if (a.type === 'graphic') {
      i++;
      try {
        ctx.graphics.command(a.graphic, a.command, a.data);
        details.push(`graphic ${a.graphic} ${a.command}`);
      } catch (e) {
        ok = false;
        details.push(`graphic ${a.graphic} ${a.command}: ${(e as Error).message}`);
      }
      continue;
    }
    const batch: ObsAction[] = [];
    while (i < actions.length && actions[i]!.type === 'obs') batch.push((actions[i++] as { obs: ObsAction }).obs);
    try {
      const r = await ctx.obs.run(batch);
      ok &&= r.ok;
      for (const x of r.results) details.push(`obs ${x.action.type}${r.logOnly ? ' (logged only)' : ''}: ${x.ok ? 'ok' : 'failed'} ${x.detail}`.trim());
    } catch (e) {
      ok = false;
      details.push(`obs: ${(e as Error).message}`);
    }
  }
  return { ok, details };
}
