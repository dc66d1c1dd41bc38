// The control room's HTTP API (Hono): login/logout for the pages, and the automation API under /v1/control for
// the pages, Stream Deck / Companion and scripts. Every route authenticates (session or Bearer token), checks the
// role, answers errors as {error: "<field>: <rule>"} (409s with the current state), and audits every action.
import { Hono, type Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { parseTrigger, RundownError } from '../domain/rundown.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import { auditCsv } from './audit-log.ts';
import { authenticate, CONTROL_CHALLENGE, CsrfError, isHttps, parseOperator, sameOrigin, sessionCookieName, type Principal } from './control-auth.ts';
import { ControlError } from './control-error.ts';
import type { ControlRoom } from './control-room.ts';
import { hasRole, type Role } from './roles.ts';
import { mountRehearsalRoutes } from './rehearsal/rehearsal-routes.ts';

type Body = Record<string, unknown>;

/** What an action handler answers: the body, and a line for the audit. */
export interface Outcome {
  body: object;
  detail: string;
  status?: 200 | 201;
}

export const CONTROL_PREFIX = '/v1/control';

/** The app and the route wrapper (authenticate, check the role, run, audit), for features that mount routes here. */
export type ControlApp = Hono<HttpEnv>;
export type ControlRoute = (
  action: string | null,
  need: Role,
  fn: (c: Context<HttpEnv>, p: Principal, body: Body) => Outcome | Response | Promise<Outcome | Response>,
) => (c: Context<HttpEnv>) => Promise<Response>;

async function readBody(c: Context): Promise<Body> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ControlError(400, 'body: must be a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlError(400, 'body: must be a JSON object');
  return v as Body;
}

function optString(b: Body, k: string): string | undefined {
  const v = b[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) throw new ControlError(400, `${k}: must be a non-empty string`);
  return v;
}

function optInt(b: Body | Record<string, string | undefined>, k: string): number | undefined {
  const raw = b[k];
  if (raw === undefined) return undefined;
  const v = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ControlError(400, `${k}: must be a whole number`);
  return v;
}

/** `after`: a cue id, or null for the top. */
function optAfter(b: Body): string | null | undefined {
  return b.after === null ? null : optString(b, 'after');
}

export function createControlRoutes(room: ControlRoom, opts: { openapi: () => object }) {
  const app = new Hono<HttpEnv>();
  const fail = (c: Context, e: ControlError) => {
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    if (e.status === 401) c.header('WWW-Authenticate', CONTROL_CHALLENGE);
    return c.json(e.status === 409 ? { error: e.message, state: room.state() } : { error: e.message }, e.status);
  };
  const asControlError = (e: unknown): ControlError | null =>
    e instanceof ControlError ? e : e instanceof RundownError ? new ControlError(400, e.message) : null;

  /**
   * One route: authenticate, check the role, run, answer. `action` names what the audit records (null for reads,
   * which are not audited); refusals of an identified caller (403, 409, 400) are audited too.
   */
  const route: ControlRoute =
    (action: string | null, need: Role, fn: (c: Context<HttpEnv>, p: Principal, body: Body) => Outcome | Response | Promise<Outcome | Response>) =>
    async (c: Context<HttpEnv>) => {
      let p: Principal | null = null;
      const target = c.req.param('id') ?? null;
      try {
        p = authenticate(c, room.sessions, room.bearer);
        if (!hasRole(p.role, need)) throw new ControlError(403, `role: ${action ?? 'this'} needs the ${need} role or higher (you are ${p.role})`);
        const body = action === null ? {} : await readBody(c);
        const out = await fn(c, p, body);
        if (out instanceof Response) return out;
        if (action !== null) await room.record({ operator: p.operator, role: p.role, via: p.via, action, target, result: 'ok', status: out.status ?? 200, detail: out.detail });
        c.header('Cache-Control', 'no-store');
        c.header('X-Content-Type-Options', 'nosniff');
        return c.json(out.body, out.status ?? 200);
      } catch (e) {
        if (e instanceof CsrfError) p = e.principal;
        const ce = asControlError(e);
        if (p !== null && (action !== null || ce?.status === 403)) {
          await room.record({ operator: p.operator, role: p.role, via: p.via, action: action ?? `read ${c.req.path}`, target, result: ce === null ? 'failed' : 'refused', status: ce?.status ?? 500, detail: ce?.message ?? String(e) });
        }
        if (ce === null) throw e;
        return fail(c, ce);
      }
    };

  // ---- sessions for the pages ----

  app.post('/control/login', async (c) => {
    let token: unknown;
    let operator: unknown;
    const type = c.req.header('content-type') ?? '';
    const isForm = type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data');
    try {
      if (!sameOrigin(c)) throw new ControlError(403, 'origin: cross-site login refused');
      if (isForm) {
        const f = await c.req.parseBody();
        token = f.token;
        operator = f.operator;
      } else {
        const b = await readBody(c);
        token = b.token;
        operator = b.operator;
      }
      const name = parseOperator(operator);
      if (typeof token !== 'string' || token.length === 0) throw new ControlError(400, 'token: required');
      const role = room.roleOf(token);
      if (role === null) {
        await room.record({ operator: name, role: null, via: 'none', action: 'login', target: null, result: 'refused', status: 401, detail: 'token: not valid' });
        throw new ControlError(401, 'token: not valid');
      }
      const s = room.sessions.create(name, role);
      const https = isHttps(c);
      setCookie(c, sessionCookieName(https), s.id, {
        httpOnly: true,
        sameSite: 'Strict',
        secure: https,
        path: '/',
        maxAge: Math.floor((s.expiresAt - s.createdAt) / 1000),
      });
      await room.record({ operator: name, role, via: 'session', action: 'login', target: null, result: 'ok', status: isForm ? 303 : 200, detail: null });
      c.header('Cache-Control', 'no-store');
      if (isForm) return c.redirect('/control', 303);
      return c.json({ operator: s.operator, role: s.role, csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() });
    } catch (e) {
      const ce = asControlError(e);
      if (ce === null) throw e;
      return fail(c, ce);
    }
  });

  app.post(
    '/control/logout',
    route('logout', 'viewer', (c, p) => {
      if (p.session !== null) room.sessions.delete(p.session.id);
      deleteCookie(c, sessionCookieName(isHttps(c)), { path: '/', secure: isHttps(c) });
      return { body: { ok: true }, detail: p.via === 'session' ? 'session ended' : 'token callers have no session' };
    }),
  );

  // ---- reads ----

  const P = CONTROL_PREFIX;
  app.get(`${P}/openapi.json`, route(null, 'viewer', () => ({ body: opts.openapi(), detail: '' })));
  app.get(
    `${P}/session`,
    route(null, 'viewer', (_c, p) => ({
      body: { operator: p.operator, role: p.role, via: p.via, csrf: p.session?.csrf ?? null, expiresAt: p.session === null ? null : new Date(p.session.expiresAt).toISOString() },
      detail: '',
    })),
  );
  app.get(`${P}/state`, route(null, 'viewer', () => ({ body: room.state(), detail: '' })));
  app.get(`${P}/rundown`, route(null, 'viewer', () => ({ body: room.engine.getRundown(), detail: '' })));
  app.get(`${P}/triggers`, route(null, 'viewer', () => ({ body: { triggers: room.triggers.list(room.values()) }, detail: '' })));
  const auditQuery = (c: Context) => {
    const q = c.req.query();
    const limit = optInt(q, 'limit');
    if (limit !== undefined && (limit < 1 || limit > 20_000)) throw new ControlError(400, 'limit: must be 1 to 20000');
    return { limit: limit ?? 500, after: optInt(q, 'after'), operator: q.operator, action: q.action };
  };
  app.get(`${P}/audit`, route(null, 'viewer', (c) => ({ body: { entries: room.audit.list(auditQuery(c)), lastSeq: room.audit.lastSeq }, detail: '' })));
  app.get(
    `${P}/audit.csv`,
    route(null, 'viewer', (c) =>
      c.body(auditCsv(room.audit.list(auditQuery(c))), 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': 'attachment; filename="control-audit.csv"',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      }),
    ),
  );

  // ---- the playhead (producer) ----

  const withState = (extra: object) => ({ ...extra, state: room.state() });
  // GO with a body names the standby cue the operator saw (or the rev); without one (a Stream Deck button's fixed
  // request) it fires whatever is on standby. Either is refused within the rundown's doubleGoMs of the last GO.
  app.post(
    `${P}/go`,
    route('go', 'producer', (_c, p, b) => {
      const standby = b.standby === null ? null : optString(b, 'standby');
      const rev = optInt(b, 'rev');
      const run = room.engine.go({ standby, rev, armId: optString(b, 'armId') }, p);
      return { body: withState({ fired: run }), detail: `fired ${run.cueId}${standby === undefined && rev === undefined ? ' (plain GO)' : ''}` };
    }),
  );
  // The standby cue's two-step firing for buttons: fixed requests, acting on whatever is on standby.
  app.post(
    `${P}/standby/arm`,
    route('arm', 'producer', (_c, p) => {
      const a = room.engine.armStandby(p);
      return { body: a, detail: `armed standby ${a.cueId} until ${a.expiresAt}` };
    }),
  );
  app.post(
    `${P}/standby/hold`,
    route('hold', 'producer', (_c, p) => {
      const h = room.engine.pressStandby(p);
      return { body: h, detail: `held standby ${h.cueId}, fires on release after ${h.fireAfter}` };
    }),
  );
  app.post(
    `${P}/standby/release`,
    route('release', 'producer', (_c, p) => {
      const run = room.engine.releaseStandby(p);
      return { body: withState({ fired: run }), detail: `fired ${run.cueId} (standby release)` };
    }),
  );
  app.post(
    `${P}/standby`,
    route('standby', 'producer', (_c, p, b) => {
      const cueId = b.cueId === null ? null : optString(b, 'cueId');
      if (cueId === undefined) throw new ControlError(400, 'cueId: required (a cue id, or null for none)');
      room.engine.setStandby(cueId, p, { rev: optInt(b, 'rev') });
      return { body: withState({}), detail: `standby ${cueId}` };
    }),
  );
  app.post(`${P}/next`, route('next', 'producer', (_c, p) => (room.engine.next(p), { body: withState({}), detail: `standby ${room.engine.snapshot().standby}` })));
  app.post(`${P}/back`, route('back', 'producer', (_c, p) => (room.engine.back(p), { body: withState({}), detail: `standby ${room.engine.snapshot().standby}` })));
  app.post(
    `${P}/cues/:id/fire`,
    route('fire', 'producer', (c, p, b) => {
      const run = room.engine.fire(c.req.param('id')!, { armId: optString(b, 'armId'), rev: optInt(b, 'rev') }, p);
      return { body: withState({ fired: run }), detail: `fired ${run.cueId}` };
    }),
  );
  app.post(
    `${P}/cues/:id/arm`,
    route('arm', 'producer', (c, p) => {
      const a = room.engine.arm(c.req.param('id')!, p);
      return { body: a, detail: `armed until ${a.expiresAt}` };
    }),
  );
  app.post(
    `${P}/cues/:id/hold`,
    route('hold', 'producer', (c, p) => {
      const h = room.engine.press(c.req.param('id')!, p);
      return { body: h, detail: `held, fires on release after ${h.fireAfter}` };
    }),
  );
  app.post(
    `${P}/cues/:id/release`,
    route('release', 'producer', (c, p, b) => {
      const run = room.engine.release(c.req.param('id')!, optString(b, 'holdId'), p);
      return { body: withState({ fired: run }), detail: `fired ${run.cueId}` };
    }),
  );
  app.post(
    `${P}/undo`,
    route('undo', 'producer', (_c, p) => {
      const u = room.engine.undo(p);
      return { body: withState({ undone: u }), detail: `undid ${u.cueId ?? 'panic'}: ${u.restored.join('; ')}` };
    }),
  );
  app.post(
    `${P}/panic`,
    route('panic', 'producer', (_c, p) => {
      const r = room.engine.panic(p);
      return { body: withState(r), detail: `stopped ${r.stopped.join(', ') || 'nothing'}; cancelled ${r.cancelled.join(', ') || 'nothing'}` };
    }),
  );

  // ---- data triggers (producer) ----

  app.post(
    `${P}/triggers/:id/arm`,
    route('trigger.arm', 'producer', (c, p, b) => {
      const condition = b.condition === undefined ? null : parseTrigger('condition', b.condition);
      const t = room.armTrigger(c.req.param('id')!, condition, p);
      return { body: withState({ trigger: t }), detail: `${t.condition.metric} >= ${t.condition.atLeast} (now ${t.current})` };
    }),
  );
  app.post(
    `${P}/triggers/:id/disarm`,
    route('trigger.disarm', 'producer', (c) => {
      room.triggers.disarm(c.req.param('id')!);
      return { body: withState({}), detail: 'disarmed' };
    }),
  );

  // ---- rehearsal (control-room/rehearsal/) ----

  mountRehearsalRoutes(app, route, room);

  // ---- rundown edits (admin) ----

  app.post(
    `${P}/rundown/cues`,
    route('rundown.add', 'admin', (_c, _p, b) => {
      const cue = room.engine.addCue(b.cue, { act: optString(b, 'act'), after: optAfter(b) }, optInt(b, 'rundownRev'));
      return { body: { cue, ...room.engine.getRundown() }, detail: `added ${cue.id} to ${cue.act}`, status: 201 };
    }),
  );
  app.put(
    `${P}/rundown/cues/:id`,
    route('rundown.update', 'admin', (c, _p, b) => {
      const cue = room.engine.updateCue(c.req.param('id')!, b.cue, optInt(b, 'rundownRev'));
      return { body: { cue, ...room.engine.getRundown() }, detail: `updated ${cue.id}` };
    }),
  );
  app.delete(
    `${P}/rundown/cues/:id`,
    route('rundown.delete', 'admin', (c, _p, b) => {
      const id = c.req.param('id')!;
      room.engine.deleteCue(id, optInt(b, 'rundownRev') ?? optInt(c.req.query(), 'rundownRev'));
      room.triggers.forget(id);
      return { body: room.engine.getRundown(), detail: `deleted ${id}` };
    }),
  );
  app.post(
    `${P}/rundown/cues/:id/move`,
    route('rundown.move', 'admin', (c, _p, b) => {
      const after = optAfter(b);
      if (after === undefined) throw new ControlError(400, 'after: required (a cue id, or null for the top)');
      const cue = room.engine.moveCue(c.req.param('id')!, { after, act: optString(b, 'act') }, optInt(b, 'rundownRev'));
      return { body: { cue, ...room.engine.getRundown() }, detail: `moved ${cue.id} after ${after ?? '(top)'}` };
    }),
  );

  return app;
}
