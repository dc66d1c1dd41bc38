// The live state channel and the public feed against the whole system (embedded ClickHouse, real sockets):
// snapshot then updates with a forced gap, a subscriber that never reads, milestones across a restart,
// ETag/304, rate-limit fields, SSE resume, staleness and drift.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fingerprint } from '../domain/fingerprint.ts';
import { parseShowConfig } from '../domain/show.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import { MILESTONES_TABLE } from '../storage/schema.ts';
import { connectIngest, startTestSystem, storedSums } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import { isMessageOf, LiveClient, type ServerMessage, type SocketLike, type Topic } from '../protocol/live-protocol.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function system(over: Parameters<typeof startTestSystem>[0] = {}, opts: Parameters<typeof startTestSystem>[1] = {}) {
  const s = await startTestSystem(over, opts);
  cleanups.push(s.cleanup);
  return s;
}

let seq = 0;
function orders(n: number, over: Record<string, unknown> = {}, tsOf: (i: number) => number = () => Date.now() - 500) {
  return Array.from({ length: n }, (_, i) => ({ id: `lv-${++seq}`, ts: tsOf(i), amount: '100.00', currency: 'CNY', channel: 'mobile', brand: 'Acme', sku: 'A-1', region: 'Zhejiang', ...over }));
}

/** A raw subscriber: every message it got, in order. */
async function subscriber(port: number, topics: Topic[], token?: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/live${token ? `?token=${token}` : ''}`);
  const got: ServerMessage[] = [];
  ws.on('message', (d) => got.push(JSON.parse(String(d)) as ServerMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'subscribe', topics }));
  return { ws, got, of: <T extends Topic>(topic: T) => got.filter((m) => isMessageOf(m, topic)) };
}

describe('live state channel', () => {
  it('sends a snapshot at once, then updates rev + 1; a client that misses one resyncs from a fresh snapshot', async () => {
    const { system: s } = await system();
    const ingest = await connectIngest(s.ingestPort);
    await ingest.send(JSON.stringify({ batch: 'warm', orders: orders(3) }));

    // A LiveClient whose socket loses the first `totals` update after its snapshot: a revision gap.
    const applied: { type: string; rev: number; gmv: string }[] = [];
    let dropOne = true;
    const client = new LiveClient({
      url: `ws://127.0.0.1:${s.httpPort}/v1/live`,
      connect: (url) => {
        const ws = new WebSocket(url) as unknown as SocketLike & { on: WebSocket['on'] };
        const real = { onmessage: null as SocketLike['onmessage'] };
        Object.defineProperty(ws, 'onmessage', {
          set: (fn: SocketLike['onmessage']) => (real.onmessage = fn),
          get: () => real.onmessage,
        });
        (ws as unknown as WebSocket).on('message', (d) => {
          const text = String(d);
          const m = JSON.parse(text) as ServerMessage;
          if (dropOne && m.type === 'update' && m.topic === 'totals') {
            dropOne = false;
            return; // lost on the way
          }
          real.onmessage?.({ data: text });
        });
        return ws;
      },
    });
    client.subscribe('totals', (m) => applied.push({ type: m.type, rev: m.rev, gmv: m.data.gmv }));
    client.start();
    await until('first snapshot', () => applied.length >= 1);
    expect(applied[0]!.type).toBe('snapshot');
    expect(applied[0]!.gmv).toBe('300.00');

    // Three updates, each published before the next order goes in (totals go out at most every 250 ms, so orders
    // sent closer together could share one update, and the lost one would leave no gap to see).
    for (let k = 0; k < 3; k++) {
      const rev = s.hub.rev('totals');
      await ingest.send(JSON.stringify({ batch: `gap-${k}`, orders: orders(1) }));
      await until(`totals update ${k + 1} published`, () => s.hub.rev('totals') > rev, { everyMs: 10 });
    }
    await until('resync snapshot', () => applied.filter((a) => a.type === 'snapshot').length >= 2);
    expect(client.gaps).toBe(1);
    await until('live figure caught up', () => applied.at(-1)?.gmv === '600.00');
    // Everything applied is in order and never goes backwards; after the resync, updates continue at rev + 1.
    for (let i = 1; i < applied.length; i++) {
      expect(applied[i]!.rev).toBeGreaterThanOrEqual(applied[i - 1]!.rev);
      expect(Number(applied[i]!.gmv)).toBeGreaterThanOrEqual(Number(applied[i - 1]!.gmv));
    }
    expect(applied.at(-1)!.rev).toBe(s.hub.rev('totals'));
    client.stop();
    ingest.close();
  });

  it('serves per-second frames to a late joiner at once and every second after, rev + 1 each', async () => {
    const { system: s } = await system();
    const sub = await subscriber(s.httpPort, ['second', 'minute', 'show', 'milestones', 'leaderboards']);
    await until('snapshots', () => (['second', 'minute', 'show', 'milestones', 'leaderboards'] satisfies Topic[]).every((t) => sub.of(t).some((m) => m.type === 'snapshot')));
    const snap = sub.of('second').find((m) => m.type === 'snapshot')!;
    expect(snap.data.frames.length).toBeGreaterThanOrEqual(60);
    await until('three frames', () => sub.of('second').filter((m) => m.type === 'update').length >= 3);
    const revs = sub.of('second').map((m) => m.rev);
    for (let i = 1; i < revs.length; i++) expect(revs[i]).toBe(revs[i - 1]! + 1);
    sub.ws.close();
  });

  it('publishes a per-second frame again, with the same start, when late orders land in a second already sent', async () => {
    const { system: s } = await system();
    const sub = await subscriber(s.httpPort, ['second']);
    await until('second snapshot', () => sub.of('second').some((m) => m.type === 'snapshot'));
    // A second 6 s ago: its frame went out long before these orders arrive.
    const second = Math.floor(Date.now() / 1000) - 6;
    const ingest = await connectIngest(s.ingestPort);
    const ack = await ingest.send(JSON.stringify({ batch: 'late', orders: orders(3, { amount: '12.34' }, () => second * 1000 + 400) }));
    expect(ack).toMatchObject({ accepted: 3 });
    const start = new Date(second * 1000).toISOString();
    await until('the revised frame', () => sub.of('second').some((m) => m.type === 'update' && m.data.start === start));
    const revised = sub.of('second').find((m) => m.type === 'update' && m.data.start === start);
    expect(revised?.data).toMatchObject({ start, seconds: 1, gmv: '37.02', orders: 3 });
    // A late joiner's snapshot holds the revised frame too.
    const late = await subscriber(s.httpPort, ['second']);
    await until('late snapshot', () => late.of('second').some((m) => m.type === 'snapshot'));
    const lateSnapshot = late.of('second')[0];
    if (lateSnapshot?.type !== 'snapshot') throw new Error('the late joiner got no snapshot first');
    expect(lateSnapshot.data.frames.find((f) => f.start === start)?.gmv).toBe('37.02');
    ingest.close();
    sub.ws.close();
    late.ws.close();
  });

  it('refuses producer topics without the producer token and unknown topics, naming the rule', async () => {
    const { system: s } = await system();
    const anon = await subscriber(s.httpPort, ['health', 'nonsense' as Topic]);
    await until('errors', () => anon.got.filter((m) => m.type === 'error').length >= 2);
    const errors = anon.got.filter((m) => m.type === 'error').map((m) => (m as { error: string }).error);
    expect(errors).toEqual(expect.arrayContaining([expect.stringMatching(/health.*producer token/), expect.stringMatching(/unknown topic "nonsense"/)]));
    const producer = await subscriber(s.httpPort, ['health'], 'test-producer-token');
    await until('health snapshot', () => producer.of('health').length >= 1);
    anon.ws.close();
    producer.ws.close();
  });

  it('drops a subscriber that never reads, without holding its messages, while readers get everything', async () => {
    const { system: s } = await system({}, { live: { maxBackpressureBytes: 64 * 1024 } });
    const reader = await subscriber(s.httpPort, ['show']);
    await until('reader snapshot', () => reader.of('show').length >= 1);

    // A raw socket that upgrades, subscribes, then never reads again.
    const raw: Socket = connect(s.httpPort, '127.0.0.1');
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.write('GET /v1/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let head = '';
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          raw.off('data', onData);
          resolve();
        }
      };
      raw.on('data', onData);
    });
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    const sub = Buffer.from(JSON.stringify({ op: 'subscribe', topics: ['show'] }));
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | sub.length]), mask, Buffer.from(sub.map((b, i) => b ^ mask[i % 4]!))]);
    raw.write(frame);
    await until('two subscribers', () => s.hub.subscribers('show') === 2);
    raw.pause();
    let rawClosed = false;
    raw.on('close', () => (rawClosed = true));
    raw.on('error', () => undefined);

    // 30 MB of updates, published in rounds; the reader has each round before the next, however slow the machine,
    // so only the non-reader falls behind.
    const big = { ...reader.of('show')[0]!.data, name: 'x'.repeat(10_000) };
    const before = s.hub.rev('show');
    const readerHas = () => reader.of('show').filter((m) => m.type === 'update').length;
    for (let round = 0; round < 150; round++) {
      for (let k = 0; k < 20; k++) s.hub.publish('show', new Date().toISOString(), big);
      const published = s.hub.rev('show') - before;
      await until(`reader got round ${round + 1}`, readerHas, (n) => n === published, { everyMs: 5 });
    }
    const last = s.hub.rev('show');
    await until('non-reader dropped', () => s.hub.subscribers('show') === 1);
    expect(s.hub.dropped).toBeGreaterThan(0);
    const revs = reader.of('show').filter((m) => m.type === 'update').map((m) => m.rev);
    expect(revs).toEqual(Array.from({ length: last - before }, (_, i) => before + 1 + i));
    raw.resume();
    await until('raw socket closed', () => rawClosed);
    reader.ws.close();
  });
});

