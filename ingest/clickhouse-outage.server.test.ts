// A ClickHouse server outage mid-stream, on the whole system and a real clickhouse-server: nothing is acked
// before it is durable, every batch is drained after recovery, totals are exact, and a restart changes nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import { parseOrder, type Ack } from '../domain/order.ts';
import { createIngestClient, type IngestClient } from '../simulator/ingest-client.ts';
import { createSimulator, type Simulator } from '../simulator/simulator.ts';
import { requireClickHouseServer, startClickHouseServer } from '../test-support/clickhouse-server.ts';
import { connectIngest, startTestSystem, TEST_TOKEN, storedSums } from '../test-support/system-harness.ts';
import { ORDER_COLUMNS, readOrderRows } from '../storage/order-rows.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { RunningSystem } from '../system/start-system.ts';
import { until } from '../test-support/until.ts';

// Throws (failing this file) when CI=true and no server binary exists; elsewhere prints why and skips.
const serverAvailable = requireClickHouseServer();

/** Everything a test started, stopped in reverse order even when the test fails half-way. */
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f();
  cleanups = [];
});

/** Batches are sent every TICK_MS with what the simulated night has due, at most BATCH_MAX orders each. */
const TICK_MS = 20;
const BATCH_MAX = 200;
/** Resends refused while ClickHouse is down before it comes back: the outage outlasts several retries. */
const REFUSED_RESENDS = 2;

interface StatsBody {
  currency: string;
  gmv: string;
  orders: number;
  mobileShare: number;
  byCurrency: Record<string, { amount: string; orders: number }>;
}

const readStats = async (s: RunningSystem): Promise<StatsBody> => (await (await fetch(`http://127.0.0.1:${s.httpPort}/v1/stats`)).json()) as StatsBody;

const storageUp = async (s: RunningSystem): Promise<number> => Number(/^gala_storage_up (\d+)$/m.exec(await s.metrics.render())?.[1] ?? NaN);

/**
 * The fingerprints ClickHouse has confirmed as stored: rows of every insert it answered, and rows storage
 * reported holding when the system checked an insert whose answer was lost. Watched at the store seam.
 */
function trackDurable(store: OrderStore): ReadonlySet<string> {
  const durable = new Set<string>();
  const hiCol = ORDER_COLUMNS.indexOf('fp_hi');
  const loCol = ORDER_COLUMNS.indexOf('fp_lo');
  const insert = store.insertOrders.bind(store);
  store.insertOrders = async (rows) => {
    await insert(rows);
    for (const cols of readOrderRows(rows)) durable.add(`${cols[hiCol]}:${cols[loCol]}`);
  };
  const storedFingerprints = store.storedFingerprints.bind(store);
  // The range goes through untouched: with it the system asks the orders table, which is authoritative. Without
  // it the question goes to the fingerprint side table, which lags the orders table by the derived insert.
  store.storedFingerprints = async (fps, receivedBetween) => {
    const found = await storedFingerprints(fps, receivedBetween);
    for (const k of found) durable.add(k);
    return found;
  };
  return durable;
}

/** The orders of a batch frame that must be stored once it is acked (its valid ones), as fingerprint keys. */
function validFingerprints(frame: string, knownCurrency: (code: string) => boolean): string[] {
  const keys: string[] = [];
  for (const raw of (JSON.parse(frame) as { orders: unknown[] }).orders) {
    const r = parseOrder(raw, knownCurrency);
    if (r.ok) keys.push(fingerprint(r.order.id).join(':'));
  }
  return keys;
}

interface Stream {
  /** Every frame sent, in order, with its id. */
  frames: { id: string; text: string }[];
  /** Stops sending; resolves once the sender loop has returned, rejects with what broke it, if anything did. */
  stop(): Promise<void>;
}

/**
 * Sends the simulated night through the client until stopped; `send` waits while the window is full. Each
 * frame is entered in `sent` before it goes out.
 */
