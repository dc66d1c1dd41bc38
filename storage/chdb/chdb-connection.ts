// The embedded engine: chDB (ClickHouse in-process) on a persistent data directory. The only importer of chdb.
import { fstatSync, mkdirSync } from 'node:fs';
import { Session, drainPending } from 'chdb';
import type { QueryOptions, SqlConnection } from '../storage.ts';
import { sqlString } from '../order-store.ts';
import { ORDER_COLUMNS, ORDERS_TABLE, orderRowBinaryToTsv } from '../order-rows.ts';
import { refuseHeldDataDir } from './data-dir-lock.ts';
import { DEFAULT_TMPFS, openInsertSpool, type InsertRoute } from './insert-spool.ts';
import { niceBackgroundThreads, type BackgroundNice } from './background-nice.ts';

export interface ChdbOptions {
  /** The tmpfs directory inserts travel through as files (insert-spool.ts); null: chDB's insert API. */
  tmpfs?: string | null;
  /** Nice value for the engine's merge threads (background-nice.ts); 0 (the default) leaves them alone. */
  mergeNice?: number;
}

export interface ChdbConnection extends SqlConnection {
  /** How inserts reach the engine, for the start-up log. */
  readonly insertRoute: InsertRoute;
  /** The merge threads' lower priority: how many so far, or why not. */
  readonly mergeNice: BackgroundNice;
}

/** RowBinary rows as TabSeparated ones: the orders table's alone, the one table RowBinary is written for. */
function rowBinaryAsTsv(table: string, columns: readonly string[], bytes: Uint8Array): string {
  if (table !== ORDERS_TABLE || columns.join() !== ORDER_COLUMNS.join()) throw new Error(`chdb: RowBinary rows of ${table} (${columns.join(', ')}) cannot go through the insert API`);
  return orderRowBinaryToTsv(bytes);
}

