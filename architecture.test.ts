// Keeps the dependencies between top-level folders pointing one way: leaves below roles, roles below the wiring,
// no cycle (type-only imports count), and browser code free of server modules.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = dirname(fileURLToPath(import.meta.url));

/**
 * The product's layers, bottom to top, and what each folder may import. Tests, `test-support/` and `bench/` sit
 * above all of it and are not part of the graph: a product file never imports them.
 */
const ALLOWED: Record<string, readonly string[]> = {
  domain: [],
  platform: [],
  protocol: ['domain'],
  http: ['platform'],
  storage: ['domain', 'platform'],
  simulator: ['domain', 'platform', 'protocol'],
  ingest: ['domain', 'platform', 'http', 'storage'],
  aggregator: ['domain', 'platform', 'protocol', 'http', 'storage'],
  overlays: ['domain', 'platform', 'protocol', 'http', 'aggregator'],
  'control-room': ['domain', 'platform', 'protocol', 'http', 'storage', 'aggregator', 'overlays', 'simulator'],
  // Cluster-only code (links between nodes, routing, figures exchange, /v1/cluster): off unless cfg.cluster is set.
  cluster: ['domain', 'platform', 'protocol', 'http', 'storage', 'ingest', 'aggregator', 'control-room', 'overlays'],
  system: ['domain', 'platform', 'protocol', 'http', 'storage', 'ingest', 'aggregator', 'overlays', 'control-room', 'simulator', 'cluster'],
  cli: ['domain', 'platform', 'protocol', 'storage', 'ingest', 'aggregator', 'overlays', 'control-room', 'simulator', 'system'],
  // The Bitfocus Companion module: a separate program that reaches Gala only over its public protocols.
  companion: ['domain', 'protocol'],
};

/** Folders whose code is bundled for the browser: they may import only the browser-safe leaves and libraries. */
const BROWSER = ['overlays/client', 'control-room/ui', 'aggregator/page'];
const BROWSER_MAY_IMPORT = ['domain', 'protocol'];
/** Server files inside those folders: they build or serve the bundles. */
const BROWSER_SERVERS = ['aggregator/page/page-assets.ts'];

const isTest = (f: string) => /\.(test|case)\.ts$/.test(f);

function productFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...productFiles(p));
    else if (/\.(ts|js|mjs)$/.test(e.name) && !isTest(e.name)) out.push(p);
  }
  return out;
}

interface Import {
  file: string;
  spec: string;
  /** Top-level folder of a relative import's target; null for a package. */
  folder: string | null;
  target: string | null;
}

/** Every static, type-only, re-export and dynamic import of a file. */
function importsOf(file: string): Import[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of src.matchAll(/(?:^|\s|;)(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\s|;)import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = (m[1] ?? m[2] ?? m[3])!;
    if (!spec.startsWith('.')) {
      out.push({ file, spec, folder: null, target: null });
      continue;
    }
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
    out.push({ file, spec, folder: target.split('/')[0]!, target });
  }
  return out;
}

const folders = Object.keys(ALLOWED);
const all = folders.flatMap((d) => productFiles(d).map((f) => ({ folder: d, imports: importsOf(f) })));

describe('architecture', () => {
  it('every top-level product folder imports only the folders below it', () => {
    const wrong: string[] = [];
    for (const { folder, imports } of all) {
      for (const i of imports) {
        if (i.folder === null || i.folder === folder) continue;
        if (!ALLOWED[folder]!.includes(i.folder)) wrong.push(`${i.file} imports ${i.spec} (${folder} -> ${i.folder})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the folder graph has no cycle, type-only imports included', () => {
    const edges = new Map<string, Set<string>>();
    for (const { folder, imports } of all) {
      for (const i of imports) {
        if (i.folder === null || i.folder === folder) continue;
        if (!edges.has(folder)) edges.set(folder, new Set());
        edges.get(folder)!.add(i.folder);
      }
    }
    // Depth-first search; a grey node met again is a cycle.
    const colour = new Map<string, 'grey' | 'black'>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      colour.set(n, 'grey');
      for (const m of edges.get(n) ?? []) {
        if (colour.get(m) === 'grey') cycles.push([...path, n, m].join(' -> '));
        else if (!colour.has(m)) visit(m, [...path, n]);
      }
      colour.set(n, 'black');
    };
    for (const f of folders) if (!colour.has(f)) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('no product file imports tests, test-support or benches', () => {
    const wrong = all.flatMap(({ imports }) => imports.filter((i) => i.folder === 'test-support' || i.folder === 'bench' || (i.target !== null && isTest(i.target))));
    expect(wrong.map((i) => `${i.file} imports ${i.spec}`)).toEqual([]);
  });

  it('browser code and the protocol import no server module', () => {
    const wrong: string[] = [];
    for (const { imports } of all) {
      for (const i of imports) {
        const browser = (BROWSER.some((b) => i.file.startsWith(b + '/')) && !BROWSER_SERVERS.includes(i.file)) || i.file.startsWith('protocol/');
        if (!browser) continue;
        if (i.spec.startsWith('node:')) wrong.push(`${i.file} imports ${i.spec}`);
        else if (i.target !== null) {
          const own = BROWSER.find((b) => i.file.startsWith(b + '/'));
          const ok = BROWSER_MAY_IMPORT.includes(i.folder!) || (own !== undefined && i.target.startsWith(own + '/'));
          if (!ok) wrong.push(`${i.file} imports ${i.spec}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the checker sees imports of every kind', () => {
    // Guards the regex above: if it stopped matching type-only or dynamic imports, the rules would pass vacuously.
    const specs = importsOf('architecture.test.ts').map((i) => i.spec);
    expect(specs).toContain('node:fs');
    const cs = importsOf('protocol/live-protocol.ts');
    expect(cs.some((i) => i.folder === 'protocol' && i.target === 'protocol/control-state.ts')).toBe(true);
    expect(all.length).toBeGreaterThan(100);
  });
});
