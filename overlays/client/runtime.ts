// What every overlay page shares: a transparent 1920x1080 Pixi stage driven by its own frame loop, the live
// channel (snapshot then updates, resync on gaps, reconnect with backoff), graphics cues with in/out
// animations, the show's theme, a safe-area guide, WebGL context-loss recovery, and a health report to the
// server every second.
import { Application, Container, Graphics as Shape, WebGLRenderer } from 'pixi.js';
import { LiveClient, type GraphicName, type GraphicState, type LiveClientOptions, type ShowData, type Topic } from '../../protocol/live-protocol.ts';
import { readBoot } from './boot.ts';
import { markRehearsal } from './rehearsal-mark.ts';

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

type LiveMessage = Parameters<LiveClientOptions['onMessage']>[0];
type Listener = (data: unknown, kind: 'snapshot' | 'update', at: string) => void;

export interface OverlayContext {
  app: Application;
  stage: Container;
  params: URLSearchParams;
  theme: Theme;
  show: ShowData | null;
  /** Subscribes to a topic's snapshots and updates. */
  on(topic: Topic, fn: Listener): void;
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

export interface GraphicOptions {
  /** A transient graphic: after a `play` (or a trigger) it goes out by itself after this long. */
  holdMs?: number;
}

interface FrameStat {
  interval: number;
  work: number;
}

const FRAME_RING = 240;
/** Messages kept while the page sets up; more means setup is stuck, and the client starts over. */
const EARLY_MAX = 2000;
/** No message at all for this long (the `second` heartbeat comes every second) means a dead connection. */
const SILENT_MS = 3500;
const IN_MS = 450;
/** Frame rate of a control-room preview (`?preview=1`). */
const PREVIEW_FPS = 5;
const OUT_MS = 350;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
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
  const listeners = new Map<Topic, Listener[]>();
  const frameFns: ((now: number) => void)[] = [];
  let readDisplayed: () => string | null = () => null;
  let connected = false;
  let lastUpdate: string | null = null;
  let contextLosses = 0;
  const theme: Theme = { ...DEFAULT_THEME };
  const bound = new Map<GraphicName, { view: Container; onChange?: (s: GraphicState) => void; state: GraphicState | null; anim: { kind: 'in' | 'out'; t0: number } | null; holdMs: number; outAt: number | null }>();
  // `second` comes every second whatever happens: the heartbeat that tells a silent connection from a quiet show.
  const topicList = [...new Set<Topic>(['show', 'graphics', 'second', ...topics])];
  const forced = params.get('show') === '1';
  const stats: FrameStat[] = [];
  const frames: { t: number; v: string | null }[] = [];

  // The live channel opens first, while Pixi starts and the page builds its scene (a few hundred ms in software
  // rendering), so a reloaded overlay has the current figures by its first frame. Messages that arrive before
  // the page has registered its listeners wait here, in order.
  let early: LiveMessage[] | null = [];
  let lastMessageAt = performance.now();
  const deliver = (m: LiveMessage) => {
    lastUpdate = new Date().toISOString();
    for (const fn of listeners.get(m.topic) ?? []) fn(m.data, m.type, m.at);
  };
  let showArrived: () => void = () => undefined;
  let earlyShow: ShowData | null = null;
  const showKnown = new Promise<void>((resolve) => {
    showArrived = resolve;
    setTimeout(resolve, SHOW_WAIT_MS);
  });
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const token = params.get('token');
  const receive = (m: LiveMessage) => {
    if (m.topic === 'totals' && performance.getEntriesByName('gala:live').length === 0) performance.mark('gala:live');
    if (m.topic === 'show' && early !== null) {
      const show = m.data as ShowData;
      earlyShow = show;
      Object.assign(theme, show.theme ?? {});
      showArrived();
    }
    if (early === null) deliver(m);
    else if (early.length < EARLY_MAX) early.push(m);
    else {
      // Setup is taking very long: start over with fresh snapshots rather than keep an unbounded backlog.
      early = [];
      client.stop();
      client.start();
    }
  };
  // The snapshots the page was served with (client/boot.ts) come first: with them the page sets up and draws the
  // figure of the instant it was served without waiting for its live connection, whose own snapshots (as new or
  // newer) then take over. Never a zero or a blank, whichever comes first.
  for (const s of readBoot()) receive({ type: 'snapshot', topic: s.topic, rev: 0, at: s.at, data: s.data });
  const client = new LiveClient({
    url: `${proto}://${location.host}/v1/live${token ? `?token=${encodeURIComponent(token)}` : ''}`,
    // The same array `watch` adds to, so a reconnection subscribes again to every watched topic.
    topics: topicList,
    onMessage: (m) => {
      lastMessageAt = performance.now();
      receive(m);
    },
    onStatus: (s) => {
      connected = s === 'open';
      if (connected) lastMessageAt = performance.now();
      for (const fn of listeners.get('__status' as Topic) ?? []) fn(s, 'update', new Date().toISOString());
    },
    maxBackoffMs: 5000,
  });
  client.start();
  // A connection can die without a close (a pulled cable, a sleeping NAT, offline emulation): the socket still
  // says open while nothing arrives. Past SILENT_MS without even the per-second heartbeat it is dropped, and the
  // client reconnects (with backoff while the network stays down) and resyncs from fresh snapshots.
  setInterval(() => {
    if (connected && performance.now() - lastMessageAt > SILENT_MS) {
      client.stop();
      connected = false;
      for (const fn of listeners.get('__status' as Topic) ?? []) fn('closed', 'update', new Date().toISOString());
      client.start();
    }
  }, 500);