describe('milestones', () => {
  const show = parseShowConfig({
    name: 'Milestone test',
    currency: 'CNY',
    rates: { USD: '7.1200' },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    milestones: [
      { id: 'm-1k', label: '¥1,000', threshold: '1000' },
      { id: 'm-2k', label: '¥2,000', threshold: '2000' },
      { id: 'm-huge', label: 'huge', threshold: '1000000000' },
    ],
  });

  it('records each crossing at the paid-at instant of the order that crossed it, once, and never re-fires after a restart', async () => {
    const first = await system({ show });
    const dataDir = first.cfg.dataDir;
    const sub = await subscriber(first.system.httpPort, ['milestones']);
    const ingest = await connectIngest(first.system.ingestPort);
    const base = Date.now() - 5_000;
    // 300.00 each, paid 1 ms apart, sent newest first: by paid-at order the 4th order (1,200.00) crosses ¥1,000
    // and the 7th (2,100.00) crosses ¥2,000.
    const batch = orders(8, { amount: '300.00' }, (i) => base + i).reverse();
    const ack = await ingest.send(JSON.stringify({ batch: 'm', orders: batch }));
    expect(ack).toMatchObject({ accepted: 8 });
    await until('two milestone updates', () => sub.of('milestones').filter((m) => m.type === 'update').length >= 2);
    const res = await (await fetch(`http://127.0.0.1:${first.system.httpPort}/v1/milestones`)).json() as { milestones: { id: string; crossedAt: string; elapsedMs: number; elapsed: string; total: string; orders: number }[]; next: { id: string } };
    expect(res.milestones.map((m) => [m.id, m.crossedAt, m.total, m.orders])).toEqual([
      ['m-1k', new Date(base + 3).toISOString(), '1200.00', 4],
      ['m-2k', new Date(base + 6).toISOString(), '2100.00', 7],
    ]);
    expect(res.milestones[0]!.elapsedMs).toBe(base + 3 - show.startsAt!);
    expect(res.milestones[0]!.elapsed).toMatch(/^(\d+ min )?\d+ s$/);
    expect(res.next.id).toBe('m-huge');
    ingest.close();
    sub.ws.close();

    // Restart on the same data: the same two, no update fired, and more orders cross nothing new.
    // Stopping the first system (and its cleanup later) must keep the directory for the second one.
    await first.system.close();
    const second = await system({ show, dataDir });
    const sub2 = await subscriber(second.system.httpPort, ['milestones']);
    await until('snapshot', () => sub2.of('milestones').length >= 1);
    const snap = sub2.of('milestones')[0];
    expect(snap?.type).toBe('snapshot');
    if (snap?.type !== 'snapshot') throw new Error('the restarted system sent no milestones snapshot first');
    expect(snap.data.milestones.map((m) => [m.id, m.crossedAt])).toEqual(res.milestones.map((m) => [m.id, m.crossedAt]));
    const ingest2 = await connectIngest(second.system.ingestPort);
    const milestonesRev = second.system.hub.rev('milestones');
    // Acked: committed, so the crossing check has run; flushed: whatever it found is recorded and published.
    await ingest2.send(JSON.stringify({ batch: 'm2', orders: orders(2) }));
    await second.system.milestones.flush();
    expect(second.system.hub.rev('milestones')).toBe(milestonesRev);
    expect(sub2.of('milestones').filter((m) => m.type === 'update')).toEqual([]);
    const rows = await (second.system.store as unknown as { milestones: () => Promise<unknown[]> }).milestones();
    expect(rows).toHaveLength(2);
    ingest2.close();
    sub2.ws.close();
  });

  it('records on start a crossing that was committed but never recorded (the process died in between)', async () => {
    const first = await system({ show });
    const dataDir = first.cfg.dataDir;
    const ingest = await connectIngest(first.system.ingestPort);
    await ingest.send(JSON.stringify({ batch: 'x', orders: orders(4, { amount: '300.00' }, (i) => Date.now() - 3000 + i) }));
    await until('recorded', async () => (await first.system.store.milestones()).length === 1);
    ingest.close();
    await first.system.close();
    // Lose the record, as a crash between the commit and the record would.
    const again = await system({ show, dataDir });
    const conn = (again.system.store as unknown as { milestones(): Promise<unknown[]> });
    expect(await conn.milestones()).toHaveLength(1);
    await again.system.close();
    const { createChdbConnection } = await import('../storage/chdb/chdb-connection.ts');
    const c = createChdbConnection(dataDir);
    await c.command(`TRUNCATE TABLE ${MILESTONES_TABLE}`);
    await c.close();
    const third = await system({ show, dataDir });
    const list = (await (await fetch(`http://127.0.0.1:${third.system.httpPort}/v1/milestones`)).json()) as { milestones: { id: string }[] };
    expect(list.milestones.map((m) => m.id)).toEqual(['m-1k']);
    expect(await third.system.store.milestones()).toHaveLength(1);
  });
});

