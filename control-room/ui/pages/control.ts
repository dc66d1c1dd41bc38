// The control room (/control): the rundown as a cue list with the standby cue, GO (Space), next/back (arrows),
// fire by id, arm-then-fire and hold-to-fire for on-air cues, undo with its window, panic, running cues with their
// waits, data triggers, what is on air, and (for admins) a cue editor. State arrives whole on the live channel's
// `control` topic; every action goes through /v1/control with the session's CSRF token.
import type { GraphicName, GraphicState, HealthData, ShowData } from '../../../protocol/live-protocol.ts';
import { GRAPHICS } from '../../../protocol/live-protocol.ts';
import type { Cue } from '../../../domain/rundown.ts';
import type { ControlState, RunView } from '../../../protocol/control-state.ts';
import { call, loadSession, logout, toLogin, type Answer, type SessionInfo } from '../api.ts';
import { leftMs, serverNow, syncClock, tickCountdowns } from '../clock.ts';
import { h, fill, byId, setText } from '../dom.ts';
import { createEditor, type Editor } from '../editor.ts';
import { actionsSummary, clock, duration, metricValue, triggerSummary } from '../format.ts';
import { liveClient, type LinkState } from '../live.ts';
import { renderRehearsalBar } from '../rehearsal-bar.ts';
import { createRehearsalPanel, type RehearsalPanel } from '../rehearsal-panel.ts';
import { renderObsPill, renderTopbar } from '../topbar.ts';

interface LocalArm {
  cueId: string;
  armId: string;
  expiresAt: string;
}

interface LocalHold {
  cueId: string;
  pressedAt: number;
  holdId: Promise<string | null>;
}

interface PageState {
  session: SessionInfo | null;
  state: ControlState | null;
  graphics: Record<GraphicName, GraphicState> | null;
  show: ShowData | null;
  health: HealthData | null;
  link: LinkState;
  arm: LocalArm | null;
  hold: LocalHold | null;
  busy: boolean;
  renderedRundownRev: number;
  rows: Map<string, { tr: HTMLTableRowElement; status: HTMLElement; fire: HTMLButtonElement }>;
  lastEsc: number;
  editor: Editor | null;
  /** Thresholds typed but not yet armed, kept across re-renders. */
  thresholds: Map<string, string>;
  shownStandby: string | null | undefined;
  rehearsal: RehearsalPanel | null;
}

const app: PageState = {
  session: null,
  state: null,
  graphics: null,
  show: null,
  health: null,
  link: 'connecting',
  arm: null,
  hold: null,
  busy: false,
  renderedRundownRev: -1,
  rows: new Map(),
  lastEsc: 0,
  editor: null,
  thresholds: new Map(),
  shownStandby: undefined,
  rehearsal: null,
};

const canAct = () => app.session !== null && app.session.role !== 'viewer';
const isAdmin = () => app.session?.role === 'admin';
const cueById = (id: string | null): Cue | undefined => (id === null ? undefined : app.state?.rundown.cues.find((c) => c.id === id));

// ---- messages ----

let messageTimer: ReturnType<typeof setTimeout> | null = null;
function say(text: string, kind: 'ok' | 'warn' | 'error' = 'ok'): void {
  const m = byId('message');
  m.className = `message message-${kind}`;
  m.textContent = text;
  m.hidden = false;
  if (messageTimer !== null) clearTimeout(messageTimer);
  messageTimer = setTimeout(() => (m.hidden = true), kind === 'ok' ? 4000 : 10_000);
}

/** Takes a state from an action's answer (a 409 carries the fresh one) if it is not older than what we show. */
function adopt(s: unknown): void {
  if (typeof s !== 'object' || s === null || !('rev' in s)) return;
  const st = s as ControlState;
  if (app.state !== null && st.rev < app.state.rev) return;
  applyState(st);
}

