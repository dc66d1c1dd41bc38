// A node's forwarding side of the cluster: one link to every other node's ingest port, the router that uses them, the
// links' state for `/v1/cluster` and `/metrics`, and their shutdown.
import type { ClusterFile, ClusterNode } from '../domain/cluster-map.ts';
import type { GroupCommitter } from '../ingest/group-commit.ts';
import type { RouteBatch } from '../ingest/ingest-message.ts';
import type { Registry } from '../platform/metrics.ts';
import { PeerLink, type LinkState, type PeerLinkOptions } from './peer-link.ts';
import { createRouter, type Router } from './router.ts';
import type { Ownership } from './ownership.ts';

/**
 * A node as this node's ingest links see it, in the shape `GET /v1/cluster` publishes (cluster/cluster-routes.ts
 * `PeerView`): `up` while the link is open; `down` once it dropped or an attempt failed, with why; `unknown` before
 * the first attempt has ended.
 */
export interface PeerState {
  state: 'up' | 'down' | 'unknown';
  /** When it entered that state (ISO 8601). */
  since: string;
  reason?: string;
}

export interface ClusterRouting {
  /** The ingest server's route for every batch. */
  route: RouteBatch;
  /** Replication: stop or resume committing a shard's orders (see Router); the shard lifecycle calls them. */
  stopTaking: Router['stopTaking'];
  startTaking: Router['startTaking'];
  /** Every node's state by id: this node up, each other as its link sees it. */
  peerStates(): Record<string, PeerState>;
  /** The link to a peer, by node id (tests and the figures side may watch it). */
  link(id: string): PeerLink | undefined;
  /** Closes every link; sends still in flight are answered unavailable. Call after ingest has stopped. */
  close(): void;
}

export interface ClusterRoutingOptions {
  cluster: { file: ClusterFile; self: ClusterNode };
  /** The ingest token this node presents to its peers (they admit their cluster's nodes with it). */
  token: string | undefined;
  committer: GroupCommitter;
  currencies: readonly string[];
  /** Who commits each partition now (cluster/ownership.ts): issue 14's static map unless replicated. */
  ownership: Ownership;
  metrics: Registry;
  /** Link tuning (tests shorten the timeouts). */
  link?: Partial<Omit<PeerLinkOptions, 'url' | 'token' | 'selfId' | 'log'>>;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

const STATES: readonly LinkState[] = ['up', 'connecting', 'down'];

export function openClusterRouting(opts: ClusterRoutingOptions): ClusterRouting {
  const { file, self } = opts.cluster;
  if (opts.token === undefined || opts.token === '') {
    throw new Error('cluster: GALA_INGEST_TOKEN must be set: nodes present its first token to one another\'s ingest port');
  }
  const links = new Map<string, PeerLink>();
  const byIndex: (PeerLink | null)[] = file.nodes.map((n) => {
    if (n.id === self.id) return null;
    const link = new PeerLink({ ...opts.link, url: `ws://${hostForUrl(n.host)}:${n.ingestPort}/v1/ingest`, token: opts.token!, selfId: self.id, log: opts.log && ((e, f) => opts.log!(e, { ...f, peer: n.id })) });
    links.set(n.id, link);
    return link;
  });
  const peers = [...links];
  const startedAt = Date.now();
  const changes = opts.metrics.counter('gala_cluster_link_state_changes_total', 'Link state changes, by peer and the state entered', ['peer', 'state']);
  for (const [id, link] of peers) link.onState((s) => changes.inc(1, { peer: id, state: s }));
  opts.metrics.gauges('gala_cluster_link_state', 'Each peer link\'s state: 1 for the state it is in, 0 for the others', ['peer', 'state'], function* () {
    for (const [id, link] of peers) for (const s of STATES) yield [{ peer: id, state: s }, link.state === s ? 1 : 0] as const;
  });
  opts.metrics.gauges('gala_cluster_link_inflight_orders', 'Orders forwarded to a peer and not yet acked', ['peer'], function* () {
    for (const [id, link] of peers) yield [{ peer: id }, link.inflightOrders] as const;
  });
  const router = createRouter({
    file,
    self,
    committer: opts.committer,
    currencies: opts.currencies,
    linkOf: (i) => byIndex[i]!,
    ownership: opts.ownership,
    metrics: opts.metrics,
  });
  return {
    route: router.route,
    stopTaking: (shard) => router.stopTaking(shard),
    startTaking: (shard) => router.startTaking(shard),
    peerStates: () => {
      const out: Record<string, PeerState> = { [self.id]: { state: 'up', since: new Date(startedAt).toISOString() } };
      for (const [id, l] of peers) out[id] = viewOf(l);
      return out;
    },
    link: (id) => links.get(id),
    close() {
      router.close();
      for (const l of links.values()) l.close();
    },
  };
}

function viewOf(l: PeerLink): PeerState {
  const since = new Date(l.since).toISOString();
  if (l.state === 'up') return { state: 'up', since };
  // Connecting for the first time: nothing is known yet. Connecting again: it dropped, and is down until back.
  if (l.state === 'connecting' && !l.everUp) return { state: 'unknown', since };
  return { state: 'down', since, reason: `ingest link: ${l.lastError ?? 'closed'}${l.state === 'connecting' ? '; reconnecting' : ''}` };
}

/** An IPv6 address goes in brackets in a URL. */
function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
