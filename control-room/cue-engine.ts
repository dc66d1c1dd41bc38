// The cue list: a standby cue, GO (fire standby, advance), next/back, pre- and post-waits, auto-continue and
// auto-follow chains, arm-then-fire and hold-to-fire for on-air cues, undo of the last cue within a window, panic,
// and live rundown edits. Every check and state change happens in one synchronous step, so two GOs racing for the
// same standby cue fire it once: the second finds the standby moved and gets a 409. A GO that names nothing (a
// Stream Deck button's fixed request) is guarded instead by double-GO protection, as in QLab: any GO within
// doubleGoMs of the GO that last fired a cue is refused.
import type { Actor, ControlSnapshot, FireCause, RunView } from '../protocol/control-state.ts';
export type { Actor, ControlSnapshot, FireCause, RunView } from '../protocol/control-state.ts';
import { randomBytes } from 'node:crypto';
import type { Cue, Rundown } from '../domain/rundown.ts';
import { parseCue, RundownError } from '../domain/rundown.ts';
import { GRAPHICS } from '../protocol/live-protocol.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import { ControlError } from './control-error.ts';
import { captureUndo, restoreGraphics, runActions, type UndoSnapshot } from './cue-actions.ts';
import type { ObsPort } from '../domain/obs-port.ts';

export interface CueEngineOptions {
  rundown: Rundown;
  graphics: Graphics;
  obs: ObsPort;
  /** Any state change (publish it). */
  onChange: () => void;
  /** The rundown revision to start from (saved edits restored after a restart). */
  rundownRev?: number;
  /** After each admin edit (to save it). */
  onEdited?: (rundown: Rundown, rundownRev: number) => void;
  /** A run ended (for the audit): its final view. */
  onRunEnded?: (run: RunView) => void;
  now?: () => number;
}

interface Run extends RunView {
  cancelled: boolean;
  timers: Set<ReturnType<typeof setTimeout>>;
  wakers: Set<() => void>;
  undoSnapshot: UndoSnapshot | null;
}

const HISTORY = 20;
const MAX_RUNNING = 64;
const MAX_ARMS = 64;
const MAX_HOLD_MS = 10_000;

const newId = () => randomBytes(12).toString('base64url');

export class CueEngine {
  private rundown: Rundown;
  private rev = 1;
  private rundownRev = 1;
  private standbyId: string | null;
  private readonly runs = new Map<string, Run>();
  private readonly history: Run[] = [];
  private readonly arms = new Map<string, { armId: string; cueId: string; operator: string; expiresAt: number }>();
  private readonly holds = new Map<string, { holdId: string; cueId: string; operator: string; pressedAt: number }>();
  private lastUndoable: { run: Run | null; runId: string; cueId: string | null; label: string; until: number; snapshot: UndoSnapshot } | null = null;
  /** The GO that last fired a cue: double-GO protection counts from it. */
  private lastGo: { at: number; cueId: string; operator: string } | null = null;
  /** Each cue's last firing by id (POST .../cues/{id}/fire): a bounced press of that cue fires nothing. */
  private readonly lastFire = new Map<string, { at: number; operator: string }>();
  private readonly now: () => number;

  constructor(private readonly opts: CueEngineOptions) {
    this.rundown = structuredClone(opts.rundown);
    this.standbyId = this.rundown.cues[0]?.id ?? null;
    this.rundownRev = opts.rundownRev ?? 1;
    this.now = opts.now ?? (() => Date.now());
  }

  // ---- reading ----

  get revision(): number {
    return this.rev;
  }

  cue(id: string): Cue {
    const c = this.rundown.cues.find((x) => x.id === id);
    if (c === undefined) throw new ControlError(404, `cue: no cue "${id}" in the rundown`);
    return c;
  }

  cues(): readonly Cue[] {
    return this.rundown.cues;
  }

  getRundown(): { rundownRev: number; rundown: Rundown } {
    return { rundownRev: this.rundownRev, rundown: this.rundown };
  }

