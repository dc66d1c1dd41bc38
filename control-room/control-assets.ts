// The control room's browser code (control-room/ui), bundled by esbuild on first request and served from memory:
// one script per page in ui/pages plus the shared stylesheet, content-hashed so they can be cached for good.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleBrowserCode, pageModules, type BrowserBundle } from '../http/browser-bundle.ts';

const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), 'ui');
const PAGES_DIR = join(UI_DIR, 'pages');
export const STYLE_ENTRY = 'control-style';

/** Page name (login, control, live) or STYLE_ENTRY -> its file under /control/assets/. */
export type BuiltControlAssets = BrowserBundle;

/** The pages: one module per file in control-room/ui/pages. */
export function controlPageNames(): string[] {
  return pageModules(PAGES_DIR);
}

export function buildControlAssets(): Promise<BuiltControlAssets> {
  const pages = controlPageNames();
  return bundleBrowserCode(
    { ...Object.fromEntries(pages.map((n) => [n, join(PAGES_DIR, `${n}.ts`)])), [STYLE_ENTRY]: join(UI_DIR, 'control.css') },
    ['chrome110', 'firefox115', 'safari16'],
  );
}
