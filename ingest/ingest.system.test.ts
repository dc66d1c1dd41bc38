// The ingest contract end to end on the embedded engine: auth, validation, acks, de-duplication, exact totals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Ack } from '../domain/order.ts';
import { connectIngest, startTestSystem, storedSums, TEST_TOKEN } from '../test-support/system-harness.ts';
import { LATEST_SCHEMA_VERSION } from '../storage/schema.ts';
import type { RunningSystem } from '../system/start-system.ts';
import { unchangedFor, until } from '../test-support/until.ts';

let system: RunningSystem;
let cleanup: () => Promise<void>;
const TS = Date.UTC(2026, 10, 10, 16, 0, 0); // 2026-11-11 00:00 in Beijing

beforeAll(async () => {
  ({ system, cleanup } = await startTestSystem({}, { ingest: { maxBackpressureBytes: 256 * 1024 } }));
});
afterAll(async () => {
  await cleanup();
});

const stats = async () => (await (await fetch(`http://127.0.0.1:${system.httpPort}/v1/stats`)).json()) as Record<string, unknown>;
const order = (id: string, amount: unknown, currency = 'CNY', channel = 'mobile', extra: Record<string, unknown> = {}) => ({ id, ts: TS, amount, currency, channel, ...extra });
const post = (body: string, token: string | null = TEST_TOKEN) =>
  fetch(`http://127.0.0.1:${system.ingestPort}/v1/orders`, { method: 'POST', body, headers: token === null ? {} : { Authorization: `Bearer ${token}` } });

describe('authentication', () => {
  it('refuses a WebSocket without a token or with a wrong one with HTTP 401', async () => {
    await expect(connectIngest(system.ingestPort, null)).rejects.toThrow('HTTP 401');
    await expect(connectIngest(system.ingestPort, 'wrong')).rejects.toThrow('HTTP 401');
  });
  it('accepts any of the configured tokens, in the header or the query', async () => {
    const c = await connectIngest(system.ingestPort, 'second-token');
    c.close();
    const ws = new WebSocket(`ws://127.0.0.1:${system.ingestPort}/v1/ingest?token=${TEST_TOKEN}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
  });
  it('refuses HTTP ingest and metrics without a token', async () => {
    expect((await post('{}', null)).status).toBe(401);
    expect((await post('{}', 'nope')).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${system.ingestPort}/metrics`)).status).toBe(401);
  });
});

