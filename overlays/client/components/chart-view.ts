// The per-second GMV chart as a component (chart page, stage wall): d3 scales map the last minute of `second`
// frames onto the plot, d3-shape's area and line generators draw into Pixi Graphics, and the time axis slides
// continuously with a clock locked to the frames' arrival, so the chart moves every frame rather than stepping.
import { scaleLinear } from 'd3-scale';
import { area, curveMonotoneX, line } from 'd3-shape';
import { BitmapText, Container, FillGradient, Graphics, Text } from 'pixi.js';
import type { FrameData } from '../../../protocol/live-protocol.ts';
import { parseHundredths, shortMoney, currencySymbol, type Numerals } from '../format.ts';
import type { OverlayContext } from '../runtime.ts';
import { FIGURES, FIGURES_BOLD, installFonts } from './fonts.ts';
import { createPanel } from './panel.ts';
import { pixiPath } from './pixi-path.ts';

export interface ChartViewOptions {
  width: number;
  height: number;
  /** Seconds on the time axis. */
  windowSeconds?: number;
  title?: string;
}

export interface ChartView {
  root: Container;
  /** The latest second's GMV shown in the headline and the second it covers ("1234.50/s at <ISO>"), or null. */
  displayed(): string | null;
  /**
   * Seconds held for the chart with sales in them, revised seconds included: for tests, since with a lagging ingest
   * the latest second is still empty when it goes out and its sales land in a revision.
   */
  secondsWithSales(): number;
}

interface Point {
  /** End of the paid-at second, epoch ms. */
  t: number;
  /** GMV of the second, display-currency units. */
  v: number;
  gmv: string;
  orders: number;
}

const X_TICK_MS = 15_000;
const LABELS = 6;

