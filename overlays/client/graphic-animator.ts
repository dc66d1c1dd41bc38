// The graphics of an overlay page on their cues: each bound view is shown with an in animation on `play`, hidden
// with an out animation on `stop`, told of `update` / `next`, and a transient one goes out by itself after its hold.
import type { Container } from 'pixi.js';
import type { GraphicName, GraphicState, TopicMessage } from '../../protocol/live-protocol.ts';

export interface GraphicOptions {
  /** A transient graphic: after a `play` (or a trigger) it goes out by itself after this long. */
  holdMs?: number;
}

const IN_MS = 450;
const OUT_MS = 350;

interface Bound {
  view: Container;
  onChange?: (s: GraphicState) => void;
  state: GraphicState | null;
  anim: { kind: 'in' | 'out'; t0: number } | null;
  holdMs: number;
  outAt: number | null;
}

export class GraphicAnimator {
  private readonly bound = new Map<GraphicName, Bound>();

  /** `forced` (?show=1): every bound graphic stays on screen for setting up, whatever the cues say. */
  constructor(private readonly forced: boolean) {}

  /** Binds a view to a graphic's cue state; `onChange` hears every state (update and next included). */
  bind(name: GraphicName, view: Container, onChange?: (s: GraphicState) => void, opts?: GraphicOptions): void {
    view.visible = false;
    this.bound.set(name, { view, onChange, state: null, anim: null, holdMs: opts?.holdMs ?? 0, outAt: null });
  }

  /** Puts a bound graphic on air by itself (a milestone crossing), for its holdMs. */
  trigger(name: GraphicName): void {
    const b = this.bound.get(name);
    if (b === undefined) return;
    const now = performance.now();
    b.view.visible = true;
    b.anim = { kind: 'in', t0: now };
    b.outAt = b.holdMs > 0 ? now + b.holdMs : null;
  }

  /** A `graphics` topic message: every graphic's state (a snapshot, applied without animation) or one's change. */
  receive(m: TopicMessage<'graphics'>): void {
    if (m.type === 'snapshot') for (const s of Object.values(m.data.graphics)) this.apply(s, true);
    else this.apply(m.data, false);
  }

  /** Moves the animations to the frame's instant. */
  step(now: number): void {
    for (const b of this.bound.values()) {
      if (b.outAt !== null && now >= b.outAt) {
        b.outAt = null;
        b.anim = { kind: 'out', t0: now };
      }
      if (b.anim === null) continue;
      const p = Math.min(1, (now - b.anim.t0) / (b.anim.kind === 'in' ? IN_MS : OUT_MS));
      const e = 1 - (1 - p) ** 3;
      if (b.anim.kind === 'in') {
        b.view.alpha = e;
        b.view.pivot.y = -40 * (1 - e);
      } else {
        b.view.alpha = 1 - e;
        b.view.pivot.y = 40 * e;
        if (p >= 1) b.view.visible = false;
      }
      if (p >= 1) b.anim = null;
    }
  }

  /** The bound graphics on screen now. */
  visible(): GraphicName[] {
    return [...this.bound].filter(([, b]) => b.view.visible).map(([n]) => n);
  }

  private apply(s: GraphicState, snapshot: boolean): void {
    const b = this.bound.get(s.name);
    if (b === undefined) return;
    const forced = this.forced;
    const was = b.state;
    b.state = s;
    // A forced state (?show=1) keeps a graphic on screen for setup, whatever the cues say.
    let visible = forced || s.visible;
    const now = performance.now();
    // A transient graphic loaded after its hold has run out stays off; loaded within it, it stays for the rest.
    const age = Date.now() - Date.parse(s.changedAt);
    if (b.holdMs > 0 && snapshot && !forced && !(age >= 0 && age < b.holdMs && s.lastCommand === 'play')) visible = false;
    if (visible && (was === null || !was.visible || (s.lastCommand === 'play' && s.rev !== was.rev))) {
      b.view.visible = true;
      b.anim = snapshot ? null : { kind: 'in', t0: now };
      if (snapshot) {
        b.view.alpha = 1;
        b.view.pivot.y = 0;
      }
      b.outAt = b.holdMs > 0 && !forced ? now + b.holdMs - (snapshot ? Math.max(0, age) : 0) : null;
    } else if (!visible && (was === null || was.visible)) {
      b.outAt = null;
      if (snapshot || was === null) b.view.visible = false;
      else b.anim = { kind: 'out', t0: now };
    }
    b.onChange?.(s);
  }
}
