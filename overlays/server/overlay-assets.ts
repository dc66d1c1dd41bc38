// The overlay pages, built from overlays/client with esbuild on first request and then served from memory:
// /overlays/<name> is a 1920x1080 page with a transparent background; /overlays/assets/* are its content-hashed
// scripts (immutable caching).
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const PAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'client', 'pages');

export interface BuiltOverlays {
  /** Overlay name -> its entry script's path under /overlays/assets/. */
  entries: Map<string, string>;
  /** File name -> bytes. */
  files: Map<string, Uint8Array>;
  builtMs: number;
}

/** Names of the overlays: one per module in overlays/client/pages. */
export function overlayNames(): string[] {
  return readdirSync(PAGES_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

export async function buildOverlays(): Promise<BuiltOverlays> {
  const started = Date.now();
  const names = overlayNames();
  const result = await build({
    entryPoints: Object.fromEntries(names.map((n) => [n, join(PAGES_DIR, `${n}.ts`)])),
    bundle: true,
    write: false,
    outdir: '/overlays-out',
    format: 'esm',
    splitting: true,
    minify: true,
    target: ['chrome110'],
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles) files.set(basename(f.path), f.contents);
  const entries = new Map<string, string>();
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === undefined) continue;
    const name = basename(meta.entryPoint, '.ts');
    entries.set(name, basename(out));
  }
  return { entries, files, builtMs: Date.now() - started };
}

/** The page of one overlay: a transparent 1920x1080 stage and its script. */
export function overlayHtml(name: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gala overlay: ${name}</title>
<style>
  html, body { margin: 0; padding: 0; width: 1920px; height: 1080px; overflow: hidden; background: transparent; }
  canvas { display: block; }
</style>
</head>
<body>
<script type="module" src="/overlays/assets/${script}"></script>
</body>
</html>
`;
}
