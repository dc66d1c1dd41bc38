// The rehearsal's replay: the seeded gala night from the simulator, sent through the real ingest endpoint at 1x to
// 100x, which a producer starts, pauses, resumes, speeds up or restarts from the control room.
import type { RehearsalView, ReplayPhase, ReplayView } from '../../protocol/control-state.ts';
export type { RehearsalView, ReplayPhase, ReplayView } from '../../protocol/control-state.ts';
import { createIngestClient, type IngestClient } from '../../simulator/ingest-client.ts';
import { createSimulator, type Simulator } from '../../simulator/simulator.ts';
import type { ShowConfig } from '../../domain/show.ts';
import type { Log } from '../../platform/log.ts';
import { ControlError } from '../control-error.ts';

export const MIN_SPEED = 1;
export const MAX_SPEED = 100;
/** Orders per real second the replay may be asked to send at its peak (rate × speed): what this 2-core machine ingests with room to spare. */
export const MAX_SEND_RATE = 20_000;



export interface ReplayOptions {
  /** ws://HOST:PORT/v1/ingest of this process. */
  url: string;
  token: string;
  show: ShowConfig;
  speed: number;
  rate: number;
  seed: number;
  /** Simulated length of the night; the replay finishes there. Null: until stopped. */
  nightMs: number | null;
  log: Log;
  /** Most orders per batch (default 500) and batches in flight (default 8). */
  batch?: number;
  window?: number;
}

export interface Replay {
  view(): ReplayView;
  /** Called at every phase change and once a second while running. Returns an unsubscribe function. */
  onChange(fn: () => void): () => void;
  start(): void;
  pause(): void;
  resume(): void;
  setSpeed(speed: number): void;
  /** Replays the night again from its midnight, with new order ids (the figures so far stay). */
  restart(): void;
  close(): Promise<void>;
}

const TICK_MS = 10;
const LINGER_MS = 50;
/** A backlog is not made up for later in a burst: the replay's clock waits for ingest beyond this many real ms. */
const MAX_BEHIND_REAL_MS = 2000;

/** Validates a speed for a rate; the error names the field and the rule. */
export function checkSpeed(speed: unknown, rate: number, field = 'speed'): number {
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED) {
    throw new ControlError(400, `${field}: must be a number from ${MIN_SPEED} to ${MAX_SPEED} (got ${JSON.stringify(speed)})`);
  }
  if (rate * speed > MAX_SEND_RATE) {
    throw new ControlError(400, `${field}: rate ${rate} × speed ${speed} is over ${MAX_SEND_RATE} orders/s, the most a rehearsal sends; lower the speed (at most ${Math.floor(MAX_SEND_RATE / rate)})`);
  }
  return speed;
}

