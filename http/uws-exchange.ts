// One uWS request/response pair that is answered later than its route callback (after a body, a commit, a stream):
// the abort registered first, every later access to the response guarded, the answer written once.
import type { HttpResponse } from 'uWebSockets.js';
import type { HttpAnswer } from '../platform/http-answer.ts';
import { writeAnswer } from './uws-reply.ts';

export interface Exchange {
  readonly res: HttpResponse;
  /** Aborted from uWS's onAborted: the client left, timed out, or we closed the connection (close() calls it at once). */
  readonly clientGone: AbortController;
  /** The response was ended; uWS owns the socket from here. */
  finished: boolean;
}

/** Call in the route callback itself, before any await: uWS terminates the process if a pending response has no onAborted. */
export function openExchange(res: HttpResponse): Exchange {
  const x: Exchange = { res, clientGone: new AbortController(), finished: false };
  res.onAborted(() => x.clientGone.abort());
  return x;
}

/** Whether `res` may still be touched: uWS throws on a response that is gone. */
export function live(x: Exchange): boolean {
  return !x.finished && !x.clientGone.signal.aborted;
}

/** Writes the whole answer, unless the client left or it was answered already. */
export function answer(x: Exchange, a: HttpAnswer, closeConnection = false): void {
  if (!live(x)) return;
  writeAnswer(x.res, a, closeConnection);
  x.finished = true;
}
