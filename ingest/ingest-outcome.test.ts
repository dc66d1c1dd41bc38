// The contract's ingest answers, byte for byte, as each side writes every outcome: the WebSocket frame and the HTTP
// status, headers and body.
import { describe, expect, it } from 'vitest';
import { toFrame, toHttpAnswer, type IngestOutcome } from './ingest-outcome.ts';

const JSON_TYPE = { 'Content-Type': 'application/json' };

describe('ingest outcomes on the wire', () => {
  const cases: [IngestOutcome, string, number, Record<string, string>, string][] = [
    [
      { kind: 'ack', ack: { batch: 'b-1', accepted: 1, duplicates: 0, rejected: [{ index: 1, id: 'o-2', error: 'amount: at most 2 fraction digits' }] } },
      '{"batch":"b-1","accepted":1,"duplicates":0,"rejected":[{"index":1,"id":"o-2","error":"amount: at most 2 fraction digits"}]}',
      200,
      JSON_TYPE,
      '{"batch":"b-1","accepted":1,"duplicates":0,"rejected":[{"index":1,"id":"o-2","error":"amount: at most 2 fraction digits"}]}',
    ],
    [{ kind: 'not-a-batch', batch: 'b-2', error: 'orders: at least 1 order' }, '{"batch":"b-2","error":"orders: at least 1 order"}', 400, JSON_TYPE, '{"batch":"b-2","error":"orders: at least 1 order"}'],
    [{ kind: 'not-a-batch', batch: null, error: 'frame: not valid JSON' }, '{"batch":null,"error":"frame: not valid JSON"}', 400, JSON_TYPE, '{"batch":null,"error":"frame: not valid JSON"}'],
    [{ kind: 'not-utf8' }, '{"batch":null,"error":"frame: not valid UTF-8"}', 400, JSON_TYPE, '{"batch":null,"error":"body: not valid UTF-8"}'],
    [{ kind: 'too-large', limitBytes: 2000 }, '{"batch":null,"error":"frame: larger than 2000 bytes"}', 413, JSON_TYPE, '{"batch":null,"error":"body: larger than 2000 bytes"}'],
    [
      { kind: 'unavailable', batch: 'b-3', retryAfterMs: 250 },
      '{"batch":"b-3","error":"unavailable","retryAfterMs":250}',
      503,
      { ...JSON_TYPE, 'Retry-After': '1' },
      '{"batch":"b-3","error":"unavailable","retryAfterMs":250}',
    ],
    [
      { kind: 'internal-error' },
      '{"batch":null,"error":"internal error: the frame was not taken; send it again"}',
      500,
      JSON_TYPE,
      '{"batch":null,"error":"internal error: the body was not taken; send it again"}',
    ],
  ];

  it.each(cases)('%j', (outcome, frame, status, headers, body) => {
    expect(toFrame(outcome)).toBe(frame);
    const a = toHttpAnswer(outcome);
    expect(a.status).toBe(status);
    // Order too: uWS writes the headers as listed.
    expect(Object.entries(a.headers)).toEqual(Object.entries(headers));
    expect(a.body).toBe(body);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(toHttpAnswer({ kind: 'unavailable', batch: 'b', retryAfterMs: 1001 }).headers['Retry-After']).toBe('2');
    expect(toHttpAnswer({ kind: 'unavailable', batch: 'b', retryAfterMs: 0 }).headers['Retry-After']).toBe('1');
  });
});