/** Runs an action; a refusal is shown in words, a 409 with the state it brings. */
async function act<T extends Record<string, unknown>>(what: string, method: string, path: string, body?: unknown): Promise<Answer<T> | null> {
  if (!canAct()) {
    say(`${what}: you are logged in as a viewer (watch only)`, 'warn');
    return null;
  }
  const r = await call<T>(method, path, body);
  adopt(r.body.state);
  if (r.ok) return r;
  if (r.status === 401) {
    say('Session ended: log in again', 'error');
    setTimeout(() => toLogin(), 1500);
  } else if (r.status === 409) {
    say(`${what} refused (409): ${r.error}. Another operator or the show moved first; the list shows the current state.`, 'error');
  } else {
    say(`${what} refused (${r.status}): ${r.error}`, 'error');
  }
  return r;
}

// ---- the actions ----

/**
 * Fires a cue, in two steps when it is on air: the first press arms it (the server's arm id, valid a few seconds),
 * the second sends the fire with that id. One request at a time: a double click cannot fire twice.
 */
async function twoStep(cueId: string, send: (armId: string | undefined) => Promise<void>): Promise<void> {
  if (app.busy) return;
  const onAir = cueById(cueId)?.onAir === true;
  app.busy = true;
  try {
    if (onAir && !(app.arm !== null && app.arm.cueId === cueId && leftMs(app.arm.expiresAt) > 0)) return await armCue(cueId);
    await send(onAir ? app.arm?.armId : undefined);
    app.arm = null;
    render();
  } finally {
    app.busy = false;
  }
}

async function armCue(cueId: string): Promise<void> {
  const r = await act<{ armId: string; expiresAt: string }>('Arm', 'POST', `/v1/control/cues/${encodeURIComponent(cueId)}/arm`);
  if (r?.ok !== true) return;
  app.arm = { cueId, armId: r.body.armId, expiresAt: r.body.expiresAt };
  say(`ARMED ${cueById(cueId)?.label ?? cueId}: press again within ${duration(leftMs(r.body.expiresAt))} to put it on air`, 'warn');
  render();
}

/** GO sends the standby cue it showed: if another desk fired first, the server answers 409 and fires nothing. */
function go(): Promise<void> {
  const standby = app.state?.standby;
  if (standby === undefined) return Promise.resolve();
  if (standby === null) return Promise.resolve(say('GO: nothing on standby (end of the rundown)', 'warn'));
  return twoStep(standby, async (armId) => {
    const r = await act<{ fired: RunView }>('GO', 'POST', '/v1/control/go', { standby, armId });
    if (r?.ok === true) say(`GO: fired ${r.body.fired.label}`);
  });
}

const fireCue = (cueId: string) =>
  twoStep(cueId, async (armId) => {
    const r = await act<{ fired: RunView }>('Fire', 'POST', `/v1/control/cues/${encodeURIComponent(cueId)}/fire`, { armId });
    if (r?.ok === true) say(`Fired ${r.body.fired.label}`);
  });

function holdStart(): void {
  const s = app.state;
  if (s === null || s.standby === null || app.hold !== null || !canAct()) return;
  const cueId = s.standby;
  const holdId = act<{ holdId: string }>('Hold', 'POST', `/v1/control/cues/${encodeURIComponent(cueId)}/hold`).then((r) => (r?.ok === true ? r.body.holdId : null));
  app.hold = { cueId, pressedAt: Date.now(), holdId };
  render();
}

async function holdEnd(): Promise<void> {
  const hold = app.hold;
  if (hold === null) return;
  app.hold = null;
  render();
  const holdId = await hold.holdId;
  if (holdId === null) return;
  const r = await act<{ fired: RunView }>('Hold-to-fire', 'POST', `/v1/control/cues/${encodeURIComponent(hold.cueId)}/release`, { holdId });
  if (r?.ok === true) say(`Held and fired ${r.body.fired.label}`);
}

async function simple(what: string, path: string, body?: unknown, ok?: (b: Record<string, unknown>) => string): Promise<void> {
  const r = await act(what, 'POST', path, body);
  if (r?.ok === true && ok !== undefined) say(ok(r.body));
}

