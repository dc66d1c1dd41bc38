// The control room's HTTP calls: JSON in and out, the session's CSRF token on every unsafe request, and one
// answer shape ({status, body, error}) so the pages can show a refusal (403, 409...) as a clear message.
import type { Role } from '../../protocol/control-state.ts';

export interface SessionInfo {
  operator: string;
  role: Role;
  via: 'session' | 'token';
  csrf: string | null;
  expiresAt: string | null;
}

export interface Answer<T = Record<string, unknown>> {
  ok: boolean;
  status: number;
  body: T;
  /** The server's `error` ("field: rule"), or a network failure; null when ok. */
  error: string | null;
}

let csrf: string | null = null;

export function setCsrf(token: string | null): void {
  csrf = token;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each caller reads the fields it knows
export async function call<T = any>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return { ok: false, status: 0, body: {} as T, error: `network: ${(e as Error).message}` };
  }
  let parsed: unknown = {};
  try {
    parsed = await res.json();
  } catch {
    // an empty or non-JSON answer
  }
  const error = res.ok ? null : typeof (parsed as { error?: unknown }).error === 'string' ? (parsed as { error: string }).error : `HTTP ${res.status}`;
  return { ok: res.ok, status: res.status, body: parsed as T, error };
}

/** Who is logged in; null (and the caller goes to the login page) without a valid session. */
export async function loadSession(): Promise<SessionInfo | null> {
  const r = await call<SessionInfo>('GET', '/v1/control/session');
  if (!r.ok) return null;
  setCsrf(r.body.csrf);
  return r.body;
}

export function toLogin(next?: string): void {
  location.assign(next === undefined ? '/control/login' : `/control/login?next=${encodeURIComponent(next)}`);
}

export async function logout(): Promise<void> {
  await call('POST', '/control/logout');
  toLogin();
}
