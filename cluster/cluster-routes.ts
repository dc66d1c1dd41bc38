// GET /v1/cluster: the cluster as this node sees it (public, read-only). The nodes, the partitions each owns, how an
// order id is mapped to its owner (so that an order system can send each order straight to it), and each node's
// state as this node sees it. Served inside the public feed (its CORS, rate limit and ETag).
import { Hono } from 'hono';
import { coordinatorOf, partitionsOwnedBy, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { ClusterView } from '../protocol/cluster-protocol.ts';

/** A peer as this node sees it. */
export interface PeerView {
  /** `up`: reachable; `down`: its link failed; `unknown`: not tried yet (or no link to it). */
  state: 'up' | 'down' | 'unknown';
  /** When it entered that state (ISO 8601). */
  since?: string;
  /** Why it is down, in a few words. */
  reason?: string;
}

export interface ClusterRoutesOptions {
  cluster: { file: ClusterFile; self: ClusterNode };
  /** Each node's state by id, as this node sees it; default: this node up, every other unknown. */
  peerStates?: () => Readonly<Record<string, PeerView>>;
  /** Cache-Control of the answer. */
  cacheControl: string;
}

/** The mapping from an order id to its owner, as published: every client must map ids exactly like this. */
export const ID_MAPPING = {
  fingerprint: 'gala-fp64',
  reference: 'domain/fingerprint.ts (fingerprint: [fingerprintHi, fingerprintLo]); domain/cluster-map.ts (partitionOf, ownerOf); docs/cluster.md',
  partition: 'fingerprintLo mod partitions',
  owner: 'nodes[partition mod nodes.length]',
} as const;

/** The body of GET /v1/cluster. */
export function clusterView(cluster: { file: ClusterFile; self: ClusterNode }, states: Readonly<Record<string, PeerView>>): ClusterView {
  const { file, self } = cluster;
  const coordinator = coordinatorOf(file).id;
  return {
    clickhouseCluster: file.clickhouseCluster,
    self: self.id,
    coordinator,
    partitions: file.partitions,
    mapping: ID_MAPPING,
    nodes: file.nodes.map((n) => {
      const seen = states[n.id] ?? { state: n.id === self.id ? 'up' : 'unknown' };
      return {
        id: n.id,
        host: n.host,
        httpPort: n.httpPort,
        ingestPort: n.ingestPort,
        ingest: `ws://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.ingestPort}/v1/ingest`,
        coordinator: n.id === coordinator,
        partitions: partitionsOwnedBy(file, n.id),
        state: seen.state,
        ...(seen.since === undefined ? {} : { stateSince: seen.since }),
        ...(seen.reason === undefined ? {} : { stateReason: seen.reason }),
      };
    }),
  };
}

export function createClusterRoutes(opts: ClusterRoutesOptions): Hono<HttpEnv> {
  const peerStates = opts.peerStates ?? (() => ({ [opts.cluster.self.id]: { state: 'up' as const } }));
  return new Hono<HttpEnv>().get('/v1/cluster', (c) => {
    c.header('Cache-Control', opts.cacheControl);
    return c.json(clusterView(opts.cluster, peerStates()));
  });
}