const next = () => simple('Next', '/v1/control/next');
const back = () => simple('Back', '/v1/control/back');
const undo = () =>
  simple('Undo', '/v1/control/undo', undefined, (b) => {
    const u = b.undone as { cueId: string | null; restored: string[] };
    return `Undone ${u.cueId ?? 'panic'}: ${u.restored.join('; ') || 'nothing to restore'}`;
  });
const panic = () =>
  simple('Panic', '/v1/control/panic', undefined, (b) => `PANIC: stopped ${(b.stopped as string[]).join(', ') || 'nothing'}; undo brings it back`);
const standby = (cueId: string) => simple('Standby', '/v1/control/standby', { cueId });

// ---- rendering ----

function applyState(s: ControlState): void {
  syncClock(s.serverTime);
  app.state = s;
  if (app.arm !== null && !s.arms.some((a) => a.cueId === app.arm!.cueId)) app.arm = null;
  render();
}

function kindChip(kind: string): HTMLElement {
  return h('span', { class: `kind kind-${kind}` }, kind);
}

function renderRundown(s: ControlState): void {
  const body = byId('cues');
  const rows: HTMLElement[] = [];
  app.rows.clear();
  let n = 0;
  for (const act of s.rundown.acts) {
    rows.push(h('tr', { class: 'act-row' }, h('td', { colspan: 12 }, h('span', { class: 'act-label' }, act.label), h('span', { class: 'act-id' }, act.id))));
    for (const cue of s.rundown.cues.filter((c) => c.act === act.id)) {
      n++;
      const status = h('span', { class: 'status' });
      const fire = h('button', { class: 'btn btn-fire', type: 'button', disabled: !canAct(), title: cue.onAir ? 'On air: first press arms, second fires' : 'Fire this cue now' }, cue.onAir ? 'ARM' : 'FIRE');
      fire.addEventListener('click', (ev) => {
        ev.stopPropagation();
        void fireCue(cue.id);
      });
      const label = h('td', { class: 'label' }, h('div', { class: 'label-main' }, cue.label));
      if (cue.products.length > 0) label.append(h('div', { class: 'label-sub' }, `products: ${cue.products.join(', ')}`));
      if (cue.notes !== '') label.append(h('div', { class: 'label-sub' }, cue.notes));
      const edit = isAdmin() ? h('button', { class: 'btn btn-small', type: 'button', title: 'Edit this cue' }, 'EDIT') : null;
      edit?.addEventListener('click', (ev) => {
        ev.stopPropagation();
        app.editor?.open(cue.id);
      });
      const tr = h(
        'tr',
        { class: 'cue', 'data-cue': cue.id },
        h('td', { class: 'mark' }, status),
        h('td', { class: 'num' }, n),
        h('td', { class: 'cid' }, cue.id),
        h('td', {}, kindChip(cue.kind)),
        label,
        h('td', { class: 'actions-cell' }, actionsSummary(cue)),
        h('td', { class: 'num' }, duration(cue.preWaitMs)),
        h('td', { class: 'num' }, duration(cue.postWaitMs)),
        h('td', { class: 'follow' }, cue.follow === 'none' ? '' : cue.follow === 'auto-continue' ? 'auto-cont' : 'auto-follow'),
        h('td', { class: 'trigger' }, cue.trigger === null ? '' : triggerSummary(cue.trigger)),
        h('td', { class: 'air' }, cue.onAir ? h('span', { class: 'onair' }, 'ON AIR') : ''),
        h('td', { class: 'fire-cell' }, fire, edit),
      );
      tr.addEventListener('click', () => {
        if (canAct() && app.state?.standby !== cue.id) void standby(cue.id);
      });
      rows.push(tr);
      app.rows.set(cue.id, { tr, status, fire });
    }
  }
  if (s.rundown.cues.length === 0) rows.push(h('tr', {}, h('td', { colspan: 12, class: 'empty' }, 'The rundown is empty.')));
  fill(body, ...rows);
  app.renderedRundownRev = s.rundownRev;
}

