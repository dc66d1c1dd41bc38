// The OBS gateway: the one importer of obs-websocket-js. Keeps a link to OBS alive, follows its scenes, and runs each cue's OBS steps as one request batch.
import { EventSubscription, OBSWebSocket, RequestBatchExecutionType } from 'obs-websocket-js';
import type { Log } from '../../platform/log.ts';
import type { ObsAction, ObsLink, ObsPort, ObsRunResult, ObsStatus } from '../../domain/obs-port.ts';
import { emptySceneState, reduceSceneState, type SceneEvent, type SceneState } from './obs-scene-state.ts';

export interface ObsGatewayOptions {
  url: string;
  password: string | null;
  log: Log;
  /** How often the link is checked with GetStats (default 2000 ms). */
  heartbeatMs?: number;
  /** A heartbeat, request or handshake unanswered this long means OBS is gone (default 3000 ms). */
  timeoutMs?: number;
  /** Reconnect backoff: first delay and ceiling, jittered (defaults 500 ms, 10 s). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Retry delay after a refused password or protocol version, which retrying fast cannot fix (default 60 s). */
  slowRetryMs?: number;
  /** How long past its duration a transition may go without reporting its end before OBS is re-read (default 2000 ms). */
  transitionGraceMs?: number;
  /** Cues waiting for a transition to end, at most (default 4); more are refused. */
  maxWaiting?: number;
  random?: () => number;
}

/** obs-websocket close codes the gateway acts on (protocol enum WebSocketCloseCode). */
const AUTHENTICATION_FAILED = 4009;
const UNSUPPORTED_RPC_VERSION = 4010;
const SESSION_INVALIDATED = 4011;

const SUBSCRIPTIONS = EventSubscription.General | EventSubscription.Scenes | EventSubscription.Transitions | EventSubscription.SceneItems | EventSubscription.Ui;

/** obs-websocket-js keeps its socket protected; a dead link must be cut without waiting for a close handshake. */
class ObsSocket extends OBSWebSocket {
  terminate(): void {
    const ws = this.socket as unknown as { terminate?: () => void; close: () => void; on?: (event: 'error', fn: (e: Error) => void) => void } | undefined;
    // ws reports a socket terminated while still connecting as an 'error' event on the next tick, after cleanup()
    // has taken obs-websocket-js's handlers away; unheard, that event would crash the process. The link is already
    // being cut and reconnected, so the error says nothing new.
    ws?.on?.('error', () => undefined);
    if (ws?.terminate) ws.terminate();
    else ws?.close();
    this.cleanup();
  }
}

interface BatchRequest { requestType: string; requestData?: Record<string, unknown> }
interface BatchResult { requestType: string; requestStatus: { result: boolean; code: number; comment?: string }; responseData?: unknown }

/** One connection attempt: everything it started dies with it. */
interface Link {
  obs: ObsSocket;
  dead: boolean;
  /** Rejects when the link dies, so no call waits forever (obs-websocket-js never settles calls on a closed socket). */
  lost: Promise<never>;
  kill: (reason: string) => void;
}

class GatewayError extends Error {}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function authMessage(hasPassword: boolean): string {
  return hasPassword
    ? 'OBS refused the password (close 4009 AuthenticationFailed): set GALA_OBS_PASSWORD to the password in OBS, Tools > WebSocket Server Settings'
    : 'OBS asks for a password (close 4009 AuthenticationFailed) and GALA_OBS_PASSWORD is not set';
}

