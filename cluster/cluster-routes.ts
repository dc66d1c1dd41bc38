// GET /v1/cluster: the cluster as this node sees it (public, read-only). The nodes, the partitions each owns, how an
// order id is mapped to its owner (so that an order system can send each order straight to it), and each node's
// state as this node sees it. With replication also every shard's lease (owner, epoch, serving), each node's replica
// lag and ZooKeeper state, and the last takeover. Served inside the public feed (its CORS, rate limit and ETag).
import { Hono } from 'hono';
import { coordinatorOf, nodesOfShard, partitionsOfShard, partitionsOwnedBy, shardCount, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { HttpEnv } from '../platform/http-env.ts';
import type { ClusterShardView, ClusterView, ReplicaView, TakeoverView } from '../protocol/cluster-protocol.ts';
import type { Ownership } from './ownership.ts';

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
  /** Replication (all optional; without replication none is read): the shards' leases... */
  ownership?: Pick<Ownership, 'shards'>;
  /** ...each node's replica lag by node id (a node missing: unknown)... */
  replicaStatus?: () => Readonly<Record<string, ReplicaView>> | Promise<Readonly<Record<string, ReplicaView>>>;
  /** ...each node's ZooKeeper state by node id (this node: its session's; a peer: its membership)... */
  zookeeperState?: () => Readonly<Record<string, string>>;
  /** ...and the last takeover this node knows of. */
  lastTakeover?: () => TakeoverView | null;
}

/** What a replicated cluster's view adds, from the providers as they answer now. */
export interface ReplicationReadings {
  shards: ReturnType<Ownership['shards']>;
  replicas: Readonly<Record<string, ReplicaView>>;
  zookeeper: Readonly<Record<string, string>>;
  lastTakeover: TakeoverView | null;
}

/** The mapping from an order id to its owner, as published: every client must map ids exactly like this. */
export const ID_MAPPING = {
  fingerprint: 'gala-fp64',
  reference: 'domain/fingerprint.ts (fingerprint: [fingerprintHi, fingerprintLo]); domain/cluster-map.ts (partitionOf, ownerOf); docs/cluster.md',
  partition: 'fingerprintLo mod partitions',
  owner: 'nodes[partition mod nodes.length]',
} as const;

/** The mapping of a replicated cluster: partitions belong to shards for the night, shards to their lease holder. */
export const REPLICATED_ID_MAPPING = {
  fingerprint: ID_MAPPING.fingerprint,
  reference: 'domain/fingerprint.ts (fingerprint: [fingerprintHi, fingerprintLo]); domain/cluster-map.ts (partitionOf, shardOfPartition); docs/cluster.md',
  partition: ID_MAPPING.partition,
  shard: 'partition mod shards + 1',
  owner: "the shard's lease holder (see shards[])",
} as const;

/** The body of GET /v1/cluster. */
export function clusterView(cluster: { file: ClusterFile; self: ClusterNode }, states: Readonly<Record<string, PeerView>>, replication: ReplicationReadings | null = null): ClusterView {
  const { file, self } = cluster;
  const coordinator = coordinatorOf(file).id;
  const shards = replication === null ? null : shardViews(file, replication.shards);
  return {
    clickhouseCluster: file.clickhouseCluster,
    self: self.id,
    coordinator,
    partitions: file.partitions,
    mapping: shards === null ? ID_MAPPING : REPLICATED_ID_MAPPING,
    nodes: file.nodes.map((n) => {
      const seen = states[n.id] ?? { state: n.id === self.id ? 'up' : 'unknown' };
      return {
        id: n.id,
        host: n.host,
        httpPort: n.httpPort,
        ingestPort: n.ingestPort,
        ingest: `ws://${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.ingestPort}/v1/ingest`,
        coordinator: n.id === coordinator,
        // With replication: the partitions of the shards it holds now (none while it holds no lease).
        partitions: shards === null ? partitionsOwnedBy(file, n.id) : shards.filter((s) => s.owner === n.id).flatMap((s) => s.partitions).sort((a, b) => a - b),
        state: seen.state,
        ...(seen.since === undefined ? {} : { stateSince: seen.since }),
        ...(seen.reason === undefined ? {} : { stateReason: seen.reason }),
        ...(replication === null ? {} : { shard: n.shard, replica: replication.replicas[n.id] ?? null, zookeeper: replication.zookeeper[n.id] ?? 'unknown' }),
      };
    }),
    ...(shards === null ? {} : { shards, lastTakeover: replication!.lastTakeover }),
  };
}

/** Every shard of the file, with its lease as the ownership reports it (vacant when it reports none). */
function shardViews(file: ClusterFile, leases: ReturnType<Ownership['shards']>): ClusterShardView[] {
  const out: ClusterShardView[] = [];
  for (let s = 1; s <= shardCount(file); s++) {
    const lease = leases.find((l) => l.shard === s);
    out.push({
      shard: s,
      owner: lease?.node ?? null,
      epoch: lease?.epoch ?? 0,
      serving: lease?.serving ?? false,
      since: lease?.since ?? null,
      partitions: partitionsOfShard(file, s),
      nodes: nodesOfShard(file, s).map((n) => n.id),
    });
  }
  return out;
}

export function createClusterRoutes(opts: ClusterRoutesOptions): Hono<HttpEnv> {
  const peerStates = opts.peerStates ?? (() => ({ [opts.cluster.self.id]: { state: 'up' as const } }));
  const replicated = opts.cluster.file.replication != null;
  const readings = async (): Promise<ReplicationReadings | null> => {
    if (!replicated) return null;
    let replicas: Readonly<Record<string, ReplicaView>> = {};
    try {
      replicas = (await opts.replicaStatus?.()) ?? {};
    } catch {
      // The own replica unreadable (its server down): every lag unknown, the rest of the view still answers.
    }
    return { shards: opts.ownership?.shards() ?? [], replicas, zookeeper: opts.zookeeperState?.() ?? {}, lastTakeover: opts.lastTakeover?.() ?? null };
  };
  return new Hono<HttpEnv>().get('/v1/cluster', async (c) => {
    c.header('Cache-Control', opts.cacheControl);
    return c.json(clusterView(opts.cluster, peerStates(), await readings()));
  });
}
