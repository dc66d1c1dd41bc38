// The control room's entry point: opens the audit and the saved rundown edits in the data directory, builds the
// room and its HTTP routes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveState } from '../aggregator/live-state.ts';
import type { TotalsReader } from '../aggregator/index.ts';
import type { ShowConfig } from '../domain/show.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { Log } from '../platform/log.ts';
import { AUDIT_FILE, AuditLog } from './audit-log.ts';
import { controlOpenApi } from './control-openapi.ts';
import { ControlRoom } from './control-room.ts';
import { createControlPages } from './control-pages.ts';
import { createControlRoutes } from './control-routes.ts';
import type { ObsPort } from '../domain/obs-port.ts';
import type { RehearsalHandle } from './rehearsal/replay.ts';
import type { SessionCheck } from './sessions.ts';
import { createRundownSaver, loadSavedRundown, RUNDOWN_FILE } from './rundown-file.ts';

export { ControlRoom, type ControlState } from './control-room.ts';

/** What the control room reads of the process configuration. */
export interface ControlRoomConfig {
  dataDir: string;
  show: ShowConfig;
  producerTokens: string[];
  adminTokens?: string[];
  viewerTokens?: string[];
}

export interface OpenControlRoomOptions {
  cfg: ControlRoomConfig;
  graphics: Graphics;
  totals: TotalsReader;
  state: LiveState;
  obs: ObsPort;
  log: Log;
  /** Set when the process is a rehearsal. */
  rehearsal?: RehearsalHandle | null;
  /** Where session cookies are checked, when not in this node's own store (a cluster node asks the coordinator). */
  sessionCheck?: SessionCheck;
}

export async function openControlRoom(o: OpenControlRoomOptions): Promise<{ room: ControlRoom; routes: ReturnType<typeof createControlRoutes>; close: () => Promise<void> }> {
  mkdirSync(o.cfg.dataDir, { recursive: true });
  const audit = await AuditLog.open(join(o.cfg.dataDir, AUDIT_FILE));
  const base = o.cfg.show.rundown;
  const rundownFile = join(o.cfg.dataDir, RUNDOWN_FILE);
  const saveRundown = createRundownSaver(rundownFile, base, (e) => o.log('control.rundown_save_error', { error: String(e) }));
  let lastSave: Promise<void> = Promise.resolve();
  const saved = loadSavedRundown(rundownFile, base);
  if (saved.rundown === null) o.log('control.rundown', { source: 'show file', savedEdits: saved.why });
  else o.log('control.rundown', { source: 'saved edits', rundownRev: saved.rundownRev });
  const room = new ControlRoom({
    rundown: saved.rundown ?? base,
    rundownRev: saved.rundown === null ? undefined : saved.rundownRev,
    saveRundown: (r, rev) => {
      lastSave = saveRundown(r, rev);
    },
    graphics: o.graphics,
    obs: o.obs,
    totals: o.totals,
    productUnits: async (sku) => (await o.state.product(sku)).data.units,
    audit,
    tokens: { viewer: o.cfg.viewerTokens ?? [], producer: o.cfg.producerTokens, admin: o.cfg.adminTokens ?? [] },
    log: o.log,
    rehearsal: o.rehearsal,
    sessionCheck: o.sessionCheck,
  });
  room.start();
  const routes = createControlRoutes(room, { openapi: controlOpenApi });
  // The pages under /control (login, cue list, live panel) ride on the same app.
  routes.route('/', createControlPages({ signedIn: room.sessionCheck, onBuildError: (e) => o.log('control.ui_build_error', { error: String(e) }) }));
  return { room, routes, close: async () => {
      await room.close();
      await lastSave;
    },
  };
}
