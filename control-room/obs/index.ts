// The control room's way to OBS: the gateway when an OBS url is configured, else an OBS that only logs.
import type { ServeConfig } from '../../cli/config.ts';
import type { Log } from '../../system/log.ts';
import { createObsGateway, type ObsGatewayOptions } from './obs-gateway.ts';
import { createLogOnlyObs } from './log-only-obs.ts';
import type { ObsPort } from './obs-port.ts';

export type { ObsAction, ObsLink, ObsPort, ObsRunResult, ObsStatus } from './obs-port.ts';
export { createLogOnlyObs } from './log-only-obs.ts';

/** Timings are for tests; production uses the gateway's defaults. */
export type ObsTuning = Omit<ObsGatewayOptions, 'url' | 'password' | 'log'>;

export function createObsPort(cfg: Pick<ServeConfig, 'obsUrl' | 'obsPassword'>, log: Log, tuning: ObsTuning = {}): ObsPort {
  if (cfg.obsUrl === null) return createLogOnlyObs({ log, configured: false });
  return createObsGateway({ ...tuning, url: cfg.obsUrl, password: cfg.obsPassword, log });
}
