// `npm run build:companion`: bundles the module (esbuild, one CommonJS file with its libraries) and writes the
// folder Companion installs: main.js, companion/manifest.json (the version and host API filled in, checked with the
// base library's own validator), companion/HELP.md and a minimal package.json. Generated, never committed.
import { validateManifest, type ModuleManifest } from '@companion-module/base';
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
export const DEFAULT_OUT = join(ROOT, 'dist', 'companion-gala');

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

export async function buildCompanionModule(outDir = DEFAULT_OUT): Promise<{ outDir: string; manifest: ModuleManifest }> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'companion'), { recursive: true });
  await build({
    entryPoints: [join(HERE, 'main.ts')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    // ws loads these native speed-ups if present and does without them otherwise.
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
  });

  // The host API the module speaks is the base library it was bundled with (as @companion-module/tools does).
  const require = createRequire(import.meta.url);
  const base = readJson<{ version: string }>(join(dirname(require.resolve('@companion-module/base')), '..', 'package.json'));
  const pkg = readJson<{ version: string }>(join(ROOT, 'package.json'));
  const { $schema: _schema, ...source } = readJson<ModuleManifest>(join(HERE, 'manifest.json'));
  const manifest: ModuleManifest = { ...source, version: pkg.version, runtime: { ...source.runtime, api: 'nodejs-ipc', apiVersion: base.version, entrypoint: '../main.js' } };
  validateManifest(manifest, false);
  writeFileSync(join(outDir, 'companion', 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(HERE, 'HELP.md'), join(outDir, 'companion', 'HELP.md'));
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ name: manifest.name, version: manifest.version, license: manifest.license, type: 'commonjs', dependencies: {} }, null, 2)}\n`);
  return { outDir, manifest };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { outDir, manifest } = await buildCompanionModule(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  console.log(`built ${manifest.id} ${manifest.version} (host API ${manifest.runtime.apiVersion}) in ${outDir}`);
}
