// Feeds a running system with the gala simulator through the real ingest endpoint, paced by the wall clock, for
// browser tests and benchmarks that need orders flowing while they watch a screen.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ShowConfig } from '../domain/show.ts';
import { createIngestClient } from '../simulator/ingest-client.ts';
import { createSimulator, type ExpectedTotals } from '../simulator/simulator.ts';
import { TEST_TOKEN } from './system-harness.ts';

export interface OrderFeedOptions {
  ingestPort: number;
  show: ShowConfig;
  /** Orders per second at the peak of the simulated night (the simulator ramps up to it over 75 simulated s). */
  peakPerSecond: number;
  /** Simulated seconds per second; order timestamps run this much faster than the wall clock. Default 1. */
  speed?: number;
  /** Distinct per feed: ids are `${idPrefix}-N`. */
  idPrefix: string;
  seed?: number;
  /** Simulated midnight (epoch ms). Default: now, so paid-at instants follow the wall clock at speed 1. */
  startMs?: number;
  token?: string;
  /** Most orders per batch. Default 200. */
  batch?: number;
  /**
   * How long a partial batch may wait for more orders (ms). Default 50; 1000 with a large `batch` sends one batch a
   * second, so the live totals change once a second.
   */
  lingerMs?: number;
}

export interface OrderFeed {
  /** Orders handed to the ingest client so far. */
  readonly sent: number;
  /** Stops sending, waits for every batch's ack, closes the connection; the simulator's exact totals. */
  stop(): Promise<ExpectedTotals>;
}

const TICK_MS = 10;

export async function startOrderFeed(o: OrderFeedOptions): Promise<OrderFeed> {
  const sim = createSimulator({
    seed: o.seed ?? 7,
    show: o.show,
    startMs: o.startMs ?? Date.now(),
    peakPerSecond: o.peakPerSecond,
    speed: o.speed ?? 1,
    resendRate: 0,
    malformedRate: 0,
    idPrefix: o.idPrefix,
  });
  const client = createIngestClient({ url: `ws://127.0.0.1:${o.ingestPort}/v1/ingest`, token: o.token ?? TEST_TOKEN, window: 8 });
  await client.ready();
  const batch = o.batch ?? 200;
  const linger = o.lingerMs ?? 50;
  let stopping = false;
  let failure: unknown = null;
  const t0 = performance.now();
  const loop = (async () => {
    let n = 0;
    let lastSendAt = 0;
    while (!stopping) {
      const now = performance.now() - t0;
      const due = sim.dueBy(now, batch);
      if (due === 0 || (due < batch && now - lastSendAt < linger)) {
        await sleep(TICK_MS);
        continue;
      }
      const id = `${o.idPrefix}-b${++n}`;
      await client.send(id, sim.nextFrame(id, due), due);
      lastSendAt = performance.now() - t0;
    }
  })().catch((e: unknown) => {
    failure = e;
  });
  return {
    get sent() {
      return sim.emitted;
    },
    async stop() {
      stopping = true;
      await loop;
      await client.drain();
      await client.close();
      if (failure !== null) throw failure;
      return sim.expected();
    },
  };
}