describe('batches and acks', () => {
  it('sums exactly across currencies with half-even conversion', async () => {
    const before = await stats();
    expect(before.gmv).toBe('0.00');
    const c = await connectIngest(system.ingestPort);
    const ack = (await c.send(JSON.stringify({
      batch: 'b-exact',
      orders: [order('x-1', '100.00'), order('x-2', 17.5), order('x-3', '10.05', 'USD', 'desktop'), order('x-4', '1000', 'JPY', 'tv')],
    }))) as Ack;
    expect(ack).toEqual({ batch: 'b-exact', accepted: 4, duplicates: 0, rejected: [] });
    const s = await stats();
    // 117.50 CNY + round_half_even(10.05 * 7.12 = 71.556) + round_half_even(1000 * 0.0471 = 47.1)
    expect(s.gmv).toBe('236.16');
    expect(s.orders).toBe(4);
    expect(s.currency).toBe('CNY');
    expect(s.mobileShare).toBeCloseTo(117.5 / 236.16, 5);
    expect(typeof s.asOf).toBe('string');
    c.close();
  });

  it('answers every kind of bad order by index with the field and rule, and stores none of them', async () => {
    const c = await connectIngest(system.ingestPort);
    const before = await stats();
    const bad = [
      { ts: TS, amount: '1', currency: 'CNY', channel: 'mobile' },
      order('has space', '1'),
      order('b-2', '1.234'),
      order('b-3', '-5'),
      order('b-4', '0'),
      order('b-5', '10000000.01'),
      order('b-6', '5', 'XYZ'),
      order('b-7', '5', 'CNY', 'fax'),
      { ...order('b-8', '5'), ts: 'yesterday' },
      order('b-9', '5', 'CNY', 'mobile', { brand: 'x'.repeat(65) }),
      order('b-10', { v: 1 }),
      42,
    ];
    const ack = (await c.send(JSON.stringify({ batch: 'b-bad', orders: [order('good-1', '1.00'), ...bad] }))) as Ack;
    expect(ack.accepted).toBe(1);
    expect(ack.duplicates).toBe(0);
    expect(ack.rejected.map((r) => [r.index, r.error.split(':')[0]])).toEqual([
      [1, 'id'], [2, 'id'], [3, 'amount'], [4, 'amount'], [5, 'amount'], [6, 'amount'], [7, 'currency'], [8, 'channel'], [9, 'ts'], [10, 'brand'], [11, 'amount'], [12, 'order'],
    ]);
    expect(ack.rejected[2]).toEqual({ index: 3, id: 'b-2', error: 'amount: at most 2 fraction digits' });
    expect(ack.accepted + ack.duplicates + ack.rejected.length).toBe(13);
    const after = await stats();
    expect(after.orders).toBe((before.orders as number) + 1);
    c.close();
  });

  it('counts a resent order once, within a batch, across batches and across connections', async () => {
    const a = await connectIngest(system.ingestPort);
    const b = await connectIngest(system.ingestPort, 'second-token');
    const before = await stats();
    const first = (await a.send(JSON.stringify({ batch: 'r-1', orders: [order('r-1', '2.00'), order('r-1', '2.00'), order('r-2', '3.00')] }))) as Ack;
    expect(first).toMatchObject({ accepted: 2, duplicates: 1 });
    const [again, other] = (await Promise.all([
      a.send(JSON.stringify({ batch: 'r-1', orders: [order('r-1', '2.00'), order('r-2', '3.00')] })),
      b.send(JSON.stringify({ batch: 'r-x', orders: [order('r-2', '3.00'), order('r-3', '4.00')] })),
    ])) as Ack[];
    expect(again).toMatchObject({ batch: 'r-1', accepted: 0, duplicates: 2 });
    expect(other).toMatchObject({ batch: 'r-x', accepted: 1, duplicates: 1 });
    const after = await stats();
    expect(after.orders).toBe((before.orders as number) + 3);
    a.close();
    b.close();
  });

  it('answers frames that are not batches with an error and stores nothing', async () => {
    const c = await connectIngest(system.ingestPort);
    const before = await stats();
    expect(await c.send('not json', null)).toEqual({ batch: null, error: 'frame: not valid JSON' });
    expect(await c.send(Buffer.from('{"batch":"x","orders":[]}'), null)).toMatchObject({ batch: null, error: expect.stringContaining('binary') });
    expect(await c.send('{"batch":"e-1","orders":"no"}')).toEqual({ batch: 'e-1', error: 'orders: must be an array' });
    const big = { batch: 'too-many', orders: Array.from({ length: 10_001 }, (_, i) => order(`big-${i}`, '1.00')) };
    expect(await c.send(JSON.stringify(big))).toEqual({ batch: 'too-many', error: 'orders: at most 10000 orders per batch (got 10001)' });
    const after = await stats();
    expect(after.orders).toBe(before.orders);
    expect(after.gmv).toBe(before.gmv);
    c.close();
  });

  it('serves the same contract over HTTP POST /v1/orders', async () => {
    const ok = await post(JSON.stringify({ batch: 'h-1', orders: [order('h-1', '5.00'), order('h-1', '5.00'), order('h-2', '1.001')] }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ batch: 'h-1', accepted: 1, duplicates: 1, rejected: [{ index: 2, id: 'h-2', error: 'amount: at most 2 fraction digits' }] });
    const bad = await post('{"batch": 5}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ batch: null, error: 'batch: must be a string of 1 to 64 characters' });
    const huge = await post(`{"batch":"huge","orders":[${'{"id":"x"},'.repeat(1_700_000)}{}]}`);
    expect(huge.status).toBe(413);
  });
});

describe('a client that never reads its acks', () => {
  it('stops being read at the backpressure limit while others are served, and loses nothing', async () => {
    const c = await connectIngest(system.ingestPort);
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause(); // stop reading: acks pile up on the server
    let answers = 0;
    c.ws.on('message', () => answers++);
    const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
    const acked = async () => (await system.metrics.render()).match(/gala_ingest_batches_total\{answer="ack"\} (\d+)/)?.[1];
    const before = Number((await acked()) ?? 0);
    // Each ack of 2,000 rejected orders is ~150 kB: far more than the 256 kB limit plus kernel buffers.
    const SENT = 150;
    const frame = (i: number) => JSON.stringify({ batch: `slow-${i}`, orders: Array.from({ length: 2000 }, (_, j) => order(`s-${i}-${j}`, '1.001')) });
    for (let i = 0; i < SENT; i++) c.ws.send(frame(i));
    // The server answers until the unread acks reach the limit, then takes no more work from it: waited for as
    // that standstill (no ack for a whole second), however long a loaded machine takes to get there. Its memory
    // for this client is bounded by the limit.
    const still = unchangedFor<number>(1000);
    const stalledAt = await until('the acks to stall', async () => Number(await acked()) - before, (n) => n > 0 && still(n), { everyMs: 100 });
    expect(stalledAt).toBeLessThan(SENT);
    const other = await connectIngest(system.ingestPort);
    expect(await other.send(JSON.stringify({ batch: 'fast', orders: [order('fast-1', '1.00')] }))).toMatchObject({ accepted: 1 });
    other.close();
    // Once it reads again it gets every answer, or is disconnected and resends: nothing is silently dropped.
    socket.resume();
    await Promise.race([closed, (async () => { while (answers < SENT) await new Promise((r) => setTimeout(r, 50)); })()]);
    if (answers < SENT) expect(c.ws.readyState).toBe(WebSocket.CLOSED);
    c.close();
  });
});

describe('metrics', () => {
  it('exposes counters, the commit histogram, buffer fill and connections in Prometheus text', async () => {
    const res = await fetch(`http://127.0.0.1:${system.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/gala_ingest_orders_total\{outcome="accepted"\} \d+/);
    expect(text).toMatch(/gala_ingest_orders_total\{outcome="duplicate"\} [1-9]/);
    expect(text).toMatch(/gala_ingest_orders_total\{outcome="rejected"\} [1-9]/);
    expect(text).toMatch(/gala_ingest_commit_seconds_count [1-9]/);
    expect(text).toMatch(/gala_ingest_inserts_total\{result="ok"\} [1-9]/);
    expect(text).toContain('gala_ingest_buffer_fill_ratio');
    expect(text).toContain('gala_ingest_connections');
    expect(text).toContain('gala_dedup_window_seconds 600');
    // The engine's background work, sampled from its system tables (the first sample is taken at start).
    expect(text).toMatch(/^gala_storage_parts\{table="gala_schema_migrations"\} [1-9]\d*$/m);
    expect(text).toMatch(new RegExp(`^gala_storage_rows\\{table="gala_schema_migrations"\\} ${LATEST_SCHEMA_VERSION}$`, 'm'));
    expect(text).toMatch(/^gala_storage_merges_running \d+$/m);
    expect(text).toMatch(/^gala_storage_merged_bytes_total \d+$/m);
    // Time spent in each storage call: the inserts of the batches above, and the start-up reads.
    expect(text).toMatch(/^gala_storage_calls_total\{call="insertOrders"\} [1-9]\d*$/m);
    expect(Number(/^gala_storage_call_seconds_total\{call="insertOrders"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^gala_storage_calls_total\{call="insertDerived"\} [1-9]\d*$/m);
    expect(text).toMatch(/^gala_storage_calls_total\{call="fingerprintsSince"\} 1$/m);
  });
});

describe('storage agrees with the live totals', () => {
  it('matches SELECT sum() to the minor unit per currency', async () => {
    await system.committer.whenIdle();
    const { byCurrency: sql, orders } = await storedSums(system.store);
    expect(new Map(system.totals.currencySums())).toEqual(sql);
    expect(system.totals.orders).toBe(orders);
  });
});


describe('text encodings', () => {
  it('keeps non-ASCII text exact and refuses invalid UTF-8', async () => {
    const c = await connectIngest(system.ingestPort);
    const ack = (await c.send(JSON.stringify({ batch: 'utf8', orders: [order('u8-1', '9.99', 'CNY', 'mobile', { brand: '李宁', region: '浙江' })] }))) as Ack;
    expect(ack.accepted).toBe(1);
    const bad = Buffer.concat([Buffer.from('{"batch":"bad-utf8","orders":[{"id":"x","brand":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
    // A text frame with invalid UTF-8 is a protocol error under RFC 6455: the socket may be closed instead.
    const answer = new Promise((r) => {
      c.ws.once('message', (d) => r(JSON.parse(String(d))));
      c.ws.once('close', () => r('closed'));
    });
    c.ws.send(bad, { binary: false });
    const got = await answer;
    expect(got === 'closed' || (got as { error?: string }).error === 'frame: not valid UTF-8').toBe(true);
    const s = await stats();
    expect(JSON.stringify(s)).not.toContain('bad-utf8');
    c.close();
  });
});
