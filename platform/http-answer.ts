// An HTTP answer as plain data (status, headers in order, body): built once, then written by whichever listener
// sends it, a raw uWS response (`http/uws-reply.ts`) or a Hono handler (`toResponse`).

export interface HttpAnswer {
  readonly status: number;
  /** Written in this order (uWS keeps it; a Fetch Response sorts them). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A JSON answer: Content-Type first, then `headers`. */
export function jsonAnswer(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): HttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The answer as a Fetch Response, for Hono handlers and middleware. */
export function toResponse(a: HttpAnswer): Response {
  return new Response(a.body, { status: a.status, headers: a.headers });
}
