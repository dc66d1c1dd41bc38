// Browser code bundled in memory by esbuild on first use: one entry per page module, shared chunks split out, every
// file named by a hash of its content so it can be cached for good. The overlays and the control room serve theirs.
import { readdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { build } from 'esbuild';

export interface BrowserBundle {
  /** Entry name -> its file name. */
  entries: Map<string, string>;
  /**
   * Entry name -> the scripts its entry imports, directly or not (static imports only), for the page to announce
   * with modulepreload: the browser then fetches them at once instead of import by import.
   */
  preloads: Map<string, string[]>;
  /** File name -> [content type, bytes]. */
  files: Map<string, readonly [string, Uint8Array]>;
  builtMs: number;
}

/** The page modules of a folder: one per `.ts` file that is not a test, by name. */
export function pageModules(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
}

/** Bundles the entries (name -> source file: TypeScript modules or a stylesheet). */
export async function bundleBrowserCode(entryPoints: Record<string, string>, target: string[]): Promise<BrowserBundle> {
  const started = Date.now();
  const result = await build({
    entryPoints,
    bundle: true,
    write: false,
    outdir: '/browser-bundle',
    format: 'esm',
    splitting: true,
    minify: true,
    target,
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
  // The metafile names each output's entry by its path relative to the working directory.
  const nameOf = new Map(Object.entries(entryPoints).map(([name, file]) => [resolve(file), name]));
  const outputs = result.metafile.outputs;
  const entries = new Map<string, string>();
  const preloads = new Map<string, string[]>();
  for (const [out, meta] of Object.entries(outputs)) {
    const name = meta.entryPoint === undefined ? undefined : nameOf.get(resolve(meta.entryPoint));
    if (name === undefined) continue;
    entries.set(name, basename(out));
    const seen = new Set<string>();
    const visit = (file: string) => {
      for (const i of outputs[file]?.imports ?? []) {
        if (i.kind !== 'import-statement' || i.external === true || seen.has(i.path)) continue;
        seen.add(i.path);
        visit(i.path);
      }
    };
    visit(out);
    preloads.set(name, [...seen].map((f) => basename(f)));
  }
  return { entries, preloads, files, builtMs: Date.now() - started };
}

/** Builds on first use and keeps the result; a failed build is reported and tried again on the next request. */
export function lazyBundle(build: () => Promise<BrowserBundle>, onError?: (e: unknown) => void): () => Promise<BrowserBundle> {
  let built: Promise<BrowserBundle> | null = null;
  return () => {
    built ??= build().catch((e: unknown) => {
      built = null;
      onError?.(e);
      throw e;
    });
    return built;
  };
}
