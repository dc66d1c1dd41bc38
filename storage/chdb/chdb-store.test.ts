// Runs the OrderStore contract on embedded chDB: one data directory for the file, one fresh database per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeOrderStoreContract } from '../order-store.case.ts';
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