export function clockText(simMs: number): string {
  const t = Math.floor(simMs / 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(t / 3600))}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`;
}

const TS = /"ts":\d+/;

export function createReplay(o: ReplayOptions): Replay {
  const batch = o.batch ?? 500;
  const listeners = new Set<() => void>();
  const prefix = `reh${o.seed}-${Date.now().toString(36)}`;
  let phase: ReplayPhase = 'ready';
  let speed = checkSpeed(o.speed, o.rate);
  let run = 1;
  let sim: Simulator = newSim();
  /** Where the simulated clock should be (ms since midnight); it advances by speed × real time while running. */
  let target = 0;
  let lastTick = 0;
  let startedAt: number | null = null;
  let lastError: string | null = null;
  let closed = false;
  let batchNo = 0;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | null = null;
  let beat: NodeJS.Timeout | null = null;
  let lastSendAt = 0;

  const client: IngestClient = createIngestClient({
    url: o.url,
    token: o.token,
    window: o.window ?? 8,
    onFrameError: (e) => {
      if (e.error !== 'unavailable') lastError = `ingest: ${e.error}`;
    },
    onConnection: (e) => {
      if (!closed && e.type === 'retry') o.log('rehearsal.ingest_retry', { inMs: e.inMs, error: e.error });
    },
  });

  function newSim(): Simulator {
    // At speed 1 the simulator's own clock is the simulated clock; the replay moves it at the chosen speed.
    return createSimulator({ seed: o.seed + run - 1, show: o.show, peakPerSecond: o.rate, speed: 1, idPrefix: `${prefix}-r${run}` });
  }

  const changed = () => {
    for (const fn of listeners) fn();
  };
  const setPhase = (p: ReplayPhase, why: string) => {
    phase = p;
    o.log('rehearsal.replay', { phase: p, why, speed, run, simClock: clockText(sim.simMs) });
    if (p === 'running') {
      lastTick = performance.now();
      wake?.();
    }
    changed();
  };

  /** The next `n` orders as one frame, paid now: a rehearsal's order is paid when it is sent (see README). */
  const frame = (id: string, n: number): string => {
    const ts = `"ts":${Date.now()}`;
    let s = `{"batch":"${id}","orders":[`;
    for (let i = 0; i < n; i++) {
      const ord = sim.next();
      // An order malformed through its ts keeps it: it is meant to be refused.
      const text = ord.malformed === 'ts-seconds' || ord.malformed === 'ts-string' ? ord.json : ord.json.replace(TS, ts);
      s += i === 0 ? text : `,${text}`;
    }
    return `${s}]}`;
  };

  async function pump(): Promise<void> {
    while (!closed) {
      if (phase !== 'running') {
        await new Promise<void>((r) => (wake = r));
        wake = null;
        continue;
      }
      const now = performance.now();
      target += (now - lastTick) * speed;
      lastTick = now;
      if (target - sim.simMs > MAX_BEHIND_REAL_MS * speed) target = sim.simMs + MAX_BEHIND_REAL_MS * speed;
      if (o.nightMs !== null && sim.simMs >= o.nightMs) {
        setPhase('finished', 'the night is over');
        continue;
      }
      const due = sim.dueBy(target, batch);
      if (due === 0 || (due < batch && now - lastSendAt < LINGER_MS)) {
        await new Promise((r) => setTimeout(r, TICK_MS));
        continue;
      }
      const id = `${prefix}-b${++batchNo}`;
      try {
        // Waits while the window is full: the replay then falls behind, as a real backlog would.
        await client.send(id, frame(id, due), due);
        lastSendAt = performance.now();
      } catch (e) {
        if (closed) return;
        lastError = (e as Error).message;
        setPhase('paused', `ingest: ${lastError}`);
      }
    }
  }

  const need = (ok: boolean, what: string) => {
    if (!ok) throw new ControlError(409, `rehearsal: cannot ${what} while the replay is ${phase}`);
  };

  return {
    view(): ReplayView {
      const c = client.counters;
      return {
        phase,
        speed,
        rate: o.rate,
        seed: o.seed,
        run,
        simClock: clockText(sim.simMs),
        simMs: Math.floor(sim.simMs),
        nightMs: o.nightMs,
        sent: c.ordersSent,
        acked: c.accepted + c.duplicates + c.rejected,
        accepted: c.accepted,
        duplicates: c.duplicates,
        rejected: c.rejected,
        inFlight: client.inFlight,
        behindMs: phase === 'running' ? Math.max(0, Math.floor(target - sim.simMs - LINGER_MS * speed)) : 0,
        startedAt: startedAt === null ? null : new Date(startedAt).toISOString(),
        lastError,
      };
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    start() {
      need(phase === 'ready', 'start');
      startedAt = Date.now();
      loop ??= pump();
      beat ??= setInterval(() => phase === 'running' && changed(), 1000);
      beat.unref();
      setPhase('running', 'start');
    },
    pause() {
      need(phase === 'running', 'pause');
      // The clock stops where the stream is: orders due but still gathering into a batch wait for the resume.
      target = Math.min(target, sim.simMs);
      setPhase('paused', 'pause');
    },
    resume() {
      need(phase === 'paused', 'resume');
      lastError = null;
      setPhase('running', 'resume');
    },
    setSpeed(s) {
      speed = checkSpeed(s, o.rate);
      o.log('rehearsal.replay', { phase, why: 'speed', speed, run, simClock: clockText(sim.simMs) });
      changed();
    },
    restart() {
      need(phase !== 'ready', 'restart');
      run++;
      sim = newSim();
      target = 0;
      lastError = null;
      setPhase('running', 'restart');
    },
    async close() {
      closed = true;
      if (beat !== null) clearInterval(beat);
      wake?.();
      listeners.clear();
      await client.close();
      await loop?.catch(() => undefined);
    },
  };
}

/** What the control room holds of a rehearsal: its replay, and where its OBS steps go. */
export interface RehearsalHandle {
  replay: Replay;
  obs: 'log' | 'live';
}


export const rehearsalView = (h: RehearsalHandle): RehearsalView => ({ ...h.replay.view(), obs: h.obs });
