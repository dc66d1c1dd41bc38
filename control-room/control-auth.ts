// Who is asking: a Bearer token (automation: Stream Deck, Companion, scripts) or a session cookie (the control
// room's pages), with the CSRF rules for cookies: unsafe methods need the session's X-CSRF-Token header and, when
// the browser sends one, an Origin of this very host. Also the cookie's name and attributes for the scheme in use.
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { HttpEnv } from '../platform/http-env.ts';
import { createBearerGuard, Unauthorized, type BearerGuard } from '../platform/tokens.ts';
import { ControlError } from './control-error.ts';
import type { Actor } from './cue-engine.ts';
import type { Role } from './roles.ts';
import { SessionStore, type Session } from './sessions.ts';

export interface Principal extends Actor {
  role: Role;
  via: 'session' | 'token';
  session: Session | null;
}

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The challenge of every 401 of the control room, token or session. */
export const CONTROL_CHALLENGE = 'Bearer realm="gala-control"';
// Letters, marks, numbers, punctuation, symbols and plain spaces: no control or format characters.
const OPERATOR = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,64}$/u;

/** HTTPS directly or behind a TLS-terminating proxy that says so. Trusting the header only ever adds `Secure`. */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

/** `__Host-` requires Secure, which browsers refuse on plain HTTP: on http://localhost the plain name is used. */
export function sessionCookieName(https: boolean): string {
  return https ? '__Host-gala_session' : 'gala_session';
}

/** An operator name: 1 to 64 characters, no control characters. Shown as data, never as markup. */
export function parseOperator(v: unknown, field = 'operator'): string {
  const s = typeof v === 'string' ? v.trim() : v;
  if (typeof s !== 'string' || !OPERATOR.test(s)) throw new ControlError(400, `${field}: must be 1 to 64 characters without control characters`);
  return s;
}

/**
 * The host the browser addressed: this node's, or, for a request another cluster node passed on (its token checked
 * by the coordinator's peer middleware), the host on that node.
 */
export function requestHost(c: Context<HttpEnv>): string {
  return c.get('peerHost') ?? new URL(c.req.url).host;
}

/** The request's Origin, if any, must be the host addressed (same scheme-less host:port), else it is cross-site. */
export function sameOrigin(c: Context<HttpEnv>): boolean {
  return originMatches(c.req.header('origin'), requestHost(c));
}

/** An Origin header is of `host`: absent, or the same scheme-less host:port (`null` never is). */
export function originMatches(origin: string | undefined, host: string): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A role's token, as Bearer header or (live channel upgrades) `?token=`, or the control room's 401. */
export function createRoleGuard(roleOf: (token: string | null) => Role | null): BearerGuard<Role> {
  return createBearerGuard(roleOf, { challenge: CONTROL_CHALLENGE, error: 'authorization: the token is not valid (Authorization: Bearer <token>)' });
}

/**
 * Resolves the principal of a request, or throws 401/403. A Bearer header is never mixed with a cookie: a wrong
 * token is refused even if a session cookie is present.
 */
export function authenticate(c: Context<HttpEnv>, sessions: SessionStore, bearer: BearerGuard<Role>): Principal {
  const authz = c.req.header('authorization');
  if (authz !== undefined && authz !== '') {
    const role = bearer(authz, '');
    if (role instanceof Unauthorized) throw new ControlError(role.status, role.error);
    const named = c.req.header('x-operator');
    const operator = named === undefined || named === '' ? `${role} token` : parseOperator(named, 'x-operator');
    return { operator, role, via: 'token', session: null };
  }
  const session = sessions.get(getCookie(c, sessionCookieName(isHttps(c))));
  if (session === null) throw new ControlError(401, 'authorization: log in at POST /control/login, or send Authorization: Bearer <token>');
  const p: Principal = { operator: session.operator, role: session.role, via: 'session', session };
  if (!SAFE_METHODS.has(c.req.method)) {
    if (!sameOrigin(c)) throw new CsrfError(p, 'origin: cross-site request refused');
    if (!SessionStore.csrfMatches(session, c.req.header('x-csrf-token'))) throw new CsrfError(p, 'x-csrf-token: required, the csrf value of GET /v1/control/session');
  }
  return p;
}

/** A CSRF refusal still knows whose session it was, so the audit can say who was targeted. */
export class CsrfError extends ControlError {
  constructor(
    readonly principal: Principal,
    message: string,
  ) {
    super(403, message);
  }
}