export function createChartView(ctx: OverlayContext, o: ChartViewOptions): ChartView {
  const { theme } = ctx;
  installFonts(theme);
  const windowMs = (o.windowSeconds ?? 60) * 1000;
  const W = o.width;
  const H = o.height;
  const pad = { left: 120, right: 44, top: 132, bottom: 48 };
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;

  const root = new Container();
  root.addChild(createPanel(theme, W, H, 160));
  const title = new Text({ text: o.title ?? 'GMV PER SECOND', style: { fontFamily: theme.fontFamily, fontSize: 30, fontWeight: '700', fill: theme.text, letterSpacing: 5 } });
  title.position.set(28, 26);
  root.addChild(title);
  const headline = new BitmapText({ text: '–', style: { fontFamily: FIGURES_BOLD, fontSize: 64 } });
  headline.tint = theme.primary;
  headline.anchor.set(1, 0);
  headline.position.set(W - 28, 14);
  root.addChild(headline);
  const rate = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 26 } });
  rate.alpha = 0.75;
  rate.anchor.set(1, 0);
  rate.position.set(W - 28 - 4, 84);
  rate.visible = false;
  root.addChild(rate);
  const sub = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 26 } });
  sub.alpha = 0.7;
  sub.position.set(30, 66);
  root.addChild(sub);

  const plot = new Container();
  plot.position.set(pad.left, pad.top);
  root.addChild(plot);
  const grid = new Graphics();
  const shape = new Graphics();
  const dot = new Graphics().circle(0, 0, 9).fill({ color: theme.primary }).circle(0, 0, 9).stroke({ color: '#ffffff', width: 3 });
  const halo = new Graphics().circle(0, 0, 22).fill({ color: theme.primary, alpha: 0.35 });
  plot.addChild(grid, shape, halo, dot);
  const gradient = new FillGradient({ type: 'linear', start: { x: 0, y: 0 }, end: { x: 0, y: 1 }, colorStops: [{ offset: 0, color: theme.primary }, { offset: 1, color: theme.panel }] });

  const yLabels: BitmapText[] = [];
  const xLabels: { text: BitmapText; tick: number }[] = [];
  for (let i = 0; i < LABELS; i++) {
    const y = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 24 } });
    y.anchor.set(1, 0.5);
    y.alpha = 0.75;
    plot.addChild(y);
    yLabels.push(y);
    const x = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 24 } });
    x.anchor.set(0.5, 0);
    x.alpha = 0.75;
    plot.addChild(x);
    xLabels.push({ text: x, tick: Number.NaN });
  }

  const points: Point[] = [];
  const shown: Point[] = [];
  const edge: Point = { t: 0, v: 0, gmv: '', orders: 0 };
  const keep = Math.ceil(windowMs / 1000) + 4;
  let offset: number | null = null;
  /** Bumped by every frame received: the path is rebuilt for it. */
  let version = 0;
  let yMax = 0;
  let currency = 'CNY';
  let numerals: Numerals = 'western';
  const x = scaleLinear().range([0, plotW]);
  const y = scaleLinear().range([plotH, 0]);
  // Generators built once; the plot clock and scales they read change every frame.
  const areaGen = area<Point>()
    .x((p) => x(p.t))
    .y0(plotH)
    .y1((p) => y(p.v))
    .curve(curveMonotoneX)
    .context(pixiPath(shape) as unknown as CanvasRenderingContext2D);
  const lineGen = line<Point>()
    .x((p) => x(p.t))
    .y((p) => y(p.v))
    .curve(curveMonotoneX)
    .context(pixiPath(shape) as unknown as CanvasRenderingContext2D);

  const money = (units: number) => {
    const h = BigInt(Math.round(units * 100));
    return `${currencySymbol(currency).trim()}${shortMoney(h, numerals)}`;
  };

  const add = (f: FrameData, now: number) => {
    const t = Date.parse(f.start) + f.seconds * 1000;
    const p: Point = { t, v: Number(parseHundredths(f.gmv)) / 100, gmv: f.gmv, orders: f.orders };
    const last = points.at(-1);
    if (last !== undefined && t < last.t) {
      // A revised earlier second (late orders landed in it): replace its point, leave the axis clock alone.
      const i = points.findIndex((q) => q.t === t);
      if (i >= 0) {
        points[i] = p;
        version++;
      }
      return;
    }
    if (last !== undefined && t === last.t) points[points.length - 1] = p;
    else points.push(p);
    while (points.length > keep) points.shift();
    version++;
    // The clock that slides the axis: the newest frame sits at the right edge as it arrives. Small arrival
    // jitter is absorbed gradually; a large jump (reconnect, catch-up) resets it.
    const target = t - now;
    offset = offset === null || Math.abs(target - offset) > 3000 ? target : offset + (target - offset) * 0.15;
    headline.text = `${money(p.v)}/s`;
    sub.text = `${p.orders.toLocaleString('en-US')} orders/s · last ${Math.round(windowMs / 1000)} s`;
  };

  ctx.on('second', (m) => {
    const now = performance.now();
    if (m.type === 'snapshot') for (const f of m.data.frames) add(f, now);
    else add(m.data, now);
  });
  ctx.on('show', (m) => {
    const show = m.data;
    currency = show.currency;
    numerals = show.numerals;
  });

  let lastTicks = '';
  // The path is rebuilt only when a frame arrives, the vertical scale moves, or a second has passed; in between
  // it slides by translation, which costs nothing to rebuild. Its left end is cut half a second inside the axis,
  // so while it slides it never spills more than half a second (about 13 px) past the axis.
  let drawnRight = -Infinity;
  let drawnYMax = 0;
  let drawnVersion = -1;
  ctx.onFrame((now) => {
    if (offset === null || points.length === 0) return;
    const right = now + offset;
    x.domain([right - windowMs, right]);
    let max = 0;
    for (const p of points) if (p.t >= right - windowMs - 1000 && p.v > max) max = p.v;
    const want = Math.max(1, max * 1.18);
    // Ease the vertical scale so a spike grows the axis over a few frames instead of a jump.
    yMax = yMax === 0 ? want : yMax + (want - yMax) * 0.06;
    const redraw = version !== drawnVersion || Math.abs(yMax - drawnYMax) > drawnYMax * 0.004 || right - drawnRight >= 1000;
    if (redraw) {
      drawnRight = right;
      drawnYMax = yMax;
      drawnVersion = version;
      y.domain([0, yMax]);
      shape.x = 0;
      const left = right - windowMs + 500;
      shown.length = 0;
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!;
        if (p.t < left) continue;
        const before = points[i - 1];
        if (shown.length === 0 && before !== undefined && p.t > left) {
          edge.t = left;
          edge.v = before.v + ((p.v - before.v) * (left - before.t)) / (p.t - before.t);
          shown.push(edge);
        }
        shown.push(p);
      }
      shape.clear();
      if (shown.length >= 2) {
        areaGen(shown);
        shape.fill(gradient);
        lineGen(shown);
        shape.stroke({ color: theme.primary, width: 5, join: 'round', cap: 'round' });
      }
      const ticks = y.ticks(4);
      grid.clear();
      for (const v of ticks) grid.moveTo(0, y(v)).lineTo(plotW, y(v));
      grid.stroke({ color: theme.text, width: 1, alpha: 0.14 });
      grid.moveTo(0, plotH).lineTo(plotW, plotH).stroke({ color: theme.text, width: 2, alpha: 0.4 });
      const key = ticks.join(',');
      for (let i = 0; i < LABELS; i++) {
        const l = yLabels[i]!;
        const v = ticks[i];
        l.visible = v !== undefined && v > 0;
        if (v === undefined) continue;
        if (key !== lastTicks) l.text = money(v);
        l.position.set(-16, y(v));
      }
      lastTicks = key;
    } else shape.x = ((drawnRight - right) * plotW) / windowMs;

    const lastP = points[points.length - 1]!;
    dot.position.set(x(lastP.t), y(lastP.v));
    halo.position.copyFrom(dot.position);
    const pulse = (now % 1000) / 1000;
    halo.scale.set(0.6 + pulse * 0.9);
    halo.alpha = 1 - pulse;

    // Time labels ride with the axis; each slot keeps its tick until it leaves, so text changes only then.
    const first = Math.ceil((right - windowMs) / X_TICK_MS) * X_TICK_MS;
    for (const s of xLabels) s.text.visible = false;
    for (let t = first; t <= right; t += X_TICK_MS) {
      const s = xLabels[Math.floor(t / X_TICK_MS) % LABELS]!;
      if (s.tick !== t) {
        s.tick = t;
        const d = new Date(t);
        s.text.text = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
      }
      const px = x(t);
      s.text.visible = px > 30 && px < plotW - 30;
      s.text.position.set(px, plotH + 10);
    }
  });

  return {
    root,
    displayed: () => {
      const p = points.at(-1);
      return p === undefined ? null : `${p.gmv}/s at ${new Date(p.t - 1000).toISOString()}`;
    },
    secondsWithSales: () => points.filter((p) => p.orders > 0).length,
  };
}
