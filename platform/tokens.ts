// Bearer-token checks for every listener, in constant time so a token cannot be guessed byte by byte, and the one
// 401 check built on them: the token a request presents, what it grants, or the refusal to answer with.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpAnswer } from './http-answer.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Builds a checker over the allowed tokens; with none allowed everyone is refused. */
export function createTokenCheck(tokens: readonly string[]): (presented: string | null) => boolean {
  const allowed = tokens.filter((t) => t.length > 0).map(digest);
  return (presented) => {
    if (presented === null || presented.length === 0) return false;
    const d = digest(presented);
    let ok = false;
    for (const a of allowed) ok = timingSafeEqual(a, d) || ok;
    return ok;
  };
}

/** The token from `Authorization: Bearer <t>` or, failing that, the `token` query parameter. */
export function presentedToken(authorization: string, query: string): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (m) return m[1] ?? null;
  const q = new URLSearchParams(query).get('token');
  return q;
}

/** Splits GALA_INGEST_TOKEN-style lists: comma-separated, blanks ignored. */
export function parseTokenList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((t) => t.trim()).filter((t) => t.length > 0);
}

/** A request refused for a missing or wrong token: status 401, the challenge and the error text to answer with. */
export class Unauthorized {
  readonly status = 401;
  constructor(
    /** The `WWW-Authenticate` value. */
    readonly challenge: string,
    readonly error: string,
  ) {}

  /** The JSON body, `{"error": ...}`. */
  get body(): string {
    return JSON.stringify({ error: this.error });
  }

  /** The whole answer: the challenge, then the JSON body. */
  answer(): HttpAnswer {
    return { status: 401, headers: { 'WWW-Authenticate': this.challenge, 'Content-Type': 'application/json' }, body: this.body };
  }
}

export interface Refusal {
  /** Default `Bearer`. */
  challenge?: string;
  error: string;
}

/** What a request's credentials grant, or the refusal. */
export type BearerGuard<T> = (authorization: string, query: string) => T | Unauthorized;

const DEFAULT_REFUSAL: Refusal = { error: 'authorization: a valid token is required (Authorization: Bearer <token>)' };

/**
 * The one 401 check of every listener. Reads the token a request presents (`Authorization: Bearer`, else
 * `?token=`; pass '' as the query where it does not count) and resolves it: against a list of allowed tokens
 * (granting `true`), or through a resolver such as the control room's roles. A missing or unknown token gives the
 * refusal, which each listener writes in its own framing.
 */
export function createBearerGuard(grants: readonly string[], refusal?: Refusal): BearerGuard<true>;
export function createBearerGuard<T>(grants: (token: string | null) => T | null, refusal?: Refusal): BearerGuard<T>;
export function createBearerGuard<T>(grants: readonly string[] | ((token: string | null) => T | null), refusal = DEFAULT_REFUSAL): BearerGuard<T | true> {
  const resolve = typeof grants === 'function' ? grants : listed(createTokenCheck(grants));
  const denied = new Unauthorized(refusal.challenge ?? 'Bearer', refusal.error);
  return (authorization, query) => resolve(presentedToken(authorization, query)) ?? denied;
}

function listed(check: (presented: string | null) => boolean): (token: string | null) => true | null {
  return (token) => (check(token) ? true : null);
}