function updateRows(s: ControlState): void {
  const running = new Map(s.running.map((r) => [r.cueId, r]));
  const fired = new Map<string, RunView>();
  for (const r of [...s.history].reverse()) fired.set(r.cueId, r);
  const armedBy = new Map(s.arms.map((a) => [a.cueId, a]));
  for (const [id, row] of app.rows) {
    const run = running.get(id);
    const last = fired.get(id);
    const cls = ['cue'];
    if (s.standby === id) cls.push('is-standby');
    if (s.next === id) cls.push('is-next');
    if (run !== undefined) cls.push('is-running');
    else if (last !== undefined) cls.push(last.undone ? 'is-undone' : last.phase === 'failed' ? 'is-failed' : 'is-fired');
    if (armedBy.has(id)) cls.push('is-armed');
    row.tr.className = cls.join(' ');
    setText(row.status, s.standby === id ? '▶' : run !== undefined ? '●' : last?.undone ? '↺' : last !== undefined ? '✓' : '');
    const mine = app.arm !== null && app.arm.cueId === id;
    fill(row.fire, mine ? 'FIRE ' : cueById(id)?.onAir === true ? 'ARM' : 'FIRE', mine ? h('span', { 'data-until': app.arm!.expiresAt }) : null);
    row.fire.classList.toggle('is-armed', mine);
  }
  // Follow the playhead only when it moves, so an operator scrolling ahead is not pulled back every second.
  if (s.standby !== app.shownStandby) {
    app.shownStandby = s.standby;
    if (s.standby !== null) app.rows.get(s.standby)?.tr.scrollIntoView({ block: 'nearest' });
  }
}

function renderGo(s: ControlState): void {
  const cue = cueById(s.standby);
  const nextCue = cueById(s.next);
  fill(
    byId('standby'),
    h('div', { class: 'panel-title' }, 'STANDBY'),
    cue === undefined
      ? h('div', { class: 'standby-label', id: 'standby-label' }, 'End of the rundown')
      : h('div', {}, h('div', { class: 'standby-id' }, cue.id, ' ', kindChip(cue.kind), cue.onAir ? h('span', { class: 'onair' }, 'ON AIR') : null), h('div', { class: 'standby-label', id: 'standby-label' }, cue.label), h('div', { class: 'standby-actions' }, actionsSummary(cue))),
    h('div', { class: 'next-line' }, h('span', { class: 'muted' }, 'NEXT '), nextCue === undefined ? '(none)' : nextCue.label),
  );
  const goBtn = byId<HTMLButtonElement>('go');
  const armed = app.arm !== null && app.arm.cueId === s.standby && leftMs(app.arm.expiresAt) > 0;
  goBtn.disabled = !canAct() || s.standby === null;
  goBtn.classList.toggle('is-armed', armed);
  goBtn.classList.toggle('needs-arm', cue?.onAir === true && !armed);
  fill(
    goBtn,
    h('span', { class: 'go-word' }, armed ? 'FIRE' : cue?.onAir === true ? 'ARM' : 'GO'),
    h('span', { class: 'go-sub' }, armed ? h('span', {}, 'on air in one press · ', h('span', { 'data-until': app.arm!.expiresAt })) : cue?.onAir === true ? 'on-air cue: press twice (Space)' : 'Space'),
  );
  const holdBtn = byId<HTMLButtonElement>('hold');
  holdBtn.disabled = !canAct() || s.standby === null;
  const holdMs = s.rundown.holdMs;
  const hold = app.hold;
  fill(
    holdBtn,
    hold === null ? null : h('span', { class: 'hold-fill', 'data-from': new Date(serverNow() - (Date.now() - hold.pressedAt)).toISOString(), 'data-to': new Date(serverNow() - (Date.now() - hold.pressedAt) + holdMs).toISOString() }),
    h('span', { class: 'hold-text' }, hold === null ? `HOLD TO FIRE (${duration(holdMs)}, H)` : 'HOLDING… release to fire'),
  );
  for (const id of ['back', 'next', 'panic']) byId<HTMLButtonElement>(id).disabled = !canAct();
  const undoBtn = byId<HTMLButtonElement>('undo');
  const u = s.undo;
  undoBtn.disabled = !canAct() || u === null || leftMs(u.until) <= 0;
  fill(undoBtn, h('span', {}, 'UNDO'), u === null ? h('span', { class: 'undo-sub' }, 'nothing to undo') : h('span', { class: 'undo-sub' }, u.label, ' · ', h('span', { 'data-until': u.until })));
}

