// The two hot endpoints of the public feed, served by uWS directly (no Request/Response objects per hit):
// GET /v1/stats with a strong ETag, 304 and CDN-friendly caching, and the SSE stream GET /v1/stats/stream with
// `id:`, Last-Event-ID resume from a bounded history, a heartbeat comment every 15 s and per-client backpressure.
import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { jsonAnswer } from '../platform/http-answer.ts';
import { live, openExchange, type Exchange } from '../http/uws-exchange.ts';
import { ResponsePump } from '../http/uws-pump.ts';
import { writeAnswer } from '../http/uws-reply.ts';
import { admitClient } from './admit-client.ts';
import type { RateLimiter } from './rate-limit.ts';

export const STATS_CACHE_CONTROL = 'public, max-age=1, s-maxage=1, stale-while-revalidate=2, stale-if-error=60';
const CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, RateLimit, RateLimit-Policy, Retry-After',
};

export interface PublicFeedOptions {
  /** The current stats body and a key that changes whenever it would (it is rebuilt only then). */
  stats: () => { key: string; body: () => object };
  limiter: RateLimiter;
  /** Events kept for Last-Event-ID resume (default 300: five minutes of one a second). */
  historySize?: number;
  heartbeatMs?: number;
  /** Most SSE clients at once (default 50,000). */
  maxStreams?: number;
  /** Bytes a stream may leave unsent before it is dropped (default 256 KiB). */
  maxBufferedBytes?: number;
}

interface SseEvent {
  id: string;
  /** The epoch second the id starts with, for resuming from an id no longer held. */
  second: number;
  text: string;
}

interface Stream {
  x: Exchange;
  out: ResponsePump;
  /** Writes the event being sent to every stream; made once per stream, not once per stream and event. */
  flush: () => void;
}

