// Writes a whole answer on a uWS response in one corked send: the socket layer's one way of turning an
// HttpAnswer into bytes, for every listener that answers uWS requests directly.
import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { HttpAnswer } from '../platform/http-answer.ts';

/** `401 Unauthorized`: HTTP/1.1 needs the space after the code even when the reason phrase is empty. */
export function statusLine(status: number, reason?: string): string {
  return `${status} ${reason || STATUS_CODES[status] || ''}`;
}

/**
 * Status, headers in their order, body. `closeConnection` is the only way to refuse the rest of an upload
 * without reading it. The caller makes sure the response is still there (not aborted, not yet ended).
 */
export function writeAnswer(res: HttpResponse, a: HttpAnswer, closeConnection = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(a.status));
    for (const name in a.headers) res.writeHeader(name, a.headers[name]!);
    res.end(a.body, closeConnection);
  });
}
