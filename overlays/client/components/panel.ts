// The graphics' panel: a rounded plate in the theme's panel colour, a thin primary rim and an accent tab on top,
// so every box on air reads as one family.
import { Graphics } from 'pixi.js';
import type { Theme } from '../runtime.ts';

export function createPanel(theme: Theme, w: number, h: number, tab = 140): Graphics {
  return new Graphics()
    .roundRect(0, 0, w, h, 28)
    .fill({ color: theme.panel, alpha: 0.88 })
    .roundRect(0, 0, w, h, 28)
    .stroke({ color: theme.primary, width: 3, alpha: 0.55 })
    .rect(28, 0, tab, 6)
    .fill({ color: theme.accent });
}
