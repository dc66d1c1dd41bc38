// The rehearsal's control API under /v1/control/rehearsal: read the replay's progress (viewer); start, pause,
// resume, change speed, restart (producer, audited). On air every one of them answers 404: there is no replay.
import type { ControlRoom } from '../control-room.ts';
import { ControlError } from '../control-error.ts';
import type { ControlApp, ControlRoute } from '../control-routes.ts';
import { rehearsalView, type RehearsalHandle } from './replay.ts';

export function mountRehearsalRoutes(app: ControlApp, route: ControlRoute, room: ControlRoom): void {
  // Written out rather than imported: control-routes.ts mounts these, and a value import back would be a cycle.
  const P = '/v1/control/rehearsal';
  const handle = (): RehearsalHandle => {
    if (room.rehearsal === null) throw new ControlError(404, 'rehearsal: this process is on air, not a rehearsal (start one with `gala rehearse`)');
    return room.rehearsal;
  };
  const answer = (h: RehearsalHandle, detail: string) => ({ body: { rehearsal: rehearsalView(h), state: room.state() }, detail });

  app.get(P, route(null, 'viewer', () => ({ body: { rehearsal: rehearsalView(handle()) }, detail: '' })));
  app.post(`${P}/start`, route('rehearsal.start', 'producer', () => {
    const h = handle();
    h.replay.start();
    return answer(h, `started at ${h.replay.view().speed}x`);
  }));
  app.post(`${P}/pause`, route('rehearsal.pause', 'producer', () => {
    const h = handle();
    h.replay.pause();
    return answer(h, `paused at ${h.replay.view().simClock}`);
  }));
  app.post(`${P}/resume`, route('rehearsal.resume', 'producer', () => {
    const h = handle();
    h.replay.resume();
    return answer(h, `resumed at ${h.replay.view().simClock}`);
  }));
  app.post(`${P}/speed`, route('rehearsal.speed', 'producer', (_c, _p, b) => {
    const h = handle();
    const before = h.replay.view().speed;
    h.replay.setSpeed(b.speed as number);
    return answer(h, `speed ${before}x -> ${h.replay.view().speed}x`);
  }));
  app.post(`${P}/restart`, route('rehearsal.restart', 'producer', () => {
    const h = handle();
    h.replay.restart();
    return answer(h, `restarted the night (run ${h.replay.view().run})`);
  }));
}
