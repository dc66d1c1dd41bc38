// The peer link against a real WebSocket server playing the peer: acks matched by batch id, the in-flight bound and
// its bounded wait, the send timeout, a drop failing what is in flight, the token and the forwarded mark presented,
// and reconnecting by itself.
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { FORWARDED_BY_HEADER } from '../ingest/ingest-message.ts';
import { until } from '../test-support/until.ts';
import { PeerLink, type LinkState } from './peer-link.ts';

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f();
  cleanups = [];
});

interface Peer {
  port: number;
  frames: { batch: string; orders: unknown[] }[];
  sockets: Set<WebSocket>;
  upgrades: IncomingMessage[];
  /** Answers a received frame's batch with an ack of `accepted` orders, or an error object. */
  answer(batch: string, body: object): void;
}

async function startPeer(autoAck: boolean): Promise<Peer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const peer: Peer = {
    port: (wss.address() as { port: number }).port,
    frames: [],
    sockets: new Set(),
    upgrades: [],
    answer(batch, body) {
      for (const s of peer.sockets) s.send(JSON.stringify({ batch, ...body }));
    },
  };
  wss.on('connection', (ws, req) => {
    peer.sockets.add(ws);
    peer.upgrades.push(req);
    ws.on('close', () => peer.sockets.delete(ws));
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      const f = JSON.parse(String(data)) as { batch: string; orders: unknown[] };
      peer.frames.push(f);
      if (autoAck) ws.send(JSON.stringify({ batch: f.batch, accepted: f.orders.length, duplicates: 0, rejected: [] }));
    });
  });
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of wss.clients) s.terminate();
    wss.close(() => r());
  }));
  return peer;
}

function openLink(port: number, over: Partial<ConstructorParameters<typeof PeerLink>[0]> = {}): PeerLink {
  const link = new PeerLink({ url: `ws://127.0.0.1:${port}/v1/ingest`, token: 'tok', selfId: 'n1', reconnectMinMs: 20, reconnectMaxMs: 100, ...over });
  cleanups.push(() => link.close());
  return link;
}

const orders = (n: number) => Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: `o-${i}` }))));

