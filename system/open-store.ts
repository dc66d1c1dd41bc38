// Picks the storage engine: a ClickHouse server when a URL is given, otherwise embedded chDB in the data dir.
// Each adapter is imported lazily: the embedded engine is a large native library a server deployment never loads.
import { createOrderStore } from '../storage/order-store.ts';
import type { OrderStore } from '../storage/storage.ts';

export async function openStore(opts: { clickhouseUrl: string | null; dataDir: string }): Promise<OrderStore> {
  if (opts.clickhouseUrl !== null) {
    const { createServerConnection } = await import('../storage/server/clickhouse-server-connection.ts');
    return createOrderStore(createServerConnection(opts.clickhouseUrl));
  }
  const { createChdbConnection } = await import('../storage/chdb/chdb-connection.ts');
  return createOrderStore(createChdbConnection(opts.dataDir));
}
