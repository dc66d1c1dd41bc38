// The giant counter as a component, shared by the counter page and the stage wall: rolling odometer digits in
// fixed-width slots (BitmapText glyphs rasterised once into a font atlas, so nothing is re-rasterised per frame),
// gliding between live totals at the live rate, never backwards; the mobile share beneath it.
import { BitmapText, Container, Graphics, Text } from 'pixi.js';
import type { TotalsData } from '../../../protocol/live-protocol.ts';
import { CounterModel } from '../counter-model.ts';
import { formatMoney, hundredthsToDecimal, parseHundredths, shortMoney, type Numerals } from '../format.ts';
import type { OverlayContext } from '../runtime.ts';
import { installAtlas } from './fonts.ts';

/** How long a digit takes to roll over, and how far (in line heights) the glyphs travel doing it. */
const ROLL_MS = 220;
const ROLL_TRAVEL = 0.5;

export interface CounterViewOptions {
  /** Digit height in px (150 on the counter page). */
  size?: number;
  /** Forces western or chinese grouping whatever the show says. */
  numerals?: Numerals | null;
  /** With the connection lost, go on at the last rate for at most this long (ms); 0 holds the value. */
  extrapolateMs?: number;
  /** Caption above the figure. */
  label?: string;
}

export interface CounterView {
  /** Centred on (0, 0). */
  root: Container;
  /** The exact figure shown now (decimal string), or null before the first totals. */
  displayed(): string | null;
}

