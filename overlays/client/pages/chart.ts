// /overlays/chart: the per-second GMV chart (see components/chart-view.ts) in the lower part of the frame, inside
// the graphics-safe area.
import { createChartView } from '../components/chart-view.ts';
import { runOverlay } from '../runtime.ts';

void runOverlay('chart', ['second'], (ctx) => {
  const seconds = Number(ctx.params.get('seconds') ?? '60');
  const chart = createChartView(ctx, { width: 1632, height: 400, windowSeconds: Number.isFinite(seconds) && seconds >= 10 && seconds <= 120 ? seconds : 60 });
  chart.root.position.set(144, 594);
  ctx.stage.addChild(chart.root);
  ctx.setDisplayed(chart.displayed);
  ctx.graphic('chart', chart.root);
  // Diagnostics for tests: seconds on the chart with sales, revised ones included.
  (window as unknown as { __galaChart?: () => { secondsWithSales: number } }).__galaChart = () => ({ secondsWithSales: chart.secondsWithSales() });
});
