// The overlay page's HTML: the inlined live snapshots survive any show text (no way to close their element early),
// and every module the script imports is announced for preloading.
import { describe, expect, it } from 'vitest';
import type { ShowData, TotalsData } from '../../protocol/live-protocol.ts';
import { BOOT_ELEMENT_ID, type BootSnapshot } from '../client/boot.ts';
import { overlayHtml } from './overlay-assets.ts';

const bootOf = (html: string): unknown => {
  const m = new RegExp(`<script type="application/json" id="${BOOT_ELEMENT_ID}">([^<]*)</script>`).exec(html);
  if (m === null) throw new Error('no boot element');
  return JSON.parse(m[1]!);
};

describe('overlayHtml', () => {
  it('inlines the snapshots as JSON that show text cannot break out of', () => {
    const show: ShowData = {
      name: 'Gala </script><script>alert(1)</script> <!-- night',
      currency: 'CNY',
      numerals: 'western',
      startsAt: '2026-11-11T00:00:00.000Z',
      endsAt: null,
      status: 'live',
      rehearsal: false,
      theme: { fontFamily: 'Gala</style><script>alert(2)</script>' },
      looks: [],
    };
    const totals: TotalsData = {
      gmv: '123456.78',
      orders: 12,
      mobileShare: 0.5,
      mobileOrderShare: 0.5,
      currency: 'CNY',
      status: 'live',
      unaudited: true,
      gmvPerSecond: '0.00',
      ordersPerSecond: 0,
      asOf: '2026-11-11T00:00:01.000Z',
    };
    const boot: BootSnapshot[] = [
      { topic: 'show', at: '2026-11-11T00:00:00.000Z', data: show },
      { topic: 'totals', at: '2026-11-11T00:00:01.000Z', data: totals },
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
