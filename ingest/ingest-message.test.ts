// The ingest edge's parser: every kind of bytes a client can send, read into one message or a refusal.
import { describe, expect, it } from 'vitest';
import { createIngestParser } from './ingest-message.ts';

const parser = createIngestParser({ currencies: ['CNY', 'USD'], maxFrameBytes: 200 });
const bytes = (s: string) => new TextEncoder().encode(s);
const frame = (s: string) => bytes(s).buffer as ArrayBuffer;
const ORDER = '{"id":"o-1","ts":1794326400000,"amount":"1.00","currency":"CNY","channel":"mobile"}';

describe('ingest parser', () => {
  it('reads a plain ASCII batch with the fast scanner', () => {
    const m = parser.body(bytes(`{"batch":"b-1","orders":[${ORDER}]}`));
    expect(m).toMatchObject({ kind: 'scanned', batch: 'b-1' });
  });

  it('reads a batch the scanner doubts (escapes, non-ASCII) with JSON.parse', () => {
    expect(parser.body(bytes(`{"batch":"b-\\u00e9","orders":[${ORDER}]}`))).toMatchObject({ kind: 'parsed', batch: 'b-é' });
    expect(parser.frame(frame(`{"batch":"b-é","orders":[${ORDER}]}`), false)).toMatchObject({ kind: 'parsed', batch: 'b-é' });
  });

  it('refuses what is no batch, naming why', () => {
    expect(parser.frame(frame('{}'), true)).toEqual({ kind: 'not-a-batch', batch: null, error: 'frame: binary frames are not batches; send the batch as JSON text' });
    expect(parser.frame(frame('x'.repeat(201)), false)).toEqual({ kind: 'too-large', limitBytes: 200 });
    expect(parser.body(new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual({ kind: 'not-utf8' });
    expect(parser.body(bytes('{nope'))).toEqual({ kind: 'not-a-batch', batch: null, error: 'frame: not valid JSON' });
    expect(parser.body(bytes('{"batch":"b-2","orders":[]}'))).toEqual({ kind: 'not-a-batch', batch: 'b-2', error: 'orders: at least 1 order' });
  });
});