/**
 * A run's detail lines (what each action did). An OBS step that a rehearsal (or a show without OBS) only logged says
 * so in its line; it gets a mark of its own, so nobody reads "would switch program" as a switch that happened.
 */
function runDetails(r: RunView): HTMLElement | null {
  if (r.details.length === 0) return null;
  const LOGGED = ' (logged only)';
  return h(
    'ul',
    { class: 'run-details' },
    ...r.details.slice(0, 8).map((d) => {
      const at = d.indexOf(LOGGED);
      if (at < 0) return h('li', {}, d);
      return h('li', { class: 'logged-only' }, d.slice(0, at), ' ', h('span', { class: 'logged-only-mark' }, '(logged only)'), d.slice(at + LOGGED.length));
    }),
    r.details.length > 8 ? h('li', { class: 'muted' }, `… ${r.details.length - 8} more`) : null,
  );
}

function runCue(r: RunView): HTMLElement {
  const cue = cueById(r.cueId);
  const wait = r.phase === 'pre-wait' ? cue?.preWaitMs : r.phase === 'post-wait' ? cue?.postWaitMs : undefined;
  const to = r.phaseEndsAt;
  const bar =
    to !== null && wait !== undefined && wait > 0
      ? h('div', { class: 'bar' }, h('div', { class: 'bar-fill', 'data-from': new Date(Date.parse(to) - wait).toISOString(), 'data-to': to }))
      : h('div', { class: 'bar bar-indeterminate' }, h('div', { class: 'bar-fill' }));
  return h(
    'li',
    { class: `run run-${r.phase}` },
    h('div', { class: 'run-head' }, h('span', { class: 'run-label' }, r.label), h('span', { class: 'run-phase' }, r.phase, to === null ? '' : ' ', to === null ? null : h('span', { 'data-until': to }))),
    bar,
    h('div', { class: 'run-meta' }, `${r.cause} by ${r.operator} at ${clock(r.firedAt)}`),
    runDetails(r),
  );
}

function renderRunning(s: ControlState): void {
  fill(byId('running'), ...(s.running.length === 0 ? [h('li', { class: 'muted' }, 'Nothing running')] : s.running.map(runCue)));
  fill(
    byId('history'),
    ...(s.history.length === 0
      ? [h('li', { class: 'muted' }, 'Nothing fired yet')]
      : s.history.slice(0, 12).map((r) =>
          h(
            'li',
            { class: `hist hist-${r.phase}${r.undone ? ' hist-undone' : ''}` },
            h('span', { class: 'hist-time' }, clock(r.firedAt)),
            h('span', { class: 'hist-label' }, r.label),
            h('span', { class: 'hist-meta' }, `${r.undone ? 'undone' : r.phase} · ${r.cause} · ${r.operator}`),
            runDetails(r),
          ),
        )),
  );
}

