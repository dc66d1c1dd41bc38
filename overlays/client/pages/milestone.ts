// /overlays/milestone: the milestone celebration (see components/milestone-view.ts), full frame. `?hold=` sets how
// many seconds it stays on air (default 7).
import type { Container } from 'pixi.js';
import { createMilestoneView } from '../components/milestone-view.ts';
import { runOverlay } from '../runtime.ts';

void runOverlay('milestone', ['milestones'], (ctx) => {
  const hold = Number(ctx.params.get('hold') ?? '7');
  const view = createMilestoneView(ctx, { holdMs: (Number.isFinite(hold) && hold >= 2 && hold <= 60 ? hold : 7) * 1000 });
  ctx.stage.addChild(view.root);
  ctx.setDisplayed(view.displayed);
  // Diagnostics for tests: particles in flight (0 once the last burst has landed), the pool, bursts so far, and every
  // display object on the stage (flat over a night).
  const count = (c: Container): number => c.children.reduce((n, ch) => n + 1 + count(ch), 0);
  (window as unknown as { __galaConfetti?: () => { live: number; pool: number; bursts: number; objects: number } }).__galaConfetti = () => ({ ...view.confetti(), objects: count(ctx.stage) });
});
