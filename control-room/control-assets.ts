// The control room's browser code (control-room/ui), bundled by esbuild on first request and served from memory:
// one script per page in ui/pages plus the shared stylesheet, content-hashed so they can be cached for good.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), 'ui');
const PAGES_DIR = join(UI_DIR, 'pages');
export const STYLE_ENTRY = 'control-style';

export interface BuiltControlAssets {
  /** Page name (login, control, live) or STYLE_ENTRY -> its file under /control/assets/. */
  entries: Map<string, string>;
  /** File name -> [content type, bytes]. */
  files: Map<string, readonly [string, Uint8Array]>;
  builtMs: number;
}

/** The pages: one module per file in control-room/ui/pages. */
export function controlPageNames(): string[] {
  return readdirSync(PAGES_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

export async function buildControlAssets(): Promise<BuiltControlAssets> {
  const started = Date.now();
  const pages = controlPageNames();
  const result = await build({
    entryPoints: {
      ...Object.fromEntries(pages.map((n) => [n, join(PAGES_DIR, `${n}.ts`)])),
      [STYLE_ENTRY]: join(UI_DIR, 'control.css'),
    },
    bundle: true,
    write: false,
    outdir: '/control-out',
    format: 'esm',
    splitting: true,
    minify: true,
    target: ['chrome110', 'firefox115', 'safari16'],
    // Browser code must not reach Node: a stray node: import fails the build instead of shipping a broken page.
    platform: 'browser',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const files = new Map<string, readonly [string, Uint8Array]>();
  for (const f of result.outputFiles) {
    const type = f.path.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    files.set(basename(f.path), [type, f.contents]);
  }
  const entries = new Map<string, string>();
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === undefined) continue;
    const ep = meta.entryPoint;
    entries.set(ep.endsWith('.css') ? STYLE_ENTRY : basename(ep, '.ts'), basename(out));
  }
  return { entries, files, builtMs: Date.now() - started };
}