function renderTriggers(s: ControlState): void {
  const armed = new Map(s.triggers.map((t) => [t.cueId, t]));
  const ids = new Set([...s.rundown.cues.filter((c) => c.trigger !== null).map((c) => c.id), ...armed.keys()]);
  const items: HTMLElement[] = [];
  for (const id of ids) {
    const cue = cueById(id);
    const t = armed.get(id);
    const cond = t?.condition ?? cue?.trigger ?? null;
    if (cond === null) continue;
    const input = h('input', { class: 'threshold', 'data-trigger-input': id, value: t?.state === 'armed' ? cond.atLeast : (app.thresholds.get(id) ?? cond.atLeast), disabled: !canAct() || t?.state === 'armed', title: 'Threshold (atLeast)', 'aria-label': `threshold of ${id}` });
    const btn =
      t?.state === 'armed'
        ? h('button', { class: 'btn btn-small btn-warn', type: 'button', disabled: !canAct(), 'data-trigger-disarm': id }, 'DISARM')
        : h('button', { class: 'btn btn-small', type: 'button', disabled: !canAct(), 'data-trigger-arm': id }, t?.state === 'fired' ? 'RE-ARM' : 'ARM');
    input.addEventListener('input', () => app.thresholds.set(id, input.value));
    btn.addEventListener('click', () => {
      app.thresholds.delete(id);
      if (t?.state === 'armed') return void simple('Disarm trigger', `/v1/control/triggers/${encodeURIComponent(id)}/disarm`, undefined, () => `Trigger of ${id} disarmed`);
      const atLeast = input.value.trim();
      const condition = atLeast === cond.atLeast && t === undefined ? undefined : { ...cond, atLeast };
      void simple('Arm trigger', `/v1/control/triggers/${encodeURIComponent(id)}/arm`, { condition }, () => `Trigger of ${id} armed: fires when ${triggerSummary({ ...cond, atLeast })}`);
    });
    const state = t === undefined ? 'disarmed' : t.state;
    items.push(
      h(
        'li',
        { class: `trig trig-${state}${t?.willFire === true ? ' trig-will' : ''}`, 'data-trigger': id },
        h('div', { class: 'trig-head' }, h('span', { class: `trig-state` }, state.toUpperCase()), h('span', { class: 'trig-label' }, cue?.label ?? id), cue?.onAir === true ? h('span', { class: 'onair' }, 'ON AIR') : null),
        h('div', { class: 'trig-cond' }, triggerSummary(cond), ' · now ', h('b', { class: 'trig-current' }, metricValue(cond, t?.current ?? null)), t?.willFire === true ? h('span', { class: 'will' }, 'WILL FIRE') : null),
        h('div', { class: 'bar' }, h('div', { class: 'bar-fill trig-fill' })),
        h('div', { class: 'trig-fires' }, 'fires: ', cue === undefined ? '(cue deleted)' : actionsSummary(cue)),
        h('div', { class: 'trig-ctl' }, h('span', { class: 'muted' }, '≥'), input, btn, t === undefined ? null : h('span', { class: 'muted' }, ` armed by ${t.armedBy}${t.firedAt === null ? '' : `, fired ${clock(t.firedAt)}`}`)),
      ),
    );
    const fillEl = items[items.length - 1]!.querySelector<HTMLElement>('.trig-fill')!;
    fillEl.style.width = `${Math.round((t?.progress ?? 0) * 100)}%`;
  }
  // The list is rebuilt whole; an operator typing a threshold keeps the focus and the caret.
  const focused = document.activeElement instanceof HTMLInputElement ? document.activeElement.dataset.triggerInput : undefined;
  fill(byId('triggers'), ...(items.length === 0 ? [h('li', { class: 'muted' }, 'No data-triggered cues in the rundown')] : items));
  if (focused !== undefined) {
    const again = document.querySelector<HTMLInputElement>(`input[data-trigger-input="${CSS.escape(focused)}"]`);
    again?.focus();
    again?.setSelectionRange(again.value.length, again.value.length);
  }
}

