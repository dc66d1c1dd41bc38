// The OpenAPI 3.1 document of the control room's API, served at GET /v1/control/openapi.json. Every answer's schema
// is closed (no undocumented field) and lists the statuses its route can answer, so the system test that calls
// every route and validates each answer strictly keeps the document and the routes in step.
import { CUE_KINDS, FOLLOW_MODES, GRAPHIC_COMMANDS, GRAPHIC_NAMES, TRIGGER_METRICS } from '../domain/rundown.ts';
import { ROLES } from '../protocol/control-state.ts';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
/** A closed object: every property listed, by default every one required. */
const obj = (properties: Record<string, object>, required = Object.keys(properties)) => ({ type: 'object', additionalProperties: false, required, properties });
const orNull = (schema: object) => ({ oneOf: [schema, { type: 'null' }] });
const STRING = { type: 'string' };
const INSTANT = { type: 'string', format: 'date-time' };
const COUNT = { type: 'integer', minimum: 0 };
const STRINGS = { type: 'array', items: STRING };

/** Every answer, success or error, is marked uncacheable. */
const NO_STORE = { 'Cache-Control': { required: true, schema: { const: 'no-store' } } };
const errorAnswers: Record<string, object> = {
  '400': { description: 'Bad input: the field and the rule', headers: NO_STORE, content: json(ref('Error')) },
  '401': {
    description: 'No valid session or token',
    headers: { ...NO_STORE, 'WWW-Authenticate': { required: true, schema: { const: 'Bearer realm="gala-control"' } } },
    content: json(ref('Error')),
  },
  '403': { description: 'Role too low, or a cross-site / CSRF-less cookie request', headers: NO_STORE, content: json(ref('Error')) },
  '404': { description: 'No such cue or trigger; on air, no rehearsal', headers: NO_STORE, content: json(ref('Error')) },
  '409': { description: 'The state changed (stale standby or revision, arm needed or expired, a double GO, nothing to undo); carries the current state', headers: NO_STORE, content: json(ref('Conflict')) },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Cue id' };

/** Reads answer 401 besides their own errors; actions read a JSON body (400) and check the role and CSRF (403). */
const READ = ['401'];
const ACTION = ['400', '401', '403'];

function op(summary: string, role: string, opts: { body?: object; ok: object; params?: object[]; status?: string; errors: string[] }) {
  const responses: Record<string, object> = { [opts.status ?? '200']: { description: 'OK', headers: NO_STORE, content: json(opts.ok) } };
  for (const e of opts.errors) responses[e] = errorAnswers[e]!;
  return {
    summary,
    description: `Role: ${role} or higher.`,
    ...(opts.params ? { parameters: opts.params } : {}),
    ...(opts.body ? { requestBody: { required: false, content: json(opts.body) } } : {}),
    responses,
  };
}

export function controlOpenApi(): object {
  const withState = ref('WithState');
  const fired = ref('Fired');
  const armed = obj({ armId: STRING, cueId: STRING, expiresAt: INSTANT });
  const held = obj({ holdId: STRING, cueId: STRING, fireAfter: INSTANT });
  const revBody = (props: object, required: string[] = []) => ({ type: 'object', properties: props, required });
  const rehearsalOk = ref('RehearsalChanged');
  const rehearsalErrors = [...ACTION, '404', '409'];
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gala control room',
      version: '1.0.0',
      description:
        'Cue list, two-step firing, data triggers and rundown edits. Authenticate with `Authorization: Bearer <token>` (viewer, producer or admin token; ' +
        '`X-Operator` names the operator for the audit) or with the session cookie of POST /control/login plus the `X-CSRF-Token` header on unsafe methods. ' +
        'Errors are `{"error": "<field>: <rule>"}`. Every action is audited.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    paths: {
      '/control/login': {
        post: {
          summary: 'Log in with a token and an operator name; sets the session cookie',
          security: [],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': { schema: ref('Login') },
              'application/json': { schema: ref('Login') },
            },
          },
          responses: {
            '200': { description: 'Logged in (JSON request)', headers: { ...NO_STORE, 'Set-Cookie': { required: true, schema: { type: 'string', pattern: '^(__Host-)?gala_session=' } } }, content: json(ref('LoggedIn')) },
            '303': {
              description: 'Logged in (form): redirect to /control',
              headers: { 'Set-Cookie': { required: true, schema: { type: 'string', pattern: '^(__Host-)?gala_session=' } }, Location: { required: true, schema: { const: '/control' } } },
            },
            '400': errorAnswers['400'],
            '401': errorAnswers['401'],
            '403': errorAnswers['403'],
          },
        },
      },
      '/control/logout': { post: op('End the session', 'viewer', { ok: obj({ ok: { const: true } }), errors: ACTION }) },
      '/v1/control/openapi.json': { get: op('This document', 'viewer', { ok: ref('Document'), errors: READ }) },
      '/v1/control/session': { get: op('Who you are, and the CSRF token of your session', 'viewer', { ok: ref('Session'), errors: READ }) },
      '/v1/control/state': { get: op('The whole control state (also on the live channel topic `control`)', 'viewer', { ok: ref('ControlState'), errors: READ }) },
      '/v1/control/rundown': { get: op('The rundown and its revision', 'viewer', { ok: ref('RundownDoc'), errors: READ }) },
      '/v1/control/triggers': { get: op('Armed data triggers with the live value against each threshold', 'viewer', { ok: obj({ triggers: { type: 'array', items: ref('TriggerView') } }), errors: READ }) },
      '/v1/control/audit': {
        get: op('The audit, oldest first', 'viewer', {
          params: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 20000, default: 500 } },
            { name: 'after', in: 'query', schema: { type: 'integer' }, description: 'Only entries with a greater seq' },
            { name: 'operator', in: 'query', schema: { type: 'string' } },
            { name: 'action', in: 'query', schema: { type: 'string' } },
          ],
          ok: obj({ entries: { type: 'array', items: ref('AuditEntry') }, lastSeq: COUNT }),
          errors: ['400', ...READ],
        }),
      },
      '/v1/control/audit.csv': {
        get: {
          ...op('The audit as CSV (same filters)', 'viewer', { ok: STRING, errors: ['400', ...READ] }),
          responses: {
            '200': {
              description: 'CSV',
              headers: { ...NO_STORE, 'Content-Disposition': { required: true, schema: { const: 'attachment; filename="control-audit.csv"' } } },
              content: { 'text/csv': { schema: STRING } },
            },
            '400': errorAnswers['400'],
            '401': errorAnswers['401'],
          },
        },
      },
      '/v1/control/go': {
        post: op(
          'GO: fire the standby cue and advance. With `standby` (the cue id you saw) or `rev`, refused with 409 if it moved; with no body or `{}` (a ' +
            "button's fixed request), whatever is on standby. Double-GO protection: any GO within the rundown's doubleGoMs (default 1000 ms) of the " +
            'GO that last fired a cue is refused with 409 and fires nothing. An on-air cue also needs its armId, or an arm its caller made',
          'producer',
          { body: revBody({ standby: { type: ['string', 'null'] }, rev: { type: 'integer' }, armId: { type: 'string' } }), ok: fired, errors: [...ACTION, '409'] },
        ),
      },
      '/v1/control/standby/arm': {
        post: op('Arm the standby cue (no body): a plain GO from the same operator then fires it; the arm lasts armWindowMs', 'producer', { ok: armed, errors: [...ACTION, '409'] }),
      },
      '/v1/control/standby/hold': { post: op('Hold-to-fire the standby cue: press (no body)', 'producer', { ok: held, errors: [...ACTION, '409'] }) },
      '/v1/control/standby/release': {
        post: op(
          'Hold-to-fire the standby cue: release (no body). Fires the cue this operator holds if it is still on standby and was held at least holdMs; counts as a GO for double-GO protection',
          'producer',
          { ok: fired, errors: [...ACTION, '409'] },
        ),
      },
      '/v1/control/standby': {
        post: op('Put a cue on standby', 'producer', { body: revBody({ cueId: { type: ['string', 'null'] }, rev: { type: 'integer' } }, ['cueId']), ok: withState, errors: [...ACTION, '404', '409'] }),
      },
      '/v1/control/next': { post: op('Move standby to the next cue', 'producer', { ok: withState, errors: [...ACTION, '409'] }) },
      '/v1/control/back': { post: op('Move standby to the previous cue', 'producer', { ok: withState, errors: [...ACTION, '409'] }) },
      '/v1/control/cues/{id}/fire': {
        post: op('Fire a cue by id (an on-air cue needs the armId of /arm, or without one an arm its caller made). Double-fire protection: the same cue fired again within the rundown\'s doubleGoMs is refused with 409 and fires nothing', 'producer', {
          params: [idParam],
          body: revBody({ armId: { type: 'string' }, rev: { type: 'integer' } }),
          ok: fired,
          errors: [...ACTION, '404', '409'],
        }),
      },
      '/v1/control/cues/{id}/arm': {
        post: op('Arm a cue: the first step of arm-then-fire; the arm id is valid armWindowMs', 'producer', { params: [idParam], ok: armed, errors: [...ACTION, '404', '409'] }),
      },
      '/v1/control/cues/{id}/hold': {
        post: op('Hold-to-fire: press', 'producer', { params: [idParam], ok: held, errors: [...ACTION, '404', '409'] }),
      },
      '/v1/control/cues/{id}/release': {
        post: op('Hold-to-fire: release; fires when held at least holdMs. Without holdId, the hold its caller pressed on this cue', 'producer', {
          params: [idParam],
          body: revBody({ holdId: { type: 'string' } }),
          ok: fired,
          errors: [...ACTION, '404', '409'],
        }),
      },
      '/v1/control/undo': {
        post: op('Undo the last cue (or panic) within the undo window; its cue goes back on standby', 'producer', {
          ok: obj({ undone: obj({ cueId: { type: ['string', 'null'], description: 'Null for a panic' }, restored: { ...STRINGS, description: 'What was put back, and what could not be' } }), state: ref('ControlState') }),
          errors: [...ACTION, '409'],
        }),
      },
      '/v1/control/panic': {
        post: op('Stop every graphic on air and cancel running cues (undoable)', 'producer', {
          ok: obj({ stopped: { ...STRINGS, description: 'Graphics taken off air' }, cancelled: { ...STRINGS, description: 'Cues whose runs were cancelled' }, state: ref('ControlState') }),
          errors: ACTION,
        }),
      },
      '/v1/control/triggers/{id}/arm': {
        post: op("Arm a cue's data trigger (its rundown condition, or the one given); refused when already met", 'producer', {
          params: [idParam],
          body: revBody({ condition: ref('Trigger') }),
          ok: obj({ trigger: ref('TriggerView'), state: ref('ControlState') }),
          errors: [...ACTION, '404', '409'],
        }),
      },
      '/v1/control/triggers/{id}/disarm': { post: op("Disarm a cue's data trigger", 'producer', { params: [idParam], ok: withState, errors: [...ACTION, '404'] }) },
      '/v1/control/rehearsal': {
        get: op('The rehearsal: replay phase, speed, simulated clock, orders sent and acked, OBS mode (404 on air)', 'viewer', { ok: obj({ rehearsal: ref('Rehearsal') }), errors: [...READ, '404'] }),
      },
      '/v1/control/rehearsal/start': { post: op('Start the replay of the night (a rehearsal started with --wait)', 'producer', { ok: rehearsalOk, errors: rehearsalErrors }) },
      '/v1/control/rehearsal/pause': { post: op('Pause the replay: no orders are sent, the simulated clock stops', 'producer', { ok: rehearsalOk, errors: rehearsalErrors }) },
      '/v1/control/rehearsal/resume': { post: op('Resume the replay where it paused', 'producer', { ok: rehearsalOk, errors: rehearsalErrors }) },
      '/v1/control/rehearsal/speed': {
        post: op('Change the replay speed (1 to 100; rate × speed at most 20,000 orders/s)', 'producer', {
          body: revBody({ speed: { type: 'number', minimum: 1, maximum: 100 } }, ['speed']),
          ok: rehearsalOk,
          errors: [...ACTION, '404'],
        }),
      },
      '/v1/control/rehearsal/restart': {
        post: op('Replay the night again from its midnight, with new order ids (the figures so far stay); not before it has started', 'producer', { ok: rehearsalOk, errors: rehearsalErrors }),
      },
      '/v1/control/rundown/cues': {
        post: op('Add a cue (at the end of its act, or after a cue)', 'admin', {
          body: revBody({ cue: ref('CueInput'), act: { type: 'string' }, after: { type: ['string', 'null'] }, rundownRev: { type: 'integer' } }, ['cue', 'rundownRev']),
          ok: ref('RundownEdit'),
          status: '201',
          errors: [...ACTION, '404', '409'],
        }),
      },
      '/v1/control/rundown/cues/{id}': {
        put: op('Replace a cue (its id stays)', 'admin', {
          params: [idParam],
          body: revBody({ cue: ref('CueInput'), rundownRev: { type: 'integer' } }, ['cue', 'rundownRev']),
          ok: ref('RundownEdit'),
          errors: [...ACTION, '404', '409'],
        }),
        delete: op('Delete a cue', 'admin', { params: [idParam, { name: 'rundownRev', in: 'query', required: true, schema: { type: 'integer' } }], ok: ref('RundownDoc'), errors: [...ACTION, '404', '409'] }),
      },
      '/v1/control/rundown/cues/{id}/move': {
        post: op('Move a cue after another (null: to the top), optionally into another act', 'admin', {
          params: [idParam],
          body: revBody({ after: { type: ['string', 'null'] }, act: { type: 'string' }, rundownRev: { type: 'integer' } }, ['after', 'rundownRev']),
          ok: ref('RundownEdit'),
          errors: [...ACTION, '404', '409'],
        }),
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'GALA_VIEWER_TOKEN, GALA_PRODUCER_TOKEN or GALA_ADMIN_TOKEN' },
        session: { type: 'apiKey', in: 'cookie', name: 'gala_session', description: '`__Host-gala_session` over HTTPS; unsafe methods also need X-CSRF-Token' },
      },
      schemas: {
        Error: obj({ error: { type: 'string', description: '"<field>: <rule>"' } }),
        Conflict: obj({ error: STRING, state: ref('ControlState') }),
        Document: {
          type: 'object',
          additionalProperties: false,
          required: ['openapi', 'info', 'paths', 'components'],
          description: 'This OpenAPI 3.1 document: its parts are described by the OpenAPI specification, not here.',
          properties: {
            openapi: { const: '3.1.0' },
            info: { type: 'object', additionalProperties: true },
            servers: { type: 'array' },
            security: { type: 'array' },
            paths: { type: 'object', additionalProperties: true },
            components: { type: 'object', additionalProperties: true },
          },
        },
        Login: { type: 'object', required: ['token', 'operator'], properties: { token: { type: 'string' }, operator: { type: 'string', maxLength: 64 } } },
        Role: { enum: [...ROLES] },
        LoggedIn: obj({ operator: STRING, role: ref('Role'), csrf: { type: 'string', description: 'Send it as X-CSRF-Token with every unsafe request made with the cookie' }, expiresAt: INSTANT }),
        Session: obj({
          operator: STRING,
          role: ref('Role'),
          via: { enum: ['session', 'token'] },
          csrf: { type: ['string', 'null'], description: 'Null for token callers, who need none' },
          expiresAt: { ...orNull(INSTANT), description: 'Null for token callers' },
        }),
        Trigger: obj(
          {
            metric: { enum: [...TRIGGER_METRICS] },
            sku: { type: 'string', description: 'For productUnits: the product' },
            atLeast: { type: 'string', description: 'GMV decimal (display currency), whole number, or share 0..1' },
          },
          ['metric', 'atLeast'],
        ),
        Action: {
          description: 'One step of a cue: a graphic command, an OBS step, or a wait',
          oneOf: [
            obj({ type: { const: 'graphic' }, graphic: { enum: [...GRAPHIC_NAMES] }, command: { enum: [...GRAPHIC_COMMANDS] }, data: { type: 'object', additionalProperties: true, description: "The graphic's cue data (see the README)" } }, ['type', 'graphic', 'command']),
            obj({ type: { const: 'obs' }, obs: ref('ObsAction') }),
            obj({ type: { const: 'wait' }, ms: COUNT }),
          ],
        },
        ObsAction: {
          oneOf: [
            obj({ type: { enum: ['scene', 'preview'] }, scene: STRING }),
            obj({ type: { const: 'take' } }),
            obj({ type: { const: 'source-visible' }, scene: STRING, source: STRING, visible: { type: 'boolean' } }),
            obj({ type: { const: 'text' }, source: STRING, text: STRING }),
            obj({ type: { const: 'custom-event' }, data: { type: 'object', additionalProperties: true, description: 'Sent to OBS as BroadcastCustomEvent data' } }),
          ],
        },
        CueInput: {
          type: 'object',
          required: ['id', 'label'],
          properties: {
            id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' },
            label: { type: 'string' },
            kind: { enum: [...CUE_KINDS] },
            actions: { type: 'array', items: ref('Action') },
            preWaitMs: { type: 'integer' },
            postWaitMs: { type: 'integer' },
            follow: { enum: [...FOLLOW_MODES] },
            onAir: { type: 'boolean' },
            products: { type: 'array', items: { type: 'string' } },
            trigger: ref('Trigger'),
            notes: { type: 'string' },
          },
        },
        Cue: obj({
          id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' },
          label: STRING,
          kind: { enum: [...CUE_KINDS] },
          act: { type: 'string', description: 'The act it belongs to' },
          actions: { type: 'array', items: ref('Action') },
          preWaitMs: COUNT,
          postWaitMs: COUNT,
          follow: { enum: [...FOLLOW_MODES] },
          onAir: { type: 'boolean' },
          products: STRINGS,
          trigger: orNull(ref('Trigger')),
          notes: STRING,
        }),
        Rundown: obj({
          acts: { type: 'array', items: obj({ id: STRING, label: STRING }) },
          cues: { type: 'array', items: ref('Cue') },
          armWindowMs: COUNT,
          holdMs: COUNT,
          undoWindowMs: COUNT,
          doubleGoMs: { ...COUNT, description: 'A second GO within this many ms of the GO that last fired a cue is refused (0: off)' },
        }),
        RundownDoc: obj({ rundownRev: COUNT, rundown: ref('Rundown') }),
        RundownEdit: obj({ cue: ref('Cue'), rundownRev: COUNT, rundown: ref('Rundown') }),
        Run: obj({
          runId: STRING,
          cueId: STRING,
          label: STRING,
          cause: { enum: ['go', 'fire', 'hold', 'follow', 'trigger'] },
          operator: STRING,
          phase: { enum: ['pre-wait', 'running', 'post-wait', 'done', 'failed', 'cancelled'] },
          firedAt: INSTANT,
          phaseEndsAt: { ...orNull(INSTANT), description: 'When the current wait ends' },
          details: STRINGS,
          undone: { type: 'boolean' },
        }),
        Fired: obj({ fired: ref('Run'), state: ref('ControlState') }),
        WithState: obj({ state: ref('ControlState') }),
        TriggerView: obj({
          cueId: STRING,
          condition: ref('Trigger'),
          state: { enum: ['armed', 'fired'] },
          armedBy: STRING,
          armedAt: INSTANT,
          firedAt: orNull(INSTANT),
          current: { type: ['string', 'null'], description: "The metric now, in the threshold's terms" },
          progress: { type: 'number', minimum: 0, maximum: 1 },
          willFire: { type: 'boolean' },
        }),
        ObsStatus: obj({
          configured: { type: 'boolean' },
          link: { enum: ['off', 'connecting', 'connected', 'reconnecting', 'auth-failed', 'log-only'] },
          url: { type: ['string', 'null'], description: 'Without credentials' },
          scenes: STRINGS,
          programScene: { type: ['string', 'null'] },
          previewScene: { type: ['string', 'null'] },
          studioMode: { type: 'boolean' },
          transition: orNull(obj({ from: { type: ['string', 'null'] }, to: STRING, startedAt: INSTANT })),
          rttMs: { type: ['number', 'null'] },
          lastError: { type: ['string', 'null'] },
          rev: COUNT,
        }),
        Rehearsal: obj({
          phase: { enum: ['ready', 'running', 'paused', 'finished'] },
          speed: { type: 'number' },
          rate: { type: 'number', description: 'Peak orders per simulated second' },
          seed: { type: 'integer' },
          run: { type: 'integer', minimum: 1 },
          simClock: { type: 'string', description: 'Simulated time since the night began, HH:MM:SS' },
          simMs: COUNT,
          nightMs: { type: ['integer', 'null'] },
          sent: COUNT,
          acked: COUNT,
          accepted: COUNT,
          duplicates: COUNT,
          rejected: COUNT,
          inFlight: COUNT,
          behindMs: COUNT,
          startedAt: orNull(INSTANT),
          lastError: { type: ['string', 'null'] },
          obs: { enum: ['log', 'live'] },
        }),
        RehearsalChanged: obj({ rehearsal: ref('Rehearsal'), state: ref('ControlState') }),
        ControlState: obj({
          rev: COUNT,
          rundownRev: COUNT,
          standby: { type: ['string', 'null'] },
          next: { type: ['string', 'null'] },
          running: { type: 'array', items: ref('Run') },
          history: { type: 'array', items: ref('Run'), maxItems: 20, description: 'Newest first' },
          arms: { type: 'array', items: obj({ cueId: STRING, operator: STRING, expiresAt: INSTANT }), description: 'Arms in force (the arm ids go only to the operator who armed)' },
          holds: { type: 'array', items: obj({ cueId: STRING, operator: STRING, pressedAt: INSTANT, fireAfter: INSTANT }) },
          undo: orNull(obj({ runId: STRING, cueId: { type: ['string', 'null'] }, label: STRING, until: INSTANT })),
          rundown: ref('Rundown'),
          triggers: { type: 'array', items: ref('TriggerView') },
          obs: ref('ObsStatus'),
          auditUnwritten: { ...COUNT, description: 'Audit entries that could not be written to disk' },
          serverTime: INSTANT,
          rehearsal: { ...orNull(ref('Rehearsal')), description: 'Null on air' },
        }),
        AuditEntry: obj({
          seq: { type: 'integer', minimum: 1 },
          at: INSTANT,
          operator: STRING,
          role: orNull(ref('Role')),
          via: { enum: ['session', 'token', 'trigger', 'system', 'none'] },
          action: STRING,
          target: { type: ['string', 'null'] },
          result: { enum: ['ok', 'refused', 'failed'] },
          status: { type: 'integer', description: 'The HTTP status answered, 0 for actions without a request' },
          detail: { type: ['string', 'null'] },
        }),
      },
    },
  };
}