  snapshot(): ControlSnapshot {
    const now = this.now();
    this.prune(now);
    const iso = (t: number) => new Date(t).toISOString();
    return {
      rev: this.rev,
      rundownRev: this.rundownRev,
      standby: this.standbyId,
      next: this.standbyId === null ? null : this.after(this.standbyId),
      running: [...this.runs.values()].map(view),
      history: this.history.map(view),
      arms: [...this.arms.values()].map((a) => ({ cueId: a.cueId, operator: a.operator, expiresAt: iso(a.expiresAt) })),
      holds: [...this.holds.values()].map((h) => ({ cueId: h.cueId, operator: h.operator, pressedAt: iso(h.pressedAt), fireAfter: iso(h.pressedAt + this.rundown.holdMs) })),
      undo: this.lastUndoable === null ? null : { runId: this.lastUndoable.runId, cueId: this.lastUndoable.cueId, label: this.lastUndoable.label, until: iso(this.lastUndoable.until) },
      rundown: this.rundown,
    };
  }

  // ---- the playhead ----

  /**
   * GO: fires the standby cue and advances. `expect`, when given, is the standby cue id (or revision) the operator
   * saw, refused if it moved; a plain GO names nothing. Either is refused within doubleGoMs of the last GO.
   */
  go(expect: { standby?: string | null; rev?: number; armId?: string }, by: Actor): RunView {
    this.expectState(expect);
    const cue = this.standbyCue();
    // The arm is checked first (its refusal says what to do) but taken only once nothing else refuses the GO, so a
    // bounced press never burns the operator's arm.
    const arm = cue.onAir ? this.findArm(cue, expect.armId, by) : null;
    this.guardDoubleGo();
    if (arm !== null) this.arms.delete(arm.armId);
    return this.wentGo(this.start(cue, 'go', by));
  }

  /** Fires one cue by id; an on-air cue needs an arm (the arm id from arm(), or without one the caller's own). */
  fire(cueId: string, opts: { armId?: string; rev?: number }, by: Actor): RunView {
    if (opts.rev !== undefined) this.expectState({ rev: opts.rev });
    const cue = this.cue(cueId);
    const arm = cue.onAir ? this.findArm(cue, opts.armId, by) : null;
    // A bounced button (or two operators pressing one cue's button at once) fires it once: the same cue fired by id
    // again within doubleGoMs fires nothing, as a GO does. Checked before the arm is taken, so the arm survives.
    const last = this.lastFire.get(cue.id);
    const since = last === undefined ? -1 : this.now() - last.at;
    if (last !== undefined && since >= 0 && since < this.rundown.doubleGoMs) {
      throw new ControlError(409, `fire: double-fire protection: "${cue.id}" was fired ${since} ms ago (${last.operator}); the same cue within ${this.rundown.doubleGoMs} ms fires nothing`);
    }
    if (arm !== null) this.arms.delete(arm.armId);
    const run = this.start(cue, 'fire', by);
    this.lastFire.set(cue.id, { at: Date.parse(run.firedAt), operator: run.operator });
    return run;
  }

  /** Fires a cue whose data trigger was armed by a producer (the arming was the first of the two steps). */
  fireByTrigger(cueId: string, by: Actor): RunView {
    return this.start(this.cue(cueId), 'trigger', by);
  }

  setStandby(cueId: string | null, _by: Actor, expect: { rev?: number } = {}): void {
    this.expectState(expect);
    if (cueId !== null) this.cue(cueId);
    this.standbyId = cueId;
    this.changed();
  }

  next(by: Actor): void {
    const list = this.rundown.cues;
    if (list.length === 0) throw new ControlError(409, 'standby: the rundown is empty');
    const i = this.standbyId === null ? list.length : this.index(this.standbyId);
    this.setStandby(i + 1 < list.length ? list[i + 1]!.id : null, by);
  }