describe('public feed', () => {
  it('answers /v1/stats and the Hono routes with strong ETags and 304 on a match', async () => {
    const { system: s } = await system();
    const base = `http://127.0.0.1:${s.httpPort}`;
    for (const path of ['/v1/stats', '/v1/milestones']) {
      const r1 = await fetch(base + path);
      const tag = r1.headers.get('etag');
      expect(tag).toMatch(/^"[^"]+"$/); // strong: no W/ prefix
      expect(r1.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
      expect(r1.headers.get('access-control-allow-origin')).toBe('*');
      const r2 = await fetch(base + path, { headers: { 'If-None-Match': tag! } });
      if (r2.status === 200) {
        // The second changed between the two requests (asOf): the body must then differ.
        expect(r2.headers.get('etag')).not.toBe(tag);
      } else {
        expect(r2.status).toBe(304);
        expect(await r2.text()).toBe('');
      }
      const r3 = await fetch(base + path, { headers: { 'If-None-Match': '"nope"' } });
      expect(r3.status).toBe(200);
    }
  });

  it('limits each client with RateLimit fields, then 429 with Retry-After, on HTTP and on the live channel', async () => {
    const { system: s } = await system({ publicRatePerSecond: 1, publicBurst: 3 });
    const base = `http://127.0.0.1:${s.httpPort}`;
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await fetch(base + (i % 2 === 0 ? '/v1/stats' : '/v1/series')));
    expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"public";q=3;w=3');
    expect(answers[0]!.headers.get('ratelimit')).toMatch(/^"public";r=2;t=\d+$/);
    expect(answers[2]!.headers.get('ratelimit')).toMatch(/^"public";r=0;t=\d+$/);
    expect(answers[3]!.status).toBe(429);
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await answers[3]!.json()).toEqual({ error: expect.stringMatching(/rate limit/) });
    const ws = new WebSocket(`ws://127.0.0.1:${s.httpPort}/v1/live`);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
    });
    expect(status).toBe(429);
  });

  it('resumes the SSE stream from Last-Event-ID with nothing missed or repeated, and sends heartbeats', async () => {
    const { system: s } = await system({}, { live: { heartbeatMs: 400 } });
    const read = (lastId: string | null, events: number) =>
      new Promise<{ ids: string[]; heartbeats: number; alone: number; text: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.httpPort, path: '/v1/stats/stream', headers: lastId === null ? {} : { 'Last-Event-ID': lastId } }, (res) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          let text = '';
          let alone = 0;
          res.on('data', (d: Buffer) => {
            const chunk = d.toString();
            // Counted once events flow (a stream opened before the first one gets heartbeats alone, rightly).
            if (/^id: /m.test(text) && chunk.includes(': heartbeat') && !/: heartbeat [^\n]*\n\nid: /.test(chunk)) alone++;
            text += chunk;
            const ids = [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]!);
            if (ids.length >= events) {
              req.destroy();
              resolve({ ids, heartbeats: (text.match(/^: heartbeat/gm) ?? []).length, alone, text });
            }
          });
        });
        req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? undefined : reject(e)));
        req.end();
      });
    const first = await read(null, 3);
    expect(first.heartbeats).toBeGreaterThanOrEqual(1);
    // While events flow, each heartbeat comment goes out in the same write as an event, not in one of its own.
    expect(first.alone).toBe(0);
    expect(first.text).toMatch(/^retry: \d+/);
    // Events go on while we are away: another client sees two more go out, so the resume has some to replay.
    await read(first.ids.at(-1)!, 2);
    const resumed = await read(first.ids[1]!, 4);
    // Everything after the id we gave, in order: first.ids[2], then what was emitted while away, then live.
    expect(resumed.ids[0]).toBe(first.ids[2]);
    const asNumbers = resumed.ids.map(Number);
    for (let i = 1; i < asNumbers.length; i++) expect(asNumbers[i]).toBeGreaterThan(asNumbers[i - 1]!);
    expect(new Set(resumed.ids).size).toBe(resumed.ids.length);
    // An id older than the history: the current figures at once.
    const fresh = await read('1', 1);
    expect(fresh.text).toMatch(/event: stats\ndata: \{"currency":"CNY"/);
  });
});

