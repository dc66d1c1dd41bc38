// The REHEARSAL mark every overlay draws while the show topic says rehearsal, so a rehearsal's program output can
// never be taken for air: a red tag at the top right, inside the graphics-safe area, above every graphic.
import { Container, Graphics as Shape, Text } from 'pixi.js';

const MARK_LABEL = 'gala-rehearsal-mark';

/** Shows or hides the mark on a stage (created on first use, kept on top of whatever was added since). */
export function markRehearsal(stage: Container, rehearsal: boolean): void {
  let mark = stage.getChildByLabel(MARK_LABEL);
  if (mark === null && rehearsal) {
    const c = new Container({ label: MARK_LABEL });
    const text = new Text({ text: 'REHEARSAL', style: { fontFamily: 'Arial, sans-serif', fontSize: 34, fontWeight: '800', fill: '#ffffff', letterSpacing: 4 } });
    const padX = 22;
    const padY = 10;
    const box = new Shape().roundRect(0, 0, text.width + padX * 2, text.height + padY * 2, 8).fill({ color: 0xd62828, alpha: 0.92 }).stroke({ color: 0xffffff, width: 3 });
    text.position.set(padX, padY);
    c.addChild(box, text);
    // Graphics-safe area: 90% of 1920x1080 leaves 96 px left and right, 54 px top and bottom.
    c.position.set(1920 - 96 - c.width, 54);
    mark = c;
  }
  if (mark === null) return;
  mark.visible = rehearsal;
  if (rehearsal) stage.addChild(mark);
  document.body.dataset.rehearsal = rehearsal ? '1' : '0';
}
