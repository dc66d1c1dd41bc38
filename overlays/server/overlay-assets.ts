// The overlay pages, built from overlays/client with esbuild on first request and then served from memory:
// /overlays/<name> is a 1920x1080 page with a transparent background; /overlays/assets/* are its content-hashed
// scripts (immutable caching).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleBrowserCode, pageModules, type BrowserBundle } from '../../http/browser-bundle.ts';
import { BOOT_ELEMENT_ID, bootScriptText, type BootSnapshot } from '../client/boot.ts';

const PAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'client', 'pages');

/** Names of the overlays: one per module in overlays/client/pages. */
export function overlayNames(): string[] {
  return pageModules(PAGES_DIR);
}

/** The overlay pages' scripts; `entries` maps an overlay's name to its script under /overlays/assets/. */
export function buildOverlays(): Promise<BrowserBundle> {
  return bundleBrowserCode(Object.fromEntries(overlayNames().map((n) => [n, join(PAGES_DIR, `${n}.ts`)])), ['chrome110']);
}

/**
 * The page of one overlay: a transparent 1920x1080 stage, its script with every module it imports announced up front
 * (one round of fetches, not one per level of imports), and the live state it starts from (see client/boot.ts).
 */
export function overlayHtml(name: string, script: string, preloads: readonly string[] = [], boot: readonly BootSnapshot[] = []): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gala overlay: ${name}</title>
<style>
  html, body { margin: 0; padding: 0; width: 1920px; height: 1080px; overflow: hidden; background: transparent; }
  canvas { display: block; }
</style>
${preloads.map((f) => `<link rel="modulepreload" href="/overlays/assets/${f}">\n`).join('')}<script type="module" src="/overlays/assets/${script}"></script>
</head>
<body>
<script type="application/json" id="${BOOT_ELEMENT_ID}">${bootScriptText(boot)}</script>
</body>
</html>
`;
}