describe('PeerLink', () => {
  it('forwards frames with its own batch ids, the token and the forwarded mark, and matches acks by id', async () => {
    const peer = await startPeer(false);
    const link = openLink(peer.port);
    await until('link up', () => link.state === 'up');
    expect(peer.upgrades[0]!.headers.authorization).toBe('Bearer tok');
    expect(peer.upgrades[0]!.headers[FORWARDED_BY_HEADER]).toBe('n1');
    const a = link.send(orders(2), 2);
    const b = link.send(orders(3), 3);
    await until('two frames', () => peer.frames.length === 2);
    expect(peer.frames.map((f) => f.batch)).toEqual(['fwd:n1:1', 'fwd:n1:2']);
    expect(peer.frames[1]!.orders).toEqual([{ id: 'o-0' }, { id: 'o-1' }, { id: 'o-2' }]);
    expect(link.inflightOrders).toBe(5);
    // Answered out of order: each send gets its own ack.
    peer.answer('fwd:n1:2', { accepted: 2, duplicates: 1, rejected: [] });
    peer.answer('fwd:n1:1', { error: 'unavailable', retryAfterMs: 750 });
    expect(await b).toEqual({ kind: 'ack', ack: { batch: 'fwd:n1:2', accepted: 2, duplicates: 1, rejected: [] } });
    expect(await a).toEqual({ kind: 'failed', reason: 'refused', retryAfterMs: 750 });
    expect(link.inflightOrders).toBe(0);
  });

  it('refuses an ack that does not account for every order sent', async () => {
    const peer = await startPeer(false);
    const link = openLink(peer.port);
    await until('link up', () => link.state === 'up');
    const a = link.send(orders(3), 3);
    await until('frame', () => peer.frames.length === 1);
    peer.answer('fwd:n1:1', { accepted: 1, duplicates: 0, rejected: [] });
    expect(await a).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('bounds what is in flight: a send beyond the bound waits, goes when an ack makes room, or is refused after the wait', async () => {
    const peer = await startPeer(false);
    const link = openLink(peer.port, { maxInflightOrders: 5, admitWaitMs: 30_000 });
    await until('link up', () => link.state === 'up');
    const first = link.send(orders(4), 4);
    const waiting = link.send(orders(2), 2);
    await until('first frame', () => peer.frames.length === 1);
    expect(link.inflightOrders).toBe(4);
    peer.answer('fwd:n1:1', { accepted: 4, duplicates: 0, rejected: [] });
    await first;
    await until('the waiting send goes', () => peer.frames.length === 2);
    peer.answer('fwd:n1:2', { accepted: 2, duplicates: 0, rejected: [] });
    expect(await waiting).toMatchObject({ kind: 'ack' });

    const short = openLink(peer.port, { maxInflightOrders: 5, admitWaitMs: 50 });
    await until('second link up', () => short.state === 'up');
    void short.send(orders(5), 5);
    expect(await short.send(orders(1), 1)).toEqual({ kind: 'failed', reason: 'full', retryAfterMs: 250 });
  });

  it('answers a send the peer never acks with a timeout', async () => {
    const peer = await startPeer(false);
    const link = openLink(peer.port, { sendTimeoutMs: 100 });
    await until('link up', () => link.state === 'up');
    expect(await link.send(orders(1), 1)).toMatchObject({ kind: 'failed', reason: 'timeout' });
    expect(link.inflightBatches).toBe(0);
  });

  it('fails what is in flight when the peer drops the socket, and reconnects by itself', async () => {
    const peer = await startPeer(true);
    const silent = await startPeer(false);
    const link = openLink(silent.port);
    const states: LinkState[] = [];
    link.onState((s) => states.push(s));
    await until('link up', () => link.state === 'up');
    const inFlight = link.send(orders(1), 1);
    await until('frame', () => silent.frames.length === 1);
    for (const s of silent.sockets) s.terminate();
    expect(await inFlight).toMatchObject({ kind: 'failed', reason: 'dropped' });
    await until('reconnected', () => link.state === 'up' && link.reconnects === 1, { detail: () => states });
    expect(states.slice(0, 2)).toEqual(['up', 'connecting']);
    // And one on a working peer acks as usual.
    const ok = openLink(peer.port);
    await until('up', () => ok.state === 'up');
    expect(await ok.send(orders(2), 2)).toMatchObject({ kind: 'ack', ack: { accepted: 2 } });
  });

  it('is down, saying why, when the peer refuses its token', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: (_info, cb) => cb(false, 401, 'Unauthorized') });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    const link = openLink((wss.address() as { port: number }).port);
    await until('down', () => link.state === 'down');
    expect(link.lastError).toMatch(/HTTP 401 \(the nodes' ingest tokens differ\)/);
  });

  it('is down while the peer cannot be reached, refusing sends at once, and up once the peer listens', async () => {
    const peer = await startPeer(true);
    const port = peer.port;
    await cleanups.pop()!();
    const link = openLink(port);
    await until('down', () => link.state === 'down');
    expect(await link.send(orders(1), 1)).toMatchObject({ kind: 'failed', reason: 'down' });
    const back = new WebSocketServer({ port, host: '127.0.0.1' });
    back.on('connection', (ws) => ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { batch: string; orders: unknown[] };
      ws.send(JSON.stringify({ batch: f.batch, accepted: f.orders.length, duplicates: 0, rejected: [] }));
    }));
    cleanups.push(() => new Promise<void>((r) => {
      for (const s of back.clients) s.terminate();
      back.close(() => r());
    }));
    await until('up again', () => link.state === 'up');
    expect(await link.send(orders(1), 1)).toMatchObject({ kind: 'ack' });
  });
});
