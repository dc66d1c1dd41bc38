// The wiring against the whole system (embedded ClickHouse, real sockets): the roles built before the live channel
// reach it by subscription, so a graphic's change and an overlay's health report arrive as topic updates.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isMessageOf, type ServerMessage } from '../protocol/live-protocol.ts';
import { startTestSystem } from '../test-support/system-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A live-channel subscriber; `next` resolves with the first message, already received or to come, that matches. */
async function subscriber(port: number, topics: string[]) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/live?token=test-producer-token`);
  const got: ServerMessage[] = [];
  const waiting: { ok: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as ServerMessage;
    got.push(m);
    for (const w of waiting.filter((x) => x.ok(m))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(m);
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'subscribe', topics }));
  const next = (ok: (m: ServerMessage) => boolean) => new Promise<ServerMessage>((resolve) => {
    const seen = got.find(ok);
    if (seen !== undefined) resolve(seen);
    else waiting.push({ ok, resolve });
  });
  return { ws, next };
}

describe('start-system wiring', () => {
  it('publishes graphics changes and overlay health on the live channel, built after them', async () => {
    const s = await startTestSystem();
    cleanups.push(s.cleanup);
    const sub = await subscriber(s.system.httpPort, ['graphics', 'overlays']);
    await sub.next((m) => m.type === 'snapshot' && m.topic === 'graphics');
    await sub.next((m) => m.type === 'snapshot' && m.topic === 'overlays');

    s.system.graphics.command('lowerthird', 'play', { title: 'Wired' });
    const g = await sub.next((m) => m.type === 'update' && m.topic === 'graphics');
    if (!isMessageOf(g, 'graphics')) throw new Error('expected a graphics message');
    expect(g.data).toMatchObject({ name: 'lowerthird', visible: true, data: { title: 'Wired' } });

    sub.ws.send(JSON.stringify({ op: 'report', report: { overlay: 'counter', instance: 'wired-1', fps: 60 } }));
    const o = await sub.next((m) => m.type === 'update' && m.topic === 'overlays');
    if (!isMessageOf(o, 'overlays')) throw new Error('expected an overlays message');
    expect(o.data.overlays.map((x) => [x.instance, x.connected])).toEqual([['wired-1', true]]);
    sub.ws.close();
  });
});
