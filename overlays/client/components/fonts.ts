// Bitmap fonts of the graphics, rasterised once per page from the show's theme: text that changes often (figures,
// axis labels, live sales) is drawn from these atlases, so nothing is re-rasterised per frame.
// installAtlas installs one with its own atlas page size and mipmapping.
import { BitmapFont, DynamicBitmapFont } from 'pixi.js';
import type { Theme } from '../runtime.ts';

/** Figures and short Latin words, in the theme's text colour; tint a BitmapText for other colours. */
export const FIGURES = 'gala-figures';
/** The same in heavy weight for big numbers. */
export const FIGURES_BOLD = 'gala-figures-bold';

const CHARS: (string | string[])[] = [['0', '9'], ['a', 'z'], ['A', 'Z'], ' .,:;%·/+-–()×#&\'"!?¥$€£₩亿万件元单秒'];
const installed = new Set<string>();

/**
 * Installs the graphics' bitmap fonts (once per page). White glyphs: a BitmapText's tint gives it its colour. No
 * kerning table: Pixi builds it from every pair of characters (over 10,000 canvas measurements for this set, most
 * of a page's start under software rendering), for a difference no one sees in figures and short labels.
 */
export function installFonts(theme: Theme): void {
  if (installed.has(FIGURES)) return;
  BitmapFont.install({ name: FIGURES, style: { fontFamily: theme.fontFamily, fontSize: 48, fontWeight: '600', fill: '#ffffff' }, chars: CHARS, resolution: 1, padding: 4, skipKerning: true });
  BitmapFont.install({ name: FIGURES_BOLD, style: { fontFamily: theme.fontFamily, fontSize: 96, fontWeight: '800', fill: '#ffffff' }, chars: CHARS, resolution: 1, padding: 6, skipKerning: true });
  installed.add(FIGURES);
}

export interface AtlasOptions {
  /** Atlas page size in px (Pixi's default 512). */
  pageSize?: number;
  /** Mipmapped pages (Pixi's default): needed only for text drawn well below the size it was rasterised at. */
  mipmap?: boolean;
}

/**
 * BitmapFont.install with a page size and mipmapping of its own: install takes neither, so Pixi's defaults are set
 * around this one install and put back.
 */
export function installAtlas(font: Parameters<typeof BitmapFont.install>[0], atlas: AtlasOptions): void {
  const defaults = DynamicBitmapFont.defaultOptions;
  const saved = { textureSize: defaults.textureSize, mipmap: defaults.mipmap };
  defaults.textureSize = atlas.pageSize ?? saved.textureSize;
  defaults.mipmap = atlas.mipmap ?? saved.mipmap;
  try {
    BitmapFont.install(font);
  } finally {
    Object.assign(defaults, saved);
  }
}
