// Picks the storage engine: a ClickHouse server when a URL is given, otherwise embedded chDB in the data dir.
// A cluster node opens its own shard's server, with cluster-wide reads over the cluster's Distributed tables; in a
// replicated cluster, its own replica, with replicated tables and quorum inserts.
// Each adapter is imported lazily: the embedded engine is a large native library a server deployment never loads.
import { createOrderStore } from '../storage/order-store.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { Log } from '../platform/log.ts';
import type { ServeConfig } from './serve-config.ts';

export async function openStore(opts: Pick<ServeConfig, 'clickhouseUrl' | 'dataDir' | 'cluster'> & Partial<Pick<ServeConfig, 'mergeNice'>>, log?: Log): Promise<OrderStore> {
  const cluster = opts.cluster ?? null;
  const url = cluster?.self.clickhouseUrl ?? opts.clickhouseUrl;
  if (url !== null) {
    const { createServerConnection } = await import('../storage/server/clickhouse-server-connection.ts');
    const replication = cluster?.file.replication ?? null;
    return createOrderStore(createServerConnection(url), {
      clickhouseCluster: cluster?.file.clickhouseCluster ?? null,
      replication: replication === null ? null : { insertQuorum: replication.insertQuorum },
    });
  }
  const { createChdbConnection, stdinHazard } = await import('../storage/chdb/chdb-connection.ts');
  const hazard = stdinHazard();
  if (hazard !== null) log?.('storage.warning', { message: hazard });
  const conn = createChdbConnection(opts.dataDir, { mergeNice: opts.mergeNice ?? 0 });
  const route = conn.insertRoute;
  log?.('storage.insert-route', route.kind === 'file' ? { route: 'tmpfs file', dir: route.dir, crashFilesRemoved: route.removedAtStart } : { route: 'chdb insert API', reason: route.reason });
  if (conn.mergeNice.off !== null && (opts.mergeNice ?? 0) !== 0) log?.('storage.warning', { message: `merge threads keep the process's priority: ${conn.mergeNice.off}` });
  return createOrderStore(conn);
}
