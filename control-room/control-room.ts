// The control room's server side in one object: the cue engine, the data triggers, sessions, roles and the audit,
// publishing one whole state on the live channel's `control` topic whenever it changes.
import type { ControlState } from '../protocol/control-state.ts';
export type { ControlState } from '../protocol/control-state.ts';
import type { TotalsReader } from '../aggregator/index.ts';
import { Unauthorized, type BearerGuard } from '../platform/tokens.ts';
import type { TriggerCondition } from '../domain/rundown.ts';
import type { Rundown } from '../domain/rundown.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { Log } from '../platform/log.ts';
import { AuditLog, type AuditInput } from './audit-log.ts';
import { createRoleGuard, originMatches } from './control-auth.ts';
import { ControlError } from './control-error.ts';
import { CueEngine, type Actor, type RunView } from './cue-engine.ts';
import { DataTriggers, type TriggerValues, type TriggerView } from './data-triggers.ts';
import type { ObsPort } from '../domain/obs-port.ts';
import { rehearsalView, type RehearsalHandle } from './rehearsal/replay.ts';
import { createRoleResolver, type Role, type RoleTokens } from './roles.ts';
import { SessionStore, sessionCookies, type SessionCheck } from './sessions.ts';


export interface ControlRoomOptions {
  rundown: Rundown;
  /** Saved admin edits to start from, and where to save new ones. */
  rundownRev?: number;
  saveRundown?: (r: Rundown, rev: number) => void;
  graphics: Graphics;
  obs: ObsPort;
  totals: TotalsReader;
  /** A product's units sold now (for productUnits triggers); fetched once a second per armed SKU. */
  productUnits: (sku: string) => Promise<number>;
  audit: AuditLog;
  tokens: RoleTokens;
  log: Log;
  /** Sessions: bound and lifetimes (tests shrink them). */
  sessions?: SessionStore;
  /** Where a session cookie is checked for the pages and the live channel (default: `sessions`). */
  sessionCheck?: SessionCheck;
  /** Set when the process is a rehearsal (fixed at start). */
  rehearsal?: RehearsalHandle | null;
}

export class ControlRoom {
  readonly engine: CueEngine;
  readonly triggers: DataTriggers;
  readonly sessions: SessionStore;
  readonly sessionCheck: SessionCheck;
  readonly audit: AuditLog;
  readonly roleOf: (token: string | null) => Role | null;
  /** The role a request's token grants, or the 401. */
  readonly bearer: BearerGuard<Role>;
  readonly rehearsal: RehearsalHandle | null;
  private readonly units = new Map<string, number>();
  private publishQueued = false;
  private readonly listeners = new Set<(at: string, state: ControlState) => void>();
  private triggersJson = '';
  private totalsRev = -1;
  private timers: NodeJS.Timeout[] = [];
  private unitsRunning = false;
  private readonly unsubscribeObs: () => void;

  constructor(private readonly opts: ControlRoomOptions) {
    this.audit = opts.audit;
    this.sessions = opts.sessions ?? new SessionStore();
    this.sessionCheck = opts.sessionCheck ?? ((id) => this.sessions.get(id) !== null);
    this.roleOf = createRoleResolver(opts.tokens);
    this.bearer = createRoleGuard(this.roleOf);
    this.engine = new CueEngine({
      rundown: opts.rundown,
      graphics: opts.graphics,
      obs: opts.obs,
      rundownRev: opts.rundownRev,
      onEdited: opts.saveRundown,
      onChange: () => this.changed(),
      onRunEnded: (r) => void this.runEnded(r),
    });
    this.triggers = new DataTriggers({
      fire: (cueId, armedBy, condition) => this.fireTrigger(cueId, armedBy, condition),
      onChange: () => this.changed(),
    });
    this.rehearsal = opts.rehearsal ?? null;
    const offObs = opts.obs.onStatus(() => this.changed());
    const offReplay = this.rehearsal?.replay.onChange(() => this.changed());
    this.unsubscribeObs = () => {
      offObs();
      offReplay?.();
    };
  }

  /** Starts evaluating armed triggers: on every totals change (checked every 100 ms), products once a second. */
  start(): void {
    this.timers.push(
      setInterval(() => {
        if (this.triggers.pending === 0 || this.opts.totals.revision === this.totalsRev) return;
        this.totalsRev = this.opts.totals.revision;
        this.triggers.evaluate(this.values());
      }, 100),
    );
    this.timers.push(setInterval(() => void this.refreshUnits(), 1000));
    // Armed triggers show the live value against their threshold: republished once a second when it moved.
    this.timers.push(
      setInterval(() => {
        if (this.triggers.list(this.values()).length === 0) return;
        const j = JSON.stringify(this.triggers.list(this.values()));
        if (j !== this.triggersJson) this.changed();
      }, 1000),
    );
    for (const t of this.timers) t.unref();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribeObs();
    this.engine.close();
    await this.audit.close();
  }

