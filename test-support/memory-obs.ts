// A test ObsPort that records every batch of OBS steps it is asked to run (log-only underneath: no OBS involved).
import type { ObsAction, ObsPort } from '../domain/obs-port.ts';
import { createLogOnlyObs } from '../control-room/obs/log-only-obs.ts';

export function createMemoryObs(): ObsPort & { runs: ObsAction[][] } {
  const inner = createLogOnlyObs({ log: () => undefined });
  const runs: ObsAction[][] = [];
  return {
    runs,
    status: () => inner.status(),
    onStatus: (fn) => inner.onStatus(fn),
    close: () => inner.close(),
    run(actions) {
      runs.push([...actions]);
      return inner.run(actions);
    },
  };
}
