// The milestone celebration as a component (milestone page, stage wall): the figure and the time it took, on a
// card that pops in over rotating light rays and a pooled confetti burst. A new crossing on the `milestones` topic
// puts it on air by itself; a `play` cue replays the latest (or the one named by `data.id`); it goes out by itself.
import { Container, Graphics, Text } from 'pixi.js';
import type { GraphicState, MilestoneData } from '../../../protocol/live-protocol.ts';
import type { OverlayContext } from '../runtime.ts';
import { createConfetti } from './confetti.ts';

export interface MilestoneViewOptions {
  /** How long a celebration stays on air (ms). */
  holdMs: number;
  /** Where the card's centre goes on the stage, and the area the confetti covers. */
  cx?: number;
  cy?: number;
}

export interface MilestoneView {
  root: Container;
  /** "¥1 billion · 2 min 58 s" of the milestone shown (or last crossed), or null. */
  displayed(): string | null;
  /** Particles in flight, pool size and bursts so far, for tests. */
  confetti(): { live: number; pool: number; bursts: number };
}

const CARD_W = 1180;
const CARD_H = 380;

export function createMilestoneView(ctx: OverlayContext, o: MilestoneViewOptions): MilestoneView {
  const { theme } = ctx;
  const cx = o.cx ?? 960;
  const cy = o.cy ?? 500;
  const root = new Container();

  const rays = new Graphics();
  for (let i = 0; i < 18; i++) {
    const a = (i / 18) * Math.PI * 2;
    const w = Math.PI / 36;
    rays.poly([0, 0, Math.cos(a - w) * 900, Math.sin(a - w) * 900, Math.cos(a + w) * 900, Math.sin(a + w) * 900]);
  }
  rays.fill({ color: theme.primary, alpha: 0.1 });
  rays.position.set(cx, cy);
  const glow = new Graphics().circle(0, 0, 360).fill({ color: theme.primary, alpha: 0.1 }).circle(0, 0, 240).fill({ color: theme.primary, alpha: 0.1 });
  glow.position.set(cx, cy);
  root.addChild(rays, glow);

  const card = new Container();
  card.position.set(cx, cy);
  const plate = new Graphics()
    .roundRect(-CARD_W / 2, -CARD_H / 2, CARD_W, CARD_H, 40)
    .fill({ color: theme.panel, alpha: 0.93 })
    .roundRect(-CARD_W / 2, -CARD_H / 2, CARD_W, CARD_H, 40)
    .stroke({ color: theme.primary, width: 6 })
    .roundRect(-CARD_W / 2 + 14, -CARD_H / 2 + 14, CARD_W - 28, CARD_H - 28, 30)
    .stroke({ color: theme.primary, width: 2, alpha: 0.4 });
  const pill = new Graphics().roundRect(-230, -CARD_H / 2 - 34, 460, 68, 34).fill({ color: theme.accent });
  const kicker = new Text({ text: 'MILESTONE · 里程碑', style: { fontFamily: theme.fontFamily, fontSize: 34, fontWeight: '800', fill: '#ffffff', letterSpacing: 6 } });
  kicker.anchor.set(0.5);
  kicker.position.set(0, -CARD_H / 2);
  const figure = new Text({
    text: '',
    style: { fontFamily: theme.fontFamily, fontSize: 150, fontWeight: '900', fill: theme.primary, dropShadow: { color: '#000000', alpha: 0.5, blur: 10, distance: 6, angle: Math.PI / 2 } },
  });
  figure.anchor.set(0.5);
  figure.position.set(0, -24);
  const took = new Text({ text: '', style: { fontFamily: theme.fontFamily, fontSize: 50, fontWeight: '700', fill: theme.text } });
  took.anchor.set(0.5);
  took.position.set(0, 112);
  card.addChild(plate, pill, kicker, figure, took);

  const confetti = createConfetti(ctx.app.renderer, [theme.primary, theme.accent, '#ffffff', '#4cc9f0', '#06d6a0']);
  const stageConfetti = new Container();
  stageConfetti.addChild(confetti.root);
  stageConfetti.position.set(cx - 960, 0);
  // Confetti behind the card: the figure stays readable while it flies.
  root.addChild(stageConfetti, card);

  let crossed: MilestoneData[] = [];
  let next: { label: string } | null = null;
  let shown: MilestoneData | null = null;
  let t0 = -1e9;
  let last = performance.now();

  const show = (m: MilestoneData | null) => {
    shown = m;
    if (m === null) {
      kicker.text = 'NEXT MILESTONE · 下一个目标';
      figure.text = next?.label ?? '—';
      took.text = 'coming up';
      return;
    }
    kicker.text = 'MILESTONE · 里程碑';
    figure.text = m.label;
    took.text = `in ${m.elapsed}  ·  ${m.orders.toLocaleString('en-US')} orders`;
    t0 = performance.now();
    confetti.burst(960, cy, 1920, 1080);
  };

  ctx.on('milestones', (msg) => {
    if (msg.type === 'snapshot') {
      crossed = msg.data.milestones.slice(-32);
      next = msg.data.next;
      if (shown === null) {
        const latest = crossed.at(-1) ?? null;
        if (latest !== null) {
          shown = latest;
          figure.text = latest.label;
          took.text = `in ${latest.elapsed}  ·  ${latest.orders.toLocaleString('en-US')} orders`;
        } else show(null);
      }
      return;
    }
    const m = msg.data;
    crossed.push(m);
    if (crossed.length > 32) crossed.shift();
    show(m);
    ctx.trigger('milestone');
  });

  ctx.graphic(
    'milestone',
    root,
    (s: GraphicState) => {
      if (s.lastCommand !== 'play') return;
      const id = typeof s.data.id === 'string' ? s.data.id : null;
      show((id === null ? crossed.at(-1) : crossed.find((m) => m.id === id)) ?? crossed.at(-1) ?? null);
    },
    { holdMs: o.holdMs },
  );

  ctx.onFrame((now) => {
    const dt = now - last;
    last = now;
    if (!root.visible) return;
    const t = (now - t0) / 1000;
    // Pop: overshoot then settle; rays turn slowly and breathe.
    const p = Math.min(1, t / 0.6);
    const pop = p < 1 ? 1 + Math.sin(p * Math.PI) * 0.12 - (1 - p) * 0.25 : 1;
    card.scale.set(pop);
    rays.rotation = now / 9000;
    rays.alpha = 0.6 + 0.4 * Math.sin(now / 500);
    glow.scale.set(1 + 0.05 * Math.sin(now / 300));
    confetti.step(dt);
  });

  return {
    root,
    displayed: () => (shown === null ? null : `${shown.label} · ${shown.elapsed}`),
    confetti: () => ({ live: confetti.live, pool: confetti.pool, bursts: confetti.bursts }),
  };
}
