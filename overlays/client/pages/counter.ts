// /overlays/counter: the giant GMV counter (see components/counter-view.ts), centred on the 1920x1080 stage.
import { createCounterView } from '../components/counter-view.ts';
import { runOverlay } from '../runtime.ts';

void runOverlay('counter', ['totals'], (ctx) => {
  const numeralsParam = ctx.params.get('numerals');
  const counter = createCounterView(ctx, {
    numerals: numeralsParam === 'chinese' || numeralsParam === 'western' ? numeralsParam : null,
    extrapolateMs: Number(ctx.params.get('extrapolate') ?? '0') * 1000,
  });
  counter.root.position.set(960, 540);
  ctx.stage.addChild(counter.root);
  ctx.setDisplayed(counter.displayed);
  ctx.graphic('counter', counter.root);
});