export class ObsGateway implements ObsPort {
  private readonly o: Required<Omit<ObsGatewayOptions, 'password'>> & { password: string | null };
  private readonly url: string;
  private scene: SceneState = emptySceneState;
  private linkState: ObsLink = 'connecting';
  private lastError: string | null = null;
  private rttMs: number | null = null;
  private rev = 0;
  private transitionMs = 300;
  private readonly listeners = new Set<(s: ObsStatus) => void>();
  private current: Link | null = null;
  private attempt = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private beating = false;
  private watchdog: NodeJS.Timeout | null = null;
  /** Cue runs go to OBS one at a time, in order of arrival. */
  private chain: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];
  /** Scene item ids by "scene\u0000source": ids are stable within a scene collection, so they are looked up once per link. */
  private readonly itemIds = new Map<string, number>();

  constructor(opts: ObsGatewayOptions) {
    if (!/^wss?:\/\/[^/]/i.test(opts.url)) throw new Error(`--obs-url / GALA_OBS_URL: must be a ws:// or wss:// URL of obs-websocket, e.g. ws://127.0.0.1:4455 (got "${redactUrl(opts.url)}")`);
    this.o = {
      heartbeatMs: 2000, timeoutMs: 3000, backoffBaseMs: 500, backoffMaxMs: 10_000, slowRetryMs: 60_000, transitionGraceMs: 2000, maxWaiting: 4, random: Math.random,
      ...opts,
    };
    this.url = redactUrl(opts.url);
  }

  /** Starts connecting; the gateway keeps the link up from then on until close(). */
  start(): this {
    void this.connect();
    return this;
  }

  status(): ObsStatus {
    return {
      configured: true,
      link: this.linkState,
      url: this.url,
      scenes: [...this.scene.scenes],
      programScene: this.scene.program,
      previewScene: this.scene.preview,
      studioMode: this.scene.studioMode,
      transition: this.scene.transition && { ...this.scene.transition },
      rttMs: this.rttMs,
      lastError: this.lastError,
      rev: this.rev,
    };
  }

  onStatus(fn: (s: ObsStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopTimers();
    const link = this.current;
    this.current = null;
    if (link && !link.dead) {
      link.dead = true;
      link.kill('the OBS gateway is closing');
      link.obs.removeAllListeners();
      // A polite close when OBS answers; cut the socket when it does not.
      await Promise.race([link.obs.disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
      link.obs.terminate();
    }
    this.setLink('off', this.lastError);
  }

  // ---- status ----

  private changed(): void {
    this.rev++;
    const s = this.status();
    for (const fn of this.listeners) {
      try {
        fn(s);
      } catch (e) {
        this.o.log('obs.status_listener_error', { error: String(e) });
      }
    }
  }

  private setLink(link: ObsLink, error: string | null): void {
    if (link === this.linkState && error === this.lastError) return;
    this.linkState = link;
    this.lastError = error;
    this.changed();
  }

  private dispatch(e: SceneEvent): void {
    const before = this.scene;
    this.scene = reduceSceneState(before, e);
    if (before.transition === null && this.scene.transition !== null) this.armWatchdog();
    if (this.scene.transition === null) {
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = null;
      for (const w of this.idleWaiters.splice(0)) w();
    }
    if (JSON.stringify({ ...before, pending: null }) !== JSON.stringify({ ...this.scene, pending: null })) this.changed();
  }

  // ---- link ----

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.retryTimer = null;
    const obs = new ObsSocket();
    let kill!: (reason: string) => void;
    const lost = new Promise<never>((_, reject) => {
      kill = (reason) => reject(new GatewayError(reason));
    });
    lost.catch(() => {});
    const link: Link = { obs, dead: false, lost, kill: (reason) => kill(reason) };
    this.current = link;
    this.listen(link);
    try {
      await this.within(link, obs.connect(this.o.url, this.o.password ?? undefined, { rpcVersion: 1, eventSubscriptions: SUBSCRIPTIONS }), 'the handshake');
      await this.readState(link);
    } catch (e) {
      this.onLinkFailed(link, e);
      return;
    }
    this.attempt = 0;
    this.setLink('connected', null);
    this.o.log('obs.connected', { url: this.url, program: this.scene.program, studioMode: this.scene.studioMode, scenes: this.scene.scenes.length });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(link), this.o.heartbeatMs);
  }

  private listen(link: Link): void {
    const { obs } = link;
    const guard = (fn: () => void) => () => {
      if (!link.dead) fn();
    };
    obs.on('ConnectionClosed', (err) => guard(() => this.onLinkFailed(link, err))());
    obs.on('CurrentProgramSceneChanged', (d) => guard(() => this.dispatch({ type: 'program-changed', scene: d.sceneName }))());
    obs.on('CurrentPreviewSceneChanged', (d) => guard(() => this.dispatch({ type: 'preview-changed', scene: d.sceneName }))());
    obs.on('StudioModeStateChanged', (d) => guard(() => this.dispatch({ type: 'studio-mode', enabled: d.studioModeEnabled }))());
    obs.on('SceneTransitionStarted', guard(() => this.dispatch({ type: 'transition-started', at: new Date().toISOString() })));
    obs.on('SceneTransitionEnded', guard(() => this.dispatch({ type: 'transition-ended' })));
    obs.on('CurrentSceneTransitionDurationChanged', (d) => guard(() => { this.transitionMs = d.transitionDuration; })());
    obs.on('SceneListChanged', (d) => guard(() => {
      this.itemIds.clear();
      this.dispatch({ type: 'scene-list', scenes: sceneNames(d.scenes) });
    })());
    obs.on('SceneItemCreated', guard(() => this.itemIds.clear()));
    obs.on('SceneItemRemoved', guard(() => this.itemIds.clear()));
    obs.on('ExitStarted', guard(() => this.o.log('obs.exit_started', {})));
  }

  /** One batch reads all that the control room shows, so the state is consistent with itself. */
  private async readState(link: Link): Promise<void> {
    const results = await this.batch(link, [
      { requestType: 'GetSceneList' },
      { requestType: 'GetStudioModeEnabled' },
      { requestType: 'GetCurrentSceneTransition' },
    ]);
    const failed = results.find((r) => !r.requestStatus.result);
    if (failed || results.length < 3) throw new GatewayError(`reading OBS state failed: ${failed?.requestType ?? 'short answer'} ${failed?.requestStatus.comment ?? ''}`);
    const list = results[0]!.responseData as { currentProgramSceneName: string; currentPreviewSceneName: string | null; scenes: { sceneName: string; sceneIndex: number }[] };
    const studio = (results[1]!.responseData as { studioModeEnabled: boolean }).studioModeEnabled;
    const duration = (results[2]!.responseData as { transitionDuration: number | null }).transitionDuration;
    this.transitionMs = duration ?? 0;
    this.itemIds.clear();
    this.dispatch({ type: 'snapshot', scenes: sceneNames(list.scenes), program: list.currentProgramSceneName, preview: list.currentPreviewSceneName, studioMode: studio });
  }

  private onLinkFailed(link: Link, e: unknown): void {
    if (link.dead) return;
    link.dead = true;
    link.obs.removeAllListeners();
    link.obs.terminate();
    const reason = e instanceof Error ? e.message : String(e);
    link.kill(reason);
    if (this.current !== link || this.closed) return;
    this.current = null;
    this.stopTimers();
    this.rttMs = null;
    this.dispatch({ type: 'lost' });
    const code = (e as { code?: unknown }).code;
    if (code === AUTHENTICATION_FAILED) {
      const message = authMessage(this.o.password !== null);
      if (this.linkState !== 'auth-failed') this.o.log('obs.auth_failed', { url: this.url, message });
      this.setLink('auth-failed', message);
      this.retry(this.o.slowRetryMs);
      return;
    }
    if (code === SESSION_INVALIDATED) {
      // The protocol says a kicked client must not reconnect by itself.
      this.o.log('obs.kicked', { url: this.url });
      this.setLink('off', 'OBS ended this session (close 4011 SessionInvalidated, the Kick button): restart Gala to reconnect');
      return;
    }
    const detail = code === UNSUPPORTED_RPC_VERSION
      ? 'OBS speaks another obs-websocket RPC version (close 4010): Gala needs obs-websocket 5 (OBS 28 or later)'
      : `${typeof code === 'number' && code > 0 ? `closed with ${code}` : 'lost'}${reason ? `: ${reason}` : ''}`;
    const wasConnected = this.linkState === 'connected';
    this.o.log(wasConnected ? 'obs.disconnected' : 'obs.connect_failed', { url: this.url, attempt: this.attempt, detail });
    this.setLink('reconnecting', detail);
    this.retry(code === UNSUPPORTED_RPC_VERSION ? this.o.slowRetryMs : this.backoff());
  }

  /** Full jitter on the upper half: reconnecting clients do not stampede a restarting OBS. */
  private backoff(): number {
    const ceiling = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + this.o.random() * (ceiling / 2));
  }

  private retry(ms: number): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => void this.connect(), ms);
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.heartbeatTimer = null;
    this.watchdog = null;
  }

  private async heartbeat(link: Link): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    const t0 = performance.now();
    try {
      await this.within(link, link.obs.call('GetStats'), 'the heartbeat');
      const rtt = Math.round(performance.now() - t0);
      if (rtt !== this.rttMs) {
        this.rttMs = rtt;
        this.changed();
      }
    } catch (e) {
      this.onLinkFailed(link, e);
    } finally {
      this.beating = false;
    }
  }

  /** OBS does not report an interrupted transition's end: after its duration and a grace, ask OBS what is on program. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const link = this.current;
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      if (!link || link.dead || this.scene.transition === null) return;
      this.o.log('obs.transition_unfinished', { to: this.scene.transition.to });
      this.readState(link).catch((e: unknown) => this.onLinkFailed(link, e));
    }, this.transitionMs + this.o.transitionGraceMs);
  }

  private within<T>(link: Link, p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GatewayError(`OBS did not answer ${what} within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    });
    p.catch(() => {});
    return Promise.race([p, link.lost, timeout]).finally(() => clearTimeout(timer));
  }

  private async batch(link: Link, requests: BatchRequest[], haltOnFailure = true): Promise<BatchResult[]> {
    const results = await this.within(
      link,
      link.obs.callBatch(requests as Parameters<OBSWebSocket['callBatch']>[0], { executionType: RequestBatchExecutionType.SerialRealtime, haltOnFailure }),
      'a request batch',
    );
    return results as unknown as BatchResult[];
  }

  // ---- cues ----

  run(actions: readonly ObsAction[]): Promise<ObsRunResult> {
    const refused = this.precheck(actions);
    if (refused) return Promise.resolve(refused);
    if (this.waiting >= this.o.maxWaiting) {
      return Promise.resolve(refuse(actions, `OBS busy: ${this.waiting} cues are already waiting their turn; nothing sent`));
    }
    this.waiting++;
    const next = this.chain.then(() => {
      this.waiting--;
      return this.runNow(actions);
    });
    this.chain = next.catch(() => {});
    return next;
  }

  /** Refuses a cue that cannot run whole, before anything of it goes to air. */
  private precheck(actions: readonly ObsAction[]): ObsRunResult | null {
    if (actions.length === 0) return { ok: true, results: [], logOnly: false };
    if (this.linkState !== 'connected') return refuse(actions, `OBS is not connected (${this.linkState}${this.lastError ? `: ${this.lastError}` : ''}); nothing sent`);
    const known = new Set(this.scene.scenes);
    const changes = actions.filter((a) => a.type === 'scene' || a.type === 'take').length;
    if (changes > 1) return refuse(actions, 'a cue may change the program scene once (a second change would cut the first transition short); nothing sent');
    for (const a of actions) {
      if ((a.type === 'scene' || a.type === 'preview' || a.type === 'source-visible') && !known.has(a.scene)) {
        return refuse(actions, `OBS has no scene "${a.scene}" (scenes: ${this.scene.scenes.join(', ')}); nothing sent`);
      }
      if ((a.type === 'preview' || a.type === 'take') && !this.scene.studioMode) {
        return refuse(actions, `"${a.type}" needs studio mode, which is off in OBS; nothing sent`);
      }
    }
    return null;
  }

  private async runNow(actions: readonly ObsAction[]): Promise<ObsRunResult> {
    const link = this.current;
    if (!link || link.dead || this.linkState !== 'connected') return refuse(actions, `OBS link lost before the cue's turn (${this.linkState}); nothing sent`);
    const changesProgram = actions.some((a) => a.type === 'scene' || a.type === 'take');
    let waitedNote = '';
    if (changesProgram && this.scene.transition) {
      // Policy: a program change during a transition waits for its end (bounded), never interrupts it.
      const t = this.scene.transition;
      const t0 = Date.now();
      const ok = await this.idle(link, this.transitionMs + this.o.transitionGraceMs);
      if (!ok) return refuse(actions, `the transition to "${t.to}" did not end in time; nothing sent`);
      waitedNote = ` after waiting ${Date.now() - t0} ms for the transition to "${t.to}"`;
    }
    const refusedAgain = this.precheck(actions);
    if (refusedAgain) return refusedAgain;
    let plan: { requests: BatchRequest[]; owner: number[]; skipped: Map<number, string>; target: string | null };
    try {
      plan = await this.plan(link, actions);
    } catch (e) {
      return refuse(actions, `${(e as Error).message}; nothing sent`);
    }
    if (plan.requests.length === 0) return { ok: true, logOnly: false, results: actions.map((a, i) => ({ action: a, ok: true, detail: plan.skipped.get(i) ?? 'nothing to do' })) };
    if (plan.target !== null) this.dispatch({ type: 'requested', target: plan.target });
    let results: BatchResult[];
    try {
      results = await this.batch(link, plan.requests);
    } catch (e) {
      this.dispatch({ type: 'requested', target: null });
      this.o.log('obs.cue_failed', { error: (e as Error).message });
      return refuse(actions, `${(e as Error).message}: the cue's outcome in OBS is unknown`);
    }
    const out = actions.map((action, i) => {
      const skip = plan.skipped.get(i);
      if (skip !== undefined) return { action, ok: true, detail: skip };
      const mine = plan.owner.flatMap((owner, j) => (owner === i ? [j] : []));
      const failed = mine.find((j) => results[j] && !results[j].requestStatus.result);
      if (failed !== undefined) {
        const r = results[failed]!;
        return { action, ok: false, detail: `OBS refused ${r.requestType} (${r.requestStatus.code}${r.requestStatus.comment ? `: ${r.requestStatus.comment}` : ''})` };
      }
      if (mine.some((j) => results[j] === undefined)) return { action, ok: false, detail: 'not run: an earlier step failed' };
      return { action, ok: true, detail: describe(action, this.scene.studioMode) + waitedNote };
    });
    const ok = out.every((r) => r.ok);
    if (!ok && plan.target !== null && !this.scene.transition) this.dispatch({ type: 'requested', target: null });
    this.o.log('obs.cue', { ok, steps: out.map((r) => `${r.ok ? 'ok' : 'FAILED'}: ${r.detail}`) });
    return { ok, results: out, logOnly: false };
  }

  private idle(link: Link, ms: number): Promise<boolean> {
    if (!this.scene.transition) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
      link.lost.catch(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  /** Turns steps into batch requests; looks up scene item ids first (a batch cannot feed one answer into the next request). */
  private async plan(link: Link, actions: readonly ObsAction[]) {
    const missing = actions.flatMap((a) => (a.type === 'source-visible' && !this.itemIds.has(itemKey(a.scene, a.source)) ? [a] : []));
    if (missing.length > 0) {
      const found = await this.batch(link, missing.map((a) => ({ requestType: 'GetSceneItemId', requestData: { sceneName: a.scene, sourceName: a.source } })), false);
      missing.forEach((a, i) => {
        const r = found[i];
        if (!r?.requestStatus.result) throw new GatewayError(`OBS has no source "${a.source}" in scene "${a.scene}"`);
        this.itemIds.set(itemKey(a.scene, a.source), (r.responseData as { sceneItemId: number }).sceneItemId);
      });
    }
    const requests: BatchRequest[] = [];
    const owner: number[] = [];
    const skipped = new Map<number, string>();
    let preview = this.scene.preview;
    let target: string | null = null;
    const add = (i: number, requestType: string, requestData?: Record<string, unknown>) => {
      requests.push(requestData ? { requestType, requestData } : { requestType });
      owner.push(i);
    };
    actions.forEach((a, i) => {
      switch (a.type) {
        case 'scene':
          if (a.scene === this.scene.program && !this.scene.transition) {
            skipped.set(i, `"${a.scene}" is already on program`);
          } else if (this.scene.studioMode) {
            add(i, 'SetCurrentPreviewScene', { sceneName: a.scene });
            add(i, 'TriggerStudioModeTransition');
            target = a.scene;
          } else {
            add(i, 'SetCurrentProgramScene', { sceneName: a.scene });
            target = a.scene;
          }
          break;
        case 'preview':
          add(i, 'SetCurrentPreviewScene', { sceneName: a.scene });
          preview = a.scene;
          break;
        case 'take':
          add(i, 'TriggerStudioModeTransition');
          target = preview;
          break;
        case 'source-visible':
          add(i, 'SetSceneItemEnabled', { sceneName: a.scene, sceneItemId: this.itemIds.get(itemKey(a.scene, a.source)), sceneItemEnabled: a.visible });
          break;
        case 'text':
          add(i, 'SetInputSettings', { inputName: a.source, inputSettings: { text: a.text } });
          break;
        case 'custom-event':
          add(i, 'BroadcastCustomEvent', { eventData: a.data });
          break;
      }
    });
    return { requests, owner, skipped, target };
  }
}

function itemKey(scene: string, source: string): string {
  return `${scene}\u0000${source}`;
}

/** OBS lists scenes bottom-up (index 0 last); the control room shows them as OBS's scene list does. */
function sceneNames(scenes: readonly unknown[]): string[] {
  return (scenes as { sceneName: string; sceneIndex: number }[]).slice().sort((a, b) => b.sceneIndex - a.sceneIndex).map((s) => s.sceneName);
}

function describe(a: ObsAction, studio: boolean): string {
  switch (a.type) {
    case 'scene': return studio ? `"${a.scene}" set in preview and taken to program` : `program switched to "${a.scene}"`;
    case 'preview': return `"${a.scene}" in preview`;
    case 'take': return 'preview taken to program';
    case 'source-visible': return `"${a.source}" in "${a.scene}" ${a.visible ? 'shown' : 'hidden'}`;
    case 'text': return `"${a.source}" text set`;
    case 'custom-event': return 'custom event broadcast';
  }
}

function refuse(actions: readonly ObsAction[], detail: string): ObsRunResult {
  return { ok: false, logOnly: false, results: actions.map((action) => ({ action, ok: false, detail })) };
}

export function createObsGateway(opts: ObsGatewayOptions): ObsGateway {
  return new ObsGateway(opts).start();
}