  back(by: Actor): void {
    const list = this.rundown.cues;
    if (list.length === 0) throw new ControlError(409, 'standby: the rundown is empty');
    const i = this.standbyId === null ? list.length : this.index(this.standbyId);
    this.setStandby(list[Math.max(0, i - 1)]!.id, by);
  }

  // ---- two-step firing ----

  /** Arms whatever is on standby (a button's fixed request); GO then fires it. */
  armStandby(by: Actor): { armId: string; cueId: string; expiresAt: string } {
    return this.arm(this.standbyCue().id, by);
  }

  /** Presses hold-to-fire on whatever is on standby (a button's press); releaseStandby is its release. */
  pressStandby(by: Actor): { holdId: string; cueId: string; fireAfter: string } {
    return this.press(this.standbyCue().id, by);
  }

  /**
   * Hold-to-fire's release as a GO (a button's release): fires the cue the caller holds if it is still on standby,
   * advances, and counts as a GO for double-GO protection. The hold ends whatever the answer.
   */
  releaseStandby(by: Actor): RunView {
    const h = [...this.holds.values()].filter((x) => x.operator === by.operator).at(-1);
    if (h === undefined) throw new ControlError(409, 'hold: you hold no cue (press first: POST /v1/control/standby/hold)');
    if (h.cueId !== this.standbyId) {
      this.holds.delete(h.holdId);
      this.changed();
      throw new ControlError(409, `standby: the standby cue changed while you held "${h.cueId}" (it is ${JSON.stringify(this.standbyId)}); nothing fired`);
    }
    this.endHold(h);
    try {
      this.guardDoubleGo();
    } catch (e) {
      this.changed();
      throw e;
    }
    return this.wentGo(this.start(this.cue(h.cueId), 'hold', by));
  }

  /** First step of arm-then-fire: an arm id valid for armWindowMs, which fire/GO consume. */
  arm(cueId: string, by: Actor): { armId: string; cueId: string; expiresAt: string } {
    const cue = this.cue(cueId);
    this.prune(this.now());
    for (const [k, a] of this.arms) if (a.cueId === cue.id) this.arms.delete(k);
    if (this.arms.size >= MAX_ARMS) throw new ControlError(409, `arm: at most ${MAX_ARMS} cues armed at once`);
    const a = { armId: newId(), cueId: cue.id, operator: by.operator, expiresAt: this.now() + this.rundown.armWindowMs };
    this.arms.set(a.armId, a);
    this.changed();
    return { armId: a.armId, cueId: a.cueId, expiresAt: new Date(a.expiresAt).toISOString() };
  }

  /** Hold-to-fire, press: the cue fires on release if held at least holdMs (and at most 10 s). */
  press(cueId: string, by: Actor): { holdId: string; cueId: string; fireAfter: string } {
    const cue = this.cue(cueId);
    this.prune(this.now());
    if (this.holds.size >= MAX_ARMS) throw new ControlError(409, `hold: at most ${MAX_ARMS} holds at once`);
    const h = { holdId: newId(), cueId: cue.id, operator: by.operator, pressedAt: this.now() };
    this.holds.set(h.holdId, h);
    this.changed();
    return { holdId: h.holdId, cueId: h.cueId, fireAfter: new Date(h.pressedAt + this.rundown.holdMs).toISOString() };
  }

  /**
   * Hold-to-fire, release: fires when held long enough; a release too early cancels the hold. Without a hold id,
   * the caller's own hold of the cue is released (a button's fixed request).
   */
  release(cueId: string, holdId: string | undefined, by: Actor): RunView {
    const h = holdId === undefined ? [...this.holds.values()].filter((x) => x.cueId === cueId && x.operator === by.operator).at(-1) : this.holds.get(holdId);
    if (h === undefined || h.cueId !== cueId) {
      throw new ControlError(409, holdId === undefined ? `holdId: you hold no press of cue "${cueId}" (press first, or give the holdId)` : `holdId: no hold of cue "${cueId}" with this id (expired or never pressed)`);
    }
    this.endHold(h);
    return this.start(this.cue(cueId), 'hold', by);
  }

