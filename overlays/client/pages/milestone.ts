// /overlays/milestone: the milestone celebration (see components/milestone-view.ts), full frame. `?hold=` sets how
// many seconds it stays on air (default 7).
import { createMilestoneView } from '../components/milestone-view.ts';
import { runOverlay } from '../runtime.ts';

void runOverlay('milestone', ['milestones'], (ctx) => {
  const hold = Number(ctx.params.get('hold') ?? '7');
  const view = createMilestoneView(ctx, { holdMs: (Number.isFinite(hold) && hold >= 2 && hold <= 60 ? hold : 7) * 1000 });
  ctx.stage.addChild(view.root);
  ctx.setDisplayed(view.displayed);
  (window as unknown as { __galaConfetti?: () => { live: number; pool: number } }).__galaConfetti = view.confetti;
});
