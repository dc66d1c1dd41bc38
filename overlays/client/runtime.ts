// What every overlay page shares: a transparent 1920x1080 Pixi stage with the show's theme and a safe-area guide,
// put together from the page's live feed (live-feed.ts: snapshot then updates, typed per topic, reconnect), its
// graphics on their cues (graphic-animator.ts: in/out animations) and its frame and health loop (frame-loop.ts).
import { Application, Container, Graphics as Shape, WebGLRenderer } from 'pixi.js';
import type { GraphicName, GraphicState, ShowData, StatusListener, Topic, TopicListener } from '../../protocol/live-protocol.ts';
import { FrameLoop, startHealthReports } from './frame-loop.ts';
import { GraphicAnimator, type GraphicOptions } from './graphic-animator.ts';
import { openLiveFeed } from './live-feed.ts';
import { markRehearsal } from './rehearsal-mark.ts';

export type { GraphicOptions } from './graphic-animator.ts';

export interface Theme {
  primary: string;
  accent: string;
  text: string;
  panel: string;
  fontFamily: string;
  /** Logo image (data: URI, URL or path), or null. */
  logo: string | null;
}

export const DEFAULT_THEME: Theme = {
  primary: '#ffd166',
  accent: '#ef476f',
  text: '#ffffff',
  panel: '#1b1033',
  fontFamily: '"Helvetica Neue", Arial, "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif',
  logo: null,
};

/**
 * Longest wait for the show (and its theme) before a page sets up with the default theme. It comes in the same
 * burst as the other snapshots, so waiting for it delays nothing a viewer could see; the bound only matters with
 * the server unreachable, when there is nothing live to show anyway.
 */
const SHOW_WAIT_MS = 10_000;

export interface OverlayContext {
  app: Application;
  stage: Container;
  params: URLSearchParams;
  theme: Theme;
  show: ShowData | null;
  /** Subscribes to a topic's snapshots and updates, typed by the topic. */
  on<T extends Topic>(topic: T, fn: TopicListener<T>): void;
  /** Listens to the live connection's status ('connecting' | 'open' | 'closed'). */
  onStatus(fn: StatusListener): void;
  /** Called every frame with the frame's instant (performance.now() ms) before rendering. */
  onFrame(fn: (now: number) => void): void;
  /** Tells the health report what the overlay displays now. */
  setDisplayed(read: () => string | null): void;
  /**
   * Binds a container to a graphic's cue state: shown with an in animation on `play`, hidden with an out
   * animation on `stop`, and `onChange` for `update` / `next`.
   */
  graphic(name: GraphicName, view: Container, onChange?: (s: GraphicState) => void, opts?: GraphicOptions): void;
  /** Puts a bound graphic on air by itself (a milestone crossing), for its holdMs. */
  trigger(name: GraphicName): void;
  /** Subscribes to one more topic (a product's sales) for as long as the page wants it, reconnections included. */
  watch(topic: Topic): void;
  unwatch(topic: Topic): void;
  /** Live connection up? */
  readonly connected: boolean;
}

declare global {
  interface Window {
    /** Test and diagnostics hook: what the overlay displays, frame by frame. */
    __gala?: {
      overlay: string;
      displayed: () => string | null;
      frames: { t: number; v: string | null }[];
      contextLosses: number;
      connected: () => boolean;
      visible: () => string[];
      /** Display objects in the stage tree: flat over a night, or something leaks. */
      objects: () => number;
    };
  }
}

/**
 * Pixi's batch shader picks each fragment's texture through a chain of branches over every texture unit (16 here).
 * A GPU runs that at no cost, but SwiftShader (software WebGL: a headless or GPU-less machine) pays for the whole
 * chain per pixel: the counter's frames cost about 2.5 times as much CPU with 16 units as with 2. So under
 * SwiftShader, Pixi is told of 2 units (it reads the count while it starts); more batches, each far cheaper.
 */
function capBatchTexturesInSoftware(): void {
  const MAX_TEXTURE_IMAGE_UNITS = 0x8872;
  const UNMASKED_RENDERER_WEBGL = 0x9246;
  for (const proto of [WebGLRenderingContext.prototype, WebGL2RenderingContext.prototype]) {
    const get = proto.getParameter;
    proto.getParameter = function (this: WebGLRenderingContext, p: number) {
      const v: unknown = get.call(this, p);
      if (p !== MAX_TEXTURE_IMAGE_UNITS || typeof v !== 'number') return v;
      const renderer: unknown = this.getExtension('WEBGL_debug_renderer_info') === null ? '' : get.call(this, UNMASKED_RENDERER_WEBGL);
      return typeof renderer === 'string' && /swiftshader/i.test(renderer) ? Math.min(v, 2) : v;
    } as typeof proto.getParameter;
  }
}


