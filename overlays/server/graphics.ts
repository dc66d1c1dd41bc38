// The state of every on-air graphic, changed by cues (play / update / stop / next) and published on the live
// channel's `graphics` topic, so every overlay instance (and a reloaded one) shows the same thing.
import { GRAPHICS, type GraphicCommand, type GraphicName, type GraphicState } from '../../protocol/live-protocol.ts';

export class GraphicsError extends Error {
  override name = 'GraphicsError';
}

/** Graphics on air when the system starts: the counter and the stage wall are always-on by nature. */
const ON_AT_START: ReadonlySet<GraphicName> = new Set(['counter', 'chart', 'wall']);
const MAX_DATA_BYTES = 16 * 1024;

export function isGraphic(name: string): name is GraphicName {
  return (GRAPHICS as readonly string[]).includes(name);
}

export class Graphics {
  private readonly states = new Map<GraphicName, GraphicState>();
  private readonly listeners = new Set<(s: GraphicState) => void>();

  constructor(now: () => number = Date.now) {
    for (const name of GRAPHICS) {
      this.states.set(name, { name, visible: ON_AT_START.has(name), data: {}, page: 0, rev: 0, lastCommand: null, changedAt: new Date(now()).toISOString() });
    }
    this.now = now;
  }

  private readonly now: () => number;

  /** Calls `listener` with each graphic's new state (the live channel publishes it); returns the unsubscribe. */
  onChange(listener: (s: GraphicState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(name: GraphicName): GraphicState {
    return this.states.get(name)!;
  }

  snapshot(): { graphics: Record<GraphicName, GraphicState> } {
    return { graphics: Object.fromEntries(this.states) as Record<GraphicName, GraphicState> };
  }

  /**
   * Applies a cue command. `play` shows the graphic (replacing its data when given), `update` changes its data in
   * place (shown or not), `stop` hides it, `next` advances a multi-page graphic. Throws GraphicsError naming the
   * field and the rule for a bad name, command or data.
   */
  command(name: string, command: string, data?: unknown): GraphicState {
    if (!isGraphic(name)) throw new GraphicsError(`graphic: must be one of ${GRAPHICS.join(', ')}, got ${JSON.stringify(name)}`);
    if (!['play', 'update', 'stop', 'next'].includes(command)) throw new GraphicsError(`command: must be play, update, stop or next, got ${JSON.stringify(command)}`);
    if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) throw new GraphicsError('data: must be a JSON object');
    if (data !== undefined && JSON.stringify(data).length > MAX_DATA_BYTES) throw new GraphicsError(`data: at most ${MAX_DATA_BYTES} bytes of JSON`);
    const prev = this.get(name);
    const cmd = command as GraphicCommand;
    const next: GraphicState = {
      ...prev,
      visible: cmd === 'play' ? true : cmd === 'stop' ? false : prev.visible,
      data: data === undefined ? prev.data : cmd === 'update' ? { ...prev.data, ...(data as Record<string, unknown>) } : (data as Record<string, unknown>),
      page: cmd === 'next' ? prev.page + 1 : cmd === 'play' ? 0 : prev.page,
      rev: prev.rev + 1,
      lastCommand: cmd,
      changedAt: new Date(this.now()).toISOString(),
    };
    this.states.set(name, next);
    for (const l of this.listeners) l(next);
    return next;
  }
}
