// How the handling of one batch ended, as a value, and the two wire answers made of it: the WebSocket's text frame
// and the HTTP response of POST /v1/orders. Both spell the contract's ack and errors byte for byte.
import type { Ack } from '../domain/order.ts';
import { jsonAnswer, type HttpAnswer } from '../platform/http-answer.ts';

export type IngestOutcome =
  /** Every order counted once: accepted, duplicate or rejected by index. 200 / the ack. */
  | { kind: 'ack'; ack: Ack }
  /** Not a batch (not JSON, wrong shape, binary); nothing of it stored. 400 / an error frame. */
  | { kind: 'not-a-batch'; batch: string | null; error: string }
  /** Bytes that are not UTF-8 text. 400 / an error frame. */
  | { kind: 'not-utf8' }
  /** Over the size limit. 413 with the connection closed / an error frame. */
  | { kind: 'too-large'; limitBytes: number }
  /** Cannot commit now (storage down, buffer or connection full); nothing of it stored. 503 + Retry-After / an error frame. */
  | { kind: 'unavailable'; batch: string; retryAfterMs: number }
  /** A fault of ours cost the batch its answer; the client sends it again. 500 / an error frame. */
  | { kind: 'internal-error' };

/** Outcomes that say the frame or body was no batch: what `gala_ingest_frame_errors_total` counts. */
export function isFrameError(o: IngestOutcome): boolean {
  return o.kind === 'not-a-batch' || o.kind === 'not-utf8' || o.kind === 'too-large';
}

/** The contract's error object; `what` names the unit ("frame" on the socket, "body" over HTTP). */
function errorOf(o: Exclude<IngestOutcome, { kind: 'ack' }>, what: 'frame' | 'body'): object {
  switch (o.kind) {
    case 'not-a-batch':
      return { batch: o.batch, error: o.error };
    case 'not-utf8':
      return { batch: null, error: `${what}: not valid UTF-8` };
    case 'too-large':
      return { batch: null, error: `${what}: larger than ${o.limitBytes} bytes` };
    case 'unavailable':
      return { batch: o.batch, error: 'unavailable', retryAfterMs: o.retryAfterMs };
    case 'internal-error':
      return { batch: null, error: `internal error: the ${what} was not taken; send it again` };
  }
}

/** The WebSocket's answer: one text frame. */
export function toFrame(o: IngestOutcome): string {
  return JSON.stringify(o.kind === 'ack' ? o.ack : errorOf(o, 'frame'));
}

const STATUS = { 'not-a-batch': 400, 'not-utf8': 400, 'too-large': 413, unavailable: 503, 'internal-error': 500 } as const;

/** The HTTP answer of POST /v1/orders. */
export function toHttpAnswer(o: IngestOutcome): HttpAnswer {
  if (o.kind === 'ack') return jsonAnswer(200, o.ack);
  const retryAfter: Record<string, string> = o.kind === 'unavailable' ? { 'Retry-After': String(Math.max(1, Math.ceil(o.retryAfterMs / 1000))) } : {};
  return jsonAnswer(STATUS[o.kind], errorOf(o, 'body'), retryAfter);
}
