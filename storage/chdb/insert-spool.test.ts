// Inserts through tmpfs files on real chDB: each insert's file is gone once it settles, failed or not; the files a
// killed process left are removed by the next start on that data directory, and only by the first connection of a
// process; where there is no writable directory, inserts take chDB's insert API and the route says why.
import { watch, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createChdbConnection } from './chdb-connection.ts';
import { openInsertSpool, spoolDirOf } from './insert-spool.ts';

// libchdb binds one data directory per process: every test here uses this one, each with its own tmpfs root.
const dataDir = mkdtempSync(join(tmpdir(), 'gala-spool-data-'));
const roots: string[] = [];
/** A fresh directory standing in for /dev/shm (on /dev/shm itself where it exists, as in production). */
const freshRoot = () => {
  const r = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'gala-spool-root-'));
  roots.push(r);
  return r;
};
let tables = 0;

afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

async function withTable(root: string | null, body: (conn: ReturnType<typeof createChdbConnection>, table: string) => Promise<void>) {
  const conn = createChdbConnection(dataDir, { tmpfs: root });
  const table = `spool_t${++tables}`;
  try {
    await conn.command(`CREATE TABLE ${table} (id String, n Int64, channel Enum8('mobile' = 1, 'store' = 4)) ENGINE = MergeTree ORDER BY n`);
    await body(conn, table);
  } finally {
    await conn.command(`DROP TABLE IF EXISTS ${table}`);
    await conn.close();
  }
}

describe('inserts through tmpfs files', () => {
  it('writes each insert to its own file in the spool and leaves none once it has settled', async () => {
    const root = freshRoot();
    await withTable(root, async (conn, table) => {
      expect(conn.insertRoute).toEqual({ kind: 'file', dir: spoolDirOf(root, dataDir), removedAtStart: 0 });
      // The file is watched as it comes and goes: proof that the insert travelled through it.
      const seen = new Set<string>();
      const watcher = watch(spoolDirOf(root, dataDir), (_event, name) => {
        if (name !== null) seen.add(name);
      });
      try {
        await conn.insertTsv(table, ['id', 'n', 'channel'], 'a\t1\tmobile\nb\\tc\t-2\tstore\n');
        await conn.insertTsv(table, ['channel', 'id', 'n'], Buffer.from('store\tc\t3\n'));
        expect(readdirSync(spoolDirOf(root, dataDir))).toEqual([]);
        await expect.poll(() => seen.size).toBe(2);
        for (const name of seen) expect(name).toMatch(new RegExp(`^${process.pid}-\\d+\\.tsv$`));
      } finally {
        watcher.close();
      }
      expect(await conn.queryTsv(`SELECT id, n, channel FROM ${table} ORDER BY n`)).toBe('b\\tc\t-2\tstore\na\t1\tmobile\nc\t3\tstore\n');
    });
  });

  it('removes the file of an insert that fails and names the table and the engine error', async () => {
    const root = freshRoot();
    await withTable(root, async (conn, table) => {
      const err = await conn.insertTsv(table, ['id', 'n', 'channel'], 'a\t1\tmobile\nb\tnot-a-number\tstore\n').then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(new RegExp(`^chdb: insert into ${table} failed: .*Code: 27\\b.*not like Int64`, 's'));
      expect(readdirSync(spoolDirOf(root, dataDir))).toEqual([]);
      // Nothing of the failed insert landed, and the session takes the next one.
      await conn.insertTsv(table, ['id', 'n', 'channel'], 'c\t3\tstore\n');
      expect(await conn.queryTsv(`SELECT id FROM ${table}`)).toBe('c\n');
    });
  });

  it('removes at start the files a killed process left, but not those of a connection this process still has open', async () => {
    const root = freshRoot();
    const dir = spoolDirOf(root, dataDir);
    // What a process killed mid-insert leaves: its spool directory with an insert's file in it (and its own name).
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, '999999-7.tsv'), 'a\t1\tmobile\n');
    writeFileSync(join(dir, '999999-8.tsv'), 'b\t2\tmobile\n');
    const first = createChdbConnection(dataDir, { tmpfs: root });
    try {
      expect(first.insertRoute).toEqual({ kind: 'file', dir, removedAtStart: 2 });
      expect(readdirSync(dir)).toEqual([]);
      // A second connection of this process on the same data directory: the first's files are live, not leftovers.
      writeFileSync(join(dir, `${process.pid}-in-flight.tsv`), 'c\t3\tmobile\n');
      const second = createChdbConnection(dataDir, { tmpfs: root });
      expect(second.insertRoute).toEqual({ kind: 'file', dir, removedAtStart: 0 });
      expect(readdirSync(dir)).toEqual([`${process.pid}-in-flight.tsv`]);
      await second.close();
      expect(readdirSync(dir)).toEqual([`${process.pid}-in-flight.tsv`]);
    } finally {
      await first.close();
    }
    // The last connection gives the directory up.
    expect(existsSync(dir)).toBe(false);
  });

  it('takes the insert API, saying why, where the directory is missing, not a directory, or not private', async () => {
    const missing = join(freshRoot(), 'no-such-dir');
    await withTable(missing, async (conn, table) => {
      expect(conn.insertRoute).toMatchObject({ kind: 'api', reason: expect.stringContaining(missing) });
      await conn.insertTsv(table, ['id', 'n', 'channel'], 'a\t1\tmobile\n');
      expect(await conn.queryTsv(`SELECT id FROM ${table}`)).toBe('a\n');
    });
    const file = join(freshRoot(), 'a-file');
    writeFileSync(file, '');
    expect(openInsertSpool(dataDir, file).route).toEqual({ kind: 'api', reason: `${file} is not a directory` });
    const shared = freshRoot();
    mkdirSync(spoolDirOf(shared, dataDir), { mode: 0o777 });
    const spool = openInsertSpool(dataDir, shared);
    expect(spool.route).toMatchObject({ kind: 'api', reason: expect.stringContaining('not a private directory') });
    expect(openInsertSpool(dataDir, null).route).toEqual({ kind: 'api', reason: 'the file route is off' });
  });
});
