// The control room's pages under /control: the login page, the cue list (/control) and the live panel
// (/control/live), each an HTML shell whose script (control-room/ui) draws everything from the API and the live
// channel. Pages without a session redirect to the login page; a strict CSP keeps any markup in show data inert.
import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { buildControlAssets, STYLE_ENTRY, type BuiltControlAssets } from './control-assets.ts';
import { lazyBundle } from '../http/browser-bundle.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import { isHttps, sessionCookieName } from './control-auth.ts';
import type { SessionCheck } from './sessions.ts';

// Scripts and styles only from this origin, no inline code: even markup slipped into show data could not run.
// Frames: the live panel previews the overlays (same origin); nobody may frame the control room itself.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

const TITLES: Record<string, string> = { login: 'Gala control room: log in', control: 'Gala control room', live: 'Gala control room: live panel' };

export function controlPageHtml(page: string, assets: BuiltControlAssets): string {
  const script = assets.entries.get(page);
  const style = assets.entries.get(STYLE_ENTRY);
  if (script === undefined || style === undefined) throw new Error(`control page: no built asset for "${page}"`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${TITLES[page] ?? 'Gala control room'}</title>
<link rel="stylesheet" href="/control/assets/${style}">
<script type="module" src="/control/assets/${script}"></script>
</head>
<body class="page-${page}">
<noscript>The control room needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

export interface ControlPagesOptions {
  /** Whether a session cookie is a live session (this node's store, or the cluster coordinator's). */
  signedIn: SessionCheck;
  onBuildError?: (e: unknown) => void;
}

export function createControlPages(opts: ControlPagesOptions) {
  const assets = lazyBundle(buildControlAssets, opts.onBuildError);
  const page = async (c: Context, name: string) => {
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'same-origin');
    c.header('Cache-Control', 'no-store');
    return c.html(controlPageHtml(name, await assets()));
  };
  const signedIn = async (c: Context) => {
    const https = isHttps(c);
    const id = getCookie(c, sessionCookieName(https));
    return id !== undefined && id !== '' && (await opts.signedIn(id, https));
  };

  const app = new Hono<HttpEnv>();
  app.get('/control/login', (c) => page(c, 'login'));
  app.get('/control', async (c) => ((await signedIn(c)) ? page(c, 'control') : c.redirect('/control/login', 303)));
  app.get('/control/live', async (c) => ((await signedIn(c)) ? page(c, 'live') : c.redirect('/control/login?next=live', 303)));
  app.get('/control/assets/:file', async (c) => {
    const f = (await assets()).files.get(c.req.param('file'));
    if (f === undefined) return c.json({ error: 'asset: not found' }, 404);
    c.header('Content-Type', f[0]);
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(new Uint8Array(f[1]));
  });
  return app;
}
