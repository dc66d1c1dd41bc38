// Starts the whole system in-process on a fresh embedded data directory, for integration tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { DEFAULT_SHOW_FILE, loadShow, type ServeConfig } from '../cli/config.ts';
import type { Ack, FrameError } from '../domain/order.ts';
import type { OrderStore } from '../storage/storage.ts';
import { createLog } from '../platform/log.ts';
import { startSystem, type RunningSystem, type StartOptions } from '../system/start-system.ts';

export const TEST_TOKEN = 'test-ingest-token';

export function testConfig(over: Partial<ServeConfig> = {}): ServeConfig {
  return {
    httpPort: 0,
    ingestPort: 0,
    host: '127.0.0.1',
    dataDir: over.dataDir ?? mkdtempSync(join(tmpdir(), 'gala-test-')),
    clickhouseUrl: null,
    show: loadShow(DEFAULT_SHOW_FILE),
    showFile: DEFAULT_SHOW_FILE,
    ingestTokens: [TEST_TOKEN, 'second-token'],
    producerTokens: ['test-producer-token'],
    obsUrl: null,
    obsPassword: null,
    dedupWindowMs: 600_000,
    dedupMaxEntries: 10_000_000,
    dedupExpectedPerSecond: 0,
    reconcileIntervalMs: 5000,
    publicRatePerSecond: 0,
    publicBurst: 100,
    staleSeconds: 10,
    ...over,
  };
}

export async function startTestSystem(over: Partial<ServeConfig> = {}, opts: StartOptions = {}): Promise<{ system: RunningSystem; cfg: ServeConfig; cleanup: () => Promise<void> }> {
  const cfg = testConfig(over);
  // GALA_TEST_LOG=1 shows the system's structured log while debugging a test.
  const log = process.env.GALA_TEST_LOG === '1' ? createLog('test') : undefined;
  const system = await startSystem(cfg, { flushIntervalMs: 20, log, ...opts });
  return {
    system,
    cfg,
    cleanup: async () => {
      await system.close();
      if (over.dataDir === undefined) rmSync(cfg.dataDir, { recursive: true, force: true });
    },
  };
}

export type Answer = Ack | FrameError;

/**
 * A bare ingest WebSocket for protocol tests. Answers are matched by batch id (acks may overtake each other:
 * a batch of only rejected orders is answered at once); answers without a batch id are matched in order.
 */
export async function connectIngest(port: number, token: string | null = TEST_TOKEN): Promise<{ ws: WebSocket; send: (frame: string | Buffer, batch?: string | null) => Promise<Answer>; close: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest`, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const byBatch = new Map<string, ((a: Answer) => void)[]>();
  const anonymous: ((a: Answer) => void)[] = [];
  ws.on('message', (data) => {
    const a = JSON.parse(String(data)) as Answer;
    const q = a.batch === null ? anonymous : byBatch.get(a.batch);
    q?.shift()?.(a);
  });
  return {
    ws,
    send: (frame, batch) =>
      new Promise<Answer>((resolve) => {
        const id = batch !== undefined ? batch : typeof frame === 'string' ? ((JSON.parse(frame) as { batch?: string }).batch ?? null) : null;
        if (id === null) anonymous.push(resolve);
        else {
          const q = byBatch.get(id) ?? [];
          q.push(resolve);
          byBatch.set(id, q);
        }
        ws.send(frame, { binary: typeof frame !== 'string' });
      }),
    close: () => ws.close(),
  };
}

/** What a SELECT over the orders table holds: sums per currency in hundredths, and the order count. */
export async function storedSums(store: OrderStore): Promise<{ byCurrency: Map<string, bigint>; orders: number }> {
  const byCurrency = new Map<string, bigint>();
  let orders = 0;
  for (const r of await store.totals()) {
    byCurrency.set(r.currency, (byCurrency.get(r.currency) ?? 0n) + r.hundredths);
    orders += r.orders;
  }
  return { byCurrency, orders };
}