/** An insert's failure, naming the table; the engine's text ("Code: N. DB::Exception: ...") follows. */
function insertError(table: string, e: unknown): Error {
  return new Error(`chdb: insert into ${table} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/**
 * chDB is clickhouse-local inside the process and treats a readable standard input as data for an INSERT:
 * with stdin a pipe or a file holding text, inserts fail. A terminal or /dev/null is safe.
 */
export function stdinHazard(): string | null {
  try {
    const st = fstatSync(0);
    if ((st.isFIFO() || st.isFile()) && st.size !== 0) return 'standard input is a pipe or a file: chDB may read it into inserts; start gala with </dev/null';
  } catch {
    // fd 0 closed: nothing to read
  }
  return null;
}

export function createChdbConnection(dataDir: string, opts: ChdbOptions = {}): ChdbConnection {
  // Before chDB tries: its own refusal of a held directory is a native error line and a stack trace.
  refuseHeldDataDir(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const open = () => {
    try {
      return new Session(dataDir, {
        // Load tables before the first query so start-up reads see every committed part.
        connectionArgs: ['--async_load_databases=0', '--async_load_system_database=0', '--output_format_json_quote_64bit_integers=1'],
      });
    } catch (e) {
      // Another process may have opened the directory since the check above: say who, if that is why.
      refuseHeldDataDir(dataDir);
      throw e;
    }
  };
  // A session runs one statement at a time: an insert sent while a long read runs on the same session waits for
  // it (measured: 4.2 s behind a 4.4 s query, 6 ms on another session). Inserts, which acks wait for, therefore
  // have a session of their own; reads and DDL use the other. Both see the same tables and parts at once.
  const session = open();
  const inserts = open();
  // Only now: this process holds the directory, so files in its spool are a crash's, not another process's.
  const spool = openInsertSpool(dataDir, opts.tmpfs === undefined ? DEFAULT_TMPFS : opts.tmpfs);
  const merges = niceBackgroundThreads(opts.mergeNice ?? 0);
  // Derived rows (rollups, the side table's fills) go in beside the next group's orders insert: a third session, opened on
  // first use, so the two never queue on one session. The current database follows the others'.
  let beside: Session | null = null;
  let opening: Promise<Session> | null = null;
  let lastUse: string | null = null;
  const besideSession = () =>
    (opening ??= (async () => {
      const s = open();
      try {
        if (lastUse !== null) await s.queryAsync(lastUse, { format: 'TSV' });
      } catch (e) {
        s.close();
        throw e;
      }
      beside = s;
      return s;
    })().catch((e: unknown) => {
      opening = null;
      throw e;
    }));
  let closed = false;
  const check = () => {
    if (closed) throw new Error('chdb: connection is closed');
  };
  const insertRows: SqlConnection['insertRows'] = async (table, columns, data, format, opts) => {
    check();
    const target = opts?.beside === true ? await besideSession() : inserts;
    const values = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // chDB turns async_insert on by default: each insert would then wait in a batching queue (50-200 ms).
    // Group commit already batches, so write at once; either way the insert returns only when the part is written.
    const path = spool.write(values, format === 'RowBinary' ? 'bin' : 'tsv');
    try {
      if (path === null) {
        // The API parses text only: RowBinary rows (whose file could not be written, e.g. tmpfs full) go as text.
        const text = format === 'TabSeparated' ? values : Buffer.from(rowBinaryAsTsv(table, columns, values));
        await target.insert({ table, values: text, format: 'TabSeparated', columns, settings: { async_insert: 0 } });
      }
      // FROM INFILE parses the file as the insert API parses its bytes: by the named columns' own types.
      else await target.queryAsync(`INSERT INTO ${table} (${columns.join(', ')}) FROM INFILE ${sqlString(path)} SETTINGS async_insert = 0 FORMAT ${format}`, { format: 'TSV' });
    } catch (e) {
      throw insertError(table, e);
    } finally {
      if (path !== null) spool.remove(path);
    }
  };
  return {
    engine: 'chdb',
    insertRoute: spool.route,
    mergeNice: merges,
    async command(sql) {
      check();
      await session.queryAsync(sql, { format: 'TSV' });
      // The current database is a session's own: keep the insert session's the same.
      if (/^\s*USE\s/i.test(sql)) {
        lastUse = sql;
        await inserts.queryAsync(sql, { format: 'TSV' });
        if (beside !== null) await beside.queryAsync(sql, { format: 'TSV' });
      }
    },
    async queryRows<T>(sql: string, opts?: QueryOptions) {
      check();
      const settings = opts?.maxThreads === undefined ? '' : `\nSETTINGS max_threads = ${Math.max(1, Math.trunc(opts.maxThreads))}`;
      const text = (await session.queryAsync(sql + settings, { format: 'JSONEachRow' })).text();
      if (text.length === 0) return [] as T[];
      return text.trimEnd().split('\n').map((l) => JSON.parse(l) as T);
    },
    async queryTsv(sql) {
      check();
      return (await session.queryAsync(sql, { format: 'TabSeparated' })).text();
    },
    insertTsv: (table, columns, tsv, opts) => insertRows(table, columns, tsv, 'TabSeparated', opts),
    // RowBinary only through a file: chDB's insert API parses text formats only.
    rowFormats: spool.route.kind === 'file' ? ['RowBinary', 'TabSeparated'] : ['TabSeparated'],
    insertRows,
    async insertSelect(table, columns, select, opts) {
      check();
      const target = opts?.beside === true ? await besideSession() : inserts;
      // One thread: the rows are read and squashed into one block (so one part) in order, and a fill running beside
      // the orders inserts takes one core, not both.
      try {
        await target.queryAsync(`INSERT INTO ${table} (${columns.join(', ')}) ${select} SETTINGS max_threads = 1`, { format: 'TSV' });
      } catch (e) {
        throw insertError(table, e);
      }
    },
    async settleFailedInsert() {
      // In-process: an insert whose promise has settled is over; drainPending covers a timed-out one.
      await drainPending();
    },
    async ping() {
      if (closed) return false;
      try {
        await session.queryAsync('SELECT 1', { format: 'TSV' });
        return true;
      } catch {
        return false;
      }
    },
    async version() {
      return (await session.queryAsync('SELECT version()', { format: 'TSV' })).text().trim();
    },
    async close() {
      if (closed) return;
      closed = true;
      merges.stop();
      await drainPending();
      inserts.close();
      beside?.close();
      session.close();
      await drainPending();
      spool.close();
    },
  };
}
