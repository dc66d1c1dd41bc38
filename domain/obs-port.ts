// The seam between the control room and OBS: what a cue may ask of OBS and what the control room sees of it.
// The OBS gateway (obs-websocket-js, its only importer) implements it; so does the log-only OBS of rehearsals
// and of shows without OBS.

/** One OBS step of a cue. Several steps of one cue run as one obs-websocket request batch. */
export type ObsAction =
  /** Cut or transition the program to a scene (outside studio mode), or set preview then take (studio mode). */
  | { type: 'scene'; scene: string }
  /** Studio mode: put a scene in preview without taking it. */
  | { type: 'preview'; scene: string }
  /** Studio mode: transition preview to program. */
  | { type: 'take' }
  /** Show or hide a source (scene item) in a scene. */
  | { type: 'source-visible'; scene: string; source: string; visible: boolean }
  /** Set the text of a text source (text_gdiplus / text_ft2 inputs). */
  | { type: 'text'; source: string; text: string }
  /** BroadcastCustomEvent with this data. */
  | { type: 'custom-event'; data: Record<string, unknown> };

export type ObsLink = 'off' | 'connecting' | 'connected' | 'reconnecting' | 'auth-failed' | 'log-only';

export interface ObsStatus {
  /** False when no OBS is configured (the control room still runs the overlays). */
  configured: boolean;
  link: ObsLink;
  /** The OBS url, without credentials. */
  url: string | null;
  scenes: string[];
  programScene: string | null;
  previewScene: string | null;
  studioMode: boolean;
  /** A transition in progress, tracked by the gateway itself (v5 events do not say from/to). */
  transition: { from: string | null; to: string; startedAt: string } | null;
  /** Last heartbeat round trip, ms. */
  rttMs: number | null;
  lastError: string | null;
  /** Each change bumps it, so screens can tell an old status from a new one. */
  rev: number;
}

export interface ObsRunResult {
  ok: boolean;
  /** One line per action: what was done, or why not. */
  results: { action: ObsAction; ok: boolean; detail: string }[];
  /** True when nothing was sent to an OBS (rehearsal log-only mode or no OBS configured). */
  logOnly: boolean;
}

export interface ObsPort {
  status(): ObsStatus;
  /** Runs a cue's OBS steps; conflicting steps during a transition are queued or refused as the gateway decides. */
  run(actions: readonly ObsAction[]): Promise<ObsRunResult>;
  /** Status changes (link, scenes, program/preview, transitions). Returns an unsubscribe function. */
  onStatus(fn: (s: ObsStatus) => void): () => void;
  close(): Promise<void>;
}
