// Runs the OrderStore contract on embedded chDB: one data directory for the file, one fresh database per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_MS, describeOrderStoreContract, encode, order } from '../order-store.case.ts';
import { ORDERS_TABLE } from '../order-rows.ts';
import { createOrderStore } from '../order-store.ts';
import { createChdbConnection } from './chdb-connection.ts';

// libchdb binds one data directory per process, so every test shares this one; sessions on the same
// path coexist. Isolation comes from a database per test, made current with USE (it lasts for the session).
const dataDir = mkdtempSync(join(tmpdir(), 'gala-chdb-contract-'));
let databases = 0;

afterAll(async () => {
  // Drop what the tests made through one last session, so no session is left holding the directory.
  const conn = createChdbConnection(dataDir);
  await conn.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describeOrderStoreContract('chdb', async (options) => {
  const database = `gala_contract_${++databases}`;
  const conn = createChdbConnection(dataDir);
  await conn.command(`DROP DATABASE IF EXISTS ${database}`);
  await conn.command(`CREATE DATABASE ${database}`);
  await conn.command(`USE ${database}`);
  const store = createOrderStore(conn, options);
  return {
    store,
    conn,
    async cleanup() {
      await store.close();
      const admin = createChdbConnection(dataDir);
      try {
        await admin.command(`DROP DATABASE IF EXISTS ${database}`);
      } finally {
        await admin.close();
      }
    },
  };
});

describe('chdb without the file route', () => {
  it('writes orders as TabSeparated, and RowBinary rows handed to it still go in, read as text', async () => {
    const conn = createChdbConnection(dataDir, { tmpfs: null });
    const database = `gala_api_route_${++databases}`;
    try {
      await conn.command(`CREATE DATABASE ${database}`);
      await conn.command(`USE ${database}`);
      expect(conn.insertRoute.kind).toBe('api');
      expect(conn.rowFormats).toEqual(['TabSeparated']);
      const store = createOrderStore(conn);
      expect(store.orderFormat).toBe('TabSeparated');
      await store.migrate();
      const orders = [order('api-1', { brand: 'tab\there', region: '浙江' }), order('api-2', { hundredths: 7, channel: 'store' })];
      await store.insertOrders(encode(orders, BASE_MS, 'RowBinary'));
      const rows = await conn.queryRows<{ id: string; brand: string; region: string; hundredths: string; channel: string }>(`SELECT id, brand, region, toString(hundredths) AS hundredths, channel FROM ${ORDERS_TABLE} ORDER BY id`);
      expect(rows).toEqual(orders.map((o) => ({ id: o.id, brand: o.brand, region: o.region, hundredths: String(o.hundredths), channel: o.channel })));
      // Only the orders table's rows have a known RowBinary layout.
      await expect(conn.insertRows('gala_runs', ['started_ms'], new Uint8Array(8), 'RowBinary')).rejects.toThrow(/RowBinary rows of gala_runs/);
    } finally {
      await conn.command(`DROP DATABASE IF EXISTS ${database}`);
      await conn.close();
    }
  });
});
