// The control room's way to OBS: the gateway when an OBS url is configured, else an OBS that only logs.
import type { Log } from '../../platform/log.ts';
import { createObsGateway, type ObsGatewayOptions } from './obs-gateway.ts';
import { createLogOnlyObs } from './log-only-obs.ts';
import type { ObsPort } from '../../domain/obs-port.ts';

export type { ObsAction, ObsLink, ObsPort, ObsRunResult, ObsStatus } from '../../domain/obs-port.ts';
export { createLogOnlyObs } from './log-only-obs.ts';

/** Timings are for tests; production uses the gateway's defaults. */
export type ObsTuning = Omit<ObsGatewayOptions, 'url' | 'password' | 'log'>;

/** Where OBS is, from the process configuration (no URL: the log-only OBS). */
export interface ObsConfig {
  obsUrl: string | null;
  obsPassword: string | null;
}

export function createObsPort(cfg: ObsConfig, log: Log, tuning: ObsTuning = {}): ObsPort {
  if (cfg.obsUrl === null) return createLogOnlyObs({ log, configured: false });
  return createObsGateway({ ...tuning, url: cfg.obsUrl, password: cfg.obsPassword, log });
}
