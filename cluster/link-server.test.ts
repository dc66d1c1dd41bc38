// The figures link's serving side on a real uWS listener: only the ingest token gets in, a subscriber first gets the
// full state, and one that stops reading is not queued for: once it reads again it gets the latest figures, in far
// fewer messages than the changes it missed.
import * as uWS from 'uWebSockets.js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseShowConfig } from '../domain/show.ts';
import { Registry } from '../platform/metrics.ts';
import { silentLog } from '../platform/log.ts';
import { CLUSTER_LINK_PATH, parseClusterMessage, type ClusterMessage, type FiguresMessage } from '../protocol/cluster-protocol.ts';
import { LiveTotals } from '../aggregator/live-totals.ts';
import { until } from '../test-support/until.ts';
import { LinkServer } from './link-server.ts';

const TOKEN = 'link-test-token';
const show = parseShowConfig({ name: 'Link test', currency: 'CNY' });
const totals = new LiveTotals(show);
let server: LinkServer;
let listen: uWS.us_listen_socket;
let app: uWS.TemplatedApp;
let port = 0;

/** Loads totals of `n` hundredths spread over many seconds, so each full message is large (about 100 KB). */
function loadTotals(n: number): void {
  const base = Math.floor(Date.now() / 1000) - 2000;
  const seconds = Array.from({ length: 1500 }, (_, k) => ({ second: base + k, currency: 'CNY', channel: 'mobile' as const, hundredths: BigInt(n), orders: 1 }));
  totals.load([{ currency: 'CNY', channel: 'mobile', hundredths: BigInt(n), orders: n }], seconds, Date.now());
}

beforeAll(async () => {
  server = new LinkServer({ node: 'n2', run: 1, tokens: [TOKEN], aggregator: totals, metrics: new Registry(), log: silentLog, maxBufferedBytes: 64 * 1024, beatMs: 60_000 });
  app = uWS.App();
  server.mount(app);
  listen = await new Promise((resolve, reject) => app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))));
  port = uWS.us_socket_local_port(listen);
});
afterAll(() => {
  server.close();
  uWS.us_listen_socket_close(listen);
  app.close();
});

function connect(token: string | null): { ws: WebSocket; messages: ClusterMessage[]; opened: Promise<void> } {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${CLUSTER_LINK_PATH}`, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
  const messages: ClusterMessage[] = [];
  ws.on('message', (d) => messages.push(parseClusterMessage(String(d))));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return { ws, messages, opened };
}

describe('the figures link server', () => {
  it('refuses a peer without the ingest token with HTTP 401', async () => {
    await expect(connect(null).opened).rejects.toThrow('HTTP 401');
    await expect(connect('wrong').opened).rejects.toThrow('HTTP 401');
  });

  it('sends the full state first, then the latest figures after each change', async () => {
    loadTotals(5);
    const c = connect(TOKEN);
    await c.opened;
    const first = (await until('the full state', () => c.messages[0])) as FiguresMessage;
    expect(first).toMatchObject({ type: 'figures', node: 'n2', run: 1, full: true });
    expect(first.seconds.length).toBe(1500);
    expect(first.total.currencies.CNY!.amount).toBe('5');
    loadTotals(6);
    const next = (await until('the next figures', () => c.messages[1])) as FiguresMessage;
    expect(next.seq).toBeGreaterThan(first.seq);
    expect(next.total.currencies.CNY!.amount).toBe('6');
    c.ws.close();
  });

  it('does not queue for a subscriber that stops reading: it gets the latest figures once it reads again', async () => {
    const c = connect(TOKEN);
    await c.opened;
    await until('the full state', () => c.messages.length === 1);
    // Stop reading: the kernel's buffers fill, then uWS's, then the server holds back.
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const CHANGES = 300;
    for (let n = 1; n <= CHANGES; n++) {
      loadTotals(1000 + n);
      await new Promise((r) => setImmediate(r));
    }
    socket.resume();
    const last = await until('the latest figures', () => c.messages.at(-1) as FiguresMessage, (m) => m.total.currencies.CNY?.amount === String(1000 + CHANGES));
    expect(last.type).toBe('figures');
    // Each change is about 100 KB on the wire: 300 of them queued would be 30 MB; far fewer messages arrived.
    expect(c.messages.length).toBeLessThan(CHANGES / 2);
    const seqs = c.messages.map((m) => (m as FiguresMessage).seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    c.ws.close();
  });
});