export async function runOverlay(name: string, topics: Topic[], setup: (ctx: OverlayContext) => void | Promise<void>): Promise<void> {
  // Marks on the page's timeline (DevTools, tests): how long a reload takes to show the figure, and where.
  performance.mark('gala:start');
  const params = new URLSearchParams(location.search);
  const frameFns: ((now: number) => void)[] = [];
  let readDisplayed: () => string | null = () => null;
  const theme: Theme = { ...DEFAULT_THEME };
  const graphics = new GraphicAnimator(params.get('show') === '1');

  // The page sets up once the show (and its theme: fonts are rasterised at setup) is known, at once from the page's
  // inlined snapshot, else from the live channel or after SHOW_WAIT_MS with the default theme; what arrives
  // meanwhile waits in the feed and is delivered after setup.
  let showArrived: () => void = () => undefined;
  let earlyShow: ShowData | null = null;
  const showKnown = new Promise<void>((resolve) => {
    showArrived = resolve;
    setTimeout(resolve, SHOW_WAIT_MS);
  });
  const feed = openLiveFeed({
    params,
    topics,
    onEarlyShow: (show) => {
      earlyShow = show;
      Object.assign(theme, show.theme ?? {});
      showArrived();
    },
  });

  capBatchTexturesInSoftware();
  const app = new Application();
  // `?preview=1` (the control room's thumbnails): a quarter-resolution canvas drawn at most a few times a second,
  // so a wall of previews costs an operator's machine little, while it reports its health like any instance.
  const preview = params.get('preview') === '1';
  const options = { width: 1920, height: 1080, backgroundAlpha: 0, antialias: params.get('aa') === '1', resolution: preview ? 0.25 : 1, autoDensity: preview };
  // The WebGL renderer is made directly: Application.init would first probe for WebGL with a throwaway context
  // (40-60 ms of a reload under software rendering), and its ticker and resize plugins go unused (the page runs
  // its own frame loop on a fixed-size stage). A browser without WebGL gets Pixi's own detection and fallbacks.
  try {
    const renderer = new WebGLRenderer();
    await renderer.init(options);
    app.renderer = renderer;
  } catch {
    await app.init({ ...options, preference: 'webgl', autoStart: false, sharedTicker: false });
    app.ticker.stop();
  }
  document.body.appendChild(app.canvas);
  performance.mark('gala:pixi');

  const ctx: OverlayContext = {
    app,
    stage: app.stage,
    params,
    theme,
    show: earlyShow,
    on(topic, fn) {
      feed.on(topic, fn);
    },
    onStatus(fn) {
      feed.onStatus(fn);
    },
    onFrame(fn) {
      frameFns.push(fn);
    },
    setDisplayed(read) {
      readDisplayed = read;
    },
    graphic(g, view, onChange, opts) {
      graphics.bind(g, view, onChange, opts);
    },
    trigger(g) {
      graphics.trigger(g);
    },
    watch(topic) {
      feed.watch(topic);
    },
    unwatch(topic) {
      feed.unwatch(topic);
    },
    get connected() {
      return feed.connected;
    },
  };

  ctx.on('show', (m) => {
    ctx.show = m.data;
    markRehearsal(app.stage, m.data.rehearsal === true);
  });
  ctx.on('graphics', (m) => graphics.receive(m));

  await showKnown;
  await setup(ctx);
  performance.mark('gala:setup');
  feed.ready();

  // Safe-area guide for setting up OBS: action-safe 93% and graphics-safe 90% (SMPTE ST 2046-1), centre cross.
  if (params.get('guide') === '1') {
    const g = new Shape();
    const rect = (k: number, color: number) => g.rect((1920 * (1 - k)) / 2, (1080 * (1 - k)) / 2, 1920 * k, 1080 * k).stroke({ color, width: 3, alpha: 0.9 });
    rect(0.93, 0x00e0ff);
    rect(0.9, 0xff3df2);
    g.moveTo(960, 500).lineTo(960, 580).moveTo(920, 540).lineTo(1000, 540).stroke({ color: 0xffffff, width: 2, alpha: 0.8 });
    app.stage.addChild(g);
  }

  const loop = new FrameLoop({
    app,
    preview,
    beforeRender: (now) => {
      for (const fn of frameFns) fn(now);
      graphics.step(now);
    },
    displayed: () => readDisplayed(),
  });
  loop.start();

  const countObjects = (c: Container): number => c.children.reduce((n, k) => n + countObjects(k), 1);
  window.__gala = {
    overlay: name,
    displayed: () => readDisplayed(),
    frames: loop.frames,
    get contextLosses() {
      return loop.contextLosses;
    },
    connected: () => feed.connected,
    visible: () => graphics.visible(),
    objects: () => countObjects(app.stage),
  };

  const instance = Math.random().toString(36).slice(2, 10);
  startHealthReports(
    () => ({
      overlay: name,
      instance,
      displayed: readDisplayed(),
      ...loop.rates(),
      lastUpdate: feed.lastUpdate,
      connected: feed.connected,
      visible: graphics.visible(),
      contextLosses: loop.contextLosses,
    }),
    (report) => feed.send({ op: 'report', report }),
  );
}
