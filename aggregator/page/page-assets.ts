// The journalists' page at `/`: static files read once at start and served by the feed routes.
import { readFileSync } from 'node:fs';

/** path -> [content type, body]. */
export function loadPublicPage(): Map<string, readonly [string, string | Uint8Array]> {
  const here = (f: string) => new URL(f, import.meta.url);
  return new Map<string, readonly [string, string | Uint8Array]>([['/', ['text/html; charset=utf-8', readFileSync(here('./index.html'), 'utf8')]]]);
}