export function createCounterView(ctx: OverlayContext, o: CounterViewOptions = {}): CounterView {
  const { theme } = ctx;
  const size = o.size ?? 150;
  const k = size / 150;
  const font = `gala-counter-${size}`;
  const small = `gala-counter-small-${size}`;
  const smallSize = Math.round(54 * k);
  // Both atlases skip Pixi's kerning table: it measures every pair of the font's characters (thousands of canvas
  // measureText calls, 100-300 ms of a reload under software rendering for the small font alone), and the digits sit
  // in fixed-width slots anyway. Neither has mipmaps: their text is drawn at 0.55-1 times the size it was rasterised
  // at, and building the pages' mipmap chains delays the first frame's way to the screen in software rendering
  // (about 40 ms of a reload, measured); a quarter-size preview keeps them, or it would shimmer.
  // The figures' atlas is one 1024 page rather than four of Pixi's 512 (the same bytes): with two texture units per
  // batch under software rendering, a row of digits is then one draw call, not several.
  const mipmap = ctx.params.get('preview') === '1';
  installAtlas(
    {
      name: font,
      style: { fontFamily: theme.fontFamily, fontSize: size, fontWeight: '800', fill: theme.primary, dropShadow: { color: '#000000', alpha: 0.55, blur: 8 * k, distance: 4 * k, angle: Math.PI / 2 } },
      chars: [['0', '9'], ',.-¥$€£₩HKS亿万 '],
      resolution: 1,
      padding: Math.ceil(12 * k),
      skipKerning: true,
    },
    { pageSize: 1024, mipmap },
  );
  installAtlas(
    {
      name: small,
      style: { fontFamily: theme.fontFamily, fontSize: smallSize, fontWeight: '700', fill: theme.text },
      chars: [['0', '9'], ['a', 'z'], ['A', 'Z'], '.,%·:/ -+()亿万'],
      resolution: 1,
      padding: 6,
      skipKerning: true,
    },
    { mipmap },
  );

  const root = new Container();
  const panel = new Graphics();
  root.addChild(panel);
  const label = new Text({ text: o.label ?? 'GMV · LIVE', style: { fontFamily: theme.fontFamily, fontSize: Math.round(40 * k), fontWeight: '700', fill: theme.text, letterSpacing: 6 * k } });
  label.anchor.set(0.5, 1);
  label.position.set(0, -size * 0.75);
  root.addChild(label);

  const digits = new Container();
  root.addChild(digits);
  const line = (fontSize: number, y: number, alpha: number) => {
    const t = new BitmapText({ text: '', style: { fontFamily: small, fontSize } });
    t.anchor.set(0.5, 0);
    t.position.set(0, y);
    t.alpha = alpha;
    root.addChild(t);
    return t;
  };
  const mobile = line(smallSize, size * 0.72, 1);
  const short = line(Math.round(44 * k), size * 0.72 + 66 * k, 0.8);
  const status = line(Math.round(30 * k), size * 0.72 + 126 * k, 0.7);

  // Fixed-width slots: every digit takes the width of the widest digit, so nothing jitters as digits change.
  const probe = new BitmapText({ text: '0', style: { fontFamily: font, fontSize: size } });
  let digitW = 0;
  for (let d = 0; d <= 9; d++) {
    probe.text = String(d);
    digitW = Math.max(digitW, probe.width);
  }
  const lineH = probe.height;
  // 万 and 亿 are far wider than a digit: their slots take the glyph's own width and a little air.
  const cjkW = new Map<string, number>();
  for (const ch of ['万', '亿']) {
    probe.text = ch;
    cjkW.set(ch, probe.width + digitW * 0.08);
  }
  probe.destroy();
  const glyphW = (ch: string) => (ch === ',' || ch === '.' ? digitW * 0.42 : (cjkW.get(ch) ?? digitW));

  interface Slot {
    ch: string;
    view: Container;
    /** For a digit: [outgoing glyph, incoming glyph]. */
    strip: Container | null;
    /** The digit this wheel settles on, the one it rolls away from, when that roll began and how long it lasts. */
    digit: string;
    prev: string;
    rollAt: number;
    rollMs: number;
  }
  let slots: Slot[] = [];
  let shape = '';

  const layout = (text: string) => {
    for (const s of slots) s.view.destroy({ children: true });
    slots = [];
    digits.removeChildren();
    let x = 0;
    for (const ch of text) {
      const view = new Container();
      view.x = x;
      let strip: Container | null = null;
      if (ch >= '0' && ch <= '9') {
        // Two glyphs per wheel: the digit shown and the one rolling in below it. No masks: a stencil per digit
        // costs more than the whole scene under software rendering.
        strip = new Container();
        for (let i = 0; i < 2; i++) strip.addChild(new BitmapText({ text: ch, style: { fontFamily: font, fontSize: size } }));
        view.addChild(strip);
      } else {
        const g = new BitmapText({ text: ch, style: { fontFamily: font, fontSize: size } });
        g.x = (glyphW(ch) - g.width) / 2;
        view.addChild(g);
      }
      digits.addChild(view);
      slots.push({ ch, view, strip, digit: ch, prev: ch, rollAt: performance.now(), rollMs: 0 });
      x += glyphW(ch);
    }
    digits.pivot.set(x / 2, lineH / 2);
    panel
      .clear()
      .roundRect(-x / 2 - 60 * k, -lineH / 2 - 110 * k, x + 120 * k, lineH + 330 * k, 36 * k)
      .fill({ color: theme.panel, alpha: 0.82 })
      .stroke({ color: theme.primary, width: 4 * k, alpha: 0.9 });
  };

  const model = new CounterModel({ extrapolateMs: o.extrapolateMs ?? 0 });
  let totals: TotalsData | null = null;
  let numerals: Numerals = o.numerals ?? 'western';
  let currency = 'CNY';
  let shownText = '';

  ctx.on('totals', (m) => {
    totals = m.data;
    currency = totals.currency;
    const total = parseHundredths(totals.gmv);
    if (m.type === 'snapshot' && model.targetHundredths === 0n) model.reset(total, performance.now());
    else model.setTarget(total, parseHundredths(totals.gmvPerSecond), performance.now());
    mobile.text = `Mobile ${(totals.mobileShare * 100).toFixed(1)}% · ${totals.orders.toLocaleString('en-US')} orders`;
    status.text = totals.status === 'final' ? 'FINAL · UNAUDITED' : 'LIVE · UNAUDITED';
  });
  ctx.on('show', (m) => {
    const show = m.data;
    numerals = o.numerals ?? show.numerals;
    currency = show.currency;
  });
  ctx.onStatus((s) => {
    if (s !== 'open') model.disconnected(performance.now());
  });

  ctx.onFrame((now) => {
    if (totals === null) return;
    const h = model.shownHundredths(now);
    const text = formatMoney(h, currency, numerals);
    const nextShape = text.replace(/\d/g, '0');
    if (nextShape !== shape) {
      shape = nextShape;
      layout(text);
    }
    if (text !== shownText) {
      shownText = text;
      short.text = numerals === 'chinese' ? `${shortMoney(h, numerals)} ${currency}` : `${currency} ${shortMoney(h, numerals)}`;
    }
    // A wheel rolls when its digit changes: the old digit leaves upwards as the new one comes in from below, over
    // ROLL_MS or, for a wheel that changes faster, 80% of the time since its last change (the cents just flip). At
    // rest every wheel shows exactly its digit, so a paused counter reads the exact figure.
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (s.strip === null) continue;
      const digit = text[i]!;
      if (digit !== s.digit) {
        s.rollMs = Math.min(ROLL_MS, 0.8 * (now - s.rollAt));
        s.prev = s.digit;
        s.digit = digit;
        s.rollAt = now;
      }
      const p = s.rollMs <= 0 ? 1 : Math.min(1, (now - s.rollAt) / s.rollMs);
      const f = p * p * (3 - 2 * p);
      const [out, incoming] = s.strip.children as BitmapText[];
      const shownOut = f >= 1 ? s.digit : s.prev;
      if (out!.text !== shownOut) {
        out!.text = shownOut;
        out!.x = (digitW - out!.width) / 2;
      }
      out!.y = f >= 1 ? 0 : -f * lineH * ROLL_TRAVEL;
      out!.alpha = f >= 1 ? 1 : 1 - f;
      incoming!.visible = f < 1;
      if (f < 1) {
        if (incoming!.text !== s.digit) {
          incoming!.text = s.digit;
          incoming!.x = (digitW - incoming!.width) / 2;
        }
        incoming!.y = (1 - f) * lineH * ROLL_TRAVEL;
        incoming!.alpha = f;
      }
    }
  });

  return { root, displayed: () => (totals === null ? null : hundredthsToDecimal(model.shownHundredths(performance.now()))) };
}
