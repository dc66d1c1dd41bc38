// A pooled confetti burst for celebrations: a fixed set of sprites (white textures tinted with the theme's colours)
// reused by every burst, so a night of milestones allocates nothing after the first frame.
import { Container, Graphics, Sprite, type Renderer, type Texture } from 'pixi.js';

interface Bit {
  s: Sprite;
  vx: number;
  vy: number;
  spin: number;
  wobble: number;
  life: number;
  age: number;
}

export interface Confetti {
  root: Container;
  /** Starts a burst: cannons from the bottom corners and a ring from (cx, cy). Reuses the pool. */
  burst(cx: number, cy: number, width: number, height: number): void;
  /** Advances the particles; dt in ms. */
  step(dt: number): void;
  /** Particles in flight (for tests of the pool); 0 once every particle of the last burst has landed. */
  readonly live: number;
  readonly pool: number;
  /** Bursts started so far: for tests, the event of a celebration starting, whatever the frame rate. */
  readonly bursts: number;
}

const GRAVITY = 0.0016;

export function createConfetti(renderer: Renderer, colours: string[], size = 260): Confetti {
  const shapes: Texture[] = [
    renderer.generateTexture(new Graphics().rect(0, 0, 18, 10).fill(0xffffff)),
    renderer.generateTexture(new Graphics().circle(6, 6, 6).fill(0xffffff)),
    renderer.generateTexture(new Graphics().poly([0, 0, 14, 0, 7, 12]).fill(0xffffff)),
    renderer.generateTexture(new Graphics().rect(0, 0, 6, 22).fill(0xffffff)),
  ];
  const root = new Container();
  const bits: Bit[] = [];
  for (let i = 0; i < size; i++) {
    const s = new Sprite(shapes[i % shapes.length]);
    s.anchor.set(0.5);
    s.tint = colours[i % colours.length]!;
    s.visible = false;
    root.addChild(s);
    bits.push({ s, vx: 0, vy: 0, spin: 0, wobble: 0, life: 0, age: 0 });
  }
  let live = 0;
  let bursts = 0;
  return {
    root,
    get live() {
      return live;
    },
    pool: size,
    get bursts() {
      return bursts;
    },
    burst(cx, cy, width, height) {
      bursts++;
      live = bits.length;
      bits.forEach((b, i) => {
        const kind = i % 3;
        const r = Math.random;
        if (kind === 2) {
          // The ring: outward from the centre of the card.
          const a = r() * Math.PI * 2;
          const v = 0.5 + r() * 0.9;
          b.s.position.set(cx, cy);
          b.vx = Math.cos(a) * v;
          b.vy = Math.sin(a) * v - 0.35;
        } else {
          // Cannons: up and inwards from the bottom corners.
          const left = kind === 0;
          b.s.position.set(left ? 0 : width, height);
          b.vx = (left ? 1 : -1) * (0.35 + r() * 0.55);
          b.vy = -(1.0 + r() * 0.9);
        }
        b.spin = (r() - 0.5) * 0.02;
        b.wobble = r() * Math.PI * 2;
        b.life = 2600 + r() * 1800;
        b.age = -r() * 250;
        b.s.alpha = 1;
        b.s.scale.set(0.8 + r() * 0.9);
        b.s.visible = false;
      });
    },
    step(dt) {
      if (live === 0) return;
      const d = Math.min(dt, 50);
      live = 0;
      for (const b of bits) {
        if (b.age >= b.life) continue;
        b.age += d;
        if (b.age < 0) {
          live++;
          continue;
        }
        live++;
        b.s.visible = true;
        b.vy += GRAVITY * d;
        b.vx *= 0.992;
        b.vy *= 0.992;
        b.wobble += d * 0.012;
        b.s.x += (b.vx + Math.sin(b.wobble) * 0.06) * d;
        b.s.y += b.vy * d;
        b.s.rotation += b.spin * d;
        b.s.scale.y = Math.abs(Math.cos(b.wobble)) * b.s.scale.x;
        b.s.alpha = b.age > b.life - 600 ? Math.max(0, (b.life - b.age) / 600) : 1;
        if (b.age >= b.life) b.s.visible = false;
      }
    },
  };
}
