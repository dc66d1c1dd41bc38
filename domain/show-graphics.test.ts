// The show config's theme and products sections: what parses, what fails and how the error reads; the default
// show's looks sell in the simulator's catalog.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCatalog } from '../simulator/catalog.ts';
import { parseShowConfig, ShowConfigError } from './show.ts';

const base = { currency: 'CNY' };
const look = { sku: 'SKU-0002-00', name: 'Silk Wrap Dress', price: '68.90' };

describe('show config theme and products', () => {
  it('parses a theme and looks, with defaults for the optional keys', () => {
    const show = parseShowConfig({ ...base, theme: { primary: '#FFD166', fontFamily: 'WenQuanYi Zen Hei', logo: '/logo.png' }, products: [look] });
    expect(show.theme).toEqual({ primary: '#FFD166', fontFamily: 'WenQuanYi Zen Hei', logo: '/logo.png' });
    expect(show.looks).toEqual([{ ...look, look: 'Look 1', brand: '', image: null }]);
    expect(show.extra).not.toHaveProperty('theme');
    expect(show.extra).not.toHaveProperty('products');
  });

  it('has none when the sections are absent', () => {
    const show = parseShowConfig(base);
    expect(show.theme).toEqual({});
    expect(show.looks).toEqual([]);
  });

  it.each([
    [{ theme: { primary: 'gold' } }, 'theme.primary: must be a colour "#rrggbb" (got "gold")'],
    [{ theme: { glow: '#ffffff' } }, 'theme.glow: unknown key'],
    [{ theme: { logo: 'javascript:alert(1)' } }, 'theme.logo: must be a data:image/... URI'],
    [{ theme: [] }, 'theme: must be an object'],
    [{ products: {} }, 'products: must be an array of looks'],
    [{ products: [{ ...look, price: '68.9O' }] }, 'products[0].price: must be a decimal string'],
    [{ products: [{ ...look, sku: 'SKU 1' }] }, 'products[0].sku: must be 1 to 64 characters without spaces'],
    [{ products: [look, look] }, 'products[1].sku: must be unique among the looks'],
    [{ products: [{ ...look, name: '' }] }, 'products[0].name: must be a non-empty string'],
    [{ products: [{ ...look, image: 'ftp://x/y.png' }] }, 'products[0].image: must be a data:image/... URI, an http(s) URL or a path'],
  ])('rejects %j naming the key and the rule', (over, message) => {
    expect(() => parseShowConfig({ ...base, ...over })).toThrow(ShowConfigError);
    expect(() => parseShowConfig({ ...base, ...over })).toThrow(message);
  });

  it("default show: every look's SKU is in the simulator's catalog, with a theme and an image", () => {
    const show = parseShowConfig(JSON.parse(readFileSync(new URL('./default-show.json', import.meta.url), 'utf8')));
    const skus = new Set(createCatalog(1111).skuCode);
    expect(show.looks.length).toBeGreaterThanOrEqual(3);
    for (const l of show.looks) {
      expect(skus.has(l.sku), l.sku).toBe(true);
      expect(l.image).toMatch(/^data:image\/svg\+xml;base64,/);
    }
    expect(show.theme.fontFamily).toContain('WenQuanYi Zen Hei');
  });
});
