// A d3-shape rendering context that draws into a Pixi Graphics: d3's line and area generators emit moveTo /
// lineTo / bezierCurveTo / closePath calls, which Pixi's Graphics path API accepts as they are.
import type { Graphics } from 'pixi.js';

/** The subset of CanvasRenderingContext2D that d3-shape's line and area generators call. */
export interface PathContext {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  bezierCurveTo(cp1x: number, cp1y: number, cp2x: number, cp2y: number, x: number, y: number): void;
  quadraticCurveTo(cpx: number, cpy: number, x: number, y: number): void;
  arc(x: number, y: number, r: number, a0: number, a1: number, ccw?: boolean): void;
  closePath(): void;
  rect(x: number, y: number, w: number, h: number): void;
}

export function pixiPath(g: Graphics): PathContext {
  return {
    moveTo: (x, y) => void g.moveTo(x, y),
    lineTo: (x, y) => void g.lineTo(x, y),
    bezierCurveTo: (a, b, c, d, x, y) => void g.bezierCurveTo(a, b, c, d, x, y),
    quadraticCurveTo: (a, b, x, y) => void g.quadraticCurveTo(a, b, x, y),
    arc: (x, y, r, a0, a1, ccw) => void g.arc(x, y, r, a0, a1, ccw),
    closePath: () => void g.closePath(),
    rect: (x, y, w, h) => void g.rect(x, y, w, h),
  };
}
