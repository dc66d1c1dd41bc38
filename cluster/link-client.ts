// The subscribing side of the figures link: one WebSocket to each peer's `/v1/cluster/link`, reopened with jittered
// backoff whenever it drops. It only reads; each frame is parsed at this edge and handed on typed.
import WebSocket from 'ws';
import type { ClusterNode } from '../domain/cluster-map.ts';
import type { Log } from '../platform/log.ts';
import { CLUSTER_LINK_PATH, parseClusterMessage, type ClusterMessage } from '../protocol/cluster-protocol.ts';

export interface PeerLinkOptions {
  peer: ClusterNode;
  token: string;
  onMessage: (m: ClusterMessage) => void;
  log: Log;
  /** Reconnect delays grow from min to max (default 100 ms to 2 s), each with up to half again of jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class PeerLink {
  /** When a frame last arrived (epoch ms); null before the first. */
  lastHeardMs: number | null = null;
  /** Times the link opened: what arrived on an earlier opening is told apart by it. */
  opens = 0;
  private ws: WebSocket | null = null;
  private open = false;
  private closed = false;
  private backoff: number;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly opts: PeerLinkOptions) {
    this.backoff = opts.minBackoffMs ?? 100;
  }

  get node(): string {
    return this.opts.peer.id;
  }

  get up(): boolean {
    return this.open;
  }

  start(): void {
    if (this.closed || this.ws !== null) return;
    const { peer } = this.opts;
    const ws = new WebSocket(`ws://${peer.host}:${peer.ingestPort}${CLUSTER_LINK_PATH}`, { headers: { Authorization: `Bearer ${this.opts.token}` }, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.open = true;
      this.opens++;
      this.backoff = this.opts.minBackoffMs ?? 100;
      this.opts.log('cluster.link_up', { peer: peer.id });
    });
    ws.on('message', (data) => {
      this.lastHeardMs = Date.now();
      let m: ClusterMessage;
      try {
        m = parseClusterMessage(String(data));
      } catch (e) {
        this.opts.log('cluster.link_bad_frame', { peer: peer.id, error: String(e) });
        return;
      }
      this.opts.onMessage(m);
    });
    ws.on('error', (e) => {
      if (this.open) this.opts.log('cluster.link_error', { peer: peer.id, error: String(e) });
    });
    ws.on('close', () => {
      if (this.open) this.opts.log('cluster.link_down', { peer: peer.id });
      this.open = false;
      this.ws = null;
      if (this.closed) return;
      const delay = this.backoff * (1 + Math.random() / 2);
      this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 2000);
      this.retry = setTimeout(() => {
        this.retry = null;
        this.start();
      }, delay);
      this.retry.unref();
    });
  }

  close(): void {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.ws?.terminate();
    this.ws = null;
    this.open = false;
  }
}
