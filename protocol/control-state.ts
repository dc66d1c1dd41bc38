// The control room's state as the `control` topic carries it: the cue list, its runs, data triggers, OBS and the
// rehearsal. Shared by the server (which builds it) and the browser pages (which draw it); imports no server code.
import type { ObsStatus } from '../domain/obs-port.ts';
import type { Rundown, TriggerCondition } from '../domain/rundown.ts';

export const ROLES = ['viewer', 'producer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  operator: string;
  role: Role | null;
  via: 'session' | 'token' | 'trigger' | 'system';
}

/** How a cue came to fire. */
export type FireCause = 'go' | 'fire' | 'hold' | 'follow' | 'trigger';

export interface RunView {
  runId: string;
  cueId: string;
  label: string;
  cause: FireCause;
  operator: string;
  phase: 'pre-wait' | 'running' | 'post-wait' | 'done' | 'failed' | 'cancelled';
  firedAt: string;
  /** When the current phase ends, for waits (ISO); null otherwise. */
  phaseEndsAt: string | null;
  details: string[];
  undone: boolean;
}

export interface ControlSnapshot {
  rev: number;
  rundownRev: number;
  standby: string | null;
  /** The cue after standby: what GO fires after this one. */
  next: string | null;
  running: RunView[];
  /** The last fired cues, newest first (at most 20). */
  history: RunView[];
  /** Arms in force (the arm ids themselves go only to the operator who armed). */
  arms: { cueId: string; operator: string; expiresAt: string }[];
  holds: { cueId: string; operator: string; pressedAt: string; fireAfter: string }[];
  undo: { runId: string; cueId: string | null; label: string; until: string } | null;
  rundown: Rundown;
}

export interface TriggerView {
  cueId: string;
  condition: TriggerCondition;
  state: 'armed' | 'fired';
  armedBy: string;
  armedAt: string;
  firedAt: string | null;
  /** The metric now, in the threshold's terms (GMV as a decimal string), and how far it is: 0..1. */
  current: string | null;
  progress: number;
  /** True when the next evaluation fires it. */
  willFire: boolean;
}

export type ReplayPhase = 'ready' | 'running' | 'paused' | 'finished';

export interface ReplayView {
  phase: ReplayPhase;
  speed: number;
  /** Peak orders per simulated second: the same night at any speed. */
  rate: number;
  seed: number;
  /** 1 for the first pass over the night, one more at each restart. */
  run: number;
  /** The simulated show clock: time since the night's midnight, "HH:MM:SS", and in ms. */
  simClock: string;
  simMs: number;
  /** Length of the night in simulated ms (the show's endsAt - startsAt), null when open-ended. */
  nightMs: number | null;
  /** Orders sent and acknowledged since the rehearsal began (every run). */
  sent: number;
  acked: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  inFlight: number;
  /** How far the replay lags the clock it should keep (a backlog at ingest), simulated ms. */
  behindMs: number;
  startedAt: string | null;
  lastError: string | null;
}

/** The `rehearsal` field of the control state: the replay's progress and the OBS mode. */
export type RehearsalView = ReplayView & { obs: 'log' | 'live' };

/** What the `control` topic carries (snapshot and every update: the whole state, replaced whole). */
export interface ControlState extends ControlSnapshot {
  triggers: TriggerView[];
  obs: ObsStatus;
  /** Audit entries that could not be written to disk (0 when all is well). */
  auditUnwritten: number;
  serverTime: string;
  /** The rehearsal's replay and OBS mode; null on air. */
  rehearsal: RehearsalView | null;
}

export type AuditVia = 'session' | 'token' | 'trigger' | 'system' | 'none';
export type AuditResult = 'ok' | 'refused' | 'failed';

/** One line of the control room's audit, as the live panel lists it. */
export interface AuditEntry {
  /** Position in the log, from 1, continued across restarts. */
  seq: number;
  at: string;
  operator: string;
  role: Role | null;
  via: AuditVia;
  /** What was asked: `go`, `fire`, `arm`, `undo`, `login`, `rundown.update`... */
  action: string;
  /** The cue, trigger or act it was about. */
  target: string | null;
  result: AuditResult;
  /** The HTTP status answered (or 0 for actions without a request, e.g. a data trigger). */
  status: number;
  /** The error, or what happened (e.g. "fired look-1, standby look-2"). */
  detail: string | null;
}