describe('show status', () => {
  it('turns the figures final after the show ends, once a reconciliation agrees, on the feed and the channel', async () => {
    const endsAt = Date.now() + 5000;
    const show = parseShowConfig({ name: 'Short show', currency: 'CNY', startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(endsAt).toISOString() });
    const { system: s } = await system({ show, reconcileIntervalMs: 300 });
    const base = `http://127.0.0.1:${s.httpPort}`;
    const sub = await subscriber(s.httpPort, ['show', 'totals']);
    const before = ((await (await fetch(`${base}/v1/stats`)).json()) as { status: string }).status;
    // Answered before the end, the figures are live; a machine so loaded that starting took the whole show cannot
    // see that moment, and says so rather than failing on the clock.
    if (Date.now() < endsAt) expect(before).toBe('live');
    else console.warn(`show status: the system answered only after the show's end; 'live' not checked (got '${before}')`);
    await until('final', async () => ((await (await fetch(`${base}/v1/stats`)).json()) as { status: string }).status === 'final');
    await until('show topic final', () => sub.of('show').some((m) => m.data.status === 'final'));
    expect(((await (await fetch(`${base}/v1/milestones`)).json()) as { status: string; unaudited: boolean })).toMatchObject({ status: 'final', unaudited: true });
    sub.ws.close();
  });
});

