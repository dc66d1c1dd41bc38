// Overlay health: every overlay instance reports over the live channel what it displays, its frame rate and its
// last update; the control room reads the list (GET /v1/overlays, the `overlays` topic).
import type { OverlayHealth, OverlayReport } from '../../protocol/live-protocol.ts';

const MAX_INSTANCES = 500;
/** An instance whose socket closed stays listed this long, marked disconnected, so a lost overlay is visible. */
const KEEP_GONE_MS = 120_000;

function text(v: unknown, max = 64): string {
  return typeof v === 'string' ? v.slice(0, max) : '';
}
function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export class OverlayRegistry {
  private readonly bySocket = new Map<number, OverlayHealth>();
  private readonly gone = new Map<number, { health: OverlayHealth; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes a client's report, keeping only known fields of bounded size. */
  report(socket: number, raw: Record<string, unknown>): void {
    if (!this.bySocket.has(socket) && this.bySocket.size >= MAX_INSTANCES) return;
    const r: OverlayReport = {
      overlay: text(raw.overlay),
      instance: text(raw.instance),
      displayed: typeof raw.displayed === 'string' ? raw.displayed.slice(0, 64) : null,
      fps: num(raw.fps),
      frameMsP50: num(raw.frameMsP50),
      frameMsP99: num(raw.frameMsP99),
      lastUpdate: typeof raw.lastUpdate === 'string' ? raw.lastUpdate.slice(0, 32) : null,
      connected: true,
      visible: Array.isArray(raw.visible) ? raw.visible.filter((v): v is string => typeof v === 'string').slice(0, 16).map((v) => v.slice(0, 32)) : [],
      jsHeapBytes: typeof raw.jsHeapBytes === 'number' ? raw.jsHeapBytes : null,
      contextLosses: num(raw.contextLosses),
    };
    this.bySocket.set(socket, { ...r, reportedAt: new Date(this.now()).toISOString(), socket });
  }

  closed(socket: number): void {
    const h = this.bySocket.get(socket);
    if (h === undefined) return;
    this.bySocket.delete(socket);
    this.gone.set(socket, { health: { ...h, connected: false }, at: this.now() });
  }

  /**
   * Calls `listener` with the list once every `everyMs` when it changed (a newer report instant alone is no change),
   * for the control room's `overlays` topic. Returns the stop.
   */
  watch(listener: (at: string, list: OverlayHealth[]) => void, everyMs = 1000): () => void {
    let last = '';
    const timer = setInterval(() => {
      const list = this.list();
      const j = JSON.stringify(list.map((o) => ({ ...o, reportedAt: '' })));
      if (j === last) return;
      last = j;
      listener(new Date(this.now()).toISOString(), list);
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  list(): OverlayHealth[] {
    const t = this.now();
    for (const [k, g] of this.gone) if (t - g.at > KEEP_GONE_MS) this.gone.delete(k);
    return [...this.bySocket.values(), ...[...this.gone.values()].map((g) => g.health)].sort((a, b) => a.overlay.localeCompare(b.overlay) || a.instance.localeCompare(b.instance));
  }
}
