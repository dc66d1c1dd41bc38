// The overlay page's HTML: the inlined live snapshots survive any show text (no way to close their element early),
// and every module the script imports is announced for preloading.
import { describe, expect, it } from 'vitest';
import { BOOT_ELEMENT_ID, type BootSnapshot } from '../client/boot.ts';
import { overlayHtml } from './overlay-assets.ts';

const bootOf = (html: string): unknown => {
  const m = new RegExp(`<script type="application/json" id="${BOOT_ELEMENT_ID}">([^<]*)</script>`).exec(html);
  if (m === null) throw new Error('no boot element');
  return JSON.parse(m[1]!);
};

describe('overlayHtml', () => {
  it('inlines the snapshots as JSON that show text cannot break out of', () => {
    const boot: BootSnapshot[] = [
      { topic: 'show', at: '2026-11-11T00:00:00.000Z', data: { name: 'Gala </script><script>alert(1)</script> <!-- night', currency: 'CNY' } },
      { topic: 'totals', at: '2026-11-11T00:00:01.000Z', data: { gmv: '123456.78' } },
    ];
    const html = overlayHtml('counter', 'counter-ABC.js', [], boot);
    expect(html.match(/<script/g)).toHaveLength(2); // the module and the JSON, nothing smuggled in
    expect(bootOf(html)).toEqual(boot);
  });

  it('announces every imported module with modulepreload before the script, and an empty boot when none', () => {
    const html = overlayHtml('counter', 'counter-ABC.js', ['chunk-1.js', 'chunk-2.js']);
    const links = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)">/g)].map((m) => m[1]);
    expect(links).toEqual(['/overlays/assets/chunk-1.js', '/overlays/assets/chunk-2.js']);
    expect(html.indexOf('modulepreload')).toBeLessThan(html.indexOf('<script type="module" src="/overlays/assets/counter-ABC.js">'));
    expect(bootOf(html)).toEqual([]);
  });
});
