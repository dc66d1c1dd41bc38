// A process killed between a group's orders insert and its derived rows' insert: the next start puts the rollups
// and side-table rows in from the orders table, so boards and products count every stored order once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';

const dirs: string[] = [];
const procs: GalaProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ORDERS = 300;
const brandOf = (j: number) => `Brand-${j % 4}`;
const skuOf = (j: number) => `SKU-${j % 5}`;
function frame(): string {
  const ts = Date.now() - 5_000;
  const orders = Array.from({ length: ORDERS }, (_, j) => ({
    id: `dc-${j}`, ts: ts + j, amount: `${(j % 9) + 1}.${String(j % 100).padStart(2, '0')}`, currency: 'CNY', channel: 'mobile',
    brand: brandOf(j), sku: skuOf(j), region: j % 2 === 0 ? 'Zhejiang' : 'Jiangsu',
  }));
  return JSON.stringify({ batch: 'dc-1', orders });
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('killed between the orders insert and the derived insert', () => {
  it('repairs the rollups at the next start: boards and products count every stored order once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gala-derived-crash-'));
    dirs.push(dir);
    const first = await startGalaProcess(['--data', dir], { GALA_TEST_KILL_AFTER_ORDERS_INSERT: '1' });
    procs.push(first);
    const ws = new WebSocket(`ws://127.0.0.1:${first.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    ws.send(frame());
    // The hook kills the process the moment its orders insert returns: no ack, no derived rows.
    await first.exited;
    ws.terminate();

    const second = await startGalaProcess(['--data', dir]);
    procs.push(second);
    const http = `http://127.0.0.1:${second.httpPort}`;
    const stats = (await (await fetch(`${http}/v1/stats`)).json()) as { orders: number };
    expect(stats.orders).toBe(ORDERS);
    await until('repair log', async () => second.stderr(), (t) => t.includes('restore.derived_checked'), 5_000);
    const line = second.stderr().split('\n').find((l) => l.includes('restore.derived_checked'))!;
    expect(line).toContain(`"gala_order_fps":${ORDERS}`);
    expect(line).toContain('"gala_agg_key_total":');

    const brands = await until(
      'brands board',
      async () => ((await (await fetch(`${http}/v1/leaderboards/brands?window=night`)).json()) as { entries: { key: string; orders: number }[] }).entries,
      (e) => e.length === 4,
    );
    const expected = new Map<string, number>();
    for (let j = 0; j < ORDERS; j++) expected.set(brandOf(j), (expected.get(brandOf(j)) ?? 0) + 1);
    expect(Object.fromEntries(brands.map((b) => [b.key, b.orders]))).toEqual(Object.fromEntries(expected));
    const product = (await (await fetch(`${http}/v1/products/SKU-0`)).json()) as { units: number };
    expect(product.units).toBe(ORDERS / 5);

    // A clean stop now: the next start has nothing to repair.
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
