// Backpressure for uWS responses written piece by piece (a streamed body, an SSE stream) or too large to hand over
// at once: the socket layer's one pump.
import type { Exchange } from './uws-exchange.ts';
import { live } from './uws-exchange.ts';

export interface PumpOptions {
  /** Most bytes that may wait inside uWS for a client that keeps reading too little; past it the connection is closed. */
  maxBufferedBytes: number;
  /** Called when the connection is closed for that. */
  onOverflow?: () => void;
}

/**
 * Writes into one response and says when to wait. A write the socket does not take whole stays queued in uWS;
 * the writer waits for `writable()` before the next (a streamed body), or goes on and lets the cap decide (SSE,
 * where every client gets the same event).
 */
export class ResponsePump {
  /** Bytes handed to uWS since a write was last taken whole: an upper bound on what it holds for this client. */
  private unconfirmed = 0;
  private wake: (() => void) | undefined;
  /** The socket reported writable since the last write: a small write now proves the queue is empty. */
  drained = false;

  constructor(
    private readonly x: Exchange,
    private readonly opts: PumpOptions,
  ) {
    const res = x.res;
    res.onWritable(() => {
      // Once onWritable is registered uWS stops draining its own queue on writable events; an empty cork flushes
      // it, or the tail of the last write would wait for the next one (an SSE event, indefinitely).
      res.cork(() => undefined);
      this.drained = true;
      this.wakeUp();
      return true;
    });
    x.clientGone.signal.addEventListener('abort', () => this.wakeUp(), { once: true });
  }

  /** Call inside `res.cork`. True when the socket took the chunk whole; false when it waits in uWS, or the client is gone. */
  write(chunk: string | Uint8Array): boolean {
    if (!live(this.x)) return false;
    this.drained = false;
    if (this.x.res.write(chunk)) {
      this.unconfirmed = 0;
      return true;
    }
    this.unconfirmed += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (this.unconfirmed > this.opts.maxBufferedBytes) {
      // The client drains less than we queue: drop it rather than grow. close() runs onAborted at once.
      this.opts.onOverflow?.();
      this.x.res.close();
    }
    return false;
  }

  /** Resolves at the socket's next writable event, or at once if the client is gone. */
  writable(): Promise<void> {
    if (!live(this.x)) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * Ends the response with a body of known size, inside `res.cork` after status and headers: tryEnd sends what the
 * socket takes and onWritable the rest from the caller's bytes, so a large body is never copied into uWS.
 */
export function endWhole(x: Exchange, body: Uint8Array): void {
  const res = x.res;
  if (body.byteLength === 0) {
    res.end();
    x.finished = true;
    return;
  }
  const base = res.getWriteOffset();
  const [, done] = res.tryEnd(body, body.byteLength);
  if (done) {
    x.finished = true;
    return;
  }
  res.onWritable((offset) => {
    const [ok, finished] = res.tryEnd(body.subarray(offset - base), body.byteLength);
    if (finished) x.finished = true;
    return ok;
  });
}
