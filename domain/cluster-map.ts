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
}

export interface ClusterFile {
  /** The cluster's name in the ClickHouse servers' own `remote_servers` configuration. */
  clickhouseCluster: string;
  nodes: ClusterNode[];
  /** How many partitions the id space is cut into (default 64); every node of a cluster must agree. */
  partitions: number;
}

const FILE_KEYS = new Set(['clickhouseCluster', 'nodes', 'partitions']);
const NODE_KEYS = new Set(['id', 'host', 'httpPort', 'ingestPort', 'clickhouseUrl']);
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
    return { id: e.id, host: e.host, httpPort: e.httpPort, ingestPort: e.ingestPort, clickhouseUrl: e.clickhouseUrl };
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
  return { clickhouseCluster: o.clickhouseCluster, nodes, partitions };
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
