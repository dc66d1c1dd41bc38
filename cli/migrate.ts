// `gala migrate --cluster FILE --clickhouse URL`: creates Gala's tables on one ClickHouse server of a cluster that no
// Gala node writes to, such as a replica kept only for safety. Each node migrates its own server at start; a replica
// without a node needs this once (as every replica of a shard must hold the Replicated tables to count in its
// quorum). The tables take the cluster file's replication and the server's own {shard} and {replica} macros.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseClusterFile, type ClusterFile } from '../domain/cluster-map.ts';
import { ConfigError } from '../platform/config-error.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';

export const MIGRATE_USAGE = `usage: gala migrate --cluster FILE --clickhouse URL
  creates (or brings up to date) Gala's tables on the ClickHouse server at URL, one of the cluster's servers that no
  node of FILE writes to (e.g. a replica kept only for safety). Nodes migrate their own servers at start.`;

export async function runMigrate(argv: string[], out: (line: string) => void): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { cluster: { type: 'string' }, clickhouse: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help === true) return out(MIGRATE_USAGE);
  const path = values.cluster as string | undefined;
  const url = values.clickhouse as string | undefined;
  if (path === undefined || path === '') throw new ConfigError('--cluster: required, the cluster file');
  if (url === undefined || !/^https?:\/\/\S+$/.test(url)) throw new ConfigError('--clickhouse: required, the http(s) URL of the ClickHouse server to migrate');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`--cluster: cannot read ${path}: ${(e as Error).message}`);
  }
  let file: ClusterFile;
  try {
    file = parseClusterFile(raw);
  } catch (e) {
    throw new ConfigError(`--cluster ${path}: ${(e as Error).message}`);
  }
  const version = await migrateServer(file, url);
  out(`migrated ${url.replace(/\/\/[^@/]*@/, '//***@')} to schema version ${version}${file.replication === null ? '' : ' (replicated tables)'}`);
}

/**
 * Creates (or brings up to date) Gala's tables on the ClickHouse server at `url`, as the cluster file says (replicated
 * or not); returns the schema version. `gala migrate` and the replicated demo's replicas without a node use it.
 */
export async function migrateServer(file: ClusterFile, url: string): Promise<number> {
  const store = createOrderStore(createServerConnection(url), {
    clickhouseCluster: file.clickhouseCluster,
    replication: file.replication === null ? null : { insertQuorum: file.replication.insertQuorum },
  });
  try {
    return await store.migrate();
  } finally {
    await store.close();
  }
}
