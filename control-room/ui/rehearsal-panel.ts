// The rehearsal panel: where the replay of the night is (phase, speed, simulated clock, orders sent, acknowledged,
// refused, in flight, how far behind, last error, where OBS steps go) and, for producers, start, pause, resume,
// restart and the speed (1-100, presets 1x/10x/30x/100x). A viewer sees the same figures with every control disabled.
import type { ControlState, RehearsalView } from '../../protocol/control-state.ts';
import { call } from './api.ts';
import { fill, h, setText } from './dom.ts';
import { duration } from './format.ts';
import { pill } from './topbar.ts';

const PRESETS = [1, 10, 30, 100];
const PHASE_PILL = { ready: 'info', running: 'ok', paused: 'warn', finished: 'info' } as const;

export interface RehearsalPanel {
  /** The panel itself (hidden on air). */
  el: HTMLElement;
  update(s: ControlState): void;
}

export interface RehearsalPanelOptions {
  /** False for a viewer: every control disabled. */
  canAct: boolean;
  /** A state that came back with an answer (newer than the live channel's, perhaps). */
  onState(s: ControlState): void;
}

/** Where OBS steps go, in words an operator reads at a glance. */
export function obsModeText(v: RehearsalView, obsUrl: string | null): string {
  return v.obs === 'log' ? 'log only — nothing sent to OBS' : `live → ${obsUrl ?? '(rehearsal OBS, url unknown)'}`;
}

