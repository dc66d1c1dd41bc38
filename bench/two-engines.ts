// Both engines for a benchmark: embedded chDB on a temp directory, and clickhouse-server (18.16 here) started for
// the run through test-support. Each comes migrated, with a function that removes what it made.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouseServer } from '../test-support/clickhouse-server.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';
import { createOrderStore } from '../storage/order-store.ts';
import type { OrderStore, SqlConnection } from '../storage/storage.ts';

export interface BenchEngine {
  name: 'chdb' | 'server';
  conn: SqlConnection;
  store: OrderStore;
  /** The server's HTTP address (server only). */
  url?: string;
  /** A directory the engine may read files from (chdb: any path; server: its user_files). */
  filesDir: string;
  close(): Promise<void>;
}

export async function openEngine(name: 'chdb' | 'server'): Promise<BenchEngine> {
  if (name === 'chdb') {
    const dir = mkdtempSync(join(tmpdir(), 'gala-bench-chdb-'));
    const conn = createChdbConnection(dir);
    const store = createOrderStore(conn);
    await store.migrate();
    return { name, conn, store, filesDir: dir, close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  }
  const server = await startClickHouseServer();
  const conn = createServerConnection(server.url);
  const store = createOrderStore(conn);
  await store.migrate();
  return { name, conn, store, url: server.url, filesDir: join(server.dir, 'user_files'), close: async () => { await store.close(); await server.cleanup(); } };
}

/** Milliseconds that fn takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const s = performance.now();
  await fn();
  return performance.now() - s;
}