describe('reconciliation and staleness on the live channel', () => {
  it('flags stale input while live, and a drift, which is repaired from storage so viewers see the stored figure', async () => {
    const { system: s } = await system({ staleSeconds: 1, reconcileIntervalMs: 0 });
    const health = await subscriber(s.httpPort, ['health'], 'test-producer-token');
    const latest = () => health.of('health').at(-1)?.data;
    await until('stale', () => latest()?.stale === true);
    const ingest = await connectIngest(s.ingestPort);
    await ingest.send(JSON.stringify({ batch: 'h', orders: orders(2) }));
    await until('not stale', () => latest()?.stale === false);

    // A row that reached storage behind the live totals' back.
    const w = new OrderRowWriter();
    const [hi, lo] = fingerprint('sneaked-in');
    w.add({ id: 'sneaked-in', ts: Date.now(), hundredths: 12_345, currency: 'CNY', channel: 'desktop', brand: '', sku: '', category: '', region: '' }, s.totals.appliedThroughMs, hi, lo);
    await s.store.insert({ count: 1, data: w.bytes(), derived: w.derived() });
    await s.reconciler.run();
    await until('drift on the channel', () => latest()?.drift.CNY === '-123.45');
    expect(s.totals.snapshot().gmv).toBe('200.00');
    await s.reconciler.run(); // the same drift again: repaired
    expect(s.totals.snapshot().gmv).toBe('323.45');
    const stored = await storedSums(s.store);
    expect(stored.byCurrency.get('CNY')).toBe(32_345n);
    await s.reconciler.run();
    await until('drift cleared', () => Object.keys(latest()?.drift ?? { x: 1 }).length === 0);
    expect(s.reconciler.report().repairs).toBe(1);

    // Between full passes a check adds only the arrivals since the last agreeing one, so a row stored below that
    // point goes unseen until the next full pass, which finds it.
    const late = new OrderRowWriter();
    const [lhi, llo] = fingerprint('landed-late');
    late.add({ id: 'landed-late', ts: Date.now(), hundredths: 500, currency: 'CNY', channel: 'mobile', brand: '', sku: '', category: '', region: '' }, s.totals.appliedThroughMs - 1, lhi, llo);
    await s.store.insert({ count: 1, data: late.bytes() });
    await s.reconciler.run();
    expect(s.reconciler.report().drift).toEqual({});
    await s.reconciler.run(true);
    expect(s.reconciler.report().drift).toEqual({ CNY: '-5.00' });
    ingest.close();
    health.ws.close();
  });
});
