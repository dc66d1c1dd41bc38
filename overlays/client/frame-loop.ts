// An overlay page's frame and health loop: its own frame loop on the fixed-size stage (every animation frame, or
// PREVIEW_FPS for a control-room preview), which skips rendering while the WebGL context is lost and asks for it
// back; frame timings and what is displayed, frame by frame; and a health report to the server every second.
import type { Application } from 'pixi.js';
import type { OverlayReport } from '../../protocol/live-protocol.ts';

const FRAME_RING = 240;
/** Frame rate of a control-room preview (`?preview=1`). */
const PREVIEW_FPS = 5;

interface FrameStat {
  interval: number;
  work: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

const glOf = (app: Application) => (app.renderer as unknown as { gl?: WebGL2RenderingContext }).gl;

export interface FrameLoopOptions {
  app: Application;
  /** A control-room preview: at most PREVIEW_FPS frames a second. */
  preview: boolean;
  /** Called every frame with the frame's instant (performance.now() ms), before rendering. */
  beforeRender: (now: number) => void;
  /** What the overlay displays now (null: nothing yet). */
  displayed: () => string | null;
}

export class FrameLoop {
  /** What was displayed, frame by frame (the last 1000). */
  readonly frames: { t: number; v: string | null }[] = [];
  private readonly stats: FrameStat[] = [];
  private losses = 0;

  constructor(private readonly opts: FrameLoopOptions) {}

  /** WebGL contexts lost so far. */
  get contextLosses(): number {
    return this.losses;
  }

  /** Watches for a lost context and draws the first frame now, then one per animation frame. */
  start(): void {
    const { app, preview, beforeRender, displayed } = this.opts;
    // WebGL context loss: Pixi restores its resources on `webglcontextrestored`; the loop skips rendering meanwhile,
    // and if the browser does not bring the context back by itself, it is asked to. The extension is taken now:
    // a lost context answers getExtension with null.
    const loseContext = glOf(app)?.getExtension('WEBGL_lose_context') ?? null;
    app.canvas.addEventListener('webglcontextlost', () => {
      this.losses++;
      setTimeout(() => {
        if (glOf(app)?.isContextLost()) loseContext?.restoreContext();
      }, 1000);
    });

    const { stats, frames } = this;
    let last = performance.now();
    const loop = () => {
      const t0 = performance.now();
      if (preview && t0 - last < 1000 / PREVIEW_FPS) {
        requestAnimationFrame(loop);
        return;
      }
      beforeRender(t0);
      if (!glOf(app)?.isContextLost()) app.render();
      const t1 = performance.now();
      stats.push({ interval: t0 - last, work: t1 - t0 });
      if (stats.length > FRAME_RING) stats.shift();
      const v = displayed();
      if (v !== null && frames.at(-1)?.v == null) performance.mark('gala:figure');
      frames.push({ t: Date.now(), v });
      if (frames.length > 1000) frames.shift();
      last = t0;
      requestAnimationFrame(loop);
    };
    // The first frame now, with the figure the page was served with, rather than at the next animation frame.
    loop();
  }

  /** Frames per second, and frame time percentiles (ms), over the last 60 frames. */
  rates(): Pick<OverlayReport, 'fps' | 'frameMsP50' | 'frameMsP99'> {
    const recent = this.stats.slice(-60);
    const work = recent.map((s) => s.work).sort((a, b) => a - b);
    const mean = recent.reduce((a, s) => a + s.interval, 0) / Math.max(1, recent.length);
    return { fps: mean > 0 ? Math.round(10_000 / mean) / 10 : 0, frameMsP50: percentile(work, 0.5), frameMsP99: percentile(work, 0.99) };
  }
}

/** Sends the overlay instance's health to the server every second (the control room's overlay table). */
export function startHealthReports(read: () => Omit<OverlayReport, 'jsHeapBytes'>, send: (report: OverlayReport) => void): void {
  setInterval(() => {
    const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null;
    send({ ...read(), jsHeapBytes: heap });
  }, 1000);
}