function renderGraphics(): void {
  const g = app.graphics;
  if (g === null) return;
  fill(
    byId('onair'),
    ...GRAPHICS.map((name) => {
      const s = g[name];
      const data = s?.data ?? {};
      const what = data.title ?? data.label ?? data.board ?? data.sku;
      return h(
        'li',
        { class: `gfx${s?.visible === true ? ' gfx-on' : ''}`, 'data-graphic': name },
        h('span', { class: 'gfx-dot' }),
        h('span', { class: 'gfx-name' }, name),
        h('span', { class: 'gfx-data' }, typeof what === 'string' || typeof what === 'number' ? String(what) : ''),
      );
    }),
  );
}

function renderTop(): void {
  renderRehearsalBar(app.state?.rehearsal != null || app.show?.rehearsal === true, app.state?.rehearsal ?? null);
  renderTopbar(byId('topbar'), { session: app.session, show: app.show, health: app.health, link: app.link, page: 'control' });
}

function render(): void {
  const s = app.state;
  renderTop();
  if (s === null) return;
  if (s.rundownRev !== app.renderedRundownRev) {
    renderRundown(s);
    app.editor?.rundownChanged(s);
  }
  updateRows(s);
  renderGo(s);
  renderRunning(s);
  renderTriggers(s);
  renderObsPill(byId('obs'), s.obs);
  app.rehearsal?.update(s);
  byId('audit-warning').hidden = s.auditUnwritten === 0;
  tickCountdowns();
}

// ---- the page ----

function layout(): void {
  const goBtn = h('button', { id: 'go', class: 'btn btn-go go', type: 'button' }, 'GO');
  goBtn.addEventListener('click', () => void go());
  const holdBtn = h('button', { id: 'hold', class: 'btn btn-hold', type: 'button' });
  holdBtn.addEventListener('pointerdown', (ev) => {
    holdBtn.setPointerCapture(ev.pointerId);
    holdStart();
  });
  holdBtn.addEventListener('pointerup', () => void holdEnd());
  holdBtn.addEventListener('pointercancel', () => void holdEnd());
  const button = (id: string, cls: string, text: string, fn: () => unknown, title: string) => {
    const b = h('button', { id, class: `btn ${cls}`, type: 'button', title }, text);
    b.addEventListener('click', () => void fn());
    return b;
  };
  const cueTable = h(
    'table',
    { class: 'cuelist' },
    h('thead', {}, h('tr', {}, ...['', '#', 'Cue', 'Kind', 'Label', 'Actions', 'Pre', 'Post', 'Follow', 'Trigger', 'Air', ''].map((t) => h('th', {}, t)))),
    h('tbody', { id: 'cues' }),
  );
  const main = h(
    'div',
    { class: 'room' },
    h('section', { class: 'list-pane' }, h('div', { class: 'list-scroll' }, cueTable), h('div', { id: 'editor-host' })),
    h(
      'aside',
      { class: 'side' },
      h('div', { id: 'standby', class: 'panel standby-panel' }),
      goBtn,
      holdBtn,
      h('div', { class: 'row2' }, button('back', 'btn-nav', '▲ BACK', back, 'Standby the previous cue (↑)'), button('next', 'btn-nav', '▼ NEXT', next, 'Standby the next cue (↓)')),
      h('div', { class: 'row2' }, button('undo', 'btn-undo', 'UNDO', undo, 'Undo the last cue within its window (Ctrl+Z)'), button('panic', 'btn-panic', 'PANIC', panic, 'Stop every graphic and cancel running cues (Esc Esc); undoable')),
      h('div', { id: 'message', class: 'message', role: 'status', 'aria-live': 'polite', hidden: true }),
      app.rehearsal?.el,
      h('div', { class: 'panel' }, h('div', { class: 'panel-title' }, 'RUNNING'), h('ul', { id: 'running', class: 'list' })),
      h('div', { class: 'panel' }, h('div', { class: 'panel-title' }, 'DATA TRIGGERS'), h('ul', { id: 'triggers', class: 'list' })),
      h('div', { class: 'panel' }, h('div', { class: 'panel-title' }, 'ON AIR: GRAPHICS'), h('ul', { id: 'onair', class: 'gfx-list' })),
      h('div', { class: 'panel' }, h('div', { class: 'panel-title' }, 'FIRED'), h('ul', { id: 'history', class: 'list' })),
    ),
  );
  const keys = h(
    'footer',
    { class: 'keys' },
    ...[
      ['Space', 'GO (on-air: twice)'],
      ['H', 'hold to fire'],
      ['↑ ↓', 'back / next'],
      ['Ctrl+Z', 'undo'],
      ['Esc', 'disarm'],
      ['Esc Esc', 'panic'],
    ].map(([k, v]) => h('span', { class: 'key' }, h('kbd', {}, k!), ' ', v!)),
    h('span', { id: 'obs', class: 'obs-pill' }),
    h('span', { id: 'audit-warning', class: 'pill pill-bad', hidden: true }, 'AUDIT NOT WRITTEN TO DISK'),
  );
  fill(byId('app'), h('header', { id: 'topbar', class: 'topbar' }), main, keys);
}

