// The replay's clock and controls against a recording WebSocket endpoint: orders are paid when sent (ts is wall
// time, not the show's simulated instant), the simulated clock follows the speed, pause stops the stream, restart
// replays the night with new ids, and a bad speed is refused with the rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { DEFAULT_SHOW_FILE, loadShow } from '../../cli/config.ts';
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
    await sleep(1500);
    const v1 = replay.view();
    const elapsed = Date.now() - t0;
    // 1.5 s at 50x is 75 simulated seconds; a busy machine may lag, never run ahead.
    expect(v1.simMs).toBeLessThanOrEqual(elapsed * 50 + 3000); // plus at most one step between orders
    expect(v1.simMs).toBeGreaterThan(20_000);
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
    await sleep(200);
    const p0 = replay.view();
    await sleep(400);
    const p1 = replay.view();
    expect([p1.phase, p1.sent, p1.simMs]).toEqual(['paused', p0.sent, p0.simMs]);
    expect(p1.acked).toBe(p1.sent);
    expect(seen.length).toBe(p1.sent);

    replay.setSpeed(10);
    replay.resume();
    const r0 = Date.now();
    await sleep(1000);
    const r1 = replay.view();
    expect(r1.simMs - p1.simMs).toBeLessThanOrEqual((Date.now() - r0) * 10 + 100);
    expect(r1.simMs - p1.simMs).toBeGreaterThan(2000);

    replay.restart();
    expect(replay.view()).toMatchObject({ run: 2, phase: 'running' });
    expect(replay.view().simMs).toBeLessThan(r1.simMs);
    await sleep(800);
    expect(seen.some((s) => s.id.includes('-r2-'))).toBe(true);
    expect(new Set(seen.map((s) => s.id)).size).toBeGreaterThan(seen.length * 0.95);
    expect(logged.some((l) => l.startsWith('rehearsal.replay') && l.includes('"why":"restart"'))).toBe(true);
  });
});
