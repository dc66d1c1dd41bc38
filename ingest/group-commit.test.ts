// Ordering of answers with two inserts in flight. Insert completion order cannot be steered on a real engine,
// so a fake store whose inserts finish when the test says so stands in for it here (and only here).
import { describe, expect, it } from 'vitest';
import type { RawBatch } from '../domain/order.ts';
import type { OrderStore } from '../storage/storage.ts';
import { DedupWindow } from './dedup-window.ts';
import { GroupCommitter, type BatchOutcome } from './group-commit.ts';
import { DERIVED_TABLES } from '../storage/derived-fold.ts';

function fakeStore() {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /**
   * Derived inserts: failing ones throw; repairs record the arrival they looked back to. With `hold`, each derived
   * insert waits in `held` until the test settles it (and records whether an orders insert was running beside it).
   */
  const derived = {
    fail: false, hold: false, inserted: 0, repairs: [] as number[], settled: [] as unknown[],
    /** Every derived statement, its table(s), and how many orders inserts were running when it started. */
    statements: [] as { table: string; ordersRunning: number }[],
    held: [] as { resolve: () => void; reject: (e: Error) => void; from: number; through: number }[],
    /** Fills of the fingerprint side table asked for, as [since, through], and whether they fail. */
    fills: [] as [number, number | undefined][],
    fillFail: false,
  };
  let settled = 0;
  const settledOrders = () => settled;
  const store = {
    insertOrders: () =>
      new Promise<void>((resolve, reject) => pending.push({ resolve, reject })).finally(() => {
        settled++;
      }),
    insertDerived: async (rows: { receivedFromMs: number; receivedThroughMs: number }, only?: readonly string[]) => {
      derived.statements.push({ table: only?.join(',') ?? '*', ordersRunning: pending.length - settledOrders() });
      // Group commit inserts a derived batch one table at a time: the first table's statement stands for the batch.
      if (only !== undefined && only[0] !== DERIVED_TABLES[0].table) {
        if (derived.fail) throw new Error('derived insert refused');
        return;
      }
      if (derived.hold) await new Promise<void>((resolve, reject) => derived.held.push({ resolve, reject, from: rows.receivedFromMs, through: rows.receivedThroughMs }));
      if (derived.fail) throw new Error('derived insert refused');
      derived.inserted++;
    },
    fillFingerprints: async (since: number, through?: number) => {
      if (derived.fillFail) throw new Error('fill refused');
      derived.fills.push([since, through]);
      return 0;
    },
    repairDerived: async (since: number) => {
      // The repair fills the side table too: while fills fail, so does it.
      if (derived.fillFail) throw new Error('repair refused (its fill)');
      derived.repairs.push(since);
      return {};
    },
    ping: async () => true,
    storedFingerprints: async () => new Set<string>(),
    settleFailedInsert: async (e: unknown) => {
      derived.settled.push(e);
    },
  } as unknown as OrderStore;
  return { store, pending, derived };
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

/** derivedIntervalMs is 0 unless a test is about it: the others follow each derived insert as it comes. */
function setup(maxConcurrentInserts = 2, maxDerivedWaitingOrders?: number, derivedIntervalMs = 0, fingerprintFillMs = 3_600_000) {
  const { store, pending, derived } = fakeStore();
  const c = new GroupCommitter({ store, dedup: new DedupWindow({ windowMs: 600_000, maxEntries: 1e6 }), currencies: ['CNY'], flushIntervalMs: 1, maxConcurrentInserts, probeIntervalMs: 5, maxDerivedWaitingOrders, derivedIntervalMs, fingerprintFillMs });
  return { c, pending, derived };
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

describe('group commit and the derived rows', () => {
  it('acks once the orders are durable, then inserts their derived rows', async () => {
    const { c, pending, derived } = setup(1);
    const a = track(c.submit(batch('A', 'a1'), TS));
    await tick();
    const b = track(c.submit(batch('B', 'b1'), TS));
    await tick();
    expect(pending.length).toBe(1);
    pending[0]!.resolve();
    await tick();
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(derived.inserted).toBe(1);
    // B arrived in the same millisecond as A but after A's group was sealed: it is stamped one later, so each
    // insert covers its own arrival range.
    await tick();
    pending[1]!.resolve();
    await tick();
    expect(b.value).toMatchObject({ kind: 'ack' });
    expect(derived.inserted).toBe(2);
  });

  it('keeps the ack when the derived insert fails, goes down until the repair has run, then takes batches again', async () => {
    const { c, pending, derived } = setup(1);
    derived.fail = true;
    const a = track(c.submit(batch('A', 'a1'), TS));
    await tick();
    pending[0]!.resolve();
    await tick(1);
    // The orders are durable: the ack stands. The derived rows are behind, so storage reads as down.
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(c.state).toBe('down');
    expect(c.derivedPending).toBe(true);
    expect(await c.submit(batch('X', 'x1'))).toMatchObject({ kind: 'unavailable' });
    derived.fail = false;
    for (let i = 0; i < 100 && c.state !== 'up'; i++) await tick();
    expect(c.state).toBe('up');
    expect(derived.settled.map(String)).toEqual(['Error: derived insert refused']);
    expect(derived.repairs).toEqual([TS]);
    expect(c.derivedPending).toBe(false);
    // x1 was refused, never stored: it is new.
    const x = track(c.submit(batch('X', 'x1')));
    await tick();
    pending[1]!.resolve();
    await tick();
    expect(x.value).toMatchObject({ kind: 'ack', ack: { accepted: 1 } });
  });

  it('starts each derived statement only once no orders insert runs: one table at a time, in the gaps between them', async () => {
    const { c, pending, derived } = setup(1);
    derived.hold = true;
    const a = track(c.submit(batch('A', 'a1'), TS));
    await tick();
    pending[0]!.resolve();
    await tick();
    expect(a.value).toMatchObject({ kind: 'ack' });
    // A's batch begins with its first table, no orders insert running.
    expect(derived.statements).toEqual([{ table: DERIVED_TABLES[0].table, ordersRunning: 0 }]);
    const b = track(c.submit(batch('B', 'b1'), TS));
    await tick();
    expect(pending.length).toBe(2);
    // The first table is in; B's orders insert runs: the next table waits for it to end.
    derived.held[0]!.resolve();
    await tick();
    expect(derived.statements.length).toBe(1);
    pending[1]!.resolve();
    await tick();
    expect(b.value).toMatchObject({ kind: 'ack' });
    // B's insert ended: A's other tables went in, none beside an orders insert; then B's batch began.
    const n = DERIVED_TABLES.length;
    expect(derived.statements.slice(1, n)).toEqual(DERIVED_TABLES.slice(1).map((t) => ({ table: t.table, ordersRunning: 0 })));
    expect(derived.statements[n]).toEqual({ table: DERIVED_TABLES[0].table, ordersRunning: 0 });
    derived.held[1]!.resolve();
    await c.close();
    expect(derived.inserted).toBe(2);
    expect(derived.statements.length).toBe(2 * n);
  });

  /** A's orders insert is durable and its derived insert held, while B's orders insert runs. */
  async function aCommittedBesideB(maxDerivedWaitingOrders?: number) {
    const { c, pending, derived } = setup(1, maxDerivedWaitingOrders);
    derived.hold = true;
    const a = track(c.submit(batch('A', 'a1'), TS));
    await tick();
    const b = track(c.submit(batch('B', 'b1'), TS));
    await tick();
    pending[0]!.resolve();
    await tick();
    return { c, pending, derived, a, b };
  }

  it('runs derived inserts beside the next orders inserts, one at a time, each taking every group that waited for it', async () => {
    const { c, pending, derived, a, b } = await aCommittedBesideB();
    // A is acked; its derived rows go in while B's orders insert runs.
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(derived.held.map((h) => h.from)).toEqual([TS]);
    expect(pending.length).toBe(2);
    const x = track(c.submit(batch('C', 'c1'), TS));
    await tick();
    pending[1]!.resolve();
    await tick();
    // B's ack does not wait for A's derived rows, and neither does C's orders insert: B's rows wait for A's insert.
    expect(b.value).toMatchObject({ kind: 'ack' });
    expect(derived.held.length).toBe(1);
    expect(pending.length).toBe(3);
    pending[2]!.resolve();
    await tick();
    expect(x.value).toMatchObject({ kind: 'ack' });
    expect(derived.held.length).toBe(1);
    // Closing waits for the derived rows in flight and those waiting, not only for the orders.
    const closed = track(c.close().then(() => ({ kind: 'ack', ack: { batch: '', accepted: 0, duplicates: 0, rejected: [] } }) as BatchOutcome));
    await tick();
    expect(closed.done).toBe(false);
    expect(c.derivedPending).toBe(true);
    derived.held[0]!.resolve();
    await tick();
    // One insert for B's and C's rows: it covers both groups' arrivals (each group's marker travels in it).
    expect(derived.held.length).toBe(2);
    expect(derived.held[1]!.from).toBeGreaterThan(TS);
    expect(derived.held[1]!.through).toBeGreaterThan(derived.held[1]!.from);
    expect(closed.done).toBe(false);
    derived.held[1]!.resolve();
    await tick();
    expect(closed.done).toBe(true);
    expect(derived.inserted).toBe(2);
    expect(c.derivedPending).toBe(false);
  });

  it('holds the next orders insert once more orders than maxDerivedWaitingOrders wait for their derived rows', async () => {
    const { c, pending, derived, b } = await aCommittedBesideB(1);
    const x = track(c.submit(batch('C', 'c1', 'c2'), TS));
    await tick();
    pending[1]!.resolve();
    await tick();
    // B (1 order) may wait: at the bound, not past it. C's orders insert starts.
    expect(b.value).toMatchObject({ kind: 'ack' });
    expect(pending.length).toBe(3);
    const y = track(c.submit(batch('D', 'd1'), TS));
    await tick();
    pending[2]!.resolve();
    await tick();
    // C is acked, but 3 orders now wait: D's orders insert waits for A's derived insert.
    expect(x.value).toMatchObject({ kind: 'ack' });
    expect(pending.length).toBe(3);
    expect(y.done).toBe(false);
    derived.held[0]!.resolve();
    await tick();
    expect(derived.held.length).toBe(2);
    expect(pending.length).toBe(4);
    pending[3]!.resolve();
    derived.held[1]!.resolve();
    await tick();
    expect(y.value).toMatchObject({ kind: 'ack' });
  });

  it('starts derived inserts at most once per derivedIntervalMs, taking every group committed meanwhile; a stop starts the waiting one at once', async () => {
    // An hour: only the first group's derived insert (nothing before it) and the stop may start one.
    const { c, pending, derived } = setup(1, undefined, 3_600_000);
    derived.hold = true;
    const acked: ReturnType<typeof track>[] = [];
    for (const id of ['A', 'B', 'C']) {
      acked.push(track(c.submit(batch(id, `${id}1`), TS)));
      await tick();
      pending[pending.length - 1]!.resolve();
      await tick();
    }
    expect(acked.every((t) => t.value?.kind === 'ack')).toBe(true);
    // A's went in at once; B's and C's wait for the interval even though A's insert has finished.
    expect(derived.held.length).toBe(1);
    derived.held[0]!.resolve();
    await tick(20);
    expect(derived.held.length).toBe(1);
    expect(c.derivedPending).toBe(true);
    const closed = track(c.close().then(() => ({ kind: 'ack', ack: { batch: '', accepted: 0, duplicates: 0, rejected: [] } }) as BatchOutcome));
    await tick();
    // The stop does not wait an hour: B's and C's rows go in now, in one insert covering both groups' arrivals.
    expect(derived.held.length).toBe(2);
    expect(derived.held[1]!.through).toBeGreaterThan(derived.held[1]!.from);
    derived.held[1]!.resolve();
    await tick();
    expect(closed.done).toBe(true);
    expect(derived.inserted).toBe(2);
  });

  it('starts the waiting derived insert before its interval is over once more orders than maxDerivedWaitingOrders wait', async () => {
    const { c, pending, derived } = setup(1, 1, 3_600_000);
    derived.hold = true;
    track(c.submit(batch('A', 'a1'), TS));
    await tick();
    pending[0]!.resolve();
    await tick();
    derived.held[0]!.resolve();
    await tick();
    // B's one order may wait (at the bound); C's two more take it past, so their rows go in without the hour.
    track(c.submit(batch('B', 'b1'), TS));
    await tick();
    pending[1]!.resolve();
    await tick();
    expect(derived.held.length).toBe(1);
    track(c.submit(batch('C', 'c1', 'c2'), TS));
    await tick();
    pending[2]!.resolve();
    await tick();
    expect(derived.held.length).toBe(2);
    expect(derived.held[1]!.from).toBeGreaterThan(TS);
  });

  it('leaves the derived rows of a group committed beside a failed derived insert to the repair, run once both are over', async () => {
    const { c, pending, derived, a, b } = await aCommittedBesideB();
    expect(pending.length).toBe(2);
    derived.fail = true;
    derived.held[0]!.resolve();
    await tick(30);
    // A's derived insert failed while B's orders insert runs: storage is down, but no repair runs beside it.
    expect(a.value).toMatchObject({ kind: 'ack' });
    expect(c.state).toBe('down');
    expect(derived.repairs).toEqual([]);
    derived.fail = false;
    pending[1]!.resolve();
    for (let i = 0; i < 100 && c.state !== 'up'; i++) await tick();
    // B's orders are durable (acked); its derived rows were not inserted beside the pending repair but left to it,
    // which looks back to A's arrivals and so covers B's.
    expect(b.value).toMatchObject({ kind: 'ack' });
    expect(derived.held.length).toBe(1);
    expect(derived.repairs).toEqual([TS]);
    expect(c.state).toBe('up');
    expect(c.derivedPending).toBe(false);
  });
});

describe('group commit and the fingerprint side table', () => {
  /** Commits one batch per id at arrival TS + i, each through its orders and derived inserts. */
  async function commit(c: GroupCommitter, pending: { resolve: () => void }[], ids: string[], from = 0) {
    for (const [i, id] of ids.entries()) {
      const t = track(c.submit(batch(id, `${id}1`), TS + from + i));
      await tick();
      pending[pending.length - 1]!.resolve();
      for (let k = 0; k < 100 && !t.done; k++) await tick(1);
      await tick();
    }
  }

  it('has the engine fill it for the arrivals committed since the last fill, at most once per interval, and at once on a stop', async () => {
    const { c, pending, derived } = setup(1, undefined, 0, 3_600_000);
    await commit(c, pending, ['A', 'B', 'C']);
    // Within the hour: the rollups went in group by group, the side table is owed.
    expect(derived.inserted).toBe(3);
    expect(derived.fills).toEqual([]);
    expect(c.derivedPending).toBe(true);
    await c.close();
    // One fill covering every arrival owed, and nothing left for the next start to repair.
    expect(derived.fills).toEqual([[TS, TS + 2]]);
    expect(c.derivedPending).toBe(false);
  });

  it('fills once the interval is over, also when ingest has stopped (a timer)', async () => {
    const { c, pending, derived } = setup(1, undefined, 0, 30);
    await commit(c, pending, ['A']);
    for (let k = 0; k < 200 && derived.fills.length === 0; k++) await tick();
    expect(derived.fills).toEqual([[TS, TS]]);
    await commit(c, pending, ['B', 'C'], 10);
    // B and C go in one fill, or in two when the 30 ms pass between them (a loaded machine): wait for C's.
    for (let k = 0; k < 200 && derived.fills.at(-1)![1] !== TS + 11; k++) await tick();
    // The next fill starts where the last one ended.
    expect(derived.fills[1]![0]).toBe(TS + 10);
    expect(derived.fills.at(-1)![1]).toBe(TS + 11);
    await c.whenIdle();
    expect(c.derivedPending).toBe(false);
  });

  it('fills at once from a given instant through everything stored when a shard is taken over (fillSince)', async () => {
    const { c, pending, derived } = setup(1, undefined, 0, 3_600_000);
    await commit(c, pending, ['A']);
    expect(derived.fills).toEqual([]);
    c.fillSince(TS - 60_000);
    for (let k = 0; k < 100 && derived.fills.length === 0; k++) await tick();
    // No upper bound: the previous holder's arrivals are not this committer's to know.
    expect(derived.fills).toEqual([[TS - 60_000, undefined]]);
    await c.whenIdle();
    expect(c.derivedPending).toBe(false);
  });

  it('a stop whose fill fails is not recorded as clean: the next start repairs (and fills) from there', async () => {
    const { c, pending, derived } = setup(1, undefined, 0, 3_600_000);
    await commit(c, pending, ['A', 'B']);
    derived.fillFail = true;
    await c.close().catch(() => {});
    expect(derived.fills).toEqual([]);
    expect(c.derivedPending).toBe(true);
  });

  it('after a failed fill while running, repairs from the earliest arrival owed, then takes batches again', async () => {
    const { c, pending, derived } = setup(1, undefined, 0, 20);
    derived.fillFail = true;
    await commit(c, pending, ['A']);
    for (let k = 0; k < 200 && c.state === 'up'; k++) await tick();
    expect(c.state).toBe('down');
    derived.fillFail = false;
    for (let k = 0; k < 200 && c.state !== 'up'; k++) await tick();
    expect(c.state).toBe('up');
    expect(derived.repairs).toEqual([TS]);
    expect(c.derivedPending).toBe(false);
    // The repair filled what was owed: the next fill starts after it.
    await commit(c, pending, ['B'], 50);
    for (let k = 0; k < 200 && derived.fills.length === 0; k++) await tick();
    expect(derived.fills).toEqual([[TS + 50, TS + 50]]);
  });
});
