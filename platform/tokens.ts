// Bearer-token checks for the ingest tier, in constant time so a token cannot be guessed byte by byte.
import { createHash, timingSafeEqual } from 'node:crypto';

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
