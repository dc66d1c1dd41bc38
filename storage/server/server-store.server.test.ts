// Runs the OrderStore contract, and the adapter's own checks, against a real clickhouse-server it starts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  clickHouseServerAvailable,
  requireClickHouseServer,
  startClickHouseServer,
  type ClickHouseServer,
} from '../../test-support/clickhouse-server.ts';
import { describeOrderStoreContract } from '../order-store.case.ts';
import { createOrderStore } from '../order-store.ts';
import type { SqlConnection } from '../storage.ts';
import { ClickHouseServerError, createServerConnection, resolveServerConfig } from './clickhouse-server-connection.ts';

// Throws (failing this file) when CI=true and no server binary exists; elsewhere prints why and skips.
const serverAvailable = requireClickHouseServer();

const PASSWORD = 'p@ss:w/rd %';

describe('server connection config', () => {
  it('takes user, password (percent-encoded) and database from the URL', () => {
    const cfg = resolveServerConfig(`http://gala:${encodeURIComponent(PASSWORD)}@db.example:8123/shop_1`);
    expect(cfg).toMatchObject({ origin: 'http://db.example:8123', username: 'gala', password: PASSWORD, database: 'shop_1' });
    expect(resolveServerConfig('https://h:8443/')).toMatchObject({ username: 'default', password: '', database: 'default' });
    expect(resolveServerConfig('http://u:p@h:1/a', { username: 'v', password: 'q', database: 'b' })).toMatchObject({ username: 'v', password: 'q', database: 'b' });
  });

  it('names the key, the value and the rule, and never prints the password', () => {
    expect(() => createServerConnection('not a url')).toThrow(/url = "not a url" is not a URL/);
    expect(() => createServerConnection('ftp://u:hunter2@h:21')).toThrow(/url = "ftp:\/\/u:\*\*\*@h:21" has protocol "ftp:"/);
    expect(() => createServerConnection('ftp://u:hunter2@h:21')).not.toThrow(/hunter2/);
    expect(() => createServerConnection('http://h:8123/?database=x')).toThrow(/url = .* has a query/);
    expect(() => createServerConnection('http://h:8123/bad-name')).toThrow(/database = "bad-name" must match/);
    expect(() => createServerConnection('http://h:8123', { requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs = 0 must be an integer from 1/);
    expect(() => createServerConnection('http://h:8123', { requestTimeoutMs: 1.5 })).toThrow(/requestTimeoutMs = 1.5/);
    expect(() => createServerConnection('http://h:8123', { maxOpenConnections: -1 })).toThrow(/maxOpenConnections = -1/);
  });
});

describe('requireClickHouseServer', () => {
  const saved = { bin: process.env.CLICKHOUSE_SERVER_BIN, ci: process.env.CI };
  afterEach(() => {
    for (const [key, value] of [['CLICKHOUSE_SERVER_BIN', saved.bin], ['CI', saved.ci]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('fails in CI, and skips with a reason elsewhere, when the binary is missing', () => {
    process.env.CLICKHOUSE_SERVER_BIN = '/nonexistent/clickhouse-server';
    expect(clickHouseServerAvailable()).toBe(false);
    const printed: string[] = [];
    process.env.CI = 'true';
    expect(() => requireClickHouseServer((m) => printed.push(m))).toThrow(/CI=true/);
    expect(printed).toEqual([]);
    delete process.env.CI;
    expect(requireClickHouseServer((m) => printed.push(m))).toBe(false);
    expect(printed).toEqual([expect.stringMatching(/^skipping ClickHouse server tests: no ClickHouse server binary/)]);
  });
});

// Skips only off CI, after printing why: with CI=true, requireClickHouseServer() throws and the file fails.
describe.skipIf(!serverAvailable)('ClickHouse server (real process)', () => {
  let server: ClickHouseServer;
  let admin: SqlConnection;
  let databases = 0;

  beforeAll(async () => {
    server = await startClickHouseServer({ users: [{ name: 'gala', password: PASSWORD }] });
    admin = createServerConnection(server.url);
  });

  afterAll(async () => {
    await admin?.close();
    await server?.cleanup();
  });

  // One server for the file; a fresh database per test, selected by the URL path.
  describeOrderStoreContract('clickhouse-server', async (options) => {
    const database = `gala_contract_${++databases}`;
    await admin.command(`DROP DATABASE IF EXISTS ${database}`);
    await admin.command(`CREATE DATABASE ${database}`);
    const conn = createServerConnection(`${server.url}/${database}`);
    const store = createOrderStore(conn, options);
    return {
      store,
      conn,
      async cleanup() {
        await store.close();
        await admin.command(`DROP DATABASE IF EXISTS ${database}`);
      },
    };
  });

  describe('adapter', () => {
    const conns: SqlConnection[] = [];
    const open = (url: string, opts?: Parameters<typeof createServerConnection>[1]) => {
      const c = createServerConnection(url, opts);
      conns.push(c);
      return c;
    };
    afterEach(async () => {
      while (conns.length > 0) await conns.pop()!.close();
    });

    it('reports the server version', async () => {
      expect(await open(server.url).version()).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('authenticates with user and password from the URL', async () => {
      const conn = open(`http://gala:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.httpPort}/`);
      expect(await conn.ping()).toBe(true);
      expect(await conn.queryRows('SELECT toInt64(9007199254740993) AS n')).toEqual([{ n: '9007199254740993' }]);
    });

    it('rejects a wrong password with the server error text; ping says false', async () => {
      const conn = open(`http://gala:wrong@127.0.0.1:${server.httpPort}/`);
      expect(await conn.ping()).toBe(false);
      const err = await conn.queryTsv('SELECT 1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClickHouseServerError);
      expect((err as ClickHouseServerError).message).toMatch(/(Wrong password|Authentication failed|password is incorrect)/i);
      expect((err as ClickHouseServerError).code).toBeTypeOf('number');
    });

    it('reports an error raised mid-result as an error, not as rows', async () => {
      // Without wait_end_of_query, 18.16 would answer 200 and append the exception text to the rows.
      const err = await open(server.url)
        .queryTsv('SELECT throwIf(number = 200000) FROM system.numbers LIMIT 300000')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClickHouseServerError);
      expect((err as Error).message).toMatch(/throwIf|non zero/);
    });

    it('ping is false, never an exception, when nothing listens', async () => {
      const conn = open('http://127.0.0.1:1', { requestTimeoutMs: 2_000 });
      expect(await conn.ping()).toBe(false);
      await expect(conn.queryTsv('SELECT 1')).rejects.toThrow(/clickhouse-server: query \(SELECT 1\) failed: .*ECONNREFUSED/);
    });

    it('settles at once an insert that never reached a server (refused) or that the server answered with an error', async () => {
      // With a grace of 10 minutes, only the shortcut lets these settle within the test's bound.
      const refused = open('http://127.0.0.1:1', { requestTimeoutMs: 2_000, settleGraceMs: 600_000 });
      const e1 = await refused.insertTsv('gala_orders', ['id'], 'x\n').then(() => null, (e: unknown) => e);
      expect(String(e1)).toMatch(/ECONNREFUSED/);
      await refused.settleFailedInsert(e1);
      const answered = open(server.url, { settleGraceMs: 600_000 });
      const e2 = await answered.insertTsv('no_such_table_here', ['id'], 'x\n').then(() => null, (e: unknown) => e);
      expect(e2).toBeInstanceOf(ClickHouseServerError);
      expect((e2 as ClickHouseServerError).code).toBe(60);
      await answered.settleFailedInsert(e2);
    }, 30_000);

    it('gives up on a slow request after requestTimeoutMs and says so', async () => {
      const conn = open(server.url, { requestTimeoutMs: 300 });
      const started = Date.now();
      // The timeout's own error says it gave up; the time only has to show it did not wait for the answer: the
      // query takes 3 s (the longest one sleep() allows), so 2.9 s leaves a loaded machine 2.6 s past the 300 ms.
      await expect(conn.queryTsv('SELECT sleep(3)')).rejects.toThrow(/Timeout.*requestTimeoutMs = 300/);
      expect(Date.now() - started).toBeLessThan(2_900);
    });

    it('an acknowledged insert survives SIGKILL; the same connection works after a restart on the same ports', async () => {
      await admin.command('CREATE DATABASE IF NOT EXISTS gala_crash');
      const conn = open(`${server.url}/gala_crash`);
      const store = createOrderStore(conn);
      await store.migrate();
      await store.insert({ count: 2, data: 'c-1\t1\t2\t1750000000000\t1750000000000\t500\tEUR\ttv\t\t\t\t\nc-2\t3\t4\t1750000000000\t1750000000000\t700\tEUR\ttv\t\t\t\t\n' });

      await server.kill();
      expect(await store.ping()).toBe(false);
      await expect(store.totals()).rejects.toThrow(/clickhouse-server: query/);

      await server.start();
      expect(await store.ping()).toBe(true);
      expect(await store.totals()).toEqual([{ currency: 'EUR', channel: 'tv', hundredths: 1_200n, orders: 2 }]);
      await admin.command('DROP DATABASE gala_crash');
    });
  });
});
