// Who is watching, on /metrics: live-channel subscribers per topic, and overlay instances per page with the lowest
// frame rate among them, so a dashboard shows an OBS source that dropped or one that stutters.
import type { LiveHub } from '../aggregator/live-hub.ts';
import { overlayNames } from '../overlays/server/overlay-assets.ts';
import type { OverlayRegistry } from '../overlays/server/overlay-registry.ts';
import type { Registry } from '../platform/metrics.ts';
import { TOPICS } from '../protocol/live-protocol.ts';

/** Overlays name themselves in their reports: any name but a page's is counted as "other", so labels stay few. */
const OTHER = 'other';

export function registerAudienceMetrics(metrics: Registry, hub: Pick<LiveHub, 'subscribers'>, overlays: Pick<OverlayRegistry, 'list'>): void {
  const pages = [...overlayNames(), OTHER];
  const pageOf = (name: string) => (pages.includes(name) ? name : OTHER);
  metrics.gauges('gala_live_subscribers', 'Live channel subscribers per topic (product topics not counted)', ['topic'], () =>
    TOPICS.map((topic) => [{ topic }, hub.subscribers(topic)] as const),
  );
  // Every page has a sample, 0 when none is open: a panel then shows the zero rather than no data.
  // Every page has a sample, 0 when none is open: a panel then shows the zero rather than no data.
  metrics.gauges('gala_overlays', 'Overlay instances by page and live connection (a closed one stays listed for 2 minutes)', ['overlay', 'state'], () => {
    const n = new Map(pages.map((p) => [p, { connected: 0, disconnected: 0 }]));
    for (const o of overlays.list()) n.get(pageOf(o.overlay))![o.connected ? 'connected' : 'disconnected']++;
    return [...n].flatMap(([overlay, c]) => [[{ overlay, state: 'connected' }, c.connected] as const, [{ overlay, state: 'disconnected' }, c.disconnected] as const]);
  });
  metrics.gauges('gala_overlay_fps_min', 'Lowest frame rate reported by the connected instances of each overlay page', ['overlay'], () => {
    const min = new Map<string, number>();
    for (const o of overlays.list()) {
      if (!o.connected) continue;
      const p = pageOf(o.overlay);
      min.set(p, Math.min(min.get(p) ?? Number.POSITIVE_INFINITY, o.fps));
    }
    return [...min].map(([overlay, fps]) => [{ overlay }, fps] as const);
  });
}