  capBatchTexturesInSoftware();
  const app = new Application();
  // `?preview=1` (the control room's thumbnails): a quarter-resolution canvas drawn at most PREVIEW_FPS times a
  // second, so a wall of previews costs an operator's machine little, while it reports its health like any instance.
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
      const l = listeners.get(topic) ?? [];
      l.push(fn);
      listeners.set(topic, l);
    },
    onFrame(fn) {
      frameFns.push(fn);
    },
    setDisplayed(read) {
      readDisplayed = read;
    },
    graphic(g, view, onChange, opts) {
      view.visible = false;
      bound.set(g, { view, onChange, state: null, anim: null, holdMs: opts?.holdMs ?? 0, outAt: null });
    },
    trigger(g) {
      const b = bound.get(g);
      if (b === undefined) return;
      const now = performance.now();
      b.view.visible = true;
      b.anim = { kind: 'in', t0: now };
      b.outAt = b.holdMs > 0 ? now + b.holdMs : null;
    },
    watch(topic) {
      if (topicList.includes(topic)) return;
      topicList.push(topic);
      client.send({ op: 'subscribe', topics: [topic] });
    },
    unwatch(topic) {
      const i = topicList.indexOf(topic);
      if (i < 0) return;
      topicList.splice(i, 1);
      client.send({ op: 'unsubscribe', topics: [topic] });
    },
    get connected() {
      return connected;
    },
  };

  const applyGraphic = (s: GraphicState, snapshot: boolean) => {
    const b = bound.get(s.name);
    if (b === undefined) return;
    const was = b.state;
    b.state = s;
    // A forced state (?show=1) keeps a graphic on screen for setup, whatever the cues say.
    let visible = forced || s.visible;
    const now = performance.now();
    // A transient graphic loaded after its hold has run out stays off; loaded within it, it stays for the rest.
    const age = Date.now() - Date.parse(s.changedAt);
    if (b.holdMs > 0 && snapshot && !forced && !(age >= 0 && age < b.holdMs && s.lastCommand === 'play')) visible = false;
    if (visible && (was === null || !was.visible || (s.lastCommand === 'play' && s.rev !== was.rev))) {
      b.view.visible = true;
      b.anim = snapshot ? null : { kind: 'in', t0: now };
      if (snapshot) {
        b.view.alpha = 1;
        b.view.pivot.y = 0;
      }
      b.outAt = b.holdMs > 0 && !forced ? now + b.holdMs - (snapshot ? Math.max(0, age) : 0) : null;
    } else if (!visible && (was === null || was.visible)) {
      b.outAt = null;
      if (snapshot || was === null) b.view.visible = false;
      else b.anim = { kind: 'out', t0: now };
    }
    b.onChange?.(s);
  };

  ctx.on('show', (d) => {
    const show = d as ShowData & { theme?: Partial<Theme> };
    ctx.show = show;
    markRehearsal(app.stage, show.rehearsal === true);
  });
  ctx.on('graphics', (d, kind) => {
    if (kind === 'snapshot') for (const s of Object.values((d as { graphics: Record<string, GraphicState> }).graphics)) applyGraphic(s, true);
    else applyGraphic(d as GraphicState, false);
  });

  // The page sets up once the show (and its theme: fonts are rasterised at setup) is known, at once from the page's
  // inlined snapshot, else from the live channel or after SHOW_WAIT_MS with the default theme; what arrives
  // meanwhile waits in `early` and is delivered after setup.
  await showKnown;
  await setup(ctx);
  performance.mark('gala:setup');
  const waiting = early;
  early = null;
  for (const m of waiting) deliver(m);

  // Safe-area guide for setting up OBS: action-safe 93% and graphics-safe 90% (SMPTE ST 2046-1), centre cross.
  if (params.get('guide') === '1') {
    const g = new Shape();
    const rect = (k: number, color: number) => g.rect((1920 * (1 - k)) / 2, (1080 * (1 - k)) / 2, 1920 * k, 1080 * k).stroke({ color, width: 3, alpha: 0.9 });
    rect(0.93, 0x00e0ff);
    rect(0.9, 0xff3df2);
    g.moveTo(960, 500).lineTo(960, 580).moveTo(920, 540).lineTo(1000, 540).stroke({ color: 0xffffff, width: 2, alpha: 0.8 });
    app.stage.addChild(g);
  }

  // WebGL context loss: Pixi restores its resources on `webglcontextrestored`; the loop skips rendering meanwhile,
  // and if the browser does not bring the context back by itself, it is asked to. The extension is taken now:
  // a lost context answers getExtension with null.
  const canvas = app.canvas;
  const loseContext = (app.renderer as unknown as { gl?: WebGL2RenderingContext }).gl?.getExtension('WEBGL_lose_context') ?? null;
  canvas.addEventListener('webglcontextlost', () => {
    contextLosses++;
    setTimeout(() => {
      const gl = (app.renderer as unknown as { gl?: WebGL2RenderingContext }).gl;
      if (gl?.isContextLost()) loseContext?.restoreContext();
    }, 1000);
  });

  let last = performance.now();
  const loop = () => {
    const t0 = performance.now();
    if (preview && t0 - last < 1000 / PREVIEW_FPS) {
      requestAnimationFrame(loop);
      return;
    }
    for (const fn of frameFns) fn(t0);
    for (const b of bound.values()) {
      if (b.outAt !== null && t0 >= b.outAt) {
        b.outAt = null;
        b.anim = { kind: 'out', t0 };
      }
      if (b.anim === null) continue;
      const p = Math.min(1, (t0 - b.anim.t0) / (b.anim.kind === 'in' ? IN_MS : OUT_MS));
      const e = 1 - (1 - p) ** 3;
      if (b.anim.kind === 'in') {
        b.view.alpha = e;
        b.view.pivot.y = -40 * (1 - e);
      } else {
        b.view.alpha = 1 - e;
        b.view.pivot.y = 40 * e;
        if (p >= 1) b.view.visible = false;
      }
      if (p >= 1) b.anim = null;
    }
    const gl = (app.renderer as unknown as { gl?: WebGL2RenderingContext }).gl;
    if (!gl?.isContextLost()) app.render();
    const t1 = performance.now();
    stats.push({ interval: t0 - last, work: t1 - t0 });
    if (stats.length > FRAME_RING) stats.shift();
    const v = readDisplayed();
    if (v !== null && frames.at(-1)?.v == null) performance.mark('gala:figure');
    frames.push({ t: Date.now(), v });
    if (frames.length > 1000) frames.shift();
    last = t0;
    requestAnimationFrame(loop);
  };
  // The first frame now, with the figure the page was served with, rather than at the next animation frame.
  loop();

  const visibleNow = () => [...bound].filter(([, b]) => b.view.visible).map(([n]) => n);
  const countObjects = (c: Container): number => c.children.reduce((n, k) => n + countObjects(k), 1);
  window.__gala = { overlay: name, displayed: () => readDisplayed(), frames, get contextLosses() { return contextLosses; }, connected: () => connected, visible: visibleNow, objects: () => countObjects(app.stage) };

  const instance = Math.random().toString(36).slice(2, 10);
  setInterval(() => {
    const recent = stats.slice(-60);
    const work = recent.map((s) => s.work).sort((a, b) => a - b);
    const mean = recent.reduce((a, s) => a + s.interval, 0) / Math.max(1, recent.length);
    const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null;
    client.send({
      op: 'report',
      report: {
        overlay: name,
        instance,
        displayed: readDisplayed(),
        fps: mean > 0 ? Math.round(10_000 / mean) / 10 : 0,
        frameMsP50: percentile(work, 0.5),
        frameMsP99: percentile(work, 0.99),
        lastUpdate,
        connected,
        visible: visibleNow(),
        jsHeapBytes: heap,
        contextLosses,
      },
    });
  }, 1000);
}

/** Listens to the live connection's state ('connecting' | 'open' | 'closed'). */
export function onConnection(ctx: OverlayContext, fn: (state: string) => void): void {
  ctx.on('__status' as Topic, (s) => fn(String(s)));
}
