// An obs-websocket v5 server for tests, written from the published protocol: handshake, requests, batches, events, close codes, and crash/silence controls.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { decode, encode } from '@msgpack/msgpack';

/** Close codes the server uses (protocol enum WebSocketCloseCode). */
export const CloseCode = {
  MessageDecodeError: 4002,
  MissingDataField: 4003,
  InvalidDataFieldType: 4004,
  InvalidDataFieldValue: 4005,
  UnknownOpCode: 4006,
  NotIdentified: 4007,
  AlreadyIdentified: 4008,
  AuthenticationFailed: 4009,
  UnsupportedRpcVersion: 4010,
  SessionInvalidated: 4011,
} as const;

/** Request status codes (protocol enum RequestStatus) the simulator answers with. */
export const Status = {
  Success: 100,
  UnknownRequestType: 204,
  UnsupportedRequestBatchExecutionType: 206,
  MissingRequestField: 300,
  InvalidRequestFieldType: 401,
  RequestFieldOutOfRange: 402,
  RequestFieldEmpty: 403,
  StudioModeNotActive: 506,
  ResourceNotFound: 600,
  InvalidResourceType: 602,
} as const;

/** Event subscription bits (protocol enum EventSubscription). */
export const Intent = { General: 1, Config: 2, Scenes: 4, Inputs: 8, Transitions: 16, SceneItems: 128, Ui: 1024, All: 4095 } as const;

const Op = { Hello: 0, Identify: 1, Identified: 2, Reidentify: 3, Event: 5, Request: 6, RequestResponse: 7, RequestBatch: 8, RequestBatchResponse: 9 } as const;
const Exec = { None: -1, SerialRealtime: 0, SerialFrame: 1, Parallel: 2 } as const;
const RPC_VERSION = 1;
const FRAME_MS = 1000 / 60;

export interface SimItemSpec { source: string; enabled?: boolean }
export interface SimSceneSpec { name: string; items?: SimItemSpec[] }
export interface SimInputSpec { name: string; kind: string; settings?: Record<string, unknown> }

export interface ObsSimulatorOptions {
  /** 0 (default) picks a free port; restart() reuses whichever port was bound. */
  port?: number;
  /** When set, Hello carries an authentication challenge and Identify must answer it. */
  password?: string | null;
  scenes?: SimSceneSpec[];
  inputs?: SimInputSpec[];
  studioMode?: boolean;
  /** Current transition duration in ms (OBS default 300). */
  transitionMs?: number;
}

export interface LoggedRequest {
  requestType: string;
  requestData: Record<string, unknown> | undefined;
  /** Which RequestBatch it came in (numbered from 1 in arrival order), null for a single request. */
  batch: number | null;
  at: number;
}

export interface ObsSimulator {
  readonly url: string;
  readonly port: number;
  /** Every request received (single or inside a batch), oldest first. */
  readonly requests: LoggedRequest[];
  readonly programScene: string;
  readonly previewScene: string | null;
  readonly studioMode: boolean;
  readonly transitioning: boolean;
  /** Identified sessions currently connected. */
  readonly sessions: number;
  /** WebSocket connections accepted since start (handshakes that failed included). */
  readonly connections: number;
  /** Subscriptions of each identified session, in connection order. */
  subscriptions(): number[];
  itemEnabled(scene: string, source: string): boolean;
  inputSettings(input: string): Record<string, unknown>;
  setTransitionDuration(ms: number): void;
  /** What an operator clicking a scene in OBS would do (transitions like a request). */
  switchProgramFromUi(scene: string): void;
  /** Crash: drop every socket with no close frame and stop listening. */
  kill(): Promise<void>;
  /** Shut down as OBS does: ExitStarted, then close frames, then stop listening. */
  stop(): Promise<void>;
  /** Listen again on the same port (state survives, as a reopened scene collection would). */
  restart(): Promise<void>;
  /** Stop sending one event type (e.g. the end of a transition OBS fails to report), or send it again. */
  dropEvent(eventType: string, drop?: boolean): void;
  /** Stop answering anything (no responses, no events) while keeping the TCP connections open. */
  goSilent(silent?: boolean): void;
  /** Kick every session with SessionInvalidated, as the session list's Kick button does. */
  kickAll(): void;
  close(): Promise<void>;
}

