// The show config's on-air sections: `theme` (colours, fonts, logo of the overlays) and `products` (the
// see-now-buy-now looks and their SKUs), parsed with errors naming the key, the value and the rule.

export interface ShowTheme {
  /** Colours as "#rrggbb". */
  primary?: string;
  accent?: string;
  text?: string;
  panel?: string;
  /** A CSS font-family list; put a CJK face (e.g. "WenQuanYi Zen Hei") in it for Chinese text. */
  fontFamily?: string;
  /** The logo: a data: URI, an http(s) URL or a path on the server. */
  logo?: string;
}

export interface ShowLook {
  sku: string;
  /** The look's title on the card ("Look 3"). */
  look: string;
  /** Product name. */
  name: string;
  brand: string;
  /** List price, decimal string in the display currency. */
  price: string;
  /** Product image: data: URI, http(s) URL or path; null draws a placeholder. */
  image: string | null;
}

export type Fail = (path: string, rule: string, value: unknown) => never;

const COLOUR = /^#[0-9a-fA-F]{6}$/;
const PRICE = /^\d{1,12}(?:\.\d{1,2})?$/;
/** Same rule as the live channel's `product:<sku>` topics. */
const SKU = /^[^\s]{1,64}$/;
const MAX_IMAGE_CHARS = 256 * 1024;
const MAX_LOOKS = 200;

function isImageRef(s: string): boolean {
  return /^data:image\/(png|jpeg|gif|webp|svg\+xml)[;,]/.test(s) || /^https?:\/\/\S+$/.test(s) || /^\/\S*$/.test(s);
}

function image(path: string, v: unknown, fail: Fail): string {
  if (typeof v !== 'string' || !isImageRef(v)) fail(path, 'must be a data:image/... URI, an http(s) URL or a path starting with "/"', v);
  if (v.length > MAX_IMAGE_CHARS) fail(path, `must be at most ${MAX_IMAGE_CHARS} characters (host big images at a URL)`, `${v.slice(0, 40)}...`);
  return v;
}

function text(path: string, v: unknown, max: number, fail: Fail): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) fail(path, `must be a non-empty string of at most ${max} characters`, v);
  return v;
}

export function parseTheme(raw: unknown, fail: Fail): ShowTheme {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) fail('theme', 'must be an object', raw);
  const o = raw as Record<string, unknown>;
  const theme: ShowTheme = {};
  for (const [key, v] of Object.entries(o)) {
    switch (key) {
      case 'primary':
      case 'accent':
      case 'text':
      case 'panel':
        if (typeof v !== 'string' || !COLOUR.test(v)) fail(`theme.${key}`, 'must be a colour "#rrggbb"', v);
        theme[key] = v;
        break;
      case 'fontFamily':
        theme.fontFamily = text('theme.fontFamily', v, 300, fail);
        break;
      case 'logo':
        theme.logo = image('theme.logo', v, fail);
        break;
      default:
        fail(`theme.${key}`, 'unknown key (known: primary, accent, text, panel, fontFamily, logo)', v);
    }
  }
  return theme;
}

export function parseLooks(raw: unknown, fail: Fail): ShowLook[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail('products', 'must be an array of looks', raw);
  if (raw.length > MAX_LOOKS) fail('products', `must hold at most ${MAX_LOOKS} looks`, raw.length);
  const seen = new Set<string>();
  return raw.map((item: unknown, i: number): ShowLook => {
    const at = `products[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(at, 'must be an object', item);
    const o = item as Record<string, unknown>;
    if (typeof o.sku !== 'string' || !SKU.test(o.sku)) fail(`${at}.sku`, 'must be 1 to 64 characters without spaces', o.sku);
    if (seen.has(o.sku)) fail(`${at}.sku`, 'must be unique among the looks', o.sku);
    seen.add(o.sku);
    if (typeof o.price !== 'string' || !PRICE.test(o.price)) fail(`${at}.price`, 'must be a decimal string with at most 2 fraction digits, like "68.90"', o.price);
    return {
      sku: o.sku,
      look: text(`${at}.look`, o.look ?? `Look ${i + 1}`, 60, fail),
      name: text(`${at}.name`, o.name, 80, fail),
      brand: o.brand === undefined ? '' : text(`${at}.brand`, o.brand, 60, fail),
      price: o.price,
      image: o.image === undefined || o.image === null ? null : image(`${at}.image`, o.image, fail),
    };
  });
}
