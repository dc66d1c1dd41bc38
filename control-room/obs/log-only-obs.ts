// An OBS that only logs: rehearsals in log-only mode and shows without OBS run their cues through it and see what OBS would have done.
import type { Log } from '../../platform/log.ts';
import type { ObsAction, ObsPort, ObsRunResult, ObsStatus } from '../../domain/obs-port.ts';

export interface LogOnlyObsOptions {
  log: Log;
  /** False when no OBS is configured at all; true for a rehearsal that has an OBS but must not touch it. */
  configured?: boolean;
  /** The scenes the show expects, so screens can list them (scenes named by cues are added as they come). */
  scenes?: readonly string[];
  /** Starting program scene. */
  program?: string | null;
}

export function createLogOnlyObs(opts: LogOnlyObsOptions): ObsPort {
  const listeners = new Set<(s: ObsStatus) => void>();
  const scenes = [...(opts.scenes ?? [])];
  let program = opts.program ?? scenes[0] ?? null;
  let preview: string | null = null;
  let rev = 0;

  const status = (): ObsStatus => ({
    configured: opts.configured ?? false,
    link: 'log-only',
    url: null,
    scenes: [...scenes],
    programScene: program,
    previewScene: preview,
    // Without an OBS there is no studio mode to follow: preview and take still work on the tracked scenes.
    studioMode: false,
    transition: null,
    rttMs: null,
    lastError: null,
    rev,
  });

  const see = (scene: string) => {
    if (!scenes.includes(scene)) scenes.push(scene);
  };

  // What OBS would do for one step; the tracked scenes change as they would have.
  const apply = (a: ObsAction): string => {
    switch (a.type) {
      case 'scene':
        see(a.scene);
        program = a.scene;
        return `would switch program to "${a.scene}"`;
      case 'preview':
        see(a.scene);
        preview = a.scene;
        return `would put "${a.scene}" in preview`;
      case 'take': {
        if (preview === null) return 'would take preview to program (no preview scene set)';
        const taken = preview;
        preview = program;
        program = taken;
        return `would take "${taken}" to program`;
      }
      case 'source-visible':
        return `would ${a.visible ? 'show' : 'hide'} "${a.source}" in "${a.scene}"`;
      case 'text':
        return `would set the text of "${a.source}" to ${JSON.stringify(a.text)}`;
      case 'custom-event':
        return `would broadcast the custom event ${JSON.stringify(a.data)}`;
    }
  };

  return {
    status,
    async run(actions): Promise<ObsRunResult> {
      const results = actions.map((action) => ({ action, ok: true, detail: `log only: ${apply(action)}` }));
      if (actions.length > 0) {
        opts.log('obs.log_only', { steps: results.map((r) => r.detail) });
        rev++;
        const s = status();
        for (const fn of listeners) fn(s);
      }
      return { ok: true, results, logOnly: true };
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