  /** Calls `listener` with the whole state whenever it changes (the live channel publishes it); returns the unsubscribe. */
  onState(listener: (at: string, state: ControlState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  values(): TriggerValues {
    const snap = this.opts.totals;
    return {
      gmvHundredths: snap.gmvHundredths(),
      orders: snap.orders,
      mobileShare: snap.snapshot().mobileShare,
      productUnits: (sku) => this.units.get(sku),
    };
  }

  state(): ControlState {
    const triggers = this.triggers.list(this.values());
    this.triggersJson = JSON.stringify(triggers);
    return { ...this.engine.snapshot(), triggers, obs: this.opts.obs.status(), auditUnwritten: this.audit.unwritten, serverTime: new Date().toISOString(), rehearsal: this.rehearsal === null ? null : rehearsalView(this.rehearsal) };
  }

  /** Arms a cue's data trigger (its own condition from the rundown, or the one given). */
  armTrigger(cueId: string, condition: TriggerCondition | null, by: Actor): TriggerView {
    const cue = this.engine.cue(cueId);
    const c = condition ?? cue.trigger;
    if (c === null) throw new ControlError(400, `condition: cue "${cueId}" has no trigger in the rundown; give one`);
    return this.triggers.arm(cueId, c, by.operator, this.values());
  }

  /**
   * May this live-channel upgrade see the control-room topics? Any role's token (Bearer or `?token=`), or a
   * session cookie on a same-origin upgrade (a cross-site page must not read the cue list with a producer's cookie).
   * A promise when the session is checked elsewhere (a cluster node other than the coordinator asks it).
   */
  liveAuthorized(h: { authorization: string; cookie: string; origin: string; host: string; query: string }): boolean | Promise<boolean> {
    if (!(this.bearer(h.authorization, h.query) instanceof Unauthorized)) return true;
    if (!originMatches(h.origin === '' ? undefined : h.origin, h.host)) return false;
    const cookies = sessionCookies(h.cookie);
    const answers = cookies.map((k) => this.sessionCheck(k.id, k.https));
    if (answers.every((a) => typeof a === 'boolean')) return answers.includes(true);
    return Promise.all(answers).then((all) => all.includes(true));
  }

  record(entry: AuditInput): Promise<unknown> {
    return this.audit.record(entry);
  }

  private fireTrigger(cueId: string, armedBy: string, condition: TriggerCondition): void {
    const detail = `${condition.metric}${condition.sku ? ` of ${condition.sku}` : ''} reached ${condition.atLeast}`;
    try {
      this.engine.fireByTrigger(cueId, { operator: armedBy, role: null, via: 'trigger' });
      void this.record({ operator: armedBy, role: null, via: 'trigger', action: 'trigger.fire', target: cueId, result: 'ok', status: 0, detail });
    } catch (e) {
      void this.record({ operator: armedBy, role: null, via: 'trigger', action: 'trigger.fire', target: cueId, result: 'failed', status: 0, detail: `${detail}; ${(e as Error).message}` });
      throw e;
    }
  }

  private async runEnded(r: RunView): Promise<void> {
    const result = r.phase === 'done' ? 'ok' : 'failed';
    await this.record({ operator: r.operator, role: null, via: 'system', action: 'cue.end', target: r.cueId, result, status: 0, detail: `${r.phase}${r.undone ? ' (undone)' : ''}: ${r.details.join('; ')}`.slice(0, 2000) });
  }

  private async refreshUnits(): Promise<void> {
    const skus = this.triggers.skus();
    if (skus.length === 0 || this.unitsRunning) return;
    this.unitsRunning = true;
    try {
      for (const sku of skus) this.units.set(sku, await this.opts.productUnits(sku));
      for (const sku of this.units.keys()) if (!skus.includes(sku)) this.units.delete(sku);
      this.triggers.evaluate(this.values());
    } catch (e) {
      this.opts.log('control.units_error', { error: String(e) });
    } finally {
      this.unitsRunning = false;
    }
  }

  /** Coalesces the changes of one synchronous step into one publish. */
  private changed(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    queueMicrotask(() => {
      this.publishQueued = false;
      const s = this.state();
      for (const l of this.listeners) l(s.serverTime, s);
    });
  }
}
