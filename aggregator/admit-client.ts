// Per-client admission on the endpoints uWS serves directly (GET /v1/stats, its SSE stream, the live channel's
// upgrade): one request from the client's bucket, or the 429 answered on the spot.
import type { HttpResponse } from 'uWebSockets.js';
import { clientAddress } from '../http/client-address.ts';
import { writeAnswer } from '../http/uws-reply.ts';
import { tooManyRequests, UNLIMITED, type RateDecision, type RateLimiter } from './rate-limit.ts';

/**
 * The decision whose fields go with the answer, or null once the 429 is sent. `headers` lead the 429 (CORS, where
 * the endpoint sends it). A limiter that is off costs nothing, not even reading the address.
 */
export function admitClient(limiter: RateLimiter, res: HttpResponse, headers: Readonly<Record<string, string>> = {}): RateDecision | null {
  const d = limiter.enabled ? limiter.take(clientAddress(res)) : UNLIMITED;
  if (d.allowed) return d;
  const refusal = tooManyRequests(d);
  writeAnswer(res, { ...refusal, headers: { ...headers, ...refusal.headers } });
  return null;
}
