// Loads a product image or logo into a texture, with a bounded wait: a broken or slow URL yields null (the caller
// draws a placeholder) instead of an exception or a card that never appears.
import { Texture } from 'pixi.js';

const TIMEOUT_MS = 5000;

export function loadImageTexture(src: string): Promise<Texture | null> {
  return new Promise((resolve) => {
    const img = new Image();
    img.crossOrigin = 'anonymous';
    let done = false;
    const finish = (t: Texture | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(t);
    };
    const timer = setTimeout(() => finish(null), TIMEOUT_MS);
    img.onload = () => {
      if (img.naturalWidth === 0) return finish(null);
      try {
        finish(Texture.from(img));
      } catch {
        finish(null);
      }
    };
    img.onerror = () => finish(null);
    img.src = src;
  });
}
