// The serving side of the figures link (`/v1/cluster/link` on the ingest port): each peer that subscribes gets this
// node's own partitions' cumulative figures after every durable commit, and from the coordinator the control,
// graphics, milestone and leaderboard states. Every message is latest state, so a subscriber that reads slowly is
// never queued for: what changed is remembered per subscriber (at most the seconds held, and five flags) and the
// newest figures go out once its socket drains.
import * as uWS from 'uWebSockets.js';
import { writeAnswer } from '../http/uws-reply.ts';
import type { Log } from '../platform/log.ts';
import type { Registry } from '../platform/metrics.ts';
import { createBearerGuard, Unauthorized } from '../platform/tokens.ts';
import { CLUSTER_LINK_PATH, type BoardsMessage, type ClusterMessage, type ControlMessage, type GraphicsMessage } from '../protocol/cluster-protocol.ts';
import type { MilestoneData } from '../protocol/live-protocol.ts';
import type { Aggregator } from '../aggregator/index.ts';

export interface LinkServerOptions {
  /** This node's id and its start instant (epoch ms): a restarted node's figures outrank its earlier run's. */
  node: string;
  run: number;
  tokens: readonly string[];
  aggregator: Pick<Aggregator, 'ownFigures' | 'onOwnChange'>;
  metrics: Registry;
  log: Log;
  /** Bytes a subscriber may leave unread before this node stops writing to it until it drains (default 1 MiB). */
  maxBufferedBytes?: number;
  /** With nothing new, a beat says the figures still hold this often (default 500 ms). */
  beatMs?: number;
  /**
   * The slot this node's own figures are published under, at which epoch; null: none (a replicated standby, which
   * beats only). Default: the node itself at epoch 0 (issue 14's static map).
   */
  slot?: () => { slot: string; epoch: number } | null;
}

/** The coordinator's shared states, read when a subscriber is due to get them. */
export interface CoordinatorSources {
  milestones: () => MilestoneData[];
  control: () => Omit<ControlMessage, 'type'>;
  graphics: () => GraphicsMessage['graphics'];
  /** The leaderboards as last read over the cluster (null: not read yet). */
  boards?: () => Omit<BoardsMessage, 'type'> | null;
}

interface Sub {
  closed: boolean;
  /** Seconds changed since the last figures sent; null: send every second held (a new subscriber). */
  seconds: Set<number> | null;
  figures: boolean;
  milestones: boolean;
  control: boolean;
  graphics: boolean;
  boards: boolean;
  lastSentMs: number;
}

export class LinkServer {
  private readonly subs = new Set<uWS.WebSocket<Sub>>();
  private seq = 0;
  private flushQueued = false;
  private coordinator: CoordinatorSources | null = null;
  private readonly beat: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private readonly slot: () => { slot: string; epoch: number } | null;
  /** The first own change not yet sent to every subscriber (epoch ms), for the flush delay's histogram. */
  private changedSinceMs: number | null = null;
  private readonly flushDelay;