function streamNight(client: IngestClient, sim: Simulator, sent: Map<string, string>): Stream {
  const frames: { id: string; text: string }[] = [];
  let stopping = false;
  let broke: unknown = null;
  const t0 = performance.now();
  const loop = (async () => {
    while (!stopping) {
      const due = sim.dueBy(performance.now() - t0, BATCH_MAX);
      if (due > 0) {
        const id = `b-${frames.length + 1}`;
        const text = sim.nextFrame(id, due);
        frames.push({ id, text });
        sent.set(id, text);
        await client.send(id, text, due);
      }
      await sleep(TICK_MS);
    }
  })().catch((e: unknown) => {
    if (!stopping) broke = e;
  });
  return {
    frames,
    async stop() {
      stopping = true;
      await loop;
      if (broke !== null) throw broke;
    },
  };
}

// Skips only off CI, after printing why: with CI=true, requireClickHouseServer() throws and the file fails.
describe.skipIf(!serverAvailable)('ClickHouse server outage mid-stream', () => {
  // SIGTERM: 18.16 shuts down gracefully, serving the system's busy keep-alive connection for another 5 to 15 s
  // (inserts first go on, then hang until it exits), hence the longer timeout. SIGKILL cuts at once.
  it.each([
    { how: 'stop', signal: 'SIGTERM', seed: 11 },
    { how: 'kill', signal: 'SIGKILL', seed: 12 },
  ] as const)('$how ($signal): unavailable while down, nothing acked early, exact totals, restart changes nothing', async ({ how, seed }) => {
    const server = await startClickHouseServer();
    cleanups.push(() => server.cleanup());
    const first = await startTestSystem({ clickhouseUrl: server.url });
    let firstClosed = false;
    cleanups.push(async () => {
      if (!firstClosed) await first.cleanup();
    });
    const { system } = first;
    const knownCurrency = (code: string) => first.cfg.show.rates.has(code);
    const durable = trackDurable(system.store);

    // gala_storage_up, sampled every few ms: the values it took, each change recorded once.
    const upSeen: number[] = [await storageUp(system)];
    const sampler = setInterval(() => {
      void storageUp(system).then((v) => {
        if (v !== upSeen[upSeen.length - 1]) upSeen.push(v);
      });
    }, 5);
    cleanups.push(async () => clearInterval(sampler));

    const sim = createSimulator({
      seed, show: first.cfg.show, startMs: Date.now(), peakPerSecond: 2_000, speed: 30, resendRate: 0.01, malformedRate: 0.005, idPrefix: `outage-${how}`,
    });
    const sent = new Map<string, string>();
    const acks = new Map<string, Ack>();
    // No ack may reach the client before every valid order of its batch is durable.
    const ackedEarly: string[] = [];
    const onAck = (ack: Ack) => {
      acks.set(ack.batch, ack);
      for (const k of validFingerprints(sent.get(ack.batch)!, knownCurrency)) if (!durable.has(k)) ackedEarly.push(`${ack.batch}: ${k}`);
    };
    const client = createIngestClient({ url: `ws://127.0.0.1:${system.ingestPort}/v1/ingest`, token: TEST_TOKEN, onAck });
    await client.ready();
    const stream = streamNight(client, sim, sent);
    cleanups.push(async () => {
      // Closing the client rejects a send waiting for room, which ends the sender loop.
      const stopped = stream.stop().catch(() => undefined);
      await client.close();
      await stopped;
    });

    // Some of the night is committed before the outage.
    await until('20 acks before the outage', () => client.counters.acked >= 20);
    if (how === 'stop') await server.stop();
    else await server.kill();
    await until('gala_storage_up to drop to 0', async () => (await storageUp(system)) === 0);
    const atDown = { ...client.counters };
    // Down until batches were answered "unavailable", resent after retryAfterMs and answered so again, a few
    // times (counted, not timed); not one ack came while nothing could be committed.
    await until(`${REFUSED_RESENDS} resends refused during the outage`, () => client.counters, (c) => c.resent >= atDown.resent + REFUSED_RESENDS && c.unavailable >= atDown.unavailable + REFUSED_RESENDS);
    expect(client.counters.acked).toBe(atDown.acked);
    expect(await storageUp(system)).toBe(0);
    expect(system.committer.state).toBe('down');

    await server.start();
    // Recovery waits until the failed insert is proven over: up to the adapter's 20 s grace after a restart.
    await until('gala_storage_up back at 1', async () => (await storageUp(system)) === 1, { timeoutMs: 45_000 });
    const ackedAtRecovery = client.counters.acked;
    await until('acks after recovery', () => client.counters.acked >= ackedAtRecovery + 20);
    await stream.stop();
    await client.drain();
    clearInterval(sampler);

    const c = client.counters;
    const truth = sim.expected();
    expect(upSeen[0]).toBe(1);
    expect(upSeen).toContain(0);
    expect(upSeen[upSeen.length - 1]).toBe(1);
    expect(ackedEarly).toEqual([]);
    expect(c.unavailable).toBeGreaterThan(0);
    expect(c.resent).toBeGreaterThan(0);
    expect({ sent: c.sent, failed: c.failed, badAcks: c.badAcks, strayAnswers: c.strayAnswers, inFlight: client.inFlight }).toEqual({
      sent: c.acked, failed: 0, badAcks: 0, strayAnswers: 0, inFlight: 0,
    });
    expect(truth.resends).toBeGreaterThan(0);
    expect(truth.malformed).toBeGreaterThan(0);
    expect(c.rejected).toBe(truth.malformed);
    // Every valid order is counted once, accepted or duplicate. An order may be stored by an insert whose answer
    // was lost in the outage (then its batch's resend is all duplicates), so accepted alone can fall short.
    expect(c.accepted + c.duplicates).toBe(truth.orders + truth.resends);
    expect(c.accepted).toBeLessThanOrEqual(truth.orders);

    // The public feed, the live totals and a SELECT over the orders table all agree with the simulated truth.
    const stats = await readStats(system);
    expect({ orders: stats.orders, gmv: stats.gmv }).toEqual({ orders: truth.orders, gmv: truth.gmv });
    const { byCurrency: stored, orders: storedOrders } = await storedSums(system.store);
    expect(storedOrders).toBe(truth.orders);
    expect(stored).toEqual(new Map(system.totals.currencySums()));
    const truthSums = Object.entries(truth.byCurrency).filter(([, h]) => h > 0n);
    expect(stored).toEqual(new Map(truthSums));
    expect(await system.store.duplicateIds(10)).toEqual([]);
    // The derived tables agree with the orders table too (a derived insert cut by the outage was repaired when
    // storage came back): a repair, run once nothing is being inserted (the last group's derived rows follow its
    // ack, so wait for them), finds nothing to add.
    await system.committer.whenIdle();
    expect(await system.store.repairDerived(0)).toEqual({});

    // A new system on the same ClickHouse database rebuilds the totals and the de-duplication window.
    await client.close();
    firstClosed = true;
    await first.cleanup();
    const second = await startTestSystem({ clickhouseUrl: server.url });
    cleanups.push(() => second.cleanup());
    const pick = (s: StatsBody) => ({ currency: s.currency, gmv: s.gmv, orders: s.orders, mobileShare: s.mobileShare, byCurrency: s.byCurrency });
    expect(pick(await readStats(second.system))).toEqual(pick(stats));

    const ingest = await connectIngest(second.system.ingestPort);
    cleanups.push(async () => ingest.close());
    for (const f of stream.frames.slice(0, 5)) {
      const before = acks.get(f.id)!;
      const again = await ingest.send(f.text);
      expect(again).toEqual({ batch: f.id, accepted: 0, duplicates: before.accepted + before.duplicates, rejected: before.rejected });
    }
    expect(pick(await readStats(second.system))).toEqual(pick(stats));
    expect(await second.system.store.duplicateIds(10)).toEqual([]);
  }, 150_000);
});
