// Picks the storage engine: a ClickHouse server when a URL is given, otherwise embedded chDB in the data dir.
// Each adapter is imported lazily: the embedded engine is a large native library a server deployment never loads.
import { createOrderStore } from '../storage/order-store.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { Log } from '../platform/log.ts';

export async function openStore(opts: { clickhouseUrl: string | null; dataDir: string }, log?: Log): Promise<OrderStore> {
  if (opts.clickhouseUrl !== null) {
    const { createServerConnection } = await import('../storage/server/clickhouse-server-connection.ts');
    return createOrderStore(createServerConnection(opts.clickhouseUrl));
  }
  const { createChdbConnection, stdinHazard } = await import('../storage/chdb/chdb-connection.ts');
  const hazard = stdinHazard();
  if (hazard !== null) log?.('storage.warning', { message: hazard });
  return createOrderStore(createChdbConnection(opts.dataDir));
}