  // ---- undo and panic ----

  /** Undoes the last cue fired (or the last panic) within the undo window; its cue goes back on standby. */
  undo(_by: Actor): { cueId: string | null; restored: string[] } {
    const u = this.lastUndoable;
    if (u === null) throw new ControlError(409, 'undo: nothing to undo');
    if (this.now() > u.until) throw new ControlError(409, `undo: the window of ${this.rundown.undoWindowMs} ms after "${u.label}" has passed`);
    this.lastUndoable = null;
    if (u.run !== null) {
      this.cancel(u.run);
      u.run.undone = true;
    }
    const restored = restoreGraphics(u.snapshot.graphics, this.opts.graphics);
    if (u.snapshot.obs.length > 0) {
      void this.opts.obs.run(u.snapshot.obs).catch(() => undefined);
      restored.push(...u.snapshot.obs.map((o) => `obs ${o.type} back`));
    }
    for (const i of u.snapshot.irreversible) restored.push(`not undone: ${i}`);
    if (u.cueId !== null && this.rundown.cues.some((c) => c.id === u.cueId)) this.standbyId = u.cueId;
    // The GO that fired the undone cue is taken back: the cue back on standby may be GOne again at once.
    if (u.cueId !== null && this.lastGo?.cueId === u.cueId) this.lastGo = null;
    if (u.cueId !== null) this.lastFire.delete(u.cueId);
    this.changed();
    return { cueId: u.cueId, restored };
  }

  /** Stops every graphic on air and cancels every running cue, wait and follow; undoable like a cue. */
  panic(_by: Actor): { stopped: string[]; cancelled: string[] } {
    const cancelled: string[] = [];
    for (const r of this.runs.values()) {
      this.cancel(r);
      cancelled.push(r.cueId);
    }
    this.arms.clear();
    this.holds.clear();
    const before = GRAPHICS.map((g) => this.opts.graphics.get(g));
    const stopped: string[] = [];
    for (const g of before) {
      if (!g.visible) continue;
      this.opts.graphics.command(g.name, 'stop');
      stopped.push(g.name);
    }
    this.lastUndoable = { run: null, runId: newId(), cueId: null, label: 'panic', until: this.now() + this.rundown.undoWindowMs, snapshot: { graphics: before, obs: [], irreversible: [] } };
    this.changed();
    return { stopped, cancelled };
  }

  // ---- rundown edits (admin) ----

  addCue(raw: unknown, where: { act?: string; after?: string | null }, expectRundownRev: number | undefined): Cue {
    this.expectRundown(expectRundownRev);
    const act = where.act ?? (where.after ? this.cue(where.after).act : this.rundown.acts[0]?.id);
    if (act === undefined || !this.rundown.acts.some((a) => a.id === act)) throw new ControlError(400, `act: must be one of the rundown's acts (${this.rundown.acts.map((a) => a.id).join(', ')})`);
    const cue = cueFrom(raw, act);
    if (this.rundown.cues.some((c) => c.id === cue.id)) throw new ControlError(409, `cue.id: "${cue.id}" is already in the rundown`);
    this.insert(cue, where.after);
    this.edited();
    return cue;
  }

  updateCue(id: string, raw: unknown, expectRundownRev: number | undefined): Cue {
    this.expectRundown(expectRundownRev);
    const old = this.cue(id);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ControlError(400, 'cue: must be an object');
    const cue = cueFrom({ ...raw, id }, old.act);
    this.rundown.cues[this.index(id)] = cue;
    this.edited();
    return cue;
  }

  deleteCue(id: string, expectRundownRev: number | undefined): void {
    this.expectRundown(expectRundownRev);
    this.cue(id);
    if (this.standbyId === id) this.standbyId = this.after(id);
    this.rundown.cues.splice(this.index(id), 1);
    for (const [k, a] of this.arms) if (a.cueId === id) this.arms.delete(k);
    this.edited();
  }

