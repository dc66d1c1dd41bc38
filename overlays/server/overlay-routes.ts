// HTTP routes of the overlays: the pages (public: OBS browser sources load them by URL) and the producer API
// that cues graphics and lists overlay health (Bearer producer token).
import { Hono, type MiddlewareHandler } from 'hono';
import { toResponse } from '../../platform/http-answer.ts';
import { createBearerGuard, Unauthorized } from '../../platform/tokens.ts';
import type { Graphics } from './graphics.ts';
import { GraphicsError } from './graphics.ts';
import { lazyBundle } from '../../http/browser-bundle.ts';
import type { HttpEnv } from '../../platform/http-env.ts';
import { buildOverlays, overlayHtml, overlayNames } from './overlay-assets.ts';
import type { OverlayRegistry } from './overlay-registry.ts';
import type { SnapshotSource } from '../../aggregator/live-hub.ts';
import { BOOT_TOPICS, type BootSnapshot } from '../client/boot.ts';

export interface OverlayRoutesOptions {
  producerTokens: readonly string[];
  graphics: Graphics;
  registry: OverlayRegistry;
  onBuildError?: (e: unknown) => void;
  /** The live channel's snapshots: each page is served with the current ones of BOOT_TOPICS inlined. */
  snapshot?: SnapshotSource;
  /**
   * Records each graphics command in the control room's audit, as its own actions are (the operator is the
   * `X-Operator` header, else "producer token"); refusals too. Absent: not audited.
   */
  audit?: (entry: GraphicsAuditEntry) => Promise<unknown>;
}

export interface GraphicsAuditEntry {
  operator: string;
  /** `graphics.<command>`. */
  action: string;
  /** The graphic. */
  target: string;
  result: 'ok' | 'refused';
  status: number;
  detail: string;
}

/** An operator name as the X-Operator header may give it: at most 64 characters, none a control character. */
function isOperatorName(s: string): boolean {
  if (s.length > 64) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

export function createOverlayRoutes(opts: OverlayRoutesOptions) {
  const producerGuard = createBearerGuard(opts.producerTokens, {
    challenge: 'Bearer realm="gala-producer"',
    error: 'authorization: a valid producer token is required (Authorization: Bearer <token>)',
  });
  const assets = lazyBundle(buildOverlays, opts.onBuildError);
  const app = new Hono<HttpEnv>();

  app.get('/overlays', (c) => {
    const names = overlayNames();
    c.header('Cache-Control', 'no-cache');
    return c.json({ overlays: names.map((n) => ({ name: n, url: `/overlays/${n}`, width: 1920, height: 1080 })) });
  });
  app.get('/overlays/assets/:file', async (c) => {
    const file = (await assets()).files.get(c.req.param('file'));
    if (file === undefined) return c.json({ error: 'asset: not found' }, 404);
    c.header('Content-Type', file[0]);
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    return c.body(new Uint8Array(file[1]));
  });
  app.get('/overlays/:name', async (c) => {
    const name = c.req.param('name');
    const script = (await assets()).entries.get(name);
    if (script === undefined) return c.json({ error: `overlay: unknown "${name}" (known: ${overlayNames().join(', ')})` }, 404);
    // Taken as the page is served, so a reload starts from the figures of this instant; the live channel then
    // brings anything newer. A topic that cannot be read now is left to the live channel.
    const boot: BootSnapshot[] = [];
    const snapshot = opts.snapshot;
    for (const topic of BOOT_TOPICS) {
      if (snapshot === undefined) break;
      try {
        boot.push({ topic, ...(await snapshot(topic)) });
      } catch {
        // the live channel sends it
      }
    }
    c.header('Cache-Control', 'no-cache');
    return c.html(overlayHtml(name, script, (await assets()).preloads.get(name), boot));
  });

  // Producer API: Bearer token (the control room's sessions come later and use the same routes). The check is
  // attached per route: a `use('*')` here would, once mounted at '/', guard every route of the server.
  const producer: MiddlewareHandler = async (c, next) => {
    const denied = producerGuard(c.req.header('authorization') ?? '', '');
    if (denied instanceof Unauthorized) return toResponse(denied.answer());
    await next();
  };
  app.get('/v1/overlays', producer, (c) => c.json({ overlays: opts.registry.list() }));
  app.get('/v1/graphics', producer, (c) => c.json(opts.graphics.snapshot()));
  app.post('/v1/graphics/:name/:command', producer, async (c) => {
    const name = c.req.param('name');
    const command = c.req.param('command');
    const named = c.req.header('x-operator')?.trim() ?? '';
    if (!isOperatorName(named)) return c.json({ error: 'x-operator: at most 64 printable characters' }, 400);
    const audit = (result: 'ok' | 'refused', status: number, detail: string) =>
      opts.audit?.({ operator: named === '' ? 'producer token' : named, action: `graphics.${command}`, target: name, result, status, detail: detail.slice(0, 2000) });
    let data: unknown;
    const text = await c.req.text();
    if (text.trim() !== '') {
      try {
        data = JSON.parse(text);
      } catch {
        const error = 'body: must be a JSON object (or empty)';
        await audit('refused', 400, error);
        return c.json({ error }, 400);
      }
    }
    try {
      const state = opts.graphics.command(name, command, data);
      await audit('ok', 200, `${name} ${command} (rev ${state.rev})`);
      return c.json(state);
    } catch (e) {
      if (e instanceof GraphicsError) {
        await audit('refused', 400, e.message);
        return c.json({ error: e.message }, 400);
      }
      throw e;
    }
  });
  return app;
}
