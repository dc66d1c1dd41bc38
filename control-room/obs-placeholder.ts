// A log-only ObsPort used until the OBS gateway is wired (the lead swaps it for control-room/obs's createObsPort):
// it sends nothing anywhere, logs each step, and keeps the program/preview scenes the steps would have set, so
// undo and the control room's OBS panel behave as they will with a rehearsal's log-only OBS.
import type { Log } from '../system/log.ts';
import type { ObsAction, ObsPort, ObsRunResult, ObsStatus } from './obs/obs-port.ts';

export function createLogOnlyPlaceholder(log: Log): ObsPort {
  let status: ObsStatus = { configured: false, link: 'log-only', url: null, scenes: [], programScene: null, previewScene: null, studioMode: false, transition: null, rttMs: null, lastError: null, rev: 0 };
  const listeners = new Set<(s: ObsStatus) => void>();
  const apply = (a: ObsAction): ObsStatus => {
    if (a.type === 'scene') return { ...status, programScene: a.scene };
    if (a.type === 'preview') return { ...status, previewScene: a.scene };
    if (a.type === 'take') return { ...status, programScene: status.previewScene ?? status.programScene };
    return status;
  };
  return {
    status: () => status,
    async run(actions: readonly ObsAction[]): Promise<ObsRunResult> {
      const before = status;
      for (const a of actions) {
        log('obs.log_only', { action: a });
        status = apply(a);
      }
      if (status !== before) {
        status = { ...status, rev: before.rev + 1 };
        for (const fn of listeners) fn(status);
      }
      return { ok: true, logOnly: true, results: actions.map((action) => ({ action, ok: true, detail: 'logged' })) };
    },
    onStatus(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close() {
      listeners.clear();
    },
  };
}
