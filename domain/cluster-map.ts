// The cluster file and the partition map: which node owns which part of the order-id space. Pure and browser-safe,
// so the nodes, the ingest client, the simulator and the pages map an id the same way.
import { fingerprint } from './fingerprint.ts';

/** How many parts the order-id space is cut into, unless the cluster file says otherwise. Fixed for a night. */
export const DEFAULT_PARTITIONS = 64;

export interface ClusterNode {
  id: string;
  host: string;
  httpPort: number;
  ingestPort: number;
  /** The ClickHouse server this node writes to: one shard of the cluster. Nodes may share a shard. */
  clickhouseUrl: string;
  /**
   * Replicated clusters only: the shard (1-based, in `remote_servers` order) whose replica `clickhouseUrl` is. A
   * node may own only its own shard's partitions, since it rebuilds them from its own replica.
   */
  shard?: number;
}

/**
 * Replicated shards (issue 15): each shard has two or more ClickHouse replicas, and the partitions of a shard are
 * owned by one node of that shard at a time, under a lease in ZooKeeper.
 */
export interface ReplicationConfig {
  /** ZooKeeper's connection string, host:port[,host:port...] (the one ClickHouse's replicated tables use). */
  zookeeper: string;
  /** The leases' ZooKeeper session timeout (ms), 1,000 to 30,000; default 6,000. The server may narrow it. */
  sessionTimeoutMs: number;
  /** Replicas an insert must reach before it is acknowledged (ClickHouse `insert_quorum`), at least 2; default 2. */
  insertQuorum: number;
  /** The ZooKeeper path under which Gala keeps its leases; default `/gala/<clickhouseCluster>`. */
  root: string;
}

