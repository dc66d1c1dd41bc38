// N real ClickHouse servers (Debian's 18.16 or current ones) as the shards of one ClickHouse cluster, for the
// cluster tests: each has its own temp dir and free ports, and a config whose `remote_servers` names all N, one
// replica per shard (cli/clickhouse-launcher.ts, shared with the cluster demo, says what 18.16 needs). Also writes
// the Gala cluster file for N nodes over them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFileFor } from '../cli/clickhouse-launcher.ts';
import type { ClusterFile } from '../domain/cluster-map.ts';

export { remoteServersXml, startClickHouseCluster, type ClickHouseCluster, type ClickHouseClusterOptions } from '../cli/clickhouse-launcher.ts';

export interface WrittenClusterFile {
  /** The file's path (in a temp dir of its own). */
  file: string;
  cluster: ClusterFile;
  /** Removes the temp dir. */
  cleanup(): void;
}

/**
 * Writes a Gala cluster file (domain/cluster-map.ts) for one node per URL, ids n1..nN, on 127.0.0.1 with free http
 * and ingest ports. `partitions` is written only when given.
 */
export async function writeClusterFile(opts: { clickhouseCluster: string; clickhouseUrls: readonly string[]; partitions?: number }): Promise<WrittenClusterFile> {
  const cluster = await clusterFileFor(opts);
  const dir = mkdtempSync(join(tmpdir(), 'gala-cluster-'));
  const file = join(dir, 'cluster.json');
  // No replication is written as no key at all: the file's parser takes only an object there.
  const { partitions, replication, ...rest } = cluster;
  const written = { ...rest, ...(opts.partitions === undefined ? {} : { partitions }), ...(replication === null ? {} : { replication }) };
  writeFileSync(file, `${JSON.stringify(written, null, 2)}\n`);
  return { file, cluster, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
