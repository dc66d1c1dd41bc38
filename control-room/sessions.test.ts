// Sessions: random ids, idle and absolute expiry, a bounded count that drops the least recently seen.
import { describe, expect, it } from 'vitest';
import { hasRole, createRoleResolver } from './roles.ts';
import { SessionStore } from './sessions.ts';

describe('SessionStore', () => {
  it('expires sessions when idle or too old, and bounds their number', () => {
    let now = 0;
    const s = new SessionStore({ maxSessions: 2, ttlMs: 1000, idleMs: 300, now: () => now });
    const a = s.create('Ann', 'producer');
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrf).not.toBe(a.id);
    now = 250;
    expect(s.get(a.id)?.operator).toBe('Ann');
    now = 549;
    expect(s.get(a.id)).not.toBeNull();
    now = 900;
    expect(s.get(a.id)).toBeNull(); // idle 351 ms
    const b = s.create('Bob', 'viewer');
    const c = s.create('Cy', 'admin');
    s.get(b.id);
    s.create('Di', 'viewer');
    expect(s.size).toBe(2);
    expect(s.get(c.id)).toBeNull(); // least recently seen went first
    expect(s.get(b.id)).not.toBeNull();
    now = 1900;
    expect(s.get(b.id)).toBeNull(); // past its lifetime
    expect(SessionStore.csrfMatches(a, a.csrf)).toBe(true);
    expect(SessionStore.csrfMatches(a, 'x')).toBe(false);
  });

  it('roles: viewer < producer < admin, a token maps to its highest role', () => {
    const roleOf = createRoleResolver({ viewer: ['v'], producer: ['p', 'both'], admin: ['a', 'both'] });
    expect([roleOf('v'), roleOf('p'), roleOf('a'), roleOf('both'), roleOf('nope'), roleOf(null)]).toEqual(['viewer', 'producer', 'admin', 'admin', null, null]);
    expect(hasRole('viewer', 'producer')).toBe(false);
    expect(hasRole('admin', 'producer')).toBe(true);
  });
});
