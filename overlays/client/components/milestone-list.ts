// The stage wall's milestone column: milestones crossed tonight with the time each took, and the progress towards
// the next one (a bar and a percentage that follow the live total).
import { BitmapText, Container, Graphics, Text } from 'pixi.js';
import type { MilestoneData } from '../../../protocol/live-protocol.ts';
import { currencySymbol, parseHundredths } from '../format.ts';
import type { OverlayContext } from '../runtime.ts';
import { FIGURES, FIGURES_BOLD, installFonts } from './fonts.ts';
import { createPanel } from './panel.ts';

const ROWS = 4;

export function createMilestoneList(ctx: OverlayContext, W: number, H: number): Container {
  const { theme } = ctx;
  installFonts(theme);
  const root = new Container();
  root.addChild(createPanel(theme, W, H, 120));
  const title = new Text({ text: 'MILESTONES · 里程碑', style: { fontFamily: theme.fontFamily, fontSize: 30, fontWeight: '700', fill: theme.text, letterSpacing: 4 } });
  title.position.set(28, 26);
  root.addChild(title);

  const rows = Array.from({ length: ROWS }, (_, i) => {
    const y = 84 + i * 52;
    const tick = new Graphics().circle(14, 14, 14).fill({ color: theme.primary }).moveTo(7, 14).lineTo(12, 20).lineTo(21, 8).stroke({ color: theme.panel, width: 4, cap: 'round', join: 'round' });
    tick.position.set(28, y + 4);
    const label = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 32, fontWeight: '700', fill: theme.text } });
    label.position.set(72, y);
    const took = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 26, fontWeight: '600', fill: theme.primary } });
    took.anchor.set(1, 0);
    took.position.set(W - 28, y + 4);
    root.addChild(tick, label, took);
    return { tick, label, took };
  });

  const nextY = H - 96;
  const nextLabel = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 26, fontWeight: '700', fill: theme.text } });
  nextLabel.position.set(28, nextY);
  const pct = new BitmapText({ text: '', style: { fontFamily: FIGURES_BOLD, fontSize: 34 } });
  pct.tint = theme.primary;
  pct.anchor.set(1, 0);
  pct.position.set(W - 28, nextY - 4);
  const bar = new Graphics();
  const remaining = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 22 } });
  remaining.alpha = 0.7;
  remaining.position.set(28, nextY + 62);
  root.addChild(nextLabel, pct, bar, remaining);

  let crossed: MilestoneData[] = [];
  let next: { label: string; threshold: string } | null = null;
  let total = 0;
  let currency = 'CNY';
  let shownP = -1;
  let drawnP = -1;

  const layout = () => {
    const last = crossed.slice(-ROWS);
    rows.forEach((r, i) => {
      const m = last[i];
      r.tick.visible = m !== undefined;
      r.label.text = m?.label ?? '';
      r.took.text = m === undefined ? '' : m.elapsed;
    });
    nextLabel.text = next === null ? 'Every milestone reached' : `Next · ${next.label}`;
    // A new target: the bar starts from where the total stands, not from the old milestone's fill.
    shownP = -1;
  };

  ctx.on('milestones', (m) => {
    if (m.type === 'snapshot') {
      crossed = m.data.milestones.slice(-ROWS);
      next = m.data.next;
    } else {
      crossed.push(m.data);
      crossed = crossed.slice(-ROWS);
      // The next one is whatever the snapshot says on the next resync; until then, the bar shows "reached".
      if (next !== null && parseHundredths(next.threshold) <= parseHundredths(m.data.total)) next = null;
    }
    layout();
  });
  ctx.on('totals', (m) => {
    total = Number(parseHundredths(m.data.gmv)) / 100;
    if (m.type === 'snapshot') shownP = -1;
  });
  ctx.on('show', (m) => {
    currency = m.data.currency;
  });
  layout();

  ctx.onFrame(() => {
    if (total === 0 && next !== null) return;
    const target = next === null ? 1 : Math.min(1, total / Number(next.threshold));
    shownP = shownP < 0 ? target : shownP + (target - shownP) * 0.08;
    if (Math.abs(shownP - drawnP) < 0.0005) return;
    drawnP = shownP;
    const bw = W - 56;
    bar.clear().roundRect(28, nextY + 40, bw, 16, 8).fill({ color: theme.text, alpha: 0.12 });
    bar.roundRect(28, nextY + 40, Math.max(16, bw * shownP), 16, 8).fill({ color: theme.primary });
    pct.text = `${(shownP * 100).toFixed(1)}%`;
    remaining.text = next === null ? '' : `${currencySymbol(currency).trim()}${Math.max(0, Number(next.threshold) - total).toLocaleString('en-US', { maximumFractionDigits: 0 })} to go`;
  });
  return root;
}
