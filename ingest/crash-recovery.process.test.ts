// kill -9 mid-stream and graceful SIGTERM, on the real `gala serve` process with its embedded engine.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Ack, FrameError } from '../domain/order.ts';
import { DEFAULT_TMPFS, spoolDirOf } from '../storage/chdb/insert-spool.ts';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';

const dirs: string[] = [];
const procs: GalaProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const TS = Date.UTC(2026, 10, 10, 16, 0, 0);
const ORDERS_PER_BATCH = 500;
/** Deterministic batches: batch i holds orders k-i-0 .. k-i-499 of (i % 7 + 1).(j % 100) CNY. */
function batch(i: number): string {
  const orders = Array.from({ length: ORDERS_PER_BATCH }, (_, j) => ({
    id: `k-${i}-${j}`, ts: TS + i, amount: `${(i % 7) + 1}.${String(j % 100).padStart(2, '0')}`, currency: 'CNY', channel: j % 10 === 0 ? 'desktop' : 'mobile',
  }));
  return JSON.stringify({ batch: `kb-${i}`, orders });
}
function expectedHundredths(batches: number): bigint {
  let h = 0n;
  for (let i = 0; i < batches; i++) for (let j = 0; j < ORDERS_PER_BATCH; j++) h += BigInt(((i % 7) + 1) * 100 + (j % 100));
  return h;
}
const fmt = (h: bigint) => `${h / 100n}.${String(h % 100n).padStart(2, '0')}`;

/** Streams batches [from, to) with a window of 8 in flight; records every answer by batch id. */
function stream(port: number, from: number, to: number, answers: Map<string, Ack | FrameError>, stopAfterAcks = Infinity): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    let next = from;
    let inflight = 0;
    let acks = 0;
    const pump = () => {
      while (inflight < 8 && next < to && acks < stopAfterAcks) {
        ws.send(batch(next++));
        inflight++;
      }
      if (inflight === 0 && (next >= to || acks >= stopAfterAcks)) ws.close();
    };
    ws.on('open', pump);
    ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      answers.set(a.batch!, a);
      inflight--;
      if ('accepted' in a) acks++;
      pump();
    });
    ws.on('close', () => resolve());
    ws.on('error', () => resolve());
  });
}

const getStats = async (p: GalaProcess) => (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/stats`)).json()) as { gmv: string; orders: number };

// Each test starts the real process two or three times and streams through it: about 20 s alone, several times
// that on a machine shared with other suites, so the timeouts bound a hang rather than the machine's speed.
describe('crash and restart', () => {
  it('loses nothing acknowledged and counts nothing twice across kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gala-crash-'));
    dirs.push(dir);
    const first = await startGalaProcess(['--data', dir]);
    procs.push(first);
    const answers = new Map<string, Ack | FrameError>();
    const TOTAL = 120;
    // Kill while batches are in flight: after 40 acks, with up to 8 more sent and unanswered.
    const streaming = stream(first.ingestPort, 0, TOTAL, answers, 40);
    await until('40 acks', () => [...answers.values()].filter((a) => 'accepted' in a).length >= 40, { everyMs: 5 });
    first.proc.kill('SIGKILL');
    await first.exited;
    await streaming;
    const acked = [...answers.values()].filter((a): a is Ack => 'accepted' in a);
    const ackedOrders = acked.reduce((n, a) => n + a.accepted, 0);
    expect(ackedOrders).toBeGreaterThanOrEqual(40 * ORDERS_PER_BATCH);

    const second = await startGalaProcess(['--data', dir]);
    procs.push(second);
    // The start after a crash compares the view-filled tables with the orders table (its log line is written
    // before the listening lines, but stderr and stdout are separate pipes: wait for it to arrive).
    await until('restore.derived_checked in the log', () => second.stderr().includes('restore.derived_checked'));
    // Inserts go through tmpfs files, and whatever file the killed process had in flight is gone.
    expect(second.stderr()).toMatch(/"event":"storage.insert-route","route":"tmpfs file"/);
    expect(readdirSync(spoolDirOf(DEFAULT_TMPFS, dir)).filter((f) => f.startsWith(`${first.proc.pid}-`))).toEqual([]);
    const restarted = await getStats(second);
    // Everything acknowledged survived; a batch committed but not yet acked may be there too.
    expect(restarted.orders).toBeGreaterThanOrEqual(ackedOrders);

    // The client resends every batch it has no ack for, and then the rest of the night.
    const resend = new Map<string, Ack | FrameError>();
    await stream(second.ingestPort, 0, TOTAL, resend);
    const acks = [...resend.values()].filter((a): a is Ack => 'accepted' in a);
    expect(acks.length).toBe(TOTAL);
    const dupes = acks.reduce((n, a) => n + a.duplicates, 0);
    expect(dupes).toBe(restarted.orders);
    const final = await getStats(second);
    expect(final.orders).toBe(TOTAL * ORDERS_PER_BATCH);
    expect(final.gmv).toBe(fmt(expectedHundredths(TOTAL)));
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);

  it('answers every in-flight batch on SIGTERM, exits 0, and keeps what it acknowledged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gala-term-'));
    dirs.push(dir);
    const p = await startGalaProcess(['--data', dir]);
    procs.push(p);
    const ws = new WebSocket(`ws://127.0.0.1:${p.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } });
    await new Promise((r) => ws.once('open', r));
    const answers: (Ack | FrameError)[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(String(d)) as Ack | FrameError));
    const closed = new Promise((r) => ws.once('close', r));
    for (let i = 0; i < 20; i++) ws.send(batch(i));
    // Signalled once the server is at work on them (its first answer), with the rest in flight: 30 ms after
    // sending, a loaded server had not always read a single frame, and a frame it never read has no answer.
    await until('the first answer', () => answers.length > 0, { everyMs: 5 });
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    await closed;
    // Every batch the server had received got its answer before the socket closed.
    expect(answers.length).toBe(20);
    const ackedOrders = answers.filter((a): a is Ack => 'accepted' in a).reduce((n, a) => n + a.accepted, 0);
    expect(ackedOrders).toBeGreaterThan(0);
    const again = await startGalaProcess(['--data', dir]);
    procs.push(again);
    expect((await getStats(again)).orders).toBe(ackedOrders);
    // After a clean stop there is nothing to check. (restore.done comes after the check would have been logged.)
    await until('restore.done in the log', () => again.stderr().includes('restore.done'));
    expect(again.stderr()).not.toContain('restore.derived_checked');
    again.proc.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 180_000);
});
