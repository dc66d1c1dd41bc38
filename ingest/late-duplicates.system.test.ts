// A resend that arrives after the de-duplication window: stored (it cannot be recognised), then found by the
// reconciliation query and reported with its value. Its own file: chDB allows one data directory per process.
import { describe, expect, it } from 'vitest';
import { connectIngest, startTestSystem } from '../test-support/system-harness.ts';

const TS = Date.UTC(2026, 10, 10, 16, 0, 0);
const order = (id: string, amount: string, currency = 'CNY') => ({ id, ts: TS, amount, currency, channel: 'mobile' });

describe('resends older than the de-duplication window', () => {
  it('are stored, then found by the reconciliation query and reported', async () => {
    const short = await startTestSystem({ dedupWindowMs: 300, reconcileIntervalMs: 60_000 });
    try {
      const c = await connectIngest(short.system.ingestPort);
      expect(await c.send(JSON.stringify({ batch: 'late-1', orders: [order('late-1', '8.00', 'USD')] }))).toMatchObject({ accepted: 1 });
      // Keep traffic flowing past the window so its slices age out.
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await c.send(JSON.stringify({ batch: `filler-${i}`, orders: [order(`filler-${i}`, '1.00')] }));
      }
      expect(await c.send(JSON.stringify({ batch: 'late-2', orders: [order('late-1', '8.00', 'USD')] }))).toMatchObject({ accepted: 1, duplicates: 0 });
      // The look reads the fingerprint side table, which group commit has the engine fill every few seconds: once
      // the committer is idle, that fill is done.
      await short.system.committer.whenIdle();
      await short.system.reconciler.run(true);
      const s = (await (await fetch(`http://127.0.0.1:${short.system.httpPort}/v1/stats`)).json()) as { reconciliation: { lateDuplicates: { copies: number; gmv: string; ids: string[] }; drift: object; checkedAt: string } };
      // 8.00 USD at 7.12 = 56.96 CNY counted twice: flagged, with its value, never silently.
      expect(s.reconciliation.lateDuplicates).toEqual({ copies: 1, gmv: '56.96', ids: ['late-1'] });
      expect(s.reconciliation.drift).toEqual({});
      expect(s.reconciliation.checkedAt).not.toBeNull();
      expect(await short.system.metrics.render()).toContain('gala_late_duplicate_copies 1');
      c.close();
    } finally {
      await short.cleanup();
    }
  });
});