  /** Moves a cue after another (null: to the top), optionally into another act. */
  moveCue(id: string, where: { after: string | null; act?: string }, expectRundownRev: number | undefined): Cue {
    this.expectRundown(expectRundownRev);
    const cue = this.cue(id);
    if (where.after === id) throw new ControlError(400, 'after: a cue cannot move after itself');
    if (where.after !== null) this.cue(where.after);
    const act = where.act ?? (where.after !== null ? this.cue(where.after).act : cue.act);
    if (!this.rundown.acts.some((a) => a.id === act)) throw new ControlError(400, `act: must be one of the rundown's acts (${this.rundown.acts.map((a) => a.id).join(', ')})`);
    this.rundown.cues.splice(this.index(id), 1);
    const moved = { ...cue, act };
    this.insert(moved, where.after);
    this.edited();
    return moved;
  }

  /** Cancels every timer (shutdown). */
  close(): void {
    for (const r of this.runs.values()) this.cancel(r);
  }

  // ---- inside ----

  private start(cue: Cue, cause: FireCause, by: Actor): RunView {
    if (this.runs.size >= MAX_RUNNING) throw new ControlError(409, `cue: at most ${MAX_RUNNING} cues may run at once`);
    const now = this.now();
    const run: Run = {
      runId: newId(),
      cueId: cue.id,
      label: cue.label,
      cause,
      operator: by.operator,
      phase: cue.preWaitMs > 0 ? 'pre-wait' : 'running',
      firedAt: new Date(now).toISOString(),
      phaseEndsAt: cue.preWaitMs > 0 ? new Date(now + cue.preWaitMs).toISOString() : null,
      details: [],
      undone: false,
      cancelled: false,
      timers: new Set(),
      wakers: new Set(),
      undoSnapshot: null,
    };
    this.runs.set(run.runId, run);
    this.history.unshift(run);
    if (this.history.length > HISTORY) this.history.length = HISTORY;
    // The playhead moves past the fired cue (QLab's rule), whether it was fired by GO or by id.
    this.standbyId = this.after(cue.id);
    // Undo reaches the cue fired last; its snapshot is taken when its actions start (after the pre-wait).
    this.lastUndoable = { run, runId: run.runId, cueId: cue.id, label: cue.label, until: now + cue.preWaitMs + this.rundown.undoWindowMs, snapshot: { graphics: [], obs: [], irreversible: [] } };
    this.changed();
    void this.execute(run, cue);
    return view(run);
  }

  private async execute(run: Run, cue: Cue): Promise<void> {
    if (cue.preWaitMs > 0 && !(await this.sleep(run, cue.preWaitMs))) return this.end(run, 'cancelled');
    const snapshot = captureUndo(cue.actions, this.opts.graphics, this.opts.obs);
    if (this.lastUndoable?.run === run) this.lastUndoable.snapshot = snapshot;
    run.phase = 'running';
    run.phaseEndsAt = null;
    this.changed();
    const startedAt = this.now();
    // auto-continue: the next cue starts postWaitMs after this one's actions start, while they still run.
    let followed = false;
    const followOnce = () => {
      if (followed) return;
      followed = true;
      this.follow(run, cue);
    };
    if (cue.follow === 'auto-continue') this.schedule(run, cue.postWaitMs, followOnce);
    const r = await runActions(cue.actions, { graphics: this.opts.graphics, obs: this.opts.obs, sleep: (ms) => this.sleep(run, ms), cancelled: () => run.cancelled });
    run.details.push(...r.details);
    if (run.cancelled) return this.end(run, 'cancelled');
    if (cue.follow === 'auto-follow') {
      run.phase = 'post-wait';
      run.phaseEndsAt = new Date(this.now() + cue.postWaitMs).toISOString();
      this.changed();
      if (!(await this.sleep(run, cue.postWaitMs))) return this.end(run, 'cancelled');
      this.follow(run, cue);
    } else if (cue.follow === 'auto-continue') {
      const left = startedAt + cue.postWaitMs - this.now();
      if (left > 0) {
        run.phase = 'post-wait';
        run.phaseEndsAt = new Date(this.now() + left).toISOString();
        this.changed();
        if (!(await this.sleep(run, left))) return this.end(run, 'cancelled');
      }
      // The post-wait can end before the follow timer (the clock and the timers disagree by a few ms), and end()
      // clears the run's timers: follow here if the timer has not, so the chain is never dropped.
      followOnce();
    }
    this.end(run, r.ok ? 'done' : 'failed');
  }