  constructor(private readonly opts: LinkServerOptions) {
    const fixed = { slot: opts.node, epoch: 0 };
    this.slot = opts.slot ?? (() => fixed);
    this.maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
    this.flushDelay = opts.metrics.histogram('gala_cluster_figures_flush_seconds', 'From a change of this node\'s own figures (a commit) to the figures message that carries it going out', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
    opts.aggregator.onOwnChange((seconds) => {
      this.seq++;
      this.changedSinceMs ??= Date.now();
      for (const ws of this.subs) {
        const s = ws.getUserData();
        s.figures = true;
        if (s.seconds === null) continue;
        if (seconds === null) s.seconds = null;
        else for (const x of seconds) s.seconds.add(x);
      }
      // Sent now, not on a later turn of the event loop: a commit is followed at once by the synchronous part of
      // its derived rows' insert (folding the group into rollups), which would hold the figures back by as much
      // (bench:cluster: 21-27 ms on average, the routed ack → visible tail). A change comes once per commit.
      // Called from the commit path: whatever goes wrong here must not reach the commit's acks.
      try {
        this.flushAll();
      } catch (e) {
        opts.log('cluster.link_flush_failed', { error: String(e) });
      }
    });
    opts.metrics.gauge('gala_cluster_link_subscribers', 'Peers subscribed to this node\'s figures link', () => this.subs.size);
    const beatMs = opts.beatMs ?? 500;
    this.beat = setInterval(() => {
      const now = Date.now();
      for (const ws of this.subs) {
        const s = ws.getUserData();
        if (now - s.lastSentMs >= beatMs && ws.getBufferedAmount() < this.maxBuffered) this.send(ws, { type: 'beat', node: opts.node, ...(this.slot() ?? {}), run: opts.run, seq: this.seq, asOf: now });
      }
    }, Math.max(50, Math.floor(beatMs / 2)));
    this.beat.unref();
  }

  /** Mounts the link on the ingest listener (the ingest token admits a peer); returns what sends the last figures. */
  mount(app: uWS.TemplatedApp): () => void {
    const guard = createBearerGuard(this.opts.tokens, { error: 'unauthorized: the cluster link needs the ingest token (Authorization: Bearer <token>)' });
    app.ws<Sub>(CLUSTER_LINK_PATH, {
      maxPayloadLength: 64 * 1024,
      // Never reached in practice: nothing is written past maxBufferedBytes, bar one message (a full state).
      maxBackpressure: 256 * 1024 * 1024,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const denied = guard(req.getHeader('authorization'), req.getQuery() ?? '');
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        if (denied instanceof Unauthorized) return writeAnswer(res, denied.answer());
        const coord = this.coordinator !== null;
        res.upgrade<Sub>({ closed: false, seconds: null, figures: true, milestones: coord, control: coord, graphics: coord, boards: coord, lastSentMs: 0 }, key, protocol, extensions, context);
      },
      open: (ws) => {
        this.subs.add(ws);
        this.flush(ws);
      },
      drain: (ws) => this.flush(ws),
      close: (ws) => {
        ws.getUserData().closed = true;
        this.subs.delete(ws);
      },
    });
    // On close, the figures of the last commits go out now, not on a turn of the loop the listener's close precedes.
    return () => this.publishNow();
  }

  /** Sends what is due to every subscriber now (a lease handed back: its final figures go out before it is let go). */
  publishNow(): void {
    for (const ws of this.subs) this.flush(ws);
  }

  /** This node is the coordinator: its control, graphics and milestone states go to every subscriber too. */
  serveCoordinatorStates(sources: CoordinatorSources): void {
    this.coordinator = sources;
  }

  changed(what: 'milestones' | 'control' | 'graphics' | 'boards'): void {
    if (this.coordinator === null) return;
    for (const ws of this.subs) ws.getUserData()[what] = true;
    this.queueFlush();
  }

  close(): void {
    clearInterval(this.beat);
    for (const ws of [...this.subs]) ws.end(1001, 'node shutting down');
  }

  /** Many changes of the coordinator's states in one turn of the event loop go out as one message. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flushAll();
    });
  }

  private flushAll(): void {
    for (const ws of this.subs) this.flush(ws);
    if (this.changedSinceMs !== null && this.subs.size > 0) this.flushDelay.observe((Date.now() - this.changedSinceMs) / 1000);
    this.changedSinceMs = null;
  }

  private flush(ws: uWS.WebSocket<Sub>): void {
    const s = ws.getUserData();
    if (s.closed) return;
    const c = this.coordinator;
    const slot = this.slot();
    if (slot === null) {
      // No lease: nothing to publish; the first figures under a lease go out in full.
      s.figures = false;
      s.seconds = null;
    } else if (s.figures && this.roomFor(ws)) {
      const full = s.seconds === null;
      const own = this.opts.aggregator.ownFigures(s.seconds);
      s.seconds = new Set();
      s.figures = false;
      this.send(ws, { type: 'figures', node: this.opts.node, ...slot, run: this.opts.run, seq: this.seq, asOf: Date.now(), full, ...own });
    }
    if (c === null) return;
    if (s.milestones && this.roomFor(ws)) {
      s.milestones = false;
      this.send(ws, { type: 'milestones', milestones: c.milestones() });
    }
    if (s.control && this.roomFor(ws)) {
      s.control = false;
      this.send(ws, { type: 'control', ...c.control() });
    }
    if (s.graphics && this.roomFor(ws)) {
      s.graphics = false;
      this.send(ws, { type: 'graphics', graphics: c.graphics() });
    }
    if (s.boards && this.roomFor(ws)) {
      s.boards = false;
      const b = c.boards?.() ?? null;
      if (b !== null) this.send(ws, { type: 'boards', ...b });
    }
  }

  private roomFor(ws: uWS.WebSocket<Sub>): boolean {
    return ws.getBufferedAmount() < this.maxBuffered;
  }

  private send(ws: uWS.WebSocket<Sub>, m: ClusterMessage): void {
    const s = ws.getUserData();
    if (s.closed) return;
    s.lastSentMs = Date.now();
    ws.cork(() => ws.send(JSON.stringify(m), false));
  }
}
