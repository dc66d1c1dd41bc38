// The OpenAPI 3.1 document of the control room's API, served at GET /v1/control/openapi.json.
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const errors = {
  '400': { description: 'Bad input: the field and the rule', content: json(ref('Error')) },
  '401': { description: 'No valid session or token', content: json(ref('Error')) },
  '403': { description: 'Role too low, or a cross-site / CSRF-less cookie request', content: json(ref('Error')) },
  '404': { description: 'No such cue or trigger', content: json(ref('Error')) },
  '409': { description: 'The state changed (stale standby or revision, arm needed or expired, a double GO, nothing to undo); carries the current state', content: json(ref('Conflict')) },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Cue id' };

function op(summary: string, role: string, opts: { body?: object; ok?: object; params?: object[]; status?: string } = {}) {
  return {
    summary,
    description: `Role: ${role} or higher.`,
    ...(opts.params ? { parameters: opts.params } : {}),
    ...(opts.body ? { requestBody: { required: false, content: json(opts.body) } } : {}),
    responses: { [opts.status ?? '200']: { description: 'OK', content: json(opts.ok ?? { type: 'object' }) }, ...errors },
  };
}

export function controlOpenApi(): object {
  const withState = { type: 'object', properties: { state: ref('ControlState') } };
  const fired = { type: 'object', properties: { fired: ref('Run'), state: ref('ControlState') } };
  const armed = { type: 'object', properties: { armId: { type: 'string' }, cueId: { type: 'string' }, expiresAt: { type: 'string' } } };
  const held = { type: 'object', properties: { holdId: { type: 'string' }, cueId: { type: 'string' }, fireAfter: { type: 'string' } } };
  const revBody = (props: object, required: string[] = []) => ({ type: 'object', properties: props, required });
  const rehearsalOk = { type: 'object', properties: { rehearsal: ref('Rehearsal'), state: ref('ControlState') } };
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
            '200': { description: 'Logged in (JSON request)', content: json(ref('Session')) },
            '303': { description: 'Logged in (form): redirect to /control' },
            '400': errors['400'],
            '401': errors['401'],
            '403': errors['403'],
          },
        },
      },
      '/control/logout': { post: op('End the session', 'viewer') },
      '/v1/control/openapi.json': { get: op('This document', 'viewer') },
      '/v1/control/session': { get: op('Who you are, and the CSRF token of your session', 'viewer', { ok: ref('Session') }) },
      '/v1/control/state': { get: op('The whole control state (also on the live channel topic `control`)', 'viewer', { ok: ref('ControlState') }) },
      '/v1/control/rundown': { get: op('The rundown and its revision', 'viewer', { ok: ref('RundownDoc') }) },
      '/v1/control/triggers': { get: op('Armed data triggers with the live value against each threshold', 'viewer') },
      '/v1/control/audit': {
        get: op('The audit, oldest first', 'viewer', {
          params: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 20000 } },
            { name: 'after', in: 'query', schema: { type: 'integer' }, description: 'Only entries with a greater seq' },
            { name: 'operator', in: 'query', schema: { type: 'string' } },
            { name: 'action', in: 'query', schema: { type: 'string' } },
          ],
          ok: { type: 'object', properties: { entries: { type: 'array', items: ref('AuditEntry') }, lastSeq: { type: 'integer' } } },
        }),
      },
      '/v1/control/audit.csv': {
        get: {
          ...op('The audit as CSV (same filters)', 'viewer'),
          responses: { '200': { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } }, '401': errors['401'] },
        },
      },
      '/v1/control/go': {
        post: op(
          'GO: fire the standby cue and advance. With `standby` (the cue id you saw) or `rev`, refused with 409 if it moved; with no body or `{}` (a ' +
            "button's fixed request), whatever is on standby. Double-GO protection: any GO within the rundown's doubleGoMs (default 1000 ms) of the " +
            'GO that last fired a cue is refused with 409 and fires nothing. An on-air cue also needs its armId, or an arm its caller made',
          'producer',
          { body: revBody({ standby: { type: ['string', 'null'] }, rev: { type: 'integer' }, armId: { type: 'string' } }), ok: fired },
        ),
      },
      '/v1/control/standby/arm': {
        post: op('Arm the standby cue (no body): a plain GO from the same operator then fires it; the arm lasts armWindowMs', 'producer', { ok: armed }),
      },
      '/v1/control/standby/hold': { post: op('Hold-to-fire the standby cue: press (no body)', 'producer', { ok: held }) },
      '/v1/control/standby/release': {
        post: op(
          'Hold-to-fire the standby cue: release (no body). Fires the cue this operator holds if it is still on standby and was held at least holdMs; counts as a GO for double-GO protection',
          'producer',
          { ok: fired },
        ),
      },
      '/v1/control/standby': { post: op('Put a cue on standby', 'producer', { body: revBody({ cueId: { type: ['string', 'null'] }, rev: { type: 'integer' } }, ['cueId']), ok: withState }) },
      '/v1/control/next': { post: op('Move standby to the next cue', 'producer', { ok: withState }) },
      '/v1/control/back': { post: op('Move standby to the previous cue', 'producer', { ok: withState }) },
      '/v1/control/cues/{id}/fire': {
        post: op('Fire a cue by id (an on-air cue needs the armId of /arm, or without one an arm its caller made)', 'producer', { params: [idParam], body: revBody({ armId: { type: 'string' }, rev: { type: 'integer' } }), ok: fired }),
      },
      '/v1/control/cues/{id}/arm': { post: op('Arm a cue: the first step of arm-then-fire; the arm id is valid armWindowMs', 'producer', { params: [idParam], ok: armed }) },
      '/v1/control/cues/{id}/hold': { post: op('Hold-to-fire: press', 'producer', { params: [idParam], ok: held }) },
      '/v1/control/cues/{id}/release': {
        post: op('Hold-to-fire: release; fires when held at least holdMs. Without holdId, the hold its caller pressed on this cue', 'producer', { params: [idParam], body: revBody({ holdId: { type: 'string' } }), ok: fired }),
      },
      '/v1/control/undo': { post: op('Undo the last cue (or panic) within the undo window; its cue goes back on standby', 'producer', { ok: withState }) },
      '/v1/control/panic': { post: op('Stop every graphic on air and cancel running cues (undoable)', 'producer', { ok: withState }) },
      '/v1/control/triggers/{id}/arm': {
        post: op("Arm a cue's data trigger (its rundown condition, or the one given); refused when already met", 'producer', { params: [idParam], body: revBody({ condition: ref('Trigger') }), ok: withState }),
      },
      '/v1/control/triggers/{id}/disarm': { post: op("Disarm a cue's data trigger", 'producer', { params: [idParam], ok: withState }) },
      '/v1/control/rehearsal': {
        get: op('The rehearsal: replay phase, speed, simulated clock, orders sent and acked, OBS mode (404 on air)', 'viewer', { ok: { type: 'object', properties: { rehearsal: ref('Rehearsal') } } }),
      },
      '/v1/control/rehearsal/start': { post: op('Start the replay of the night (a rehearsal started with --wait)', 'producer', { ok: rehearsalOk }) },
      '/v1/control/rehearsal/pause': { post: op('Pause the replay: no orders are sent, the simulated clock stops', 'producer', { ok: rehearsalOk }) },
      '/v1/control/rehearsal/resume': { post: op('Resume the replay where it paused', 'producer', { ok: rehearsalOk }) },
      '/v1/control/rehearsal/speed': {
        post: op('Change the replay speed (1 to 100; rate × speed at most 20,000 orders/s)', 'producer', { body: revBody({ speed: { type: 'number', minimum: 1, maximum: 100 } }, ['speed']), ok: rehearsalOk }),
      },
      '/v1/control/rehearsal/restart': { post: op("Replay the night again from its midnight, with new order ids (the figures so far stay)", 'producer', { ok: rehearsalOk }) },
      '/v1/control/rundown/cues': {
        post: op('Add a cue (at the end of its act, or after a cue)', 'admin', {
          body: revBody({ cue: ref('CueInput'), act: { type: 'string' }, after: { type: ['string', 'null'] }, rundownRev: { type: 'integer' } }, ['cue', 'rundownRev']),
          status: '201',
        }),
      },
      '/v1/control/rundown/cues/{id}': {
        put: op('Replace a cue (its id stays)', 'admin', { params: [idParam], body: revBody({ cue: ref('CueInput'), rundownRev: { type: 'integer' } }, ['cue', 'rundownRev']) }),
        delete: op('Delete a cue', 'admin', { params: [idParam, { name: 'rundownRev', in: 'query', required: true, schema: { type: 'integer' } }] }),
      },
      '/v1/control/rundown/cues/{id}/move': {
        post: op('Move a cue after another (null: to the top), optionally into another act', 'admin', {
          params: [idParam],
          body: revBody({ after: { type: ['string', 'null'] }, act: { type: 'string' }, rundownRev: { type: 'integer' } }, ['after', 'rundownRev']),
        }),
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'GALA_VIEWER_TOKEN, GALA_PRODUCER_TOKEN or GALA_ADMIN_TOKEN' },
        session: { type: 'apiKey', in: 'cookie', name: 'gala_session', description: '`__Host-gala_session` over HTTPS; unsafe methods also need X-CSRF-Token' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string', description: '"<field>: <rule>"' } } },
        Conflict: { type: 'object', required: ['error', 'state'], properties: { error: { type: 'string' }, state: ref('ControlState') } },
        Login: { type: 'object', required: ['token', 'operator'], properties: { token: { type: 'string' }, operator: { type: 'string', maxLength: 64 } } },
        Session: {
          type: 'object',
          properties: { operator: { type: 'string' }, role: { enum: ['viewer', 'producer', 'admin'] }, csrf: { type: ['string', 'null'] }, expiresAt: { type: ['string', 'null'] } },
        },
        Trigger: {
          type: 'object',
          required: ['metric', 'atLeast'],
          properties: { metric: { enum: ['gmv', 'orders', 'mobileShare', 'productUnits'] }, sku: { type: 'string' }, atLeast: { type: 'string', description: 'GMV decimal (display currency), whole number, or share 0..1' } },
        },
        Action: {
          type: 'object',
          required: ['type'],
          description: '{type:"graphic", graphic, command: play|update|stop|next, data?} | {type:"obs", obs: ObsAction} | {type:"wait", ms}',
          properties: { type: { enum: ['graphic', 'obs', 'wait'] } },
        },
        CueInput: {
          type: 'object',
          required: ['id', 'label'],
          properties: {
            id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' },
            label: { type: 'string' },
            kind: { enum: ['performance', 'look', 'celebrity', 'milestone', 'graphic', 'scene', 'other'] },
            actions: { type: 'array', items: ref('Action') },
            preWaitMs: { type: 'integer' },
            postWaitMs: { type: 'integer' },
            follow: { enum: ['none', 'auto-continue', 'auto-follow'] },
            onAir: { type: 'boolean' },
            products: { type: 'array', items: { type: 'string' } },
            trigger: ref('Trigger'),
            notes: { type: 'string' },
          },
        },
        Run: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            cueId: { type: 'string' },
            label: { type: 'string' },
            cause: { enum: ['go', 'fire', 'hold', 'follow', 'trigger'] },
            operator: { type: 'string' },
            phase: { enum: ['pre-wait', 'running', 'post-wait', 'done', 'failed', 'cancelled'] },
            firedAt: { type: 'string' },
            details: { type: 'array', items: { type: 'string' } },
            undone: { type: 'boolean' },
          },
        },
        Rehearsal: {
          type: 'object',
          description: 'A rehearsal replays the simulated night through the real ingest; its orders are paid when sent',
          properties: {
            phase: { enum: ['ready', 'running', 'paused', 'finished'] },
            speed: { type: 'number' },
            rate: { type: 'number', description: 'Peak orders per simulated second' },
            seed: { type: 'integer' },
            run: { type: 'integer' },
            simClock: { type: 'string', description: 'Simulated time since the night began, HH:MM:SS' },
            simMs: { type: 'integer' },
            nightMs: { type: ['integer', 'null'] },
            sent: { type: 'integer' },
            acked: { type: 'integer' },
            accepted: { type: 'integer' },
            duplicates: { type: 'integer' },
            rejected: { type: 'integer' },
            inFlight: { type: 'integer' },
            behindMs: { type: 'integer' },
            startedAt: { type: ['string', 'null'] },
            lastError: { type: ['string', 'null'] },
            obs: { enum: ['log', 'live'] },
          },
        },
        RundownDoc: { type: 'object', properties: { rundownRev: { type: 'integer' }, rundown: { type: 'object' } } },
        ControlState: {
          type: 'object',
          properties: {
            rev: { type: 'integer' },
            rundownRev: { type: 'integer' },
            standby: { type: ['string', 'null'] },
            next: { type: ['string', 'null'] },
            running: { type: 'array', items: ref('Run') },
            history: { type: 'array', items: ref('Run') },
            arms: { type: 'array' },
            holds: { type: 'array' },
            undo: { type: ['object', 'null'] },
            triggers: { type: 'array' },
            obs: { type: 'object' },
            rundown: { type: 'object' },
            rehearsal: { oneOf: [ref('Rehearsal'), { type: 'null' }], description: 'Null on air' },
          },
        },
        AuditEntry: {
          type: 'object',
          properties: {
            seq: { type: 'integer' },
            at: { type: 'string' },
            operator: { type: 'string' },
            role: { type: ['string', 'null'] },
            via: { enum: ['session', 'token', 'trigger', 'system', 'none'] },
            action: { type: 'string' },
            target: { type: ['string', 'null'] },
            result: { enum: ['ok', 'refused', 'failed'] },
            status: { type: 'integer' },
            detail: { type: ['string', 'null'] },
          },
        },
      },
    },
  };
}