  /** Starts the cue after `cue` in a chain, unless it needs arming: a chain never fires an on-air cue by itself. */
  private follow(run: Run, cue: Cue): void {
    if (run.cancelled) return;
    const nextId = this.after(cue.id);
    if (nextId === null) return;
    const next = this.cue(nextId);
    if (next.onAir) {
      run.details.push(`follow: stopped before on-air cue "${next.id}", which needs arming`);
      this.standbyId = next.id;
      this.changed();
      return;
    }
    try {
      this.start(next, 'follow', { operator: run.operator, role: null, via: 'system' });
    } catch (e) {
      run.details.push(`follow: ${(e as Error).message}`);
    }
  }

  private end(run: Run, phase: 'done' | 'failed' | 'cancelled'): void {
    run.phase = phase;
    run.phaseEndsAt = null;
    for (const t of run.timers) clearTimeout(t);
    run.timers.clear();
    this.runs.delete(run.runId);
    this.changed();
    this.opts.onRunEnded?.(view(run));
  }

  private cancel(run: Run): void {
    run.cancelled = true;
    for (const t of run.timers) clearTimeout(t);
    run.timers.clear();
    for (const w of run.wakers) w();
    run.wakers.clear();
  }

  private schedule(run: Run, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      run.timers.delete(t);
      fn();
    }, ms);
    run.timers.add(t);
  }

  private sleep(run: Run, ms: number): Promise<boolean> {
    if (run.cancelled) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => resolve(false);
      run.wakers.add(wake);
      this.schedule(run, ms, () => {
        run.wakers.delete(wake);
        resolve(!run.cancelled);
      });
    });
  }

  /** The arm that lets `by` fire an on-air cue: the one `armId` names, or without an id the caller's own arm of it. */
  private findArm(cue: Cue, armId: string | undefined, by: Actor): { armId: string } {
    this.prune(this.now());
    const a = armId === undefined ? [...this.arms.values()].find((x) => x.cueId === cue.id && x.operator === by.operator) : this.arms.get(armId);
    if (a === undefined || a.cueId !== cue.id) {
      throw new ControlError(409, `armId: on-air cue "${cue.id}" fires only with a valid arm id, or after its operator armed it (arm it first; an arm lasts ${this.rundown.armWindowMs} ms)`);
    }
    return a;
  }

  /** Ends a hold being released: refused (and ended) when released too early or held too long. */
  private endHold(h: { holdId: string; pressedAt: number }): void {
    this.holds.delete(h.holdId);
    const held = this.now() - h.pressedAt;
    if (held < this.rundown.holdMs) {
      this.changed();
      throw new ControlError(409, `hold: released after ${held} ms; hold at least ${this.rundown.holdMs} ms to fire`);
    }
    if (held > MAX_HOLD_MS) {
      this.changed();
      throw new ControlError(409, `hold: held ${held} ms, longer than ${MAX_HOLD_MS} ms; press again`);
    }
  }

  private standbyCue(): Cue {
    if (this.standbyId === null) throw new ControlError(409, 'standby: nothing on standby (end of the rundown)');
    return this.cue(this.standbyId);
  }

  /** QLab's double-GO protection: a GO within doubleGoMs of the GO that last fired a cue fires nothing. */
  private guardDoubleGo(): void {
    const last = this.lastGo;
    if (last === null) return;
    const since = this.now() - last.at;
    if (since >= 0 && since < this.rundown.doubleGoMs) {
      throw new ControlError(409, `go: double-GO protection: ${since} ms after the GO that fired "${last.cueId}" (${last.operator}); a GO within ${this.rundown.doubleGoMs} ms fires nothing`);
    }
  }

  private wentGo(run: RunView): RunView {
    this.lastGo = { at: Date.parse(run.firedAt), cueId: run.cueId, operator: run.operator };
    return run;
  }

  private expectState(expect: { standby?: string | null; rev?: number }): void {
    if (expect.rev !== undefined && expect.rev !== this.rev) throw new ControlError(409, `rev: the state changed (you saw ${expect.rev}, it is ${this.rev})`);
    if (expect.standby !== undefined && expect.standby !== this.standbyId) {
      throw new ControlError(409, `standby: the standby cue changed (you saw ${JSON.stringify(expect.standby)}, it is ${JSON.stringify(this.standbyId)})`);
    }
  }

  private expectRundown(rev: number | undefined): void {
    if (rev === undefined) throw new ControlError(400, 'rundownRev: required, the rundown revision you edited');
    if (rev !== this.rundownRev) throw new ControlError(409, `rundownRev: the rundown changed (you edited ${rev}, it is ${this.rundownRev})`);
  }

  private insert(cue: Cue, after: string | null | undefined): void {
    if (after === undefined) {
      // At the end of its act.
      let at = -1;
      this.rundown.cues.forEach((c, i) => {
        if (c.act === cue.act) at = i;
      });
      if (at < 0) {
        // An empty act: after the last cue of any earlier act.
        const actIndex = this.rundown.acts.findIndex((a) => a.id === cue.act);
        const earlier = new Set(this.rundown.acts.slice(0, actIndex).map((a) => a.id));
        this.rundown.cues.forEach((c, i) => {
          if (earlier.has(c.act)) at = i;
        });
      }
      this.rundown.cues.splice(at + 1, 0, cue);
      return;
    }
    const at = after === null ? -1 : this.index(after);
    this.rundown.cues.splice(at + 1, 0, cue);
  }

  private edited(): void {
    this.rundownRev++;
    this.opts.onEdited?.(this.rundown, this.rundownRev);
    if (this.standbyId === null && this.rundown.cues.length > 0 && this.history.length === 0) this.standbyId = this.rundown.cues[0]!.id;
    this.changed();
  }

  private index(id: string): number {
    return this.rundown.cues.findIndex((c) => c.id === id);
  }

  private after(id: string): string | null {
    const i = this.index(id);
    return i >= 0 && i + 1 < this.rundown.cues.length ? this.rundown.cues[i + 1]!.id : null;
  }

  private prune(now: number): void {
    for (const [k, a] of this.arms) if (a.expiresAt <= now) this.arms.delete(k);
    for (const [k, h] of this.holds) if (now - h.pressedAt > MAX_HOLD_MS) this.holds.delete(k);
    if (this.lastUndoable !== null && now > this.lastUndoable.until) this.lastUndoable = null;
  }

  private changed(): void {
    this.rev++;
    this.opts.onChange();
  }
}

function cueFrom(raw: unknown, act: string): Cue {
  try {
    return parseCue('cue', raw, act);
  } catch (e) {
    if (e instanceof RundownError) throw new ControlError(400, e.message);
    throw e;
  }
}

function view(r: Run): RunView {
  return {
    runId: r.runId,
    cueId: r.cueId,
    label: r.label,
    cause: r.cause,
    operator: r.operator,
    phase: r.phase,
    firedAt: r.firedAt,
    phaseEndsAt: r.phaseEndsAt,
    details: [...r.details],
    undone: r.undone,
  };
}