interface Item { id: number; source: string; enabled: boolean }
interface Scene { name: string; uuid: string; items: Item[] }
interface Input { name: string; uuid: string; kind: string; settings: Record<string, unknown> }
type Encoding = 'json' | 'msgpack';
interface Session { ws: WebSocket; encoding: Encoding; identified: boolean; subs: number; challenge: string; incoming: number; outgoing: number }
interface Outcome { code: number; comment?: string; data?: Record<string, unknown> }

const SUBPROTOCOLS = new Set(['obswebsocket.json', 'obswebsocket.msgpack']);

/** A request-level failure: answered with a status code, the session stays open. */
class RequestFailure extends Error {
  constructor(readonly code: number, comment: string) { super(comment); }
}

/** A protocol violation: the session is closed with this code. */
class ProtocolViolation extends Error {
  constructor(readonly closeCode: number, reason: string) { super(reason); }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function sha256b64(s: string): string {
  return createHash('sha256').update(s).digest('base64');
}

function field(data: Record<string, unknown> | undefined, name: string, type: 'string' | 'number' | 'boolean' | 'object'): unknown {
  const v = data?.[name];
  if (v === undefined || v === null) throw new RequestFailure(Status.MissingRequestField, `Your request is missing the \`${name}\` field.`);
  const ok = type === 'object' ? isObject(v) : typeof v === type;
  if (!ok) throw new RequestFailure(Status.InvalidRequestFieldType, `The field value of \`${name}\` must be a ${type}.`);
  if (type === 'string' && v === '') throw new RequestFailure(Status.RequestFieldEmpty, `The field value of \`${name}\` must not be empty.`);
  return v;
}
const str = (d: Record<string, unknown> | undefined, n: string) => field(d, n, 'string') as string;
const bool = (d: Record<string, unknown> | undefined, n: string) => field(d, n, 'boolean') as boolean;
const obj = (d: Record<string, unknown> | undefined, n: string) => field(d, n, 'object') as Record<string, unknown>;
function num(d: Record<string, unknown> | undefined, n: string, min: number, max: number): number {
  const v = field(d, n, 'number') as number;
  if (v < min || v > max) throw new RequestFailure(Status.RequestFieldOutOfRange, `The field value of \`${n}\` is outside ${min}..${max}.`);
  return v;
}

export async function startObsSimulator(opts: ObsSimulatorOptions = {}): Promise<ObsSimulator> {
  const password = opts.password ?? null;
  let nextItemId = 1;
  const scenes: Scene[] = (opts.scenes ?? [{ name: 'Scene' }]).map((s) => ({
    name: s.name,
    uuid: randomUUID(),
    items: (s.items ?? []).map((i) => ({ id: nextItemId++, source: i.source, enabled: i.enabled ?? true })),
  }));
  const inputs: Input[] = (opts.inputs ?? []).map((i) => ({ name: i.name, uuid: randomUUID(), kind: i.kind, settings: { ...(i.settings ?? {}) } }));
  if (scenes.length === 0) throw new Error('obs simulator: at least one scene');
  let program = scenes[0]!;
  let studio = opts.studioMode ?? false;
  let preview: Scene | null = studio ? program : null;
  let transitionMs = opts.transitionMs ?? 300;
  const transitionName = 'Fade';
  const transitionUuid = randomUUID();
  let transition: { timer: NodeJS.Timeout; target: Scene } | null = null;
  let silent = false;
  const dropped = new Set<string>();
  const requests: LoggedRequest[] = [];
  const sessions = new Set<Session>();
  let batches = 0;
  let connections = 0;
  let port = opts.port ?? 0;
  let wss: WebSocketServer | null = null;

  function send(s: Session, op: number, d: Record<string, unknown>): void {
    if (silent || s.ws.readyState !== s.ws.OPEN) return;
    s.outgoing++;
    const msg = { op, d };
    if (s.encoding === 'json') s.ws.send(JSON.stringify(msg));
    else s.ws.send(encode(msg, { ignoreUndefined: true }));
  }

  function emit(eventType: string, eventIntent: number, eventData?: Record<string, unknown>): void {
    if (dropped.has(eventType)) return;
    for (const s of sessions) {
      if (s.identified && (s.subs & eventIntent) !== 0) send(s, Op.Event, { eventType, eventIntent, eventData });
    }
  }

  function findScene(d: Record<string, unknown> | undefined): Scene {
    const name = d?.sceneName;
    const uuid = d?.sceneUuid;
    if (name === undefined && uuid === undefined) throw new RequestFailure(Status.MissingRequestField, 'Your request is missing the `sceneName` or `sceneUuid` field.');
    if (name !== undefined && typeof name !== 'string') throw new RequestFailure(Status.InvalidRequestFieldType, 'The field value of `sceneName` must be a string.');
    const scene = scenes.find((s) => (name !== undefined ? s.name === name : s.uuid === uuid));
    if (!scene) throw new RequestFailure(Status.ResourceNotFound, `No scene was found by the name of \`${String(name ?? uuid)}\`.`);
    return scene;
  }

  function findInput(d: Record<string, unknown> | undefined): Input {
    const name = str(d, 'inputName');
    const input = inputs.find((i) => i.name === name);
    if (!input) throw new RequestFailure(Status.ResourceNotFound, `No source was found by the name of \`${name}\`.`);
    return input;
  }

  function requireStudio(): void {
    if (!studio) throw new RequestFailure(Status.StudioModeNotActive, 'Studio mode is not active.');
  }

  function setPreview(scene: Scene): void {
    preview = scene;
    emit('CurrentPreviewSceneChanged', Intent.Scenes, { sceneName: scene.name, sceneUuid: scene.uuid });
  }

  // OBS announces the start, runs the transition, and only then reports the new program scene
  // (a GetCurrentProgramScene during the transition still answers the old one); an interrupted
  // transition never reports its end.
  function transitionTo(target: Scene, fromStudioTake: boolean): void {
    if (!transition && target === program && !fromStudioTake) return;
    if (transition) clearTimeout(transition.timer);
    const previous = program;
    emit('SceneTransitionStarted', Intent.Transitions, { transitionName, transitionUuid });
    const timer = setTimeout(() => {
      transition = null;
      program = target;
      emit('CurrentProgramSceneChanged', Intent.Scenes, { sceneName: target.name, sceneUuid: target.uuid });
      emit('SceneTransitionEnded', Intent.Transitions, { transitionName, transitionUuid });
      // Studio mode's default "swap scenes": the old program lands in preview after a take.
      if (fromStudioTake && studio) setPreview(previous);
    }, transitionMs);
    transition = { timer, target };
  }

  function sceneRef(s: Scene) {
    return { sceneName: s.name, sceneUuid: s.uuid };
  }

  function findItem(scene: Scene, d: Record<string, unknown> | undefined): Item {
    const id = num(d, 'sceneItemId', 0, Number.MAX_SAFE_INTEGER);
    const item = scene.items.find((i) => i.id === id);
    if (!item) throw new RequestFailure(Status.ResourceNotFound, `No scene items were found in scene \`${scene.name}\` with the ID \`${id}\`.`);
    return item;
  }

  async function handle(s: Session, type: string, d: Record<string, unknown> | undefined, exec: number): Promise<Outcome> {
    const ok = (data?: Record<string, unknown>): Outcome => ({ code: Status.Success, data });
    switch (type) {
      case 'GetVersion':
        return ok({ obsVersion: '30.2.0', obsWebSocketVersion: '5.5.0', rpcVersion: RPC_VERSION, availableRequests: [...HANDLED], supportedImageFormats: ['png', 'jpg'], platform: 'simulator', platformDescription: 'Gala test simulator' });
      case 'GetStats':
        return ok({ cpuUsage: 1.5, memoryUsage: 250, availableDiskSpace: 100000, activeFps: 60, averageFrameRenderTime: 0.8, renderSkippedFrames: 0, renderTotalFrames: 1000, outputSkippedFrames: 0, outputTotalFrames: 1000, webSocketSessionIncomingMessages: s.incoming, webSocketSessionOutgoingMessages: s.outgoing });
      case 'GetSceneList':
        // OBS lists scenes bottom-up: index 0 is the last scene of the UI list.
        return ok({
          currentProgramSceneName: program.name, currentProgramSceneUuid: program.uuid,
          currentPreviewSceneName: preview?.name ?? null, currentPreviewSceneUuid: preview?.uuid ?? null,
          scenes: scenes.map((sc, i) => ({ sceneIndex: scenes.length - 1 - i, ...sceneRef(sc) })).reverse(),
        });
      case 'GetCurrentProgramScene':
        return ok({ ...sceneRef(program), currentProgramSceneName: program.name, currentProgramSceneUuid: program.uuid });
      case 'SetCurrentProgramScene':
        transitionTo(findScene(d), false);
        return ok();
      case 'GetStudioModeEnabled':
        return ok({ studioModeEnabled: studio });
      case 'SetStudioModeEnabled': {
        const on = bool(d, 'studioModeEnabled');
        if (on !== studio) {
          studio = on;
          preview = on ? program : null;
          emit('StudioModeStateChanged', Intent.Ui, { studioModeEnabled: on });
        }
        return ok();
      }
      case 'GetCurrentPreviewScene':
        requireStudio();
        return ok({ ...sceneRef(preview!), currentPreviewSceneName: preview!.name, currentPreviewSceneUuid: preview!.uuid });
      case 'SetCurrentPreviewScene': {
        requireStudio();
        const scene = findScene(d);
        if (scene !== preview) setPreview(scene);
        return ok();
      }
      case 'TriggerStudioModeTransition':
        requireStudio();
        transitionTo(preview!, true);
        return ok();
      case 'GetCurrentSceneTransition':
        return ok({ transitionName, transitionUuid, transitionKind: 'fade_transition', transitionFixed: false, transitionDuration: transitionMs, transitionConfigurable: true, transitionSettings: {} });
      case 'SetCurrentSceneTransitionDuration':
        transitionMs = num(d, 'transitionDuration', 50, 20000);
        emit('CurrentSceneTransitionDurationChanged', Intent.Transitions, { transitionDuration: transitionMs });
        return ok();
      case 'GetSceneItemList': {
        const scene = findScene(d);
        return ok({ sceneItems: scene.items.map((it, i) => ({ sceneItemId: it.id, sceneItemIndex: i, sourceName: it.source, sceneItemEnabled: it.enabled, sourceType: 'OBS_SOURCE_TYPE_INPUT', isGroup: null })) });
      }
      case 'GetSceneItemId': {
        const scene = findScene(d);
        const source = str(d, 'sourceName');
        const item = scene.items.find((i) => i.source === source);
        if (!item) throw new RequestFailure(Status.ResourceNotFound, `No scene items were found in the specified scene by that name or offset.`);
        return ok({ sceneItemId: item.id });
      }
      case 'GetSceneItemEnabled': {
        const scene = findScene(d);
        return ok({ sceneItemEnabled: findItem(scene, d).enabled });
      }
      case 'SetSceneItemEnabled': {
        const scene = findScene(d);
        const item = findItem(scene, d);
        const on = bool(d, 'sceneItemEnabled');
        if (item.enabled !== on) {
          item.enabled = on;
          emit('SceneItemEnableStateChanged', Intent.SceneItems, { ...sceneRef(scene), sceneItemId: item.id, sceneItemEnabled: on });
        }
        return ok();
      }
      case 'GetInputSettings': {
        const input = findInput(d);
        return ok({ inputSettings: { ...input.settings }, inputKind: input.kind });
      }
      case 'SetInputSettings': {
        const input = findInput(d);
        const settings = obj(d, 'inputSettings');
        const overlay = d?.overlay === undefined ? true : d.overlay;
        if (typeof overlay !== 'boolean') throw new RequestFailure(Status.InvalidRequestFieldType, 'The field value of `overlay` must be a boolean.');
        input.settings = overlay ? { ...input.settings, ...settings } : { ...settings };
        emit('InputSettingsChanged', Intent.Inputs, { inputName: input.name, inputUuid: input.uuid, inputSettings: { ...input.settings } });
        return ok();
      }
      case 'BroadcastCustomEvent':
        emit('CustomEvent', Intent.General, obj(d, 'eventData'));
        return ok();
      case 'Sleep': {
        if (exec === Exec.SerialRealtime) {
          await new Promise((r) => setTimeout(r, num(d, 'sleepMillis', 0, 50000)));
        } else if (exec === Exec.SerialFrame) {
          await new Promise((r) => setTimeout(r, num(d, 'sleepFrames', 0, 10000) * FRAME_MS));
        } else {
          throw new RequestFailure(Status.UnsupportedRequestBatchExecutionType, 'Sleep is only available in serial request batches.');
        }
        return ok();
      }
      default:
        throw new RequestFailure(Status.UnknownRequestType, `Your request type \`${type}\` is not valid.`);
    }
  }

  async function run(s: Session, type: string, d: Record<string, unknown> | undefined, exec: number, batch: number | null): Promise<Outcome> {
    requests.push({ requestType: type, requestData: d, batch, at: Date.now() });
    try {
      return await handle(s, type, d, exec);
    } catch (e) {
      if (e instanceof RequestFailure) return { code: e.code, comment: e.message };
      throw e;
    }
  }

  function response(type: string, id: unknown, o: Outcome): Record<string, unknown> {
    const requestStatus = o.code === Status.Success ? { result: true, code: o.code } : { result: false, code: o.code, comment: o.comment };
    return { requestType: type, ...(id === undefined ? {} : { requestId: id }), requestStatus, ...(o.data ? { responseData: o.data } : {}) };
  }

  function requestFields(d: Record<string, unknown>, needId: boolean): { type: string; id: unknown; data: Record<string, unknown> | undefined } {
    if (d.requestType === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your request is missing a `requestType`');
    if (typeof d.requestType !== 'string') throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `requestType` is not a string.');
    if (needId && d.requestId === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your request is missing a `requestId`');
    if (d.requestData !== undefined && d.requestData !== null && !isObject(d.requestData)) throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `requestData` is not an object.');
    return { type: d.requestType, id: d.requestId, data: isObject(d.requestData) ? d.requestData : undefined };
  }

  async function onBatch(s: Session, d: Record<string, unknown>): Promise<void> {
    if (d.requestId === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your request batch is missing a `requestId`');
    if (d.requests === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your request batch is missing `requests`');
    if (!Array.isArray(d.requests)) throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `requests` is not an array.');
    const halt = d.haltOnFailure ?? false;
    if (typeof halt !== 'boolean') throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `haltOnFailure` is not a boolean.');
    const exec = d.executionType ?? Exec.SerialRealtime;
    if (typeof exec !== 'number') throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `executionType` is not a number.');
    if (exec !== Exec.SerialRealtime && exec !== Exec.SerialFrame && exec !== Exec.Parallel) {
      throw new ProtocolViolation(CloseCode.InvalidDataFieldValue, `Your \`executionType\` (${exec}) is not a batch execution type.`);
    }
    const items = (d.requests as unknown[]).map((r) => {
      if (!isObject(r)) throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Each request of a batch must be an object.');
      return requestFields(r, false);
    });
    const results: Record<string, unknown>[] = [];
    const batch = ++batches;
    if (exec === Exec.Parallel) {
      const outcomes = await Promise.all(items.map((r) => run(s, r.type, r.data, exec, batch)));
      outcomes.forEach((o, i) => results.push(response(items[i]!.type, items[i]!.id, o)));
    } else {
      for (const r of items) {
        // SerialFrame runs in step with the render loop: one request per frame.
        if (exec === Exec.SerialFrame) await new Promise((res) => setTimeout(res, FRAME_MS));
        const o = await run(s, r.type, r.data, exec, batch);
        results.push(response(r.type, r.id, o));
        if (halt && o.code !== Status.Success) break;
      }
    }
    send(s, Op.RequestBatchResponse, { requestId: d.requestId, results });
  }

  function decodeFrame(s: Session, raw: RawData, isBinary: boolean): unknown {
    if ((s.encoding === 'json') === isBinary) throw new ProtocolViolation(CloseCode.MessageDecodeError, `A ${isBinary ? 'binary' : 'text'} frame does not match the ${s.encoding} subprotocol.`);
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
    try {
      return s.encoding === 'json' ? JSON.parse(buf.toString('utf8')) : decode(buf);
    } catch (e) {
      throw new ProtocolViolation(CloseCode.MessageDecodeError, `Unable to decode the message: ${(e as Error).message}`);
    }
  }

  async function onMessage(s: Session, raw: RawData, isBinary: boolean): Promise<void> {
    if (silent) return;
    s.incoming++;
    const msg = decodeFrame(s, raw, isBinary);
    if (!isObject(msg)) throw new ProtocolViolation(CloseCode.MessageDecodeError, 'A message must be an object.');
    if (!s.identified && 'request-type' in msg) throw new ProtocolViolation(CloseCode.UnsupportedRpcVersion, 'You appear to be speaking the pre-5.0.0 protocol.');
    if (typeof msg.op !== 'number') throw new ProtocolViolation(CloseCode.UnknownOpCode, 'Your message is missing a valid `op`.');
    if (msg.d === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your message is missing `d`.');
    if (!isObject(msg.d)) throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `d` is not an object.');
    const d = msg.d;
    if (!s.identified && msg.op !== Op.Identify) throw new ProtocolViolation(CloseCode.NotIdentified, 'You must identify before sending anything else.');
    switch (msg.op) {
      case Op.Identify: {
        if (s.identified) throw new ProtocolViolation(CloseCode.AlreadyIdentified, 'You are already identified: use Reidentify.');
        if (d.rpcVersion === undefined) throw new ProtocolViolation(CloseCode.MissingDataField, 'Your Identify is missing `rpcVersion`.');
        if (typeof d.rpcVersion !== 'number') throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `rpcVersion` is not a number.');
        if (d.rpcVersion !== RPC_VERSION) throw new ProtocolViolation(CloseCode.UnsupportedRpcVersion, `Requested rpcVersion ${d.rpcVersion} is not supported; the server speaks ${RPC_VERSION}.`);
        if (password !== null) {
          const expected = sha256b64(sha256b64(password + salt) + s.challenge);
          if (d.authentication !== expected) throw new ProtocolViolation(CloseCode.AuthenticationFailed, 'Authentication failed.');
        }
        setSubscriptions(s, d.eventSubscriptions);
        s.identified = true;
        send(s, Op.Identified, { negotiatedRpcVersion: RPC_VERSION });
        return;
      }
      case Op.Reidentify:
        setSubscriptions(s, d.eventSubscriptions);
        send(s, Op.Identified, { negotiatedRpcVersion: RPC_VERSION });
        return;
      case Op.Request: {
        const r = requestFields(d, true);
        const o = await run(s, r.type, r.data, Exec.None, null);
        send(s, Op.RequestResponse, response(r.type, r.id, o));
        return;
      }
      case Op.RequestBatch:
        await onBatch(s, d);
        return;
      default:
        throw new ProtocolViolation(CloseCode.UnknownOpCode, `Unknown op ${msg.op}.`);
    }
  }

  function setSubscriptions(s: Session, v: unknown): void {
    if (v === undefined || v === null) s.subs = Intent.All;
    else if (typeof v !== 'number' || !Number.isInteger(v)) throw new ProtocolViolation(CloseCode.InvalidDataFieldType, 'Your `eventSubscriptions` is not an integer.');
    else s.subs = v;
  }

  // One salt for the server's lifetime (OBS derives it once per password); a fresh challenge per session.
  const salt = randomBytes(32).toString('base64');

  function onConnection(ws: WebSocket): void {
    const encoding: Encoding = ws.protocol === 'obswebsocket.msgpack' ? 'msgpack' : 'json';
    connections++;
    const s: Session = { ws, encoding, identified: false, subs: Intent.All, challenge: randomBytes(32).toString('base64'), incoming: 0, outgoing: 0 };
    sessions.add(s);
    // Messages of one session are handled in order, as OBS's per-session queue does.
    let chain = Promise.resolve();
    ws.on('message', (raw, isBinary) => {
      chain = chain.then(() => onMessage(s, raw, isBinary)).catch((e: unknown) => {
        if (e instanceof ProtocolViolation) ws.close(e.closeCode, e.message);
        else ws.close(1011, 'internal error');
      });
    });
    ws.on('close', () => sessions.delete(s));
    ws.on('error', () => sessions.delete(s));
    send(s, Op.Hello, {
      obsWebSocketVersion: '5.5.0',
      rpcVersion: RPC_VERSION,
      ...(password !== null ? { authentication: { challenge: s.challenge, salt } } : {}),
    });
  }

  async function listen(): Promise<void> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port,
      // A client that names subprotocols must name one OBS speaks; none at all means JSON.
      verifyClient: (info, cb) => {
        const header = info.req.headers['sec-websocket-protocol'];
        if (header === undefined) return cb(true);
        const offered = header.split(',').map((p) => p.trim());
        if (offered.some((p) => SUBPROTOCOLS.has(p))) return cb(true);
        cb(false, 400, 'Unsupported subprotocol');
      },
      handleProtocols: (offered) => [...offered].find((p) => SUBPROTOCOLS.has(p)) ?? false,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('connection', onConnection);
    const addr = server.address();
    if (typeof addr === 'object' && addr !== null) port = addr.port;
    wss = server;
  }

  async function closeServer(): Promise<void> {
    const server = wss;
    wss = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  function dropTransition(): void {
    if (transition) clearTimeout(transition.timer);
    transition = null;
  }

  await listen();

  const sim: ObsSimulator = {
    get url() { return `ws://127.0.0.1:${port}`; },
    get port() { return port; },
    requests,
    get programScene() { return program.name; },
    get previewScene() { return preview?.name ?? null; },
    get studioMode() { return studio; },
    get transitioning() { return transition !== null; },
    get sessions() { return [...sessions].filter((s) => s.identified).length; },
    get connections() { return connections; },
    subscriptions: () => [...sessions].filter((s) => s.identified).map((s) => s.subs),
    itemEnabled(scene, source) {
      const item = scenes.find((s) => s.name === scene)?.items.find((i) => i.source === source);
      if (!item) throw new Error(`obs simulator: no ${source} in ${scene}`);
      return item.enabled;
    },
    inputSettings(name) {
      const input = inputs.find((i) => i.name === name);
      if (!input) throw new Error(`obs simulator: no input ${name}`);
      return { ...input.settings };
    },
    setTransitionDuration(ms) { transitionMs = ms; },
    switchProgramFromUi(name) {
      const scene = scenes.find((s) => s.name === name);
      if (!scene) throw new Error(`obs simulator: no scene ${name}`);
      transitionTo(scene, false);
    },
    async kill() {
      dropTransition();
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
      await closeServer();
    },
    async stop() {
      dropTransition();
      emit('ExitStarted', Intent.General);
      for (const s of sessions) s.ws.close(1001, 'OBS is shutting down');
      await closeServer();
      sessions.clear();
    },
    async restart() {
      if (wss) throw new Error('obs simulator: already listening');
      silent = false;
      await listen();
    },
    goSilent(on = true) { silent = on; },
    dropEvent(type, drop = true) {
      if (drop) dropped.add(type);
      else dropped.delete(type);
    },
    kickAll() {
      for (const s of sessions) s.ws.close(CloseCode.SessionInvalidated, 'Your session has been invalidated.');
    },
    async close() {
      dropTransition();
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
      await closeServer();
    },
  };
  return sim;
}

const HANDLED = [
  'GetVersion', 'GetStats', 'GetSceneList', 'GetCurrentProgramScene', 'SetCurrentProgramScene', 'GetStudioModeEnabled',
  'SetStudioModeEnabled', 'GetCurrentPreviewScene', 'SetCurrentPreviewScene', 'TriggerStudioModeTransition',
  'GetCurrentSceneTransition', 'SetCurrentSceneTransitionDuration', 'GetSceneItemList', 'GetSceneItemId',
  'GetSceneItemEnabled', 'SetSceneItemEnabled', 'GetInputSettings', 'SetInputSettings', 'BroadcastCustomEvent', 'Sleep',
];
