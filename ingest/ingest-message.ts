// The ingest edge: the bytes of a WebSocket message or an HTTP body parsed into one message type, and that message
// taken to the committer, which ends in an outcome. As tRPC's parseTRPCMessage: `unknown` bytes in, typed out.
import { isAscii, isUtf8 } from 'node:buffer';
import { parseBatchFrame, type RawBatch } from '../domain/order.ts';
import { createFrameScanner, type ScannedOrders } from './frame-scanner.ts';
import type { GroupCommitter } from './group-commit.ts';
import type { IngestOutcome } from './ingest-outcome.ts';

/**
 * One batch, read either by the fast scanner (its orders point into `bytes`) or by JSON.parse. `bytes` belongs to
 * uWS and `orders` to the scanner until the next frame: submit the message before the socket callback returns.
 */
export type IngestMessage =
  | { kind: 'scanned'; batch: string; orders: ScannedOrders; bytes: Uint8Array }
  | { kind: 'parsed'; batch: string; value: RawBatch };

/** What a frame or body that is no batch is answered with; it never reaches the committer. */
export type NotABatch = Extract<IngestOutcome, { kind: 'not-a-batch' | 'not-utf8' | 'too-large' }>;

export function isBatch(m: IngestMessage | NotABatch): m is IngestMessage {
  return m.kind === 'scanned' || m.kind === 'parsed';
}

export interface IngestParser {
  /** A WebSocket message: a text frame of at most the limit. */
  frame(data: ArrayBuffer, isBinary: boolean): IngestMessage | NotABatch;
  /** An HTTP body, already capped by the body reader. */
  body(bytes: Uint8Array): IngestMessage | NotABatch;
}

export function createIngestParser(opts: { currencies: readonly string[]; maxFrameBytes: number }): IngestParser {
  const scanner = createFrameScanner(opts.currencies);
  const read = (bytes: Uint8Array): IngestMessage | NotABatch => {
    const scanned = scanner.scan(bytes);
    if (scanned.ok) return { kind: 'scanned', batch: scanned.batch, orders: scanned.orders, bytes };
    const text = decode(bytes);
    if (text === null) return { kind: 'not-utf8' };
    const parsed = parseBatchFrame(text);
    if (!parsed.ok) return { kind: 'not-a-batch', batch: parsed.batch, error: parsed.error };
    return { kind: 'parsed', batch: parsed.value.batch, value: parsed.value };
  };
  return {
    frame(data, isBinary) {
      if (isBinary) return { kind: 'not-a-batch', batch: null, error: 'frame: binary frames are not batches; send the batch as JSON text' };
      if (data.byteLength > opts.maxFrameBytes) return { kind: 'too-large', limitBytes: opts.maxFrameBytes };
      return read(new Uint8Array(data));
    },
    body: read,
  };
}

/**
 * Frames are almost always ASCII: latin1 decoding is then exact and gives V8 the one-byte strings its JSON parser is
 * fastest on. Anything else must be valid UTF-8 (validated with simdutf, not replaced).
 */
function decode(bytes: Uint8Array): string | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isAscii(b)) return b.toString('latin1');
  return isUtf8(b) ? b.toString('utf8') : null;
}

/**
 * The upgrade header a cluster node's link sets to its own node id: the frames of that socket were forwarded by a
 * peer and are never forwarded again. It is read only on a connection that presented a valid ingest token.
 */
export const FORWARDED_BY_HEADER = 'x-gala-forwarded-by';

/**
 * Where a parsed batch goes: the committer on a single node (`submitBatch`), or a cluster's router, which splits it
 * by owner. `forwardedBy` is the peer node that forwarded it, null for a client. Called before the socket callback
 * returns (the message's bytes die then); resolves with the one outcome the client is answered.
 */
export type RouteBatch = (m: IngestMessage, receivedMs: number, forwardedBy: string | null) => Promise<IngestOutcome>;

/** Takes the batch to the committer; resolves once it is committed (the ack) or refused (unavailable). */
export function submitBatch(committer: GroupCommitter, m: IngestMessage, receivedMs: number): Promise<IngestOutcome> {
  const pending = m.kind === 'scanned' ? committer.submitScanned(m.batch, m.orders, m.bytes, receivedMs) : committer.submit(m.value, receivedMs);
  return pending.then((o) => (o.kind === 'ack' ? o : { kind: 'unavailable', batch: m.batch, retryAfterMs: o.retryAfterMs }));
}
