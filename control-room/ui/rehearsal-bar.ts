// The rehearsal bar: a permanent full-width strip on every control-room page while the process is a rehearsal, and a
// body class that turns the desk's top bar blue and striped, so a rehearsal desk cannot be taken for air. On air
// (no rehearsal in the state, show not marked) nothing shows and the page looks as it always did.
import type { RehearsalView } from '../../protocol/control-state.ts';
import { h, setText } from './dom.ts';

const BAR_ID = 'rehearsal-bar';

/** One line saying where the replay is, after the warning itself. */
function summary(v: RehearsalView | null): string {
  if (v === null) return '';
  const obs = v.obs === 'log' ? 'OBS: log only' : 'OBS: rehearsal OBS';
  return `replay ${v.phase} · ${v.speed}x · simulated ${v.simClock} · ${obs}`;
}

/**
 * Shows or removes the bar. `rehearsal` is true when anything says so (the control state's `rehearsal`, the show's
 * `rehearsal` flag, /v1/stats on the login page): one signal is enough to warn.
 */
export function renderRehearsalBar(rehearsal: boolean, view: RehearsalView | null = null): void {
  document.body.classList.toggle('is-rehearsal', rehearsal);
  let bar = document.getElementById(BAR_ID);
  if (!rehearsal) {
    bar?.remove();
    return;
  }
  if (bar === null) {
    bar = h('div', { id: BAR_ID, class: 'rehearsal-bar', role: 'status' }, h('span', { class: 'rehearsal-word' }, 'REHEARSAL — NOT ON AIR'), h('span', { class: 'rehearsal-summary' }));
    // Inside #app, first: the page's flex column makes room for it instead of pushing the desk off the screen.
    (document.getElementById('app') ?? document.body).prepend(bar);
  }
  setText(bar.querySelector('.rehearsal-summary')!, summary(view));
}
