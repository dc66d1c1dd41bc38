// The public stats feed of the contract: GET /v1/stats and the SSE stream GET /v1/stats/stream (no auth, read-only).
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { LiveTotals } from './live-totals.ts';
import type { Reconciler } from './reconciler.ts';

export interface StatsRoutesOptions {
  totals: LiveTotals;
  reconciler?: Reconciler;
  /** Interval of stream events; the contract asks for at least one a second. */
  streamIntervalMs?: number;
}

export function createStatsRoutes(opts: StatsRoutesOptions) {
  const { totals, reconciler } = opts;
  const snapshot = () => ({ ...totals.snapshot(), ...(reconciler ? { reconciliation: reconciler.report() } : {}) });
  const every = opts.streamIntervalMs ?? 1000;
  return new Hono()
    .get('/v1/stats', (c) => {
      c.header('Cache-Control', 'no-cache');
      c.header('Access-Control-Allow-Origin', '*');
      return c.json(snapshot());
    })
    .get('/v1/stats/series', (c) => {
      const nowS = Math.floor(Date.now() / 1000);
      const from = Number(c.req.query('from') ?? nowS - 60);
      const to = Number(c.req.query('to') ?? nowS);
      if (!Number.isInteger(from) || !Number.isInteger(to) || to < from || to - from > 3600) {
        return c.json({ error: 'from, to: epoch seconds with from <= to and at most 3600 seconds apart' }, 400);
      }
      c.header('Access-Control-Allow-Origin', '*');
      return c.json({ currency: totals.snapshot().currency, seconds: totals.series(from, to) });
    })
    .get('/v1/stats/stream', (c) => {
      c.header('Cache-Control', 'no-cache');
      c.header('Access-Control-Allow-Origin', '*');
      c.header('X-Accel-Buffering', 'no');
      return streamSSE(c, async (stream) => {
        let open = true;
        stream.onAbort(() => {
          open = false;
        });
        while (open) {
          const snap = snapshot();
          await stream.writeSSE({ event: 'stats', id: String(snap.revision), data: JSON.stringify(snap) });
          await stream.sleep(every);
        }
      });
    });
}
