// The load generator of `npm run bench:fanout`: a child process holding thousands of live subscribers on raw TCP
// sockets (WebSocket on /v1/live, topic `second`; SSE on /v1/stats/stream), each reading every per-second frame.
// Raw sockets and indexOf instead of a WebSocket library and JSON.parse keep the generator's own cost per frame
// to a few microseconds, so what it measures is the server's delivery, not its own backlog.
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export type WorkerCommand =
  | { cmd: 'connect'; port: number; ws: number; sse: number; sourceBase: string; concurrency: number }
  | { cmd: 'measure'; fromSecond: number; toSecond: number }
  | { cmd: 'close' };

export type WorkerReply =
  | { type: 'connected'; ws: number; sse: number; failed: number; ms: number }
  | { type: 'measured'; result: WorkerResult }
  | { type: 'closed' };

export interface WorkerResult {
  /** ms from the frame's due instant (end of its second + the server's 250 ms publication delay) to receipt. */
  fromDue: number[];
  /** ms from the server's send stamp (WebSocket `sentAt`, SSE `asOf`) to receipt. */
  fromSent: number[];
  /** Frames due in the window that a subscriber never got, by kind. */
  missed: number;
  missedWs: number;
  missedSse: number;
  /** The same latencies by kind of subscriber. */
  wsFromDue: number[];
  sseFromDue: number[];
  /** CPU this load generator used in the window (s), and its event-loop delay p99 (ms): is it keeping up? */
  cpuSeconds: number;
  loopDelayP99: number;
  /** Frames received in the window. */
  received: number;
  /** Subscribers whose socket closed during the window. */
  lost: number;
  subscribers: number;
}

/** The server publishes a second's frame this long after the second ends (aggregator/live-state.ts). */
export const PUBLISH_DELAY_MS = 250;

const now = () => performance.timeOrigin + performance.now();
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

interface Sub {
  socket: Socket;
  kind: 'ws' | 'sse';
  /** Frames seen in the window, one byte per second. */
  seen: Uint8Array | null;
  open: boolean;
}

const subs: Sub[] = [];
let measuring: { from: number; to: number } | null = null;
const fromDue: number[] = [];
const fromSent: number[] = [];
const wsFromDue: number[] = [];
const sseFromDue: number[] = [];
let received = 0;
let lostInWindow = 0;

function record(sub: Sub, second: number, sentMs: number): void {
  const w = measuring;
  if (w === null || second < w.from || second > w.to || sub.seen === null) return;
  const t = now();
  if (sub.seen[second - w.from] === 1) return;
  sub.seen[second - w.from] = 1;
  received++;
  const late = t - ((second + 1) * 1000 + PUBLISH_DELAY_MS);
  fromDue.push(late);
  (sub.kind === 'ws' ? wsFromDue : sseFromDue).push(late);
  fromSent.push(t - sentMs);
}

/** A masked client frame (RFC 6455 requires masking from clients); the mask is zero, which is allowed. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('bench: client frames stay small');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/**
 * Every socket of this process reads into one buffer (`onread`): no Buffer allocated and no stream event per chunk.
 * Read callbacks run one at a time, so sharing is safe as long as nothing keeps a view past the callback: a partial
 * frame left at the end of a chunk is copied out.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** Opens a socket whose received bytes go to `onBytes`, which returns the bytes it could not use yet. */
function rawSocket(port: number, localAddress: string, onBytes: (b: Buffer) => Buffer | null): Socket {
  let rest: Buffer | null = null;
  return connect({
    port,
    host: '127.0.0.1',
    localAddress,
    noDelay: true,
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array) => {
        const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
        const left = onBytes(rest === null ? chunk : Buffer.concat([rest, chunk]));
        rest = left === null || left.length === 0 ? null : Buffer.from(left);
        return true;
      },
    },
  });
}

