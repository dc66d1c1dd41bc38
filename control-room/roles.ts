// Control-room roles and which token grants which: viewer < producer < admin, checked in constant time.
import { ROLES, type Role } from '../protocol/control-state.ts';
import { createTokenCheck } from '../platform/tokens.ts';

export { ROLES, type Role } from '../protocol/control-state.ts';

/** True when `role` may do what `needed` may. */
export function hasRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export interface RoleTokens {
  viewer: readonly string[];
  producer: readonly string[];
  admin: readonly string[];
}

/** Maps a presented token to the highest role it grants, or null. Every list is checked, so timing says nothing. */
export function createRoleResolver(tokens: RoleTokens): (presented: string | null) => Role | null {
  const checks = ROLES.map((r) => [r, createTokenCheck(tokens[r])] as const);
  return (presented) => {
    let found: Role | null = null;
    for (const [role, check] of checks) if (check(presented)) found = role;
    return found;
  };
}
