// /overlays/product: the see-now-buy-now card on the right of the frame: the look, the product's name, price and
// image from the show's looks, and its live units sold and GMV from the `product:<sku>` topic. Cue data
// `{sku}` picks the product; `next` pages through the show's looks. A broken image gives a drawn placeholder.
import { BitmapText, Container, Graphics, Sprite, Text, type Texture } from 'pixi.js';
import type { GraphicState, ProductData, ProductTopic } from '../../../protocol/live-protocol.ts';
import type { ShowLook } from '../../../domain/show-graphics.ts';
import { FIGURES, FIGURES_BOLD, installFonts } from '../components/fonts.ts';
import { loadImageTexture } from '../components/image-texture.ts';
import { formatMoney, parseHundredths } from '../format.ts';
import { runOverlay } from '../runtime.ts';

const W = 520;
const H = 860;
const IMG = { x: 20, y: 84, w: 480, h: 380 };
const SWAP_MS = 380;

void runOverlay('product', [], (ctx) => {
  const { theme } = ctx;
  installFonts(theme);
  const root = new Container();
  root.position.set(1284, 110);
  ctx.stage.addChild(root);

  const plate = new Graphics()
    .roundRect(0, 0, W, H, 30)
    .fill({ color: theme.panel, alpha: 0.92 })
    .roundRect(0, 0, W, H, 30)
    .stroke({ color: theme.primary, width: 3, alpha: 0.6 });
  const header = new Graphics().roundRect(0, 0, W, 64, 30).fill({ color: theme.accent }).rect(0, 34, W, 30).fill({ color: theme.accent });
  const headerText = new Text({ text: 'SEE NOW · BUY NOW  边看边买', style: { fontFamily: theme.fontFamily, fontSize: 26, fontWeight: '800', fill: '#ffffff', letterSpacing: 3 } });
  headerText.position.set(24, 16);
  const liveDot = new Graphics().circle(0, 0, 9).fill({ color: '#ffffff' });
  liveDot.position.set(W - 30, 32);
  root.addChild(plate, header, headerText, liveDot);

  // The content swaps (slide and fade) when the look changes; the frame stays.
  const content = new Container();
  root.addChild(content);
  const imageBack = new Graphics().roundRect(IMG.x, IMG.y, IMG.w, IMG.h, 20).fill({ color: '#f4efe9' });
  const placeholder = new Graphics()
    .roundRect(IMG.x, IMG.y, IMG.w, IMG.h, 20)
    .fill({ color: '#2d2350' })
    // A shopping bag, drawn: the card never shows a broken-image icon or an empty hole.
    .roundRect(IMG.x + IMG.w / 2 - 80, IMG.y + 130, 160, 150, 14)
    .fill({ color: theme.primary, alpha: 0.85 })
    .moveTo(IMG.x + IMG.w / 2 - 40, IMG.y + 130)
    .bezierCurveTo(IMG.x + IMG.w / 2 - 40, IMG.y + 70, IMG.x + IMG.w / 2 + 40, IMG.y + 70, IMG.x + IMG.w / 2 + 40, IMG.y + 130)
    .stroke({ color: theme.primary, width: 12, cap: 'round' });
  const photo = new Sprite();
  const look = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 24, fontWeight: '800', fill: theme.accent, letterSpacing: 4 } });
  look.position.set(24, 486);
  const name = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 40, fontWeight: '800', fill: theme.text, wordWrap: true, wordWrapWidth: W - 48, breakWords: true, lineHeight: 48 } });
  name.position.set(24, 520);
  const price = new BitmapText({ text: '', style: { fontFamily: FIGURES_BOLD, fontSize: 68 } });
  price.tint = theme.primary;
  price.position.set(22, 622);
  content.addChild(imageBack, placeholder, photo, look, name, price);

  const divider = new Graphics().rect(24, 716, W - 48, 2).fill({ color: theme.text, alpha: 0.25 });
  const label = (t: string, y: number) => {
    const l = new BitmapText({ text: t, style: { fontFamily: FIGURES, fontSize: 24 } });
    l.alpha = 0.7;
    l.position.set(24, y);
    return l;
  };
  const sold = new BitmapText({ text: '–', style: { fontFamily: FIGURES_BOLD, fontSize: 46 } });
  sold.anchor.set(1, 0);
  sold.position.set(W - 24, 728);
  const gmv = new BitmapText({ text: '–', style: { fontFamily: FIGURES_BOLD, fontSize: 46 } });
  gmv.anchor.set(1, 0);
  gmv.position.set(W - 24, 790);
  root.addChild(divider, label('SOLD LIVE · 已售', 742), sold, label('GMV · 成交额', 804), gmv);

  const textures = new Map<string, Promise<Texture | null>>();
  const sales = new Map<string, ProductData>();
  const listened = new Set<string>();
  let looks: ShowLook[] = [];
  let currency = 'CNY';
  let current: ShowLook | null = null;
  let watched: ProductTopic | null = null;
  let swapAt = -1e9;
  document.body.dataset.image = 'none';

  const showSales = () => {
    const p = current === null ? undefined : sales.get(current.sku);
    sold.text = p === undefined ? '–' : `${p.units.toLocaleString('en-US')}`;
    gmv.text = p === undefined ? '–' : formatMoney(parseHundredths(p.gmv), currency, 'western');
  };

  const setImage = (l: ShowLook) => {
    photo.visible = false;
    placeholder.visible = true;
    imageBack.visible = false;
    if (l.image === null) {
      document.body.dataset.image = 'placeholder';
      return;
    }
    document.body.dataset.image = 'loading';
    let t = textures.get(l.sku);
    if (t === undefined) {
      t = loadImageTexture(l.image);
      textures.set(l.sku, t);
    }
    void t.then((tex) => {
      if (current !== l) return;
      if (tex === null) {
        document.body.dataset.image = 'placeholder';
        return;
      }
      photo.texture = tex;
      const k = Math.min((IMG.w - 40) / tex.width, (IMG.h - 30) / tex.height);
      photo.scale.set(k);
      photo.position.set(IMG.x + (IMG.w - tex.width * k) / 2, IMG.y + (IMG.h - tex.height * k) / 2);
      photo.visible = true;
      imageBack.visible = true;
      placeholder.visible = false;
      document.body.dataset.image = 'loaded';
    });
  };

  const select = (l: ShowLook) => {
    if (current?.sku === l.sku) return;
    const first = current === null;
    current = l;
    look.text = `${l.look.toUpperCase()}${l.brand ? ` · ${l.brand.toUpperCase()}` : ''}`;
    name.text = l.name;
    price.text = l.price === '' ? '' : formatMoney(parseHundredths(l.price), currency, 'western');
    setImage(l);
    const topic: ProductTopic = `product:${l.sku}`;
    if (!listened.has(l.sku)) {
      listened.add(l.sku);
      ctx.on(topic, (m) => {
        sales.set(l.sku, m.data);
        if (current?.sku === l.sku) showSales();
      });
    }
    if (watched !== null && watched !== topic) ctx.unwatch(watched);
    watched = topic;
    ctx.watch(topic);
    showSales();
    if (!first) swapAt = performance.now();
  };

  const lookFor = (s: GraphicState | null): ShowLook | null => {
    const page = s?.page ?? 0;
    const sku = s !== null && typeof s.data.sku === 'string' ? s.data.sku : null;
    const i = sku === null ? 0 : looks.findIndex((l) => l.sku === sku);
    if (i >= 0 && looks.length > 0) return looks[(i + page) % looks.length]!;
    if (sku === null) return null;
    // A SKU the show does not list still gets a card (its code as the name, no price); `next` goes on to the looks.
    if (page === 0 || looks.length === 0) return { sku, look: 'Product', name: sku, brand: '', price: '', image: null };
    return looks[(page - 1) % looks.length]!;
  };

  let state: GraphicState | null = null;
  ctx.on('show', (m) => {
    const show = m.data;
    looks = show.looks ?? [];
    currency = show.currency;
    const l = lookFor(state);
    if (l !== null) select(l);
  });
  ctx.graphic('product', root, (s) => {
    state = s;
    const l = lookFor(s);
    if (l !== null) select(l);
  });
  ctx.setDisplayed(() => {
    if (current === null) return null;
    const p = sales.get(current.sku);
    return `${current.sku} · ${p?.units ?? 0} · ${p?.gmv ?? '0.00'}`;
  });

  ctx.onFrame((now) => {
    liveDot.alpha = 0.45 + 0.55 * Math.abs(Math.sin(now / 400));
    const p = Math.min(1, (now - swapAt) / SWAP_MS);
    const e = 1 - (1 - p) ** 3;
    content.alpha = e;
    content.x = 60 * (1 - e);
  });
});
