// Ordering of answers with two inserts in flight. Insert completion order cannot be steered on a real engine,
// so a fake store whose inserts finish when the test says so stands in for it here (and only here).
import { describe, expect, it } from 'vitest';
import type { RawBatch } from '../domain/order.ts';
import type { OrderStore } from '../storage/storage.ts';
import { DedupWindow } from './dedup-window.ts';
import { GroupCommitter, type BatchOutcome } from './group-commit.ts';

function fakeStore() {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const store = {
    insert: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    ping: async () => true,
    storedFingerprints: async () => new Set<string>(),
    settleFailedInsert: async () => {},
    feedKeyRollups: async () => {},
    repairDerived: async () => ({}),
  } as unknown as OrderStore;
  return { store, pending };
}

const TS = Date.UTC(2026, 10, 10, 16);
const batch = (id: string, ...orderIds: string[]): RawBatch => ({ batch: id, orders: orderIds.map((o) => ({ id: o, ts: TS, amount: '1.00', currency: 'CNY', channel: 'mobile' })) });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function track(p: Promise<BatchOutcome>) {
  const t = { done: false, value: null as BatchOutcome | null };
  void p.then((v) => {
    t.done = true;
    t.value = v;
  });
  return t;
}

function setup() {
  const { store, pending } = fakeStore();
  const c = new GroupCommitter({ store, dedup: new DedupWindow({ windowMs: 600_000, maxEntries: 1e6 }), currencies: ['CNY'], flushIntervalMs: 1, maxConcurrentInserts: 2, probeIntervalMs: 5 });
  return { c, pending };
}

describe('group commit with two inserts in flight', () => {
  it('acks a batch of new orders as soon as its own insert is durable', async () => {
    const { c, pending } = setup();
    const a = track(c.submit(batch('A', 'a1')));
    await tick();
    const b = track(c.submit(batch('B', 'b1')));
    await tick();
    expect(pending.length).toBe(2);
    pending[1]!.resolve();
    await tick();
    expect(b.value).toMatchObject({ kind: 'ack', ack: { accepted: 1 } });
    expect(a.done).toBe(false);
    pending[0]!.resolve();
    await tick();
    expect(a.value).toMatchObject({ kind: 'ack', ack: { accepted: 1 } });
  });

  it('holds a batch that reported duplicates until the earlier insert holding the originals is durable', async () => {
    const { c, pending } = setup();
    const a = track(c.submit(batch('A', 'a1')));
    await tick();
    const b = track(c.submit(batch('B', 'a1', 'b1')));
    await tick();
    pending[1]!.resolve(); // B's own insert (b1) is durable first
    await tick();
    expect(b.done).toBe(false);
    pending[0]!.resolve();
    await tick();
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(b.value).toMatchObject({ kind: 'ack', ack: { accepted: 1, duplicates: 1 } });
  });

  it('answers that batch "unavailable" when the earlier insert fails, and forgets the failed orders', async () => {
    const { c, pending } = setup();
    const a = track(c.submit(batch('A', 'a1')));
    await tick();
    const b = track(c.submit(batch('B', 'a1', 'b1')));
    await tick();
    pending[1]!.resolve();
    pending[0]!.reject(new Error('ClickHouse went away'));
    await tick();
    expect(a.value).toMatchObject({ kind: 'unavailable' });
    expect(b.value).toMatchObject({ kind: 'unavailable' });
    // Storage is probed and comes back; a1 was never stored, so its resend is new, b1 is a duplicate.
    await tick(30);
    expect(c.state).toBe('up');
    const again = track(c.submit(batch('A2', 'a1', 'b1')));
    await tick();
    pending[2]!.resolve();
    await tick();
    expect(again.value).toMatchObject({ kind: 'ack', ack: { accepted: 1, duplicates: 1 } });
  });
});

describe('the key rollups feed', () => {
  function feedSetup() {
    const { store, pending } = fakeStore();
    const feeds: { count: number; fail: (e: Error) => void; done: () => void }[] = [];
    const repairs: number[] = [];
    Object.assign(store, {
      feedKeyRollups: (rows: { count: number }) => new Promise<void>((resolve, reject) => feeds.push({ count: rows.count, done: resolve, fail: reject })),
      repairDerived: async (since: number) => {
        repairs.push(since);
        return { gala_agg_key_total: 3 };
      },
    });
    const c = new GroupCommitter({ store, dedup: new DedupWindow({ windowMs: 600_000, maxEntries: 1e6 }), currencies: ['CNY'], flushIntervalMs: 1, feedIntervalMs: 40, probeIntervalMs: 5 });
    return { c, pending, feeds, repairs };
  }

  it('feeds committed groups together, after their acks, and counts them against the buffer until fed', async () => {
    const { c, pending, feeds } = feedSetup();
    const a = track(c.submit(batch('A', 'a1', 'a2')));
    await tick();
    pending[0]!.resolve();
    await tick();
    const b = track(c.submit(batch('B', 'b1')));
    await tick();
    pending[1]!.resolve();
    await tick();
    // Both acked; neither fed yet: the feed gathers for its interval.
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(b.value).toMatchObject({ kind: 'ack' });
    expect(feeds.length).toBe(0);
    let idle = false;
    void c.whenIdle().then(() => (idle = true));
    await tick();
    // Waiting for idle feeds at once, both groups in one insert; idle only once the feed is done.
    expect(feeds.map((f) => f.count)).toEqual([3]);
    expect(idle).toBe(false);
    feeds[0]!.done();
    await tick();
    expect(idle).toBe(true);
  });

  it('pauses ingest when a feed fails, and repairs the rollups from the orders table once storage answers', async () => {
    const { c, pending, feeds, repairs } = feedSetup();
    track(c.submit(batch('A', 'a1')));
    await tick();
    pending[0]!.resolve();
    await tick(60);
    expect(feeds.length).toBe(1);
    feeds[0]!.fail(new Error('ClickHouse went away'));
    await tick(1);
    // Paused: new batches are refused until the rollups are whole again.
    expect(c.rollupsIncomplete).toBe(true);
    expect(c.state).toBe('down');
    expect(await c.submit(batch('X', 'x1'))).toMatchObject({ kind: 'unavailable' });
    await tick(40);
    // The probe found storage up, nothing inserting: one repair, and ingest goes on.
    expect(repairs.length).toBe(1);
    expect(c.rollupsIncomplete).toBe(false);
    expect(c.state).toBe('up');
    const next = track(c.submit(batch('B', 'b1')));
    await tick();
    pending[1]!.resolve();
    await tick();
    expect(next.value).toMatchObject({ kind: 'ack', ack: { accepted: 1 } });
  });
});
