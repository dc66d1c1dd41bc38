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
