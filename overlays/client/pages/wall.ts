// /overlays/wall: the stage-wall layout: the show's logo and name, the giant counter, the per-second chart and the
// milestone column; a crossing puts the milestone celebration over it all. The components are the same as the
// single-graphic pages'.
import { Container, Graphics, Sprite, Text } from 'pixi.js';
import { createChartView } from '../components/chart-view.ts';
import { createCounterView } from '../components/counter-view.ts';
import { loadImageTexture } from '../components/image-texture.ts';
import { createMilestoneList } from '../components/milestone-list.ts';
import { createMilestoneView } from '../components/milestone-view.ts';
import { runOverlay } from '../runtime.ts';

void runOverlay('wall', ['totals', 'second', 'milestones'], (ctx) => {
  const { theme } = ctx;
  const root = new Container();
  ctx.stage.addChild(root);

  const logo = new Sprite();
  logo.position.set(96, 54);
  const name = new Text({ text: ctx.show?.name ?? 'Gala', style: { fontFamily: theme.fontFamily, fontSize: 38, fontWeight: '800', fill: theme.text, letterSpacing: 4 } });
  const plate = new Graphics();
  const place = (x: number) => {
    name.position.set(x + 28, 66);
    plate.clear().roundRect(x, 54, name.width + 56, 72, 36).fill({ color: theme.panel, alpha: 0.86 });
  };
  place(96);
  root.addChild(logo, plate, name);
  if (theme.logo !== null) {
    void loadImageTexture(theme.logo).then((t) => {
      if (t === null) return;
      logo.texture = t;
      logo.scale.set(72 / t.height);
      place(96 + t.width * (72 / t.height) + 20);
    });
  }

  const numeralsParam = ctx.params.get('numerals');
  const counter = createCounterView(ctx, { size: 120, numerals: numeralsParam === 'chinese' || numeralsParam === 'western' ? numeralsParam : null, label: 'TONIGHT · GMV · 总成交额' });
  counter.root.position.set(960, 330);
  const chart = createChartView(ctx, { width: 1120, height: 392, windowSeconds: 60 });
  chart.root.position.set(96, 634);
  const list = createMilestoneList(ctx, 584, 392);
  list.position.set(1240, 634);
  root.addChild(counter.root, chart.root, list);

  ctx.setDisplayed(counter.displayed);
  ctx.graphic('wall', root);
  const celebration = createMilestoneView(ctx, { holdMs: 7000, cy: 540 });
  ctx.stage.addChild(celebration.root);
});
