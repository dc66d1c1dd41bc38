// The reconciler's look for late duplicates, paced to a share of the time, on a real embedded ClickHouse.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { fingerprint } from '../domain/fingerprint.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import type { OrderStore } from '../storage/storage.ts';
import { LiveTotals } from './live-totals.ts';
import { createReconciler } from './reconciler.ts';

const dir = mkdtempSync(join(tmpdir(), 'gala-reconciler-'));
const show = loadShow(DEFAULT_SHOW_FILE);
let store: OrderStore;
let slicesRead = 0;

beforeAll(async () => {
  const real = createOrderStore(createChdbConnection(dir));
  await real.migrate();
  // The real store, counting the slices the look reads.
  store = {
    ...real,
    duplicateIds: (...args: Parameters<OrderStore['duplicateIds']>) => {
      slicesRead++;
      return real.duplicateIds(...args);
    },
  };
  const now = Date.now();
  const w = new OrderRowWriter();
  const order = (id: string) => ({ id, ts: now, hundredths: 1234, currency: 'CNY', channel: 'mobile' as const, brand: 'b', sku: 's', category: 'c', region: 'r' });
  for (let i = 0; i < 2000; i++) w.add(order(`o-${i}`), now - 60_000, ...fingerprint(`o-${i}`));
  // A resend that came after the de-duplication window: stored twice.
  w.add(order('o-7'), now - 1000, ...fingerprint('o-7'));
  await store.insert({ count: 2001, data: w.bytes(), derived: w.derived() });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('late duplicate look', () => {
  it('reads a slice and then waits until its time share is repaid, so a big table is read a little at a time', async () => {
    // A share so small that one slice's time puts the next off for far longer than this test.
    const r = createReconciler({ store, totals: new LiveTotals(show), show, intervalMs: 1000, duplicateSlices: 16, duplicateShare: 1e-7 });
    slicesRead = 0;
    await r.run();
    const first = slicesRead;
    expect(first).toBe(1);
    for (let i = 0; i < 5; i++) await r.run();
    expect(slicesRead).toBe(first);
    // A full run (tests, the end of the show) finishes the look at once, and it finds the resend.
    await r.run(true);
    expect(slicesRead).toBeGreaterThanOrEqual(16);
    expect(r.report().lateDuplicates).toMatchObject({ copies: 1, gmv: expect.any(String), ids: ['o-7'] });
  });

  it('reads every slice within one check when its share of the interval allows', async () => {
    const r = createReconciler({ store, totals: new LiveTotals(show), show, intervalMs: 600_000, duplicateSlices: 16, duplicateShare: 0.5 });
    slicesRead = 0;
    await r.run();
    expect(slicesRead).toBe(16);
    expect(r.report().lateDuplicates).toMatchObject({ copies: 1, ids: ['o-7'] });
  });

  it('a change of a shard\'s owner asks for a look at the next check, reaching back past the takeover', async () => {
    const r = createReconciler({ store, totals: new LiveTotals(show), show, intervalMs: 1000, duplicateSlices: 1, duplicateShare: 1 });
    // The first look starts at once and reaches back one de-duplication window: it finds the resend.
    await r.run();
    expect(r.report().lateDuplicates.copies).toBe(1);
    slicesRead = 0;
    // The next look would wait the default 5 minutes...
    await r.run();
    expect(slicesRead).toBe(0);
    // ...unless a takeover asks for one.
    r.lookSoon(Date.now() - 120_000);
    await r.run();
    expect(slicesRead).toBe(1);
    // Reported once, not once per look.
    expect(r.report().lateDuplicates).toMatchObject({ copies: 1, ids: ['o-7'] });
  });
});
