// The control room's entry point: opens the audit in the data directory, builds the room and its HTTP routes.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveState } from '../aggregator/live-state.ts';
import type { LiveTotals } from '../aggregator/live-totals.ts';
import type { ServeConfig } from '../cli/config.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { Log } from '../system/log.ts';
import { AUDIT_FILE, AuditLog } from './audit-log.ts';
import { controlOpenApi } from './control-openapi.ts';
import { ControlRoom, type ControlState } from './control-room.ts';
import { createControlRoutes } from './control-routes.ts';
import type { ObsPort } from './obs/obs-port.ts';

export { ControlRoom, type ControlState } from './control-room.ts';

export interface OpenControlRoomOptions {
  cfg: ServeConfig;
  graphics: Graphics;
  totals: LiveTotals;
  state: LiveState;
  obs: ObsPort;
  log: Log;
  publish: (at: string, s: ControlState) => void;
}

export async function openControlRoom(o: OpenControlRoomOptions): Promise<{ room: ControlRoom; routes: ReturnType<typeof createControlRoutes>; close: () => Promise<void> }> {
  mkdirSync(o.cfg.dataDir, { recursive: true });
  const audit = await AuditLog.open(join(o.cfg.dataDir, AUDIT_FILE));
  const room = new ControlRoom({
    rundown: o.cfg.show.rundown,
    graphics: o.graphics,
    obs: o.obs,
    totals: o.totals,
    productUnits: async (sku) => (await o.state.product(sku)).data.units,
    publish: o.publish,
    audit,
    tokens: { viewer: o.cfg.viewerTokens ?? [], producer: o.cfg.producerTokens, admin: o.cfg.adminTokens ?? [] },
    log: o.log,
  });
  room.start();
  return { room, routes: createControlRoutes(room, { openapi: controlOpenApi }), close: () => room.close() };
}
