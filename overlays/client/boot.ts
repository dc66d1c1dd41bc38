// The live state an overlay page is served with: the server writes the current snapshots of a few topics into the
// page's HTML, so a (re)loaded overlay can draw the current figure without waiting for its live connection.
import type { Topic, TopicSnapshot } from '../../protocol/live-protocol.ts';

/** Topics inlined in every overlay page: the theme, what is on air, and the figures. */
export const BOOT_TOPICS = ['show', 'graphics', 'totals'] as const satisfies readonly Topic[];
export type BootTopic = (typeof BOOT_TOPICS)[number];

/** A topic's snapshot as the page is served with it: the same data its live snapshot carries. */
export interface BootSnapshot<T extends BootTopic = BootTopic> extends TopicSnapshot<T> {
  topic: T;
}

export const BOOT_ELEMENT_ID = 'gala-boot';

/** The page's inlined snapshots, or none (an old page, a hand-made one, or unreadable). */
export function readBoot(): BootSnapshot[] {
  const text = document.getElementById(BOOT_ELEMENT_ID)?.textContent ?? '';
  if (text === '') return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((s): s is BootSnapshot => typeof s === 'object' && s !== null && (BOOT_TOPICS as readonly unknown[]).includes((s as BootSnapshot).topic) && typeof (s as BootSnapshot).at === 'string') : [];
  } catch {
    return [];
  }
}

/** The snapshots as a JSON script element's text: `<` escaped so no show text can close the element. */
export function bootScriptText(snapshots: readonly BootSnapshot[]): string {
  return JSON.stringify(snapshots).replace(/</g, '\\u003c');
}
