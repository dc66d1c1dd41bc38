// The control room's login page: a role token and the operator's name (for the audit), posted as JSON so a
// refusal is shown here in words; on success the browser holds an HttpOnly session cookie and goes to the room.
import { call } from '../api.ts';
import { byId, h } from '../dom.ts';
import { renderRehearsalBar } from '../rehearsal-bar.ts';

function render(): void {
  const error = h('p', { id: 'login-error', class: 'login-error', role: 'alert', hidden: true });
  const operator = h('input', { id: 'operator', name: 'operator', autocomplete: 'username', required: true, maxlength: 64, placeholder: 'e.g. Mei (PGM desk)' });
  const token = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'producer, admin or viewer token' });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-go' }, 'Log in');
  const form = h(
    'form',
    { id: 'login-form', class: 'login-card', method: 'post', action: '/control/login' },
    h('div', { class: 'brand' }, h('span', { class: 'brand-mark' }, 'GALA'), ' control room'),
    h('label', { for: 'operator' }, 'Operator name'),
    operator,
    h('label', { for: 'token' }, 'Token'),
    token,
    submit,
    error,
    h('p', { class: 'login-note' }, 'Your name goes into the audit of every action you take. Sessions last 12 hours (2 hours idle).'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      error.hidden = true;
      submit.disabled = true;
      const r = await call('POST', '/control/login', { token: token.value, operator: operator.value });
      submit.disabled = false;
      if (!r.ok) {
        error.textContent = r.status === 401 ? 'Token refused: check the token and try again.' : `Login refused: ${r.error ?? 'unknown error'}`;
        error.hidden = false;
        token.select();
        return;
      }
      const next = new URLSearchParams(location.search).get('next');
      location.assign(next === 'live' ? '/control/live' : '/control');
    })();
  });
  byId('app').replaceChildren(h('main', { class: 'login' }, form));
  operator.focus();
}

render();
// Before anyone logs in, the public figures say whether this process is a rehearsal (/v1/stats carries
// `rehearsal: true` then): the warning is up before the first click.
void call<{ rehearsal?: boolean }>('GET', '/v1/stats').then((r) => renderRehearsalBar(r.ok && r.body.rehearsal === true));
