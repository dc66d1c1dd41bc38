// /overlays/leaderboard: the top brands or regions with their share of GMV, as bars that grow to their values.
// Cue data `{board: 'brands'|'regions', window: 'night'|'minute'}`; `next` pages through brands tonight, brands in
// the last minute, regions tonight, regions in the last minute (from the one the cue chose).
import { BitmapText, Container, Graphics, Text } from 'pixi.js';
import type { GraphicState, LeaderboardsData, LeaderEntry } from '../../../protocol/live-protocol.ts';
import { FIGURES, FIGURES_BOLD, installFonts } from '../components/fonts.ts';
import { createPanel } from '../components/panel.ts';
import { currencySymbol, parseHundredths, shortMoney, type Numerals } from '../format.ts';
import { runOverlay } from '../runtime.ts';

const W = 600;
const ROWS = 8;
const ROW_H = 84;
const TOP = 128;
const BAR_W = W - 96 - 28 - 150;
const BOARDS = [
  { board: 'brands', window: 'night', title: 'TOP BRANDS · TONIGHT', sub: '品牌榜 · 今晚' },
  { board: 'brands', window: 'minute', title: 'TOP BRANDS · LAST MINUTE', sub: '品牌榜 · 最近一分钟' },
  { board: 'regions', window: 'night', title: 'TOP REGIONS · TONIGHT', sub: '地区榜 · 今晚' },
  { board: 'regions', window: 'minute', title: 'TOP REGIONS · LAST MINUTE', sub: '地区榜 · 最近一分钟' },
] as const;

interface Row {
  rank: BitmapText;
  name: BitmapText;
  share: BitmapText;
  gmv: BitmapText;
  width: number;
  target: number;
}

void runOverlay('leaderboard', ['leaderboards'], (ctx) => {
  const { theme } = ctx;
  installFonts(theme);
  const H = TOP + ROWS * ROW_H + 24;
  const root = new Container();
  root.position.set(1920 - 96 - W, (1080 - H) / 2);
  ctx.stage.addChild(root);
  root.addChild(createPanel(theme, W, H));
  const title = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 38, fontWeight: '800', fill: theme.text, letterSpacing: 3 } });
  title.position.set(28, 24);
  const sub = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 26, fontWeight: '600', fill: theme.primary } });
  sub.position.set(28, 74);
  root.addChild(title, sub);

  const bars = new Graphics();
  root.addChild(bars);
  const rows: Row[] = [];
  for (let i = 0; i < ROWS; i++) {
    const y = TOP + i * ROW_H;
    const rank = new BitmapText({ text: String(i + 1), style: { fontFamily: FIGURES_BOLD, fontSize: 44 } });
    rank.anchor.set(0.5, 0);
    rank.position.set(52, y + 10);
    rank.tint = i < 3 ? theme.primary : theme.text;
    const name = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 30 } });
    name.position.set(96, y + 4);
    const share = new BitmapText({ text: '', style: { fontFamily: FIGURES_BOLD, fontSize: 36 } });
    share.anchor.set(1, 0);
    share.position.set(W - 28, y + 4);
    const gmv = new BitmapText({ text: '', style: { fontFamily: FIGURES, fontSize: 24 } });
    gmv.anchor.set(1, 0);
    gmv.alpha = 0.7;
    gmv.position.set(W - 28, y + 46);
    root.addChild(rank, name, share, gmv);
    rows.push({ rank, name, share, gmv, width: 0, target: 0 });
  }

  let boards: LeaderboardsData | null = null;
  let state: GraphicState | null = null;
  let currency = 'CNY';
  let numerals: Numerals = 'western';
  let shown = '';

  const current = () => {
    const d = state?.data ?? {};
    const start = Math.max(0, BOARDS.findIndex((b) => b.board === (d.board ?? 'brands') && b.window === (d.window ?? 'night')));
    return BOARDS[(start + (state?.page ?? 0)) % BOARDS.length]!;
  };

  const render = (restart: boolean) => {
    const b = current();
    title.text = b.title;
    sub.text = b.sub;
    const entries: LeaderEntry[] = boards === null ? [] : boards[b.board][b.window];
    const top = entries[0]?.share ?? 0;
    rows.forEach((r, i) => {
      const e = entries[i];
      const on = e !== undefined;
      r.rank.visible = r.name.visible = r.share.visible = r.gmv.visible = on;
      if (!on) {
        r.target = 0;
        return;
      }
      r.name.text = e.key.slice(0, 28);
      r.share.text = `${(e.share * 100).toFixed(1)}%`;
      r.gmv.text = `${currencySymbol(currency).trim()}${shortMoney(parseHundredths(e.gmv), numerals)}`;
      r.target = top > 0 ? Math.max(6, (e.share / top) * BAR_W) : 6;
      if (restart) r.width = 0;
    });
    shown = `${b.board}/${b.window}: ${entries.slice(0, 3).map((e) => e.key).join(', ')}`;
  };

  ctx.on('leaderboards', (m) => {
    boards = m.data;
    render(false);
  });
  ctx.on('show', (m) => {
    const s = m.data;
    currency = s.currency;
    numerals = s.numerals;
  });
  ctx.graphic('leaderboard', root, (s) => {
    const before = current();
    state = s;
    render(s.lastCommand === 'play' || current() !== before);
  });
  render(false);
  ctx.setDisplayed(() => shown);

  ctx.onFrame(() => {
    if (!root.visible) return;
    let moving = false;
    for (const r of rows) {
      const d = r.target - r.width;
      if (Math.abs(d) > 0.5) {
        r.width += d * 0.12;
        moving = true;
      } else r.width = r.target;
    }
    if (!moving && bars.context.instructions.length > 0) return;
    bars.clear();
    rows.forEach((r, i) => {
      const y = TOP + i * ROW_H + 48;
      bars.roundRect(96, y, BAR_W, 18, 9).fill({ color: theme.text, alpha: 0.1 });
      if (r.width > 0) bars.roundRect(96, y, r.width, 18, 9).fill({ color: i < 3 ? theme.primary : theme.accent, alpha: i < 3 ? 1 : 0.85 });
    });
  });
});
