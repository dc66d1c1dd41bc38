// Rehearsal mode's entry point: what a rehearsal is configured with, the OBS it drives (log-only or a rehearsal OBS)
// and the replay of the night through this process's own ingest.
import type { ShowConfig } from '../../domain/show.ts';
import type { ObsConfig } from '../obs/index.ts';
import type { Log } from '../../platform/log.ts';
import { createObsPort } from '../obs/index.ts';
import { createLogOnlyObs } from '../obs/log-only-obs.ts';
import type { ObsPort } from '../../domain/obs-port.ts';
import { createReplay, type Replay } from './replay.ts';

export { createReplay, checkSpeed, MAX_SEND_RATE, MAX_SPEED, MIN_SPEED, rehearsalView, type RehearsalHandle, type RehearsalView, type Replay, type ReplayView } from './replay.ts';
export { mountRehearsalRoutes } from './rehearsal-routes.ts';

/** A rehearsal is a mode of the whole process, fixed at start: there is no way to switch it to air at run time. */
export interface RehearsalConfig {
  /** Simulated seconds per real second, 1 to 100. */
  speed: number;
  /** Peak orders per simulated second. */
  rate: number;
  seed: number;
  /** `log`: OBS steps are logged, nothing is sent; `live`: sent to the rehearsal OBS at cfg.obsUrl. */
  obs: 'log' | 'live';
  /** Wait for a producer's start instead of replaying at once. */
  wait: boolean;
  /** Simulated length of the night (the show file's endsAt - startsAt), null when open-ended. */
  nightMs: number | null;
}

/** The rehearsal's OBS: in log mode the log-only OBS even when an OBS url is known, so air is never touched. */
export function rehearsalObs(cfg: ObsConfig, rehearsal: RehearsalConfig, log: Log): ObsPort {
  if (rehearsal.obs === 'log') return createLogOnlyObs({ log, configured: cfg.obsUrl !== null });
  return createObsPort(cfg, log);
}

/** The replay, sending to this process's ingest listener with its first ingest token. */
export function openReplay(cfg: { host: string; ingestTokens: string[]; show: ShowConfig }, rehearsal: RehearsalConfig, ingestPort: number, log: Log): Replay {
  const token = cfg.ingestTokens[0];
  if (token === undefined) throw new Error('rehearsal: needs an ingest token (GALA_INGEST_TOKEN) for its replay');
  const host = cfg.host === '0.0.0.0' || cfg.host === '' ? '127.0.0.1' : cfg.host === '::' ? '[::1]' : cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  return createReplay({ url: `ws://${host}:${ingestPort}/v1/ingest`, token, show: cfg.show, speed: rehearsal.speed, rate: rehearsal.rate, seed: rehearsal.seed, nightMs: rehearsal.nightMs, log });
}
