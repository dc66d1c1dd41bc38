// Server-side control-room sessions: random ids, a CSRF token each, absolute and idle expiry, a bounded count.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import type { Role } from './roles.ts';

export interface Session {
  id: string;
  operator: string;
  role: Role;
  /** Sent back in the X-CSRF-Token header on every unsafe request made with the cookie. */
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export interface SessionStoreOptions {
  /** Most sessions at once; past it the least recently seen is dropped (default 1000). */
  maxSessions?: number;
  /** Lifetime from login (default 12 h: a four-hour show and its rehearsal). */
  ttlMs?: number;
  /** Idle time after which a session ends (default 2 h). */
  idleMs?: number;
  now?: () => number;
}

/**
 * Whether a session cookie's value names a live session (`https`: it came as the `__Host-` cookie). On a single node
 * or the coordinator, this node's store answers; on another cluster node the coordinator, which holds them all.
 */
export type SessionCheck = (id: string, https: boolean) => boolean | Promise<boolean>;

/** The session cookies a Cookie header carries (either name, at most a few), for checks outside Hono. */
export function sessionCookies(header: string): { id: string; https: boolean }[] {
  const out: { id: string; https: boolean }[] = [];
  for (const part of header.split(';')) {
    const [k, v] = part.trim().split('=', 2);
    if ((k === 'gala_session' || k === '__Host-gala_session') && v !== undefined && v !== '') out.push({ id: v, https: k !== 'gala_session' });
    if (out.length === 4) break;
  }
  return out;
}

const token = () => randomBytes(32).toString('base64url');
const digest = (s: string) => createHash('sha256').update(s).digest();

export class SessionStore {
  // Map order is insertion order; a session seen again is re-inserted, so the first entry is the least recently seen.
  private readonly sessions = new Map<string, Session>();
  private readonly max: number;
  private readonly ttl: number;
  private readonly idle: number;
  private readonly now: () => number;

  constructor(opts: SessionStoreOptions = {}) {
    this.max = opts.maxSessions ?? 1000;
    this.ttl = opts.ttlMs ?? 12 * 3600_000;
    this.idle = opts.idleMs ?? 2 * 3600_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(operator: string, role: Role): Session {
    const now = this.now();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value as string);
    const s: Session = { id: token(), operator, role, csrf: token(), createdAt: now, lastSeenAt: now, expiresAt: now + this.ttl };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id (touching it), or null. */
  get(id: string | null | undefined): Session | null {
    if (id === null || id === undefined || id.length === 0 || id.length > 100) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    const now = this.now();
    if (now >= s.expiresAt || now - s.lastSeenAt >= this.idle) {
      this.sessions.delete(id);
      return null;
    }
    s.lastSeenAt = now;
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** Constant-time comparison of a presented CSRF token with the session's. */
  static csrfMatches(s: Session, presented: string | null | undefined): boolean {
    if (presented === null || presented === undefined || presented.length === 0) return false;
    return timingSafeEqual(digest(s.csrf), digest(presented));
  }
}
