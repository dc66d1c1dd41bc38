// The aggregator's entry point on a real embedded ClickHouse: restoring from storage, taking commits as the ingest's
// sink, announcing a milestone once recorded, and turning the figures final after the show's end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import { CHANNEL_CODE, OrderColumns } from '../domain/order-columns.ts';
import type { Channel } from '../domain/order.ts';
import { parseShowConfig } from '../domain/show.ts';
import type { MilestoneData } from '../protocol/live-protocol.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import type { OrderStore } from '../storage/storage.ts';
import { openAggregator, type Aggregator } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gala-aggregator-'));
const BASE = Math.floor((Date.now() - 120_000) / 1000) * 1000;
const show = parseShowConfig({
  name: 'Aggregator test',
  currency: 'CNY',
  endsAt: new Date(Date.now() - 60_000).toISOString(),
  milestones: [{ id: 'm-500', label: '¥500', threshold: '500' }],
});
let store: OrderStore;
let seq = 0;
const opened: Aggregator[] = [];

beforeAll(async () => {
  store = createOrderStore(createChdbConnection(dir));
  await store.migrate();
  // Held before the first aggregator opens: 200.00 CNY, half of it mobile.
  await commit(['mobile', 'desktop']);
});
afterEach(async () => {
  while (opened.length > 0) await opened.pop()!.close();
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Stores 100.00 CNY orders paid at BASE + i ms, as the committer would, and returns their columns. */
async function commit(channels: Channel[]): Promise<{ cols: OrderColumns; receivedMs: number }> {
  const w = new OrderRowWriter();
  const cols = new OrderColumns(['CNY']);
  const receivedMs = Date.now();
  for (const channel of channels) {
    const id = `agg-${++seq}`;
    const [hi, lo] = fingerprint(id);
    const ts = BASE + seq;
    w.add({ id, ts, hundredths: 10_000, currency: 'CNY', channel, brand: '', sku: '', category: '', region: '' }, receivedMs, hi, lo);
    cols.push(ts, 10_000, 0, CHANNEL_CODE[channel], hi, lo);
  }
  await store.insert({ count: channels.length, data: w.bytes(), derived: w.derived() });
  return { cols, receivedMs };
}

async function open(): Promise<Aggregator> {
  const a = await openAggregator({ store, show, reconcileIntervalMs: 0 });
  opened.push(a);
  return a;
}

describe('aggregator', () => {
  it('restores its figures from storage and starts the show at the first order held', async () => {
    const a = await open();
    expect(a.stats()).toMatchObject({ gmv: '200.00', orders: 2, mobileShare: 0.5, status: 'live' });
    expect(a.startsAtMs).toBe(BASE);
    expect(a.milestones.next()).toMatchObject({ id: 'm-500' });
  });

  it('adds what the commit path hands it, and announces a crossing once it is recorded', async () => {
    const a = await open();
    const before = a.stats();
    const crossed = new Promise<MilestoneData>((resolve) => a.onMilestone(resolve));
    const { cols, receivedMs } = await commit(['mobile', 'mobile', 'mobile', 'store']);
    a.committed(cols, receivedMs);
    expect(a.stats()).toMatchObject({ gmv: '600.00', orders: 6 });
    expect(a.totals.revision).toBeGreaterThan(before.revision);
    expect(a.totals.appliedThroughMs).toBe(receivedMs);
    // 200.00 held before: the third new order takes the total to 500.00.
    const m = await crossed;
    expect(m).toMatchObject({ id: 'm-500', total: '500.00', orders: 5, crossedAt: new Date(BASE + seq - 1).toISOString() });
    expect((await store.milestones()).map((r) => r.id)).toEqual(['m-500']);
  });

  it('turns the figures final after the show ends, once a reconciliation agrees with storage', async () => {
    const a = await open();
    const rev = a.totals.revision;
    expect(a.totals.status).toBe('live');
    await a.reconciler.run();
    expect(a.reconciler.report().drift).toEqual({});
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (a.totals.status !== 'final') return;
        clearInterval(t);
        resolve();
      }, 10);
    });
    expect(a.stats()).toMatchObject({ status: 'final', revision: rev + 1 });
  });

  it('describes a published second in the stats it gives for that second', async () => {
    const a = await open();
    const frame = { start: '2026-11-11T00:00:07.000Z', seconds: 1, gmv: '12.34', orders: 3, mobileShare: 0.25, mobileOrderShare: 1 / 3, total: { gmv: '0.00', orders: 0 } };
    expect(a.stats(frame).lastSecond).toEqual({ second: frame.start, gmv: '12.34', orders: 3, mobileShare: 0.25, mobileOrderShare: 1 / 3 });
  });
});
