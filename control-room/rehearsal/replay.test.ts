// The replay's clock and controls against a recording WebSocket endpoint: orders are paid when sent (ts is wall
// time, not the show's simulated instant), the simulated clock follows the speed, pause stops the stream, restart
// replays the night with new ids, and a bad speed is refused with the rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { DEFAULT_SHOW_FILE, loadShow } from '../../cli/config.ts';
import { until } from '../../test-support/until.ts';
import { ControlError } from '../control-error.ts';
import { createReplay, type Replay } from './replay.ts';

interface Seen {
  id: string;
  ts: unknown;
  at: number;
}
const seen: Seen[] = [];
let wss: WebSocketServer;
let replay: Replay;
const logged: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) =>
    ws.on('message', (d) => {
      const b = JSON.parse(String(d)) as { batch: string; orders: { id?: string; ts?: unknown }[] };
      const at = Date.now();
      for (const o of b.orders) seen.push({ id: String(o.id), ts: o.ts, at });
      ws.send(JSON.stringify({ batch: b.batch, accepted: b.orders.length, duplicates: 0, rejected: [] }));
    }),
  );
  const port = (wss.address() as { port: number }).port;
  replay = createReplay({ url: `ws://127.0.0.1:${port}/v1/ingest`, token: 't', show: loadShow(DEFAULT_SHOW_FILE), speed: 50, rate: 40, seed: 3, nightMs: null, log: (e, f) => logged.push(`${e} ${JSON.stringify(f)}`) });
});
afterAll(async () => {
  await replay?.close();
  await new Promise((r) => wss?.close(r));
});

describe('replay', () => {
  it('sends the night paid now, its simulated clock at the speed; pause, speed, resume, restart', async () => {
    expect(replay.view()).toMatchObject({ phase: 'ready', sent: 0, simClock: '00:00:00' });
    const t0 = Date.now();
    replay.start();
    const v1 = await until('20 simulated seconds and 50 orders', () => replay.view(), (v) => v.simMs > 20_000 && seen.length > 50, { everyMs: 20 });
    const elapsed = Date.now() - t0;
    // At 50x, timed over however long that took: never ahead of the speed (plus at most one step between orders),
    // and not a fraction of it either (a busy machine lags, but not to a quarter: 10x would fail).
    expect(v1.simMs).toBeLessThanOrEqual(elapsed * 50 + 3000);
    expect(v1.simMs).toBeGreaterThanOrEqual((elapsed * 50) / 4);
    const [h, m, sec] = v1.simClock.split(':').map(Number);
    expect(h! * 3600 + m! * 60 + sec!).toBe(Math.floor(v1.simMs / 1000));
    expect(seen.length).toBeGreaterThan(50);
    for (const s of seen) {
      // The night's orders malformed through their ts stay malformed; every other is paid when its batch is sent
      // (the simulator alone would stamp them with the show's midnight, 2026-11-11, before t0).
      if (typeof s.ts !== 'number' || s.ts < 1e12) continue;
      expect(s.ts).toBeGreaterThanOrEqual(t0);
      expect(s.ts).toBeLessThanOrEqual(s.at);
    }

    expect(() => replay.setSpeed(101)).toThrow(new ControlError(400, 'speed: must be a number from 1 to 100 (got 101)'));
    expect(() => replay.setSpeed(Number.NaN)).toThrow(/^speed: must be a number/);
    expect(() => replay.start()).toThrow('rehearsal: cannot start while the replay is running');

    replay.pause();
    // What was in flight is answered; then, over a while, nothing moves.
    const p0 = await until('in-flight batches acked', () => replay.view(), (v) => v.inFlight === 0);
    await sleep(400);
    const p1 = replay.view();
    expect([p1.phase, p1.sent, p1.simMs]).toEqual(['paused', p0.sent, p0.simMs]);
    expect(p1.acked).toBe(p1.sent);
    expect(seen.length).toBe(p1.sent);

    replay.setSpeed(10);
    replay.resume();
    const r0 = Date.now();
    const r1 = await until('2 simulated seconds at 10x', () => replay.view(), (v) => v.simMs - p1.simMs > 2000, { everyMs: 20 });
    const resumedFor = Date.now() - r0;
    expect(r1.simMs - p1.simMs).toBeLessThanOrEqual(resumedFor * 10 + 100);
    expect(r1.simMs - p1.simMs).toBeGreaterThanOrEqual((resumedFor * 10) / 4);

    replay.restart();
    expect(replay.view()).toMatchObject({ run: 2, phase: 'running' });
    expect(replay.view().simMs).toBeLessThan(r1.simMs);
    await until('orders of the second run', () => seen.some((s) => s.id.includes('-r2-')));
    expect(new Set(seen.map((s) => s.id)).size).toBeGreaterThan(seen.length * 0.95);
    expect(logged.some((l) => l.startsWith('rehearsal.replay') && l.includes('"why":"restart"'))).toBe(true);
  });
});
