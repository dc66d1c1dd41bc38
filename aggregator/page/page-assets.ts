// The journalists' page at `/`: static files read once at start and served by the feed routes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type PageAssets = Map<string, readonly [string, string | Uint8Array]>;

/**
 * d3's UMD build. Its package "exports" map hides `d3/dist/d3.min.js` from resolve() (only the "umd" and "default"
 * conditions are exported), so the package is found by its main entry, which sits beside it in `dist/`.
 */
export function d3BundlePath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('d3')), 'd3.min.js');
}

/**
 * path -> [content type, body]. Throws at start when a file is missing, rather than serving a broken page.
 * Assets are cached for an hour and `/` for a minute, so the page names each asset with a hash of its content:
 * after a deploy, a cached old script can never run under the new page.
 */
export function loadPublicPage(): PageAssets {
  const here = (f: string) => new URL(f, import.meta.url);
  const assets: [string, string, string][] = [
    ['/assets/page.css', 'text/css; charset=utf-8', readFileSync(here('./page.css'), 'utf8')],
    ['/assets/page.js', 'text/javascript; charset=utf-8', readFileSync(here('./page.js'), 'utf8')],
    ['/assets/d3.min.js', 'text/javascript; charset=utf-8', readFileSync(d3BundlePath(), 'utf8')],
  ];
  const version = new Map(assets.map(([path, , body]) => [path, createHash('sha256').update(body).digest('hex').slice(0, 12)]));
  const html = readFileSync(here('./index.html'), 'utf8').replace(/(src|href)="(\/assets\/[^"?#]+)"/g, (whole, attr: string, path: string) => {
    const v = version.get(path);
    return v === undefined ? whole : `${attr}="${path}?v=${v}"`;
  });
  return new Map<string, readonly [string, string | Uint8Array]>([
    ['/', ['text/html; charset=utf-8', html]],
    ...assets.map(([path, type, body]) => [path, [type, body]] as const),
  ]);
}