function typing(ev: KeyboardEvent): boolean {
  const t = ev.target as HTMLElement | null;
  return t !== null && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

function keyboard(): void {
  document.addEventListener('keydown', (ev) => {
    if (typing(ev) || ev.altKey) return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'z') {
      ev.preventDefault();
      if (!ev.repeat) void undo();
      return;
    }
    if (ev.ctrlKey || ev.metaKey) return;
    switch (ev.key) {
      case ' ':
        ev.preventDefault();
        // A held key repeats: only the first press counts, so a stuck Space never fires twice.
        if (!ev.repeat) void go();
        return;
      case 'ArrowDown':
        ev.preventDefault();
        void next();
        return;
      case 'ArrowUp':
        ev.preventDefault();
        void back();
        return;
      case 'h':
      case 'H':
        if (!ev.repeat) holdStart();
        return;
      case 'Escape': {
        const now = Date.now();
        if (now - app.lastEsc < 800) {
          app.lastEsc = 0;
          void panic();
        } else {
          app.lastEsc = now;
          if (app.arm !== null) {
            app.arm = null;
            say('Disarmed (this page); press Esc again at once for PANIC', 'warn');
            render();
          }
        }
        return;
      }
    }
  });
  document.addEventListener('keyup', (ev) => {
    if (ev.key === 'h' || ev.key === 'H') void holdEnd();
  });
}

async function main(): Promise<void> {
  const session = await loadSession();
  if (session === null) return toLogin();
  app.session = session;
  document.body.classList.add(`as-${session.role}`);
  app.rehearsal = createRehearsalPanel({ canAct: canAct(), onState: adopt });
  layout();
  if (session.role === 'admin') app.editor = createEditor(byId('editor-host'), { say, state: () => app.state, act });
  keyboard();
  render();
  const live = liveClient();
  live.subscribe('control', (m) => applyState(m.data));
  live.subscribe('graphics', (m) => {
    if (m.type === 'snapshot') app.graphics = m.data.graphics;
    else if (app.graphics !== null) app.graphics = { ...app.graphics, [m.data.name]: m.data };
    renderGraphics();
  });
  live.subscribe('show', (m) => {
    app.show = m.data;
    renderTop();
  });
  live.subscribe('health', (m) => {
    app.health = m.data;
    renderTop();
  });
  live.onStatus((s) => {
    app.link = s;
    render();
  });
  live.start();
  setInterval(() => {
    tickCountdowns();
    // Arms and the undo offer lapse on their own: re-render the buttons when one does.
    const s = app.state;
    if (s === null) return;
    if ((app.arm !== null && leftMs(app.arm.expiresAt) <= 0) || (s.undo !== null && leftMs(s.undo.until) <= 0 && !byId<HTMLButtonElement>('undo').disabled)) {
      if (app.arm !== null && leftMs(app.arm.expiresAt) <= 0) app.arm = null;
      render();
    }
  }, 100);
  byId('topbar').addEventListener('click', (ev) => {
    if ((ev.target as HTMLElement).id === 'logout') void logout();
  });
}

void main();
