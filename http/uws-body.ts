// Reads a uWS request body with a size cap: the one body reader of the socket layer (the Hono bridge, ingest POST).
import type { HttpAnswer } from '../platform/http-answer.ts';
import { answer, type Exchange } from './uws-exchange.ts';

export interface BodyLimit {
  /** The request's Content-Length, if it sent one. */
  declaredLength: number | undefined;
  maxBytes: number;
  /** The 413 to answer with; sent with the connection closed, the only way to refuse the rest of an upload unread. */
  tooLarge: () => HttpAnswer;
}

/**
 * Collects the body into one buffer of at most `maxBytes`, then calls `done`. Over the limit, declared or while
 * streaming, it answers `tooLarge()` once and reads no further.
 */
export function readBody(x: Exchange, limit: BodyLimit, done: (body: Uint8Array<ArrayBuffer>) => void): void {
  const refuse = () => answer(x, limit.tooLarge(), true);
  if (limit.declaredLength !== undefined && limit.declaredLength > limit.maxBytes) return refuse();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  let over = false;
  x.res.onData((chunk, isLast) => {
    if (over) return;
    total += chunk.byteLength;
    if (total > limit.maxBytes) {
      over = true;
      chunks.length = 0;
      return refuse();
    }
    // uWS neuters the ArrayBuffer when this callback returns: keep a copy.
    if (chunk.byteLength > 0) chunks.push(new Uint8Array(chunk.slice(0)));
    if (isLast) done(concat(chunks, total));
  });
}

/** The chunks as one buffer; a single chunk is returned as it is. */
export function concat<T extends ArrayBufferLike>(chunks: Uint8Array<T>[], total: number): Uint8Array<T | ArrayBuffer> {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
