// A listener that is up before its node serves: GET /healthz says the node is starting and how far it has got, and
// every other request is answered 503 with Retry-After, until the real routes are mounted and the gate opens.
import type { TemplatedApp } from 'uWebSockets.js';

export interface StartingGate {
  /** The node serves: the real routes take every request from now on. */
  open(): void;
}

/**
 * Mounts the gate on `app` (before its listen, so the listener answers at once). uWS takes routes added after
 * listen; the catch-all that mountFetch registers later replaces this one, and should the gate still be asked
 * once open, it yields to the next handler.
 */
export function mountStartingGate(app: TemplatedApp, status: () => Record<string, unknown>): StartingGate {
  let opened = false;
  app.any('/*', (res, req) => {
    if (opened) {
      req.setYield(true);
      return;
    }
    const health = req.getUrl() === '/healthz' && (req.getMethod() === 'get' || req.getMethod() === 'head');
    const body = JSON.stringify(health ? { ok: false, status: 'starting', ...status() } : { error: 'starting: the node is restoring its state and serves shortly; GET /healthz says how far it has got' });
    res.cork(() => {
      res.writeStatus(health ? '200 OK' : '503 Service Unavailable').writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
      if (!health) res.writeHeader('Retry-After', '5');
      res.end(body);
    });
  });
  return {
    open() {
      opened = true;
    },
  };
}
