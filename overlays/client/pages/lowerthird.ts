// /overlays/lowerthird: a name / title strap in the lower left of the graphics-safe area, the bars sliding out from
// the left edge on `play`. Cue data: `{name, title, tag?}` (`update` changes the text in place).
import { Container, Graphics, Sprite, Text } from 'pixi.js';
import type { GraphicState } from '../../../protocol/live-protocol.ts';
import { loadImageTexture } from '../components/image-texture.ts';
import { runOverlay } from '../runtime.ts';

const X = 144;
const Y = 808;
const SLIDE_MS = 520;

function str(v: unknown, fallback: string, max: number): string {
  return typeof v === 'string' && v.trim() !== '' ? v.slice(0, max) : fallback;
}

void runOverlay('lowerthird', [], (ctx) => {
  const { theme } = ctx;
  const root = new Container();
  root.position.set(X, Y);
  ctx.stage.addChild(root);

  const logoBox = new Graphics().roundRect(0, 0, 152, 152, 18).fill({ color: theme.panel, alpha: 0.95 }).roundRect(0, 0, 152, 152, 18).stroke({ color: theme.primary, width: 3 });
  const logo = new Sprite();
  logo.visible = false;
  const nameBar = new Graphics();
  const titleBar = new Graphics();
  const accent = new Graphics();
  const name = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 58, fontWeight: '800', fill: theme.text } });
  const title = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 34, fontWeight: '700', fill: theme.panel, letterSpacing: 1 } });
  const tag = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 24, fontWeight: '800', fill: '#ffffff', letterSpacing: 4 } });
  const tagBar = new Graphics();
  const bars = new Container();
  bars.position.set(168, 0);
  bars.addChild(nameBar, accent, titleBar, tagBar, name, title, tag);
  root.addChild(logoBox, logo, bars);
  name.position.set(36, 10);
  title.position.set(36, 104);

  if (theme.logo !== null) {
    void loadImageTexture(theme.logo).then((t) => {
      if (t === null) return;
      logo.texture = t;
      const k = Math.min(128 / t.width, 128 / t.height);
      logo.scale.set(k);
      logo.position.set((152 - t.width * k) / 2, (152 - t.height * k) / 2);
      logo.visible = true;
    });
  }

  let nameW = 0;
  let titleW = 0;
  let t0 = -1e9;
  let shown = '';

  const setText = (s: GraphicState | null) => {
    const d = s?.data ?? {};
    name.text = str(d.name, ctx.show?.name ?? 'Gala', 60);
    title.text = str(d.title, 'Live from the 11.11 stage', 80);
    tag.text = str(d.tag, '', 20).toUpperCase();
    nameW = Math.max(420, name.width + 72);
    titleW = Math.max(300, title.width + 72);
    tagBar.clear();
    if (tag.text !== '') {
      tagBar.roundRect(0, -44, tag.width + 32, 38, 8).fill({ color: theme.accent });
      tag.position.set(16, -38);
    }
    shown = `${name.text} — ${title.text}`;
  };

  ctx.graphic('lowerthird', root, (s) => {
    setText(s);
    if (s.lastCommand === 'play') t0 = performance.now();
  });
  setText(null);
  ctx.setDisplayed(() => shown);

  ctx.onFrame((now) => {
    if (!root.visible) return;
    const ease = (delay: number) => {
      const p = Math.min(1, Math.max(0, (now - t0 - delay) / SLIDE_MS));
      return 1 - (1 - p) ** 4;
    };
    const a = ease(0);
    const b = ease(140);
    nameBar.clear().rect(0, 0, nameW * a, 92).fill({ color: theme.panel, alpha: 0.94 });
    accent.clear().rect(0, 0, 10, 92 * a).fill({ color: theme.accent });
    titleBar.clear().rect(0, 92, titleW * b, 60).fill({ color: theme.primary });
    name.alpha = ease(220);
    name.x = 36 - 30 * (1 - name.alpha);
    title.alpha = ease(320);
    title.x = 36 - 30 * (1 - title.alpha);
    tag.alpha = tagBar.alpha = ease(380);
    logoBox.scale.set(0.6 + 0.4 * a);
    logoBox.alpha = a;
    logo.alpha = a;
  });
});
