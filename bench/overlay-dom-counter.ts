// The baseline of `npm run bench:overlays` (browser code): the same counter, with the same motion model, formatting
// and live channel client, drawn as plain DOM text styled with CSS, so that the bench compares the rendering alone.
import { LiveClient, type TotalsData } from '../protocol/live-protocol.ts';
import { CounterModel } from '../overlays/client/counter-model.ts';
import { formatMoney, hundredthsToDecimal, parseHundredths, type Numerals } from '../overlays/client/format.ts';

// The counter's default theme (overlays/client/runtime.ts), written out: importing it would bundle Pixi too.
const theme = { primary: '#ffd166', text: '#ffffff', panel: '#1b1033', fontFamily: '"Helvetica Neue", Arial, "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif' };
const style = document.createElement('style');
style.textContent = `
html, body { margin: 0; width: 1920px; height: 1080px; overflow: hidden; background: transparent; }
.panel { position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); padding: 50px 60px 60px;
  border-radius: 36px; background: color-mix(in srgb, ${theme.panel} 82%, transparent); border: 4px solid ${theme.primary};
  text-align: center; font-family: ${theme.fontFamily}; color: ${theme.text}; }
.label { font-size: 40px; font-weight: 700; letter-spacing: 6px; }
.figure { color: ${theme.primary}; font-size: 150px; font-weight: 800; font-variant-numeric: tabular-nums; white-space: nowrap;
  text-shadow: 0 4px 8px rgba(0, 0, 0, 0.55); }
.mobile { font-size: 54px; font-weight: 700; }
`;
document.head.appendChild(style);
const panel = document.createElement('div');
panel.className = 'panel';
panel.innerHTML = '<div class="label">GMV · LIVE</div><div class="figure"></div><div class="mobile"></div>';
document.body.appendChild(panel);
const figure = panel.querySelector<HTMLElement>('.figure')!;
const mobile = panel.querySelector<HTMLElement>('.mobile')!;

const model = new CounterModel();
let totals: TotalsData | null = null;
let numerals: Numerals = 'chinese';
let shown = '';
const frames: { t: number; v: string | null }[] = [];
const displayed = () => (totals === null ? null : hundredthsToDecimal(model.shownHundredths(performance.now())));

const live = new LiveClient({
  // The bench serves this page from its own port: the live channel's address comes in the query.
  url: new URLSearchParams(location.search).get('live') ?? `ws://${location.host}/v1/live`,
});
live.subscribe('totals', (m) => {
  totals = m.data;
  const total = parseHundredths(totals.gmv);
  if (m.type === 'snapshot' && model.targetHundredths === 0n) model.reset(total, performance.now());
  else model.setTarget(total, parseHundredths(totals.gmvPerSecond), performance.now());
  mobile.textContent = `Mobile ${(totals.mobileShare * 100).toFixed(1)}% · ${totals.orders.toLocaleString('en-US')} orders`;
});
live.subscribe('show', (m) => {
  numerals = m.data.numerals;
});
live.start();

const loop = () => {
  if (totals !== null) {
    const text = formatMoney(model.shownHundredths(performance.now()), totals.currency, numerals);
    if (text !== shown) figure.textContent = shown = text;
  }
  frames.push({ t: Date.now(), v: displayed() });
  if (frames.length > 1000) frames.shift();
  requestAnimationFrame(loop);
};
requestAnimationFrame(loop);

window.__gala = { overlay: 'counter-dom', displayed, frames, contextLosses: 0, connected: () => true, visible: () => ['counter'], objects: () => document.getElementsByTagName('*').length };