export interface ClusterFile {
  /** The cluster's name in the ClickHouse servers' own `remote_servers` configuration. */
  clickhouseCluster: string;
  nodes: ClusterNode[];
  /** How many partitions the id space is cut into (default 64); every node of a cluster must agree. */
  partitions: number;
  /** Replicated shards with leased ownership; null: every node owns its partitions for good (issue 14). */
  replication: ReplicationConfig | null;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 6000;
export const DEFAULT_INSERT_QUORUM = 2;

const FILE_KEYS = new Set(['clickhouseCluster', 'nodes', 'partitions', 'replication']);
const NODE_KEYS = new Set(['id', 'host', 'httpPort', 'ingestPort', 'clickhouseUrl', 'shard']);
const REPLICATION_KEYS = new Set(['zookeeper', 'sessionTimeoutMs', 'insertQuorum', 'root']);
const ID_RULE = /^[A-Za-z0-9._-]{1,32}$/;

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/**
 * Checks a parsed cluster file. Throws an Error whose message names the key and the rule: unknown keys, a missing
 * or malformed field, two nodes with one id, or two nodes on one host and port.
 */
export function parseClusterFile(raw: unknown): ClusterFile {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('cluster file: must be a JSON object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FILE_KEYS.has(k));
  if (unknown.length > 0) throw new Error(`cluster file: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (typeof o.clickhouseCluster !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(o.clickhouseCluster)) {
    throw new Error('clickhouseCluster: required, 1 to 64 of A-Z a-z 0-9 _ (the name in remote_servers)');
  }
  const partitions = o.partitions === undefined ? DEFAULT_PARTITIONS : o.partitions;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > 4096) {
    throw new Error('partitions: must be an integer from 1 to 4096');
  }
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) throw new Error('nodes: required, a non-empty array');
  if (o.nodes.length > partitions) throw new Error(`nodes: at most one node per partition (${partitions} partitions)`);
  // Absent or null: no replication.
  const replication = o.replication === undefined || o.replication === null ? null : parseReplication(o.replication, o.clickhouseCluster);
  const nodes: ClusterNode[] = o.nodes.map((n: unknown, i: number) => {
    const at = `nodes[${i}]`;
    if (n === null || typeof n !== 'object' || Array.isArray(n)) throw new Error(`${at}: must be an object`);
    const e = n as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => !NODE_KEYS.has(k));
    if (extra.length > 0) throw new Error(`${at}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`);
    if (typeof e.id !== 'string' || !ID_RULE.test(e.id)) throw new Error(`${at}.id: required, 1 to 32 of A-Z a-z 0-9 . _ -`);
    if (typeof e.host !== 'string' || e.host.length === 0) throw new Error(`${at}.host: required, a host name or address`);
    if (!isPort(e.httpPort)) throw new Error(`${at}.httpPort: required, a port number 1-65535`);
    if (!isPort(e.ingestPort)) throw new Error(`${at}.ingestPort: required, a port number 1-65535`);
    if (typeof e.clickhouseUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(e.clickhouseUrl)) throw new Error(`${at}.clickhouseUrl: required, an http(s) URL`);
    const node: ClusterNode = { id: e.id, host: e.host, httpPort: e.httpPort, ingestPort: e.ingestPort, clickhouseUrl: e.clickhouseUrl };
    if (replication === null) {
      if (e.shard !== undefined) throw new Error(`${at}.shard: only with "replication" (without it, each node owns its own partitions)`);
    } else {
      if (typeof e.shard !== 'number' || !Number.isInteger(e.shard) || e.shard < 1 || e.shard > 1024) {
        throw new Error(`${at}.shard: required with "replication", the 1-based number of the shard in remote_servers whose replica clickhouseUrl is`);
      }
      node.shard = e.shard;
    }
    return node;
  });
  const ids = new Set<string>();
  const binds = new Set<string>();
  for (const n of nodes) {
    if (ids.has(n.id)) throw new Error(`nodes: the id "${n.id}" is given twice`);
    ids.add(n.id);
    for (const p of [n.httpPort, n.ingestPort]) {
      const key = `${n.host}:${p}`;
      if (binds.has(key)) throw new Error(`nodes: ${key} is used twice`);
      binds.add(key);
    }
  }
  if (replication !== null) {
    const shards = Math.max(...nodes.map((n) => n.shard!));
    for (let s = 1; s <= shards; s++) {
      if (!nodes.some((n) => n.shard === s)) throw new Error(`nodes: shard ${s} has no node (shards are numbered 1 to ${shards} without gaps, in remote_servers order)`);
    }
    if (shards > partitions) throw new Error(`nodes: ${shards} shards but only ${partitions} partitions`);
    // Compared as servers, not as text: a trailing slash, the case of the host or credentials do not make
    // another replica.
    const urls = new Set<string>();
    for (const n of nodes) {
      const url = new URL(n.clickhouseUrl);
      const server = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
      if (urls.has(server)) throw new Error(`nodes: ${server} is given twice (with replication, each node writes to a replica of its own)`);
      urls.add(server);
    }
  }
  return { clickhouseCluster: o.clickhouseCluster, nodes, partitions, replication };
}

function parseReplication(raw: unknown, cluster: string): ReplicationConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('replication: must be an object');
  const r = raw as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !REPLICATION_KEYS.has(k));
  if (extra.length > 0) throw new Error(`replication: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`);
  const hostPort = /^[^\s,/:]+:(\d{1,5})$/;
  if (typeof r.zookeeper !== 'string' || !r.zookeeper.split(',').every((hp) => {
    const m = hostPort.exec(hp);
    return m !== null && isPort(Number(m[1]));
  })) {
    throw new Error('replication.zookeeper: required, host:port[,host:port...] with ports 1-65535 (the ZooKeeper that the replicated tables use)');
  }
  const timeout = r.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1000 || timeout > 30_000) {
    throw new Error('replication.sessionTimeoutMs: must be an integer from 1000 to 30000 (ms)');
  }
  const quorum = r.insertQuorum ?? DEFAULT_INSERT_QUORUM;
  if (typeof quorum !== 'number' || !Number.isInteger(quorum) || quorum < 2 || quorum > 16) {
    throw new Error('replication.insertQuorum: must be an integer from 2 to 16 (an acknowledged order is on at least that many replicas)');
  }
  const root = r.root ?? `/gala/${cluster}`;
  if (typeof root !== 'string' || !/^(\/[A-Za-z0-9._-]+)+$/.test(root)) throw new Error('replication.root: must be a ZooKeeper path such as /gala/show (segments of A-Z a-z 0-9 . _ -)');
  return { zookeeper: r.zookeeper, sessionTimeoutMs: timeout, insertQuorum: quorum, root };
}

// ---- Replicated clusters: partitions belong to shards, shards to the node holding their lease ----------------

/** How many shards a replicated cluster has (the highest `shard` of its nodes); 0 without replication. */
export function shardCount(file: ClusterFile): number {
  return file.replication === null ? 0 : Math.max(...file.nodes.map((n) => n.shard ?? 0));
}

/** The shard (1-based) holding a partition's rows in a replicated cluster: p mod S, plus one. */
export function shardOfPartition(partition: number, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shardOfPartition: shards = ${shards} must be a positive integer`);
  return (partition % shards) + 1;
}

/** A shard's partitions, ascending. */
export function partitionsOfShard(file: ClusterFile, shard: number): number[] {
  const shards = shardCount(file);
  // Without replication there are no shards (and a step of 0 would never end).
  if (!Number.isInteger(shard) || shard < 1 || shard > shards) throw new Error(`partitionsOfShard: shard ${shard} is not one of this cluster's ${shards} shards`);
  const out: number[] = [];
  for (let p = shard - 1; p < file.partitions; p += shards) out.push(p);
  return out;
}

/** The nodes writing to a replica of `shard`, in file order; the first is its preferred owner. */
export function nodesOfShard(file: ClusterFile, shard: number): ClusterNode[] {
  return file.nodes.filter((n) => n.shard === shard);
}

/** The node that owns a shard whenever it is up: the first node of that shard in the file. */
export function preferredOwnerOf(file: ClusterFile, shard: number): ClusterNode {
  const n = file.nodes.find((x) => x.shard === shard);
  if (n === undefined) throw new Error(`cluster: no node on shard ${shard}`);
  return n;
}

/**
 * The partition of an id's fingerprint: its low 32 bits modulo the partition count. `fingerprint()` in
 * domain/fingerprint.ts is the one definition of the fingerprint; /v1/cluster describes it for other clients.
 */
export function partitionOfFingerprint(lo: number, partitions: number): number {
  return (lo >>> 0) % partitions;
}

export function partitionOf(id: string, partitions: number): number {
  return partitionOfFingerprint(fingerprint(id)[1], partitions);
}

/** The node that owns a partition: partitions are dealt to the nodes in file order, p -> nodes[p mod N]. */
export function ownerIndexOf(partition: number, nodeCount: number): number {
  return partition % nodeCount;
}

/** A node's partitions, ascending. */
export function partitionsOwnedBy(file: ClusterFile, nodeId: string): number[] {
  const i = file.nodes.findIndex((n) => n.id === nodeId);
  if (i < 0) return [];
  const out: number[] = [];
  for (let p = i; p < file.partitions; p += file.nodes.length) out.push(p);
  return out;
}

/** The owner of an order id. */
export function ownerOf(file: ClusterFile, id: string): ClusterNode {
  return file.nodes[ownerIndexOf(partitionOf(id, file.partitions), file.nodes.length)]!;
}

/** The node that holds the cluster's one control state and records milestones: the first node of the file. */
export function coordinatorOf(file: ClusterFile): ClusterNode {
  return file.nodes[0]!;
}

/** A node's HTTP port as a URL's host:port (an IPv6 address in brackets), as a browser addressing it sends it. */
export function httpHostOf(node: ClusterNode): string {
  return `${node.host.includes(':') && !node.host.startsWith('[') ? `[${node.host}]` : node.host}:${node.httpPort}`;
}