export function strongEtag(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/** True when an If-None-Match value names this strong ETag (or is *). */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export class PublicFeed {
  private cachedKey = '';
  private body = '';
  private etag = '';
  /** Header pairs of a 200 and a 304 for the current body, built once per body rather than once per request. */
  private okHeaders: [string, string][] = [];
  private notModifiedHeaders: [string, string][] = [];
  private contentLength = '0';
  /** Whether the key was read in this turn of the event loop: requests answered in one turn share it. */
  private keyFresh = false;
  private readonly history: SseEvent[] = [];
  private readonly streams = new Set<Stream>();
  /** The event `writeAll` is sending, read by each stream's `flush`. */
  private outgoing: Buffer = Buffer.alloc(0);
  private heartbeat: NodeJS.Timeout | null = null;
  private lastSecond = 0;
  /** When the last event went to every stream (epoch ms), and a heartbeat comment waiting to go with the next. */
  private lastEmitMs = 0;
  private pendingComment = '';
  private seq = 0;
  /** Streams dropped for not reading. */
  dropped = 0;

  constructor(private readonly opts: PublicFeedOptions) {}

  get streamCount(): number {
    return this.streams.size;
  }

  mount(app: TemplatedApp): void {
    app.get('/v1/stats', (res, req) => this.serveStats(res, req, false));
    app.head('/v1/stats', (res, req) => this.serveStats(res, req, true));
    app.get('/v1/stats/stream', (res, req) => this.openStream(res, req));
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  close(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    for (const s of this.streams) {
      if (!live(s.x)) continue;
      s.x.res.cork(() => s.x.res.end());
      s.x.finished = true;
    }
    this.streams.clear();
  }

  /** The stats body and ETag as of now. */
  current(): { body: string; etag: string } {
    // Reading the key costs more than answering a 304, so a burst of requests handled in one turn of the event
    // loop reads it once. A request sent after an ack arrives in a later turn than the commit it follows, so it
    // always sees that commit.
    if (this.keyFresh) return { body: this.body, etag: this.etag };
    this.keyFresh = true;
    setImmediate(() => (this.keyFresh = false));
    const { key, body } = this.opts.stats();
    if (key !== this.cachedKey) {
      this.cachedKey = key;
      this.body = JSON.stringify(body());
      this.etag = strongEtag(this.body);
      const common: [string, string][] = [...Object.entries(CORS), ['ETag', this.etag], ['Cache-Control', STATS_CACHE_CONTROL], ['Vary', 'Accept-Encoding']];
      this.notModifiedHeaders = common;
      this.okHeaders = [...common, ['Content-Type', 'application/json; charset=utf-8']];
      this.contentLength = String(Buffer.byteLength(this.body));
    }
    return { body: this.body, etag: this.etag };
  }

  /** Sends one event to every stream and keeps it for resume. `event` is the SSE event name. */
  emit(event: string, data: object, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    // Ids are epoch seconds (so they stay ordered across restarts), with a suffix for further events in a second.
    this.seq = second === this.lastSecond ? this.seq + 1 : 0;
    this.lastSecond = second;
    const id = this.seq === 0 ? String(second) : `${second}.${this.seq}`;
    const text = `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.history.push({ id, second, text });
    const max = this.opts.historySize ?? 300;
    if (this.history.length > max) this.history.splice(0, this.history.length - max);
    this.writeAll(this.pendingComment + text);
    this.pendingComment = '';
    this.lastEmitMs = Date.now();
  }

  /**
   * While events flow (one a second), the heartbeat comment rides with the next event: a write of its own to every
   * stream costs as much as an event does, and one landing just before a frame is due delays that frame for all.
   * A stream with no event for two seconds gets it at once.
   */
  private beat(): void {
    const comment = `: heartbeat ${new Date().toISOString()}\n\n`;
    if (Date.now() - this.lastEmitMs < 2000) this.pendingComment = comment;
    else this.writeAll(comment);
  }

  private headers(res: HttpResponse, extra: Record<string, string>): void {
    for (const [k, v] of Object.entries(CORS)) res.writeHeader(k, v);
    for (const [k, v] of Object.entries(extra)) res.writeHeader(k, v);
  }

  private serveStats(res: HttpResponse, req: HttpRequest, head: boolean): void {
    const ifNoneMatch = req.getHeader('if-none-match');
    const decision = admitClient(this.opts.limiter, res, CORS);
    if (decision === null) return;
    const { body, etag } = this.current();
    const notModified = etagMatches(ifNoneMatch, etag);
    const headers = notModified ? this.notModifiedHeaders : this.okHeaders;
    res.cork(() => {
      res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
      for (const [k, v] of headers) res.writeHeader(k, v);
      for (const k in decision.headers) res.writeHeader(k, decision.headers[k]!);
      if (notModified) res.endWithoutBody();
      else if (head) {
        res.writeHeader('Content-Length', this.contentLength);
        res.endWithoutBody();
      } else res.end(body);
    });
  }

  private openStream(res: HttpResponse, req: HttpRequest): void {
    const lastId = req.getHeader('last-event-id') || new URLSearchParams(req.getQuery() ?? '').get('lastEventId') || '';
    const decision = admitClient(this.opts.limiter, res, CORS);
    if (decision === null) return;
    if (this.streams.size >= (this.opts.maxStreams ?? 50_000)) return writeAnswer(res, jsonAnswer(503, { error: 'stream: server full' }, { ...CORS, 'Retry-After': '5' }));
    const x = openExchange(res);
    const out = new ResponsePump(x, {
      maxBufferedBytes: this.opts.maxBufferedBytes ?? 256 * 1024,
      // A client that does not read: dropped rather than holding its events.
      onOverflow: () => this.dropped++,
    });
    const s: Stream = { x, out, flush: () => out.write(this.outgoing) };
    x.clientGone.signal.addEventListener('abort', () => this.streams.delete(s), { once: true });
    this.streams.add(s);
    // Resume: every held event after the last one seen; if it is no longer held (or none was given), the
    // current snapshot, so the client is never left without the figures.
    let replay: string[] = [];
    if (lastId !== '') {
      const at = this.history.findIndex((e) => e.id === lastId);
      if (at >= 0) replay = this.history.slice(at + 1).map((e) => e.text);
      else {
        const sec = Number.parseInt(lastId, 10);
        const first = this.history[0];
        if (Number.isFinite(sec) && first !== undefined && sec >= first.second) replay = this.history.filter((e) => e.second > sec).map((e) => e.text);
      }
    }
    res.cork(() => {
      res.writeStatus('200 OK');
      this.headers(res, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', ...decision.headers });
      // The reconnection delay a browser should use, then what it missed (or the current figures).
      let text = 'retry: 2000\n\n';
      if (replay.length > 0) text += replay.join('');
      else {
        const last = this.history.at(-1);
        text += last !== undefined ? last.text : `event: stats\ndata: ${this.current().body}\n\n`;
      }
      s.out.write(text);
    });
  }

  private writeAll(text: string): void {
    // Encoded once for every stream, rather than once per stream inside uWS; each write corked, so the chunk's
    // framing and the event leave in one send.
    this.outgoing = Buffer.from(text);
    for (const s of this.streams) s.x.res.cork(s.flush);
    this.outgoing = Buffer.alloc(0);
  }
}
