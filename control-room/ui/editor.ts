// The admins' cue editor under the cue list: edit, add after, delete and move cues live. Each edit carries the
// rundown revision it was made against, so an edit made on an outdated list is refused (409) rather than applied.
import { CUE_KINDS, FOLLOW_MODES, type Cue } from '../../domain/rundown.ts';
import type { ControlState } from '../../protocol/control-state.ts';
import type { Answer } from './api.ts';
import { fill, h } from './dom.ts';

export interface Editor {
  open(cueId: string): void;
  rundownChanged(s: ControlState): void;
}

export interface EditorDeps {
  say: (text: string, kind?: 'ok' | 'warn' | 'error') => void;
  state: () => ControlState | null;
  act: (what: string, method: string, path: string, body?: unknown) => Promise<Answer | null>;
}

/** The cue as the API takes it: the fields an admin edits, without `act` (given apart). */
function toWire(c: Cue): Record<string, unknown> {
  return { id: c.id, label: c.label, kind: c.kind, actions: c.actions, preWaitMs: c.preWaitMs, postWaitMs: c.postWaitMs, follow: c.follow, onAir: c.onAir, products: c.products, trigger: c.trigger, notes: c.notes };
}

export function createEditor(host: HTMLElement, deps: EditorDeps): Editor {
  let cueId: string | null = null;
  const f = {
    id: h('input', { name: 'id', maxlength: 64, required: true }),
    label: h('input', { name: 'label', maxlength: 200, required: true }),
    kind: h('select', { name: 'kind' }, ...CUE_KINDS.map((k) => h('option', { value: k }, k))),
    act: h('select', { name: 'act' }),
    onAir: h('input', { name: 'onAir', type: 'checkbox' }),
    preWaitMs: h('input', { name: 'preWaitMs', type: 'number', min: 0, step: 100 }),
    postWaitMs: h('input', { name: 'postWaitMs', type: 'number', min: 0, step: 100 }),
    follow: h('select', { name: 'follow' }, ...FOLLOW_MODES.map((k) => h('option', { value: k }, k))),
    products: h('input', { name: 'products', placeholder: 'SKU-0001-00, SKU-0002-00' }),
    trigger: h('input', { name: 'trigger', placeholder: '{"metric":"gmv","atLeast":"1000000000"} or empty' }),
    notes: h('input', { name: 'notes', maxlength: 2000 }),
    actions: h('textarea', { name: 'actions', rows: 6, spellcheck: 'false' }),
  };
  const error = h('p', { class: 'editor-error', role: 'alert', hidden: true });
  const title = h('span', {}, 'Cue editor');
  const field = (label: string, input: HTMLElement, wide = false) => h('label', { class: wide ? 'ef ef-wide' : 'ef' }, h('span', {}, label), input);
  const btn = (text: string, cls: string, fn: () => void) => {
    const b = h('button', { type: 'button', class: `btn btn-small ${cls}` }, text);
    b.addEventListener('click', fn);
    return b;
  };

  const parse = (): Record<string, unknown> | null => {
    error.hidden = true;
    const fail = (m: string) => {
      error.textContent = m;
      error.hidden = false;
      return null;
    };
    let actions: unknown;
    try {
      actions = f.actions.value.trim() === '' ? [] : JSON.parse(f.actions.value);
    } catch {
      return fail('actions: must be a JSON array of actions');
    }
    let trigger: unknown = null;
    if (f.trigger.value.trim() !== '') {
      try {
        trigger = JSON.parse(f.trigger.value);
      } catch {
        return fail('trigger: must be a JSON object, or empty for none');
      }
    }
    const whole = (v: string) => (v.trim() === '' ? 0 : Number(v));
    return {
      id: f.id.value.trim(),
      label: f.label.value,
      kind: f.kind.value,
      actions,
      preWaitMs: whole(f.preWaitMs.value),
      postWaitMs: whole(f.postWaitMs.value),
      follow: f.follow.value,
      onAir: f.onAir.checked,
      products: f.products.value.split(',').map((s) => s.trim()).filter((s) => s !== ''),
      trigger,
      notes: f.notes.value,
    };
  };

  const load = (c: Cue) => {
    f.id.value = c.id;
    f.label.value = c.label;
    f.kind.value = c.kind;
    f.act.value = c.act;
    f.onAir.checked = c.onAir;
    f.preWaitMs.value = String(c.preWaitMs);
    f.postWaitMs.value = String(c.postWaitMs);
    f.follow.value = c.follow;
    f.products.value = c.products.join(', ');
    f.trigger.value = c.trigger === null ? '' : JSON.stringify(c.trigger);
    f.notes.value = c.notes;
    f.actions.value = JSON.stringify(toWire(c).actions, null, 1);
    fill(title, 'Editing ', h('b', {}, c.id));
  };

  const rev = () => deps.state()?.rundownRev;
  const cues = () => deps.state()?.rundown.cues ?? [];
  const done = (r: Answer | null, what: string) => {
    if (r?.ok === true) deps.say(what);
    else if (r !== null) {
      error.textContent = r.error ?? 'refused';
      error.hidden = false;
    }
    return r?.ok === true;
  };

  const save = async () => {
    const cue = parse();
    if (cue === null || cueId === null) return;
    const r = await deps.act('Save cue', 'PUT', `/v1/control/rundown/cues/${encodeURIComponent(cueId)}`, { cue, rundownRev: rev() });
    done(r, `Saved ${cueId}`);
  };
  const add = async () => {
    const cue = parse();
    if (cue === null) return;
    const r = await deps.act('Add cue', 'POST', '/v1/control/rundown/cues', { cue, act: f.act.value, ...(cueId === null ? {} : { after: cueId }), rundownRev: rev() });
    if (done(r, `Added ${String(cue.id)}`)) cueId = String(cue.id);
  };
  const del = async () => {
    if (cueId === null || !confirm(`Delete cue ${cueId} from the rundown?`)) return;
    const r = await deps.act('Delete cue', 'DELETE', `/v1/control/rundown/cues/${encodeURIComponent(cueId)}`, { rundownRev: rev() });
    if (done(r, `Deleted ${cueId}`)) cueId = null;
  };
  const move = async (by: -1 | 1) => {
    if (cueId === null) return;
    const list = cues();
    const i = list.findIndex((c) => c.id === cueId);
    if (i < 0) return;
    // After the cue two above (moving up) or the one below (moving down); null puts it at the top.
    const after = by < 0 ? (i >= 2 ? list[i - 2]!.id : null) : list[i + 1]?.id;
    if (after === undefined || (by < 0 && i === 0)) return;
    const r = await deps.act('Move cue', 'POST', `/v1/control/rundown/cues/${encodeURIComponent(cueId)}/move`, { after, rundownRev: rev() });
    done(r, `Moved ${cueId}`);
  };

  fill(
    host,
    h(
      'form',
      { class: 'editor', id: 'editor' },
      h('div', { class: 'editor-head' }, h('span', { class: 'panel-title' }, 'ADMIN · '), title, h('span', { class: 'muted' }, ' edits apply live; every edit is audited')),
      h(
        'div',
        { class: 'editor-grid' },
        field('ID', f.id),
        field('Label', f.label, true),
        field('Kind', f.kind),
        field('Act', f.act),
        field('On air (two-step)', f.onAir),
        field('Pre-wait ms', f.preWaitMs),
        field('Post-wait ms', f.postWaitMs),
        field('Follow', f.follow),
        field('Products', f.products, true),
        field('Trigger', f.trigger, true),
        field('Notes', f.notes, true),
        field('Actions (JSON)', f.actions, true),
      ),
      h(
        'div',
        { class: 'editor-buttons' },
        btn('SAVE', 'btn-go', () => void save()),
        btn('ADD AS NEW (after this)', '', () => void add()),
        btn('MOVE UP', '', () => void move(-1)),
        btn('MOVE DOWN', '', () => void move(1)),
        btn('DELETE', 'btn-panic', () => void del()),
      ),
      error,
    ),
  );

  return {
    open(id) {
      const c = cues().find((x) => x.id === id);
      if (c === undefined) return;
      cueId = id;
      load(c);
      host.scrollIntoView({ block: 'nearest' });
      f.label.focus();
    },
    rundownChanged(s) {
      fill(f.act, ...s.rundown.acts.map((a) => h('option', { value: a.id }, a.label)));
      const c = cueId === null ? undefined : s.rundown.cues.find((x) => x.id === cueId);
      if (c !== undefined) f.act.value = c.act;
    },
  };
}