function openWs(port: number, localAddress: string): Promise<Sub> {
  return new Promise((resolve, reject) => {
    let upgraded = false;
    const socket = rawSocket(port, localAddress, (input) => {
      let buf = input;
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return buf;
        if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${buf.subarray(0, end).toString('latin1').split('\r\n')[0]}`));
          return null;
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        socket.write(clientFrame(1, Buffer.from('{"op":"subscribe","topics":["second"]}')));
        sub.open = true;
        socket.off('error', reject);
        resolve(sub);
      }
      // Server frames are unmasked: FIN/opcode, length (7, 16 or 64 bits), payload.
      while (buf.length >= 2) {
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return buf;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return buf;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf.length < at + len) return buf;
        const payload = buf.subarray(at, at + len);
        buf = buf.subarray(at + len);
        if (opcode === 9) socket.write(clientFrame(10, Buffer.from(payload)));
        else if (opcode === 1 && payload.length < 2000) onWsText(sub, payload); // snapshots are long: skipped
      }
      return buf;
    });
    const sub: Sub = { socket, kind: 'ws', seen: null, open: false };
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`GET /v1/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('close', () => closed(sub));
  });
}

/** `{"type":"update","topic":"second","rev":N,"at":"<ISO>","sentAt":<ms>,…}`: the instant and the stamp. */
function onWsText(sub: Sub, p: Buffer): void {
  if (p.indexOf('"type":"update"') < 0) return;
  const a = p.indexOf('"at":"');
  const s = p.indexOf('"sentAt":');
  if (a < 0 || s < 0) return;
  const second = Math.floor(Date.parse(p.subarray(a + 6, a + 30).toString('latin1')) / 1000);
  const sent = Number.parseInt(p.subarray(s + 9, s + 24).toString('latin1'), 10);
  record(sub, second, sent);
}

function openSse(port: number, localAddress: string): Promise<Sub> {
  return new Promise((resolve, reject) => {
    let started = false;
    const socket = rawSocket(port, localAddress, (input) => {
      let buf = input;
      if (!started) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return buf;
        if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 200')) {
          socket.destroy();
          reject(new Error(`stream refused: ${buf.subarray(0, end).toString('latin1').split('\r\n')[0]}`));
          return null;
        }
        started = true;
        sub.open = true;
        socket.off('error', reject);
        resolve(sub);
        buf = buf.subarray(end + 4);
      }
      // Events end with a blank line; the chunked framing around them is skipped by looking only for fields.
      let from = 0;
      let end: number;
      while ((end = buf.indexOf('\n\n', from)) >= 0) {
        const event = buf.subarray(from, end);
        from = end + 2;
        if (event.indexOf('event: stats') < 0) continue;
        const l = event.indexOf('"lastSecond":{"second":"');
        const a = event.indexOf('"asOf":"');
        if (l < 0 || a < 0) continue;
        const second = Math.floor(Date.parse(event.toString('latin1', l + 24, l + 48)) / 1000);
        record(sub, second, Date.parse(event.toString('latin1', a + 8, a + 32)));
      }
      return buf.subarray(from);
    });
    const sub: Sub = { socket, kind: 'sse', seen: null, open: false };
    socket.once('error', reject);
    socket.once('connect', () => socket.write('GET /v1/stats/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'));
    socket.on('close', () => closed(sub));
  });
}

function closed(sub: Sub): void {
  if (sub.open && measuring !== null) lostInWindow++;
  sub.open = false;
}

async function connectAll(c: Extract<WorkerCommand, { cmd: 'connect' }>): Promise<WorkerReply> {
  const t0 = now();
  const total = c.ws + c.sse;
  // Interleaved evenly, so both kinds are spread over the whole connection ramp.
  const kinds = Array.from({ length: total }, (_, i) => (Math.floor(((i + 1) * c.ws) / total) > Math.floor((i * c.ws) / total) ? 'ws' : 'sse'));
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < kinds.length) {
      const i = next++;
      // Source addresses spread over 127.x.y.z so that repeated runs never run out of ephemeral ports.
      const local = `${c.sourceBase}.${1 + (i % 250)}`;
      try {
        subs.push(await (kinds[i] === 'ws' ? openWs(c.port, local) : openSse(c.port, local)));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, lane));
  return { type: 'connected', ws: subs.filter((s) => s.kind === 'ws').length, sse: subs.filter((s) => s.kind === 'sse').length, failed, ms: Math.round(now() - t0) };
}

async function measure(c: Extract<WorkerCommand, { cmd: 'measure' }>): Promise<WorkerReply> {
  fromDue.length = 0;
  fromSent.length = 0;
  wsFromDue.length = 0;
  sseFromDue.length = 0;
  received = 0;
  const cpu0 = process.cpuUsage();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  lostInWindow = 0;
  const n = c.toSecond - c.fromSecond + 1;
  for (const s of subs) s.seen = new Uint8Array(n);
  measuring = { from: c.fromSecond, to: c.toSecond };
  // Wait until the last frame of the window is due, plus 10 s for stragglers: a frame that late counts as late,
  // not as missed; one that never comes within it counts as missed.
  const end = (c.toSecond + 1) * 1000 + PUBLISH_DELAY_MS + 10_000;
  await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
  measuring = null;
  delay.disable();
  const cpu = process.cpuUsage(cpu0);
  let missedWs = 0;
  let missedSse = 0;
  for (const s of subs) {
    let m = 0;
    for (const b of s.seen!) if (b === 0) m++;
    if (s.kind === 'ws') missedWs += m;
    else missedSse += m;
  }
  return {
    type: 'measured',
    result: {
      fromDue: [...fromDue],
      fromSent: [...fromSent],
      wsFromDue: [...wsFromDue],
      sseFromDue: [...sseFromDue],
      missed: missedWs + missedSse,
      missedWs,
      missedSse,
      received,
      lost: lostInWindow,
      subscribers: subs.length,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      loopDelayP99: delay.percentile(99) / 1e6,
    },
  };
}

process.on('message', (m: WorkerCommand) => {
  const reply = (r: WorkerReply) => process.send!(r);
  if (m.cmd === 'connect') void connectAll(m).then(reply);
  else if (m.cmd === 'measure') void measure(m).then(reply);
  else {
    for (const s of subs) s.socket.destroy();
    reply({ type: 'closed' });
    process.disconnect();
  }
});