export function createRehearsalPanel(opts: RehearsalPanelOptions): RehearsalPanel {
  let view: RehearsalView | null = null;
  let obsUrl: string | null = null;
  let busy = false;
  const stat = (key: string, label: string) => h('div', { class: 'rh-stat' }, h('span', { class: 'rh-k' }, label), h('span', { class: 'rh-v', 'data-rh': key }, '-'));
  const phase = h('span', { id: 'rehearsal-phase' });
  const error = h('div', { id: 'rehearsal-error', class: 'message message-error', role: 'alert', hidden: true });
  const note = opts.canAct ? null : h('div', { class: 'muted rh-note' }, 'Viewer: watch only (a producer drives the replay)');
  const button = (id: string, text: string, path: string, title: string) => {
    const b = h('button', { id, class: 'btn btn-small', type: 'button', title }, text);
    b.addEventListener('click', () => void send(text, path));
    return b;
  };
  const buttons = {
    start: button('rehearsal-start', 'START', 'start', 'Start replaying the night'),
    pause: button('rehearsal-pause', 'PAUSE', 'pause', 'Stop the simulated clock; no more orders until resumed'),
    resume: button('rehearsal-resume', 'RESUME', 'resume', 'Go on from where the replay paused'),
    restart: button('rehearsal-restart', 'RESTART', 'restart', 'Replay the night again from its midnight (the figures so far stay)'),
  };
  const speed = h('input', { id: 'rehearsal-speed', type: 'number', min: 1, max: 100, step: 1, class: 'rh-speed', 'aria-label': 'replay speed, 1 to 100' });
  const setSpeed = h('button', { id: 'rehearsal-speed-set', class: 'btn btn-small', type: 'button' }, 'SET');
  const presets = PRESETS.map((n) => {
    const b = h('button', { class: 'btn btn-small rh-preset', type: 'button', 'data-speed': n }, `${n}x`);
    b.addEventListener('click', () => void sendSpeed(n));
    return b;
  });
  setSpeed.addEventListener('click', () => void typedSpeed());
  speed.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') void typedSpeed();
  });

  const el = h(
    'div',
    { id: 'rehearsal-panel', class: 'panel rehearsal-panel', hidden: true },
    h('div', { class: 'panel-title' }, 'REHEARSAL REPLAY ', phase),
    h(
      'div',
      { class: 'rh-grid' },
      stat('speed', 'Speed'),
      stat('simClock', 'Simulated clock'),
      stat('sent', 'Orders sent'),
      stat('acked', 'Acknowledged'),
      stat('rejected', 'Refused'),
      stat('inFlight', 'In flight'),
      stat('behind', 'Behind'),
      stat('run', 'Run'),
    ),
    h('div', { class: 'rh-line' }, h('span', { class: 'rh-k' }, 'OBS '), h('span', { id: 'rehearsal-obs', class: 'rh-v' })),
    h('div', { class: 'rh-line' }, h('span', { class: 'rh-k' }, 'Last error '), h('span', { id: 'rehearsal-last-error', class: 'rh-v' })),
    h('div', { class: 'rh-buttons' }, buttons.start, buttons.pause, buttons.resume, buttons.restart),
    h('div', { class: 'rh-buttons' }, h('span', { class: 'rh-k' }, 'Speed'), speed, setSpeed, ...presets),
    error,
    note,
  );

  function showError(text: string | null): void {
    error.hidden = text === null;
    error.textContent = text ?? '';
  }

  async function post(what: string, path: string, body?: unknown): Promise<void> {
    if (!opts.canAct || busy) return;
    busy = true;
    render();
    try {
      const r = await call<{ state?: ControlState }>('POST', `/v1/control/rehearsal/${path}`, body);
      if (r.ok) showError(null);
      else showError(`${what} refused (${r.status === 0 ? 'no answer' : r.status}): ${r.error}`);
      if (r.body.state !== undefined) opts.onState(r.body.state);
    } finally {
      busy = false;
      render();
    }
  }
  const send = (what: string, path: string) => post(what, path);
  function sendSpeed(n: number): Promise<void> {
    speed.blur();
    return post(`Speed ${n}x`, 'speed', { speed: n });
  }
  /** The typed speed; the server checks the range and the send rate, this only spares a round trip for an empty box. */
  function typedSpeed(): Promise<void> {
    if (speed.value.trim() === '' || !Number.isFinite(Number(speed.value))) return Promise.resolve(showError('Speed: type a number from 1 to 100'));
    return sendSpeed(Number(speed.value));
  }

  function render(): void {
    const v = view;
    if (v === null) return;
    const set = (key: string, text: string) => setText(el.querySelector(`[data-rh="${key}"]`)!, text);
    fill(phase, pill(v.phase.toUpperCase(), PHASE_PILL[v.phase]));
    set('speed', `${v.speed}x`);
    set('simClock', v.simClock);
    set('sent', v.sent.toLocaleString('en-US'));
    set('acked', v.acked.toLocaleString('en-US'));
    set('rejected', v.rejected.toLocaleString('en-US'));
    set('inFlight', v.inFlight.toLocaleString('en-US'));
    set('behind', v.behindMs <= 0 ? 'on time' : `${duration(v.behindMs)} (simulated)`);
    set('run', String(v.run));
    setText(el.querySelector('#rehearsal-obs')!, obsModeText(v, obsUrl));
    const le = el.querySelector<HTMLElement>('#rehearsal-last-error')!;
    setText(le, v.lastError ?? 'none');
    le.classList.toggle('bad', v.lastError !== null);
    const off = !opts.canAct || busy;
    buttons.start.disabled = off || v.phase !== 'ready';
    buttons.pause.disabled = off || v.phase !== 'running';
    buttons.resume.disabled = off || v.phase !== 'paused';
    buttons.restart.disabled = off || v.phase === 'ready';
    speed.disabled = off;
    setSpeed.disabled = off;
    for (const b of presets) {
      b.disabled = off;
      b.classList.toggle('is-current', Number(b.dataset.speed) === v.speed);
    }
    // Not while an operator is typing a speed: the next state would overwrite what they type.
    if (document.activeElement !== speed) speed.value = String(v.speed);
  }

  return {
    el,
    update(s) {
      view = s.rehearsal;
      obsUrl = s.obs.url;
      el.hidden = view === null;
      render();
    },
  };
}
