// One node's part in the cluster's one set of figures and one control room: it serves its figures (and, on the
// coordinator, the control, graphics and milestone states) on the link, subscribes to every peer's, and on the
// other nodes mirrors the coordinator's states onto its own live channel and proxies the control API to it.
import type { Aggregator } from '../aggregator/index.ts';
import type { LiveHub } from '../aggregator/live-hub.ts';
import type { ControlRoom } from '../control-room/index.ts';
import { coordinatorOf, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { Graphics } from '../overlays/server/graphics.ts';
import type { Log } from '../platform/log.ts';
import type { Registry } from '../platform/metrics.ts';
import type { ClusterMessage, ControlMessage, GraphicsMessage } from '../protocol/cluster-protocol.ts';
import type { PeerHealth } from '../protocol/live-protocol.ts';
import { createControlProxy } from './control-proxy.ts';
import { PeerLink } from './link-client.ts';
import { LinkServer } from './link-server.ts';

/** A peer heard from neither figures nor beat for longer than this is flagged silent to operators. */
export const PEER_SILENT_AFTER_MS = 3000;

export interface ClusterNodeOptions {
  file: ClusterFile;
  self: ClusterNode;
  /** The ingest tokens: the first is presented to peers, all admit them. */
  ingestTokens: readonly string[];
  aggregator: Aggregator;
  metrics: Registry;
  log: Log;
  /** This run's start (epoch ms): orders this node's figures against its earlier runs'. */
  runStartedMs: number;
  /** Link tuning (tests shorten the beat). */
  beatMs?: number;
  silentAfterMs?: number;
}

export interface LiveParts {
  hub: LiveHub;
  graphics: Graphics;
  control: ControlRoom;
}

export class ClusterNodeRole {
  readonly isCoordinator: boolean;
  readonly server: LinkServer;
  private readonly links: PeerLink[];
  private hub: LiveHub | null = null;
  private mirroredControl: Omit<ControlMessage, 'type'> | null = null;
  private mirroredGraphics: GraphicsMessage['graphics'] | null = null;
  private readonly silentAfterMs: number;
  /** Peers whose figures arrived at least once, and who waits for all of them. */
  private readonly heardFrom = new Set<string>();
  private onHeard: (() => void) | null = null;

  constructor(private readonly opts: ClusterNodeOptions) {
    const coordinator = coordinatorOf(opts.file);
    this.isCoordinator = coordinator.id === opts.self.id;
    this.silentAfterMs = opts.silentAfterMs ?? PEER_SILENT_AFTER_MS;
    const token = opts.ingestTokens[0];
    if (token === undefined) throw new Error('cluster: GALA_INGEST_TOKEN must hold a token: nodes present it to one another');
    this.server = new LinkServer({ node: opts.self.id, run: opts.runStartedMs, tokens: opts.ingestTokens, aggregator: opts.aggregator, metrics: opts.metrics, log: opts.log, beatMs: opts.beatMs });
    this.links = opts.file.nodes
      .filter((n) => n.id !== opts.self.id)
      .map((peer) => new PeerLink({ peer, token, log: opts.log, onMessage: (m) => this.received(peer, m) }));
    opts.metrics.gauges('gala_cluster_peer_silence_seconds', 'Seconds since each peer\'s figures (or a beat) last arrived; -1 before any', ['peer'], () =>
      this.links.map((l) => [{ peer: l.node }, l.lastHeardMs === null ? -1 : (Date.now() - l.lastHeardMs) / 1000] as const),
    );
    opts.metrics.gauges('gala_cluster_peer_link_up', '1 while the figures link to a peer is open', ['peer'], () => this.links.map((l) => [{ peer: l.node }, l.up ? 1 : 0] as const));
  }

  /** Routes for the HTTP app, ahead of the local ones: on every node but the coordinator, the control API proxy. */
  proxyRoutes() {
    return this.isCoordinator ? null : createControlProxy({ coordinator: coordinatorOf(this.opts.file), log: this.opts.log });
  }

  /** Hooks the live parts in once they exist, then subscribes to every peer. */
  start(parts: LiveParts): void {
    this.hub = parts.hub;
    const { aggregator } = this.opts;
    if (this.isCoordinator) {
      this.server.serveCoordinatorStates({
        milestones: () => aggregator.milestones.list(),
        control: () => ({ at: new Date().toISOString(), state: parts.control.state() }),
        graphics: () => parts.graphics.snapshot().graphics,
      });
      aggregator.onMilestone(() => this.server.changed('milestones'));
      parts.control.onState(() => this.server.changed('control'));
      parts.graphics.onChange(() => this.server.changed('graphics'));
    }
    for (const l of this.links) l.start();
  }

  /**
   * Resolves once every peer's figures arrived, or after `timeoutMs` (a peer may be down): a node opens its feeds
   * only then, so a restarted node does not first show its own partitions alone, less than it showed before.
   */
  peersHeard(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const check = () => {
        if (this.links.every((l) => this.heardFrom.has(l.node))) done();
      };
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.onHeard = check;
      check();
    });
  }

  /** On a node other than the coordinator, the coordinator's control state once heard (null: not yet, or coordinator). */
  controlSnapshot(): { at: string; data: ControlMessage['state'] } | null {
    const m = this.mirroredControl;
    return m === null ? null : { at: m.at, data: m.state };
  }

  graphicsSnapshot(): { at: string; data: { graphics: GraphicsMessage['graphics'] } } | null {
    const g = this.mirroredGraphics;
    if (g === null) return null;
    const at = Object.values(g).reduce((t, s) => (s.changedAt > t ? s.changedAt : t), '');
    return { at, data: { graphics: g } };
  }

  /** Every peer as this node hears it, for the health topic. */
  peers(): PeerHealth[] {
    const now = Date.now();
    return this.links.map((l) => {
      const since = l.lastHeardMs === null ? null : now - l.lastHeardMs;
      return { node: l.node, link: l.up ? 'up' : 'down', secondsSinceFigures: since === null ? null : Math.floor(since / 1000), silent: since === null || since > this.silentAfterMs };
    });
  }

  close(): void {
    for (const l of this.links) l.close();
    this.server.close();
  }

  private received(peer: ClusterNode, m: ClusterMessage): void {
    const { aggregator } = this.opts;
    switch (m.type) {
      case 'figures':
        if (m.node !== peer.id) return this.opts.log('cluster.link_wrong_node', { peer: peer.id, node: m.node });
        aggregator.applyFigures(m);
        if (!this.heardFrom.has(peer.id)) {
          this.heardFrom.add(peer.id);
          this.onHeard?.();
        }
        return;
      case 'beat':
        if (m.node === peer.id) aggregator.heard(m);
        return;
      case 'milestones':
        if (this.isCoordinator) return;
        for (const x of [...m.milestones].sort((a, b) => a.crossedAt.localeCompare(b.crossedAt))) aggregator.adoptMilestone(x);
        return;
      case 'control':
        if (this.isCoordinator) return;
        if (JSON.stringify(this.mirroredControl?.state) === JSON.stringify(m.state)) return;
        this.mirroredControl = { at: m.at, state: m.state };
        this.hub?.publish('control', m.at, m.state);
        return;
      case 'graphics': {
        if (this.isCoordinator) return;
        const before = this.mirroredGraphics;
        this.mirroredGraphics = m.graphics;
        for (const s of Object.values(m.graphics)) {
          const old = before?.[s.name];
          if (old === undefined || old.rev !== s.rev || old.changedAt !== s.changedAt) this.hub?.publish('graphics', s.changedAt, s);
        }
        return;
      }
    }
  }
}
