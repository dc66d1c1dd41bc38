// Real ClickHouse servers (Debian's 18.16 or current ones) as one ClickHouse cluster, for the cluster tests: each has
// its own temp dir and free ports, and a config whose `remote_servers` names them all, one replica per shard or
// (with a ZooKeeper) several (cli/clickhouse-launcher.ts, shared with the cluster demo, says what 18.16 needs). Also
// writes the Gala cluster file for nodes over them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFileFor, type ClusterFileOptions } from '../cli/clickhouse-launcher.ts';
import type { ClusterFile } from '../domain/cluster-map.ts';

export {
  remoteServersXml,
  replicaName,
  startClickHouseCluster,
  type ClickHouseCluster,
  type ClickHouseClusterOptions,
  type ClusterFileOptions,
  type NodePlacement,
} from '../cli/clickhouse-launcher.ts';

export interface WrittenClusterFile {
  /** The file's path (in a temp dir of its own). */
  file: string;
  cluster: ClusterFile;
  /** Removes the temp dir. */
  cleanup(): void;
}

/**
 * Writes a Gala cluster file (domain/cluster-map.ts), ids n1..nN, on 127.0.0.1 with free http and ingest ports: one
 * node per URL, or one node per placement on a replica (`nodes: [{shard: 1, replica: 1}, ...]` with `cluster` and
 * `zookeeper`), which writes `replication` and each node's `shard`. `partitions` is written only when given.
 */
export async function writeClusterFile(opts: ClusterFileOptions): Promise<WrittenClusterFile> {
  const cluster = await clusterFileFor(opts);
  const dir = mkdtempSync(join(tmpdir(), 'gala-cluster-'));
  const file = join(dir, 'cluster.json');
  // An unreplicated cluster leaves the replication key out, as an operator's file would.
  const { partitions, replication, ...rest } = cluster;
  const written = { ...rest, ...(opts.partitions === undefined ? {} : { partitions }), ...(replication === null ? {} : { replication }) };
  writeFileSync(file, `${JSON.stringify(written, null, 2)}\n`);
  return { file, cluster, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
