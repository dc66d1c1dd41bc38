// The ClickHouse server engine: a SqlConnection over HTTP with @clickhouse/client. The only importer of it.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { InsertOptions, QueryOptions, SqlConnection } from '../storage.ts';
import type { RowFormat } from '../order-row-writer.ts';

export interface ServerConnectionOptions {
  /** Overrides the user in the URL. */
  username?: string;
  /** Overrides the password in the URL. */
  password?: string;
  /** Overrides the database in the URL path. */
  database?: string;
  /** Abort a request that has not completed after this long. Default 30 s. */
  requestTimeoutMs?: number;
  /** Upper bound of concurrent HTTP connections. Default 10. */
  maxOpenConnections?: number;
  /**
   * How long the server must be seen up, with a failed insert gone, before that insert counts as over. Default 20 s:
   * ClickHouse 18.16 shutting down gracefully was seen to run a lost insert 7 to 15 s after its client saw it fail.
   */
  settleGraceMs?: number;
}

/** A failed server request, normalised: the operation, ClickHouse's own error text and, when known, its code. */
export class ClickHouseServerError extends Error {
  readonly code: number | undefined;
  constructor(op: string, detail: string, code: number | undefined, cause: unknown) {
    super(`clickhouse-server: ${op} failed: ${detail}`, { cause });
    this.name = 'ClickHouseServerError';
    this.code = code;
  }
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OPEN_CONNECTIONS = 10;
// Below the server's keep_alive_timeout (3 s in Debian's packaged config, 10 s built in), so the client
// never reuses a socket the server is about to close.
const IDLE_SOCKET_TTL_MS = 2_000;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Settings sent with every SELECT. Both exist in 18.16 and in current releases (anything newer, such as
 * query parameters or async inserts, would be rejected by 18.16 as an unknown setting).
 * - wait_end_of_query: the server buffers the result, so an error raised mid-query becomes an HTTP error
 *   instead of text appended to a 200 body (18.16 has no exception tag in the stream).
 * - output_format_json_quote_64bit_integers: 64-bit integers arrive as strings, as the seam promises;
 *   current ClickHouse no longer quotes them by default.
 */
const QUERY_SETTINGS: ClickHouseSettings = {
  wait_end_of_query: 1,
  output_format_json_quote_64bit_integers: 1,
};

interface ResolvedConfig {
  origin: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
  maxOpenConnections: number;
  settleGraceMs: number;
}

/** The URL as it may appear in an error: never with its password. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
}

function positiveInt(key: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`clickhouse-server config: ${key} = ${String(value)} must be an integer from 1 to ${max}`);
  }
  return value;
}

/** Validates the URL and options in one place; every error names the key, the value and the rule. */
export function resolveServerConfig(url: string, opts: ServerConnectionOptions = {}): ResolvedConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`clickhouse-server config: url = "${redact(url)}" is not a URL; expected http[s]://[user:password@]host:port[/database]`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`clickhouse-server config: url = "${redact(url)}" has protocol "${parsed.protocol}"; expected http: or https:`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new Error(`clickhouse-server config: url = "${redact(url)}" has a query or fragment; pass options instead`);
  }
  const path = parsed.pathname.replace(/^\/+|\/+$/g, '');
  const database = opts.database ?? (path === '' ? 'default' : decodeURIComponent(path));
  if (!IDENTIFIER.test(database)) {
    throw new Error(`clickhouse-server config: database = "${database}" must match ${IDENTIFIER.source}`);
  }
  return {
    origin: parsed.origin,
    username: opts.username ?? (parsed.username === '' ? 'default' : decodeURIComponent(parsed.username)),
    password: opts.password ?? decodeURIComponent(parsed.password),
    database,
    requestTimeoutMs: positiveInt('requestTimeoutMs', opts.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 3_600_000),
    maxOpenConnections: positiveInt('maxOpenConnections', opts.maxOpenConnections, DEFAULT_MAX_OPEN_CONNECTIONS, 1_000),
    settleGraceMs: positiveInt('settleGraceMs', opts.settleGraceMs, 20_000, 600_000),
  };
}

/** insert_quorum and insert_quorum_timeout, both in 18.16 under these names. */
function quorumSettings(q: NonNullable<InsertOptions['quorum']>): ClickHouseSettings {
  if (!Number.isInteger(q.replicas) || q.replicas < 1) throw new Error(`clickhouse-server insert: quorum.replicas = ${q.replicas} must be a positive integer`);
  if (!Number.isInteger(q.timeoutMs) || q.timeoutMs < 1) throw new Error(`clickhouse-server insert: quorum.timeoutMs = ${q.timeoutMs} must be a positive integer`);
  return { insert_quorum: String(q.replicas), insert_quorum_timeout: q.timeoutMs };
}

function checkInsertNames(table: string, columns: readonly string[]): void {
  if (!IDENTIFIER.test(table)) throw new Error(`clickhouse-server insert: table = "${table}" must match ${IDENTIFIER.source}`);
  const bad = columns.find((c) => !IDENTIFIER.test(c));
  if (bad !== undefined) throw new Error(`clickhouse-server insert: column = "${bad}" must match ${IDENTIFIER.source}`);
}

/** An insert's error, carrying what settleFailedInsert needs to find the insert on the server. */
function settleable(e: unknown, queryId: string, table: string, opts: InsertOptions | undefined): Error {
  return Object.assign(e instanceof Error ? e : new Error(String(e)), { insertQueryId: queryId, insertTable: table, insertQuorum: opts?.quorum !== undefined });
}

function sqlHead(sql: string): string {
  const oneLine = sql.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

/**
 * The client parses errors with a pattern written for current servers ("Code: 47. DB::Exception: ...
 * (UNKNOWN_IDENTIFIER)") into a ClickHouseError whose message has lost the code and type; we put them
 * back. 18.16's "Code: 47, e.displayText() = DB::Exception: ..., e.what() = DB::Exception" falls through
 * as a plain Error with the full text, which is kept as it is. Socket errors (ECONNREFUSED) carry no code.
 */
function toServerError(op: string, err: unknown): ClickHouseServerError {
  const text = (err instanceof Error ? err.message : String(err)).trim() || 'no error text';
  if (err instanceof ClickHouseError) {
    const code = Number(err.code);
    return new ClickHouseServerError(op, `Code: ${err.code} (${err.type ?? 'unknown type'}). ${text}`, Number.isInteger(code) ? code : undefined, err);
  }
  const codeMatch = /Code: (\d+)/.exec(text);
  return new ClickHouseServerError(op, text, codeMatch ? Number(codeMatch[1]) : undefined, err);
}

/** True when a failed request never reached a server (connection refused) or a server answered it with an exception. */
function neverSentOrAnswered(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && e !== undefined && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    // ClickHouse's exception, parsed by the client or only as its text ("Code: N. DB::Exception ...").
    if (e instanceof ClickHouseError || (e instanceof ClickHouseServerError && e.code !== undefined)) return true;
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/** The server reads both; the first is what orders are written in (measured: docs/benchmarks.md, "RowBinary"). */
const SERVER_ROW_FORMATS: readonly RowFormat[] = ['RowBinary', 'TabSeparated'];

export function createServerConnection(url: string, opts: ServerConnectionOptions = {}): SqlConnection {
  const cfg = resolveServerConfig(url, opts);
  // Settling a failed insert talks through fresh connections only: a server shutting down gracefully still
  // serves kept-alive sockets but accepts no new ones, so it cannot pass for a healthy one.
  const settleClient: ClickHouseClient = createClient({
    url: cfg.origin,
    username: cfg.username,
    password: cfg.password,
    database: cfg.database,
    request_timeout: cfg.requestTimeoutMs,
    keep_alive: { enabled: false },
    compression: { request: false, response: false },
    log: { level: ClickHouseLogLevel.OFF },
    application: 'gala-settle',
  });
  const client: ClickHouseClient = createClient({
    url: cfg.origin,
    username: cfg.username,
    password: cfg.password,
    database: cfg.database,
    request_timeout: cfg.requestTimeoutMs,
    max_open_connections: cfg.maxOpenConnections,
    keep_alive: { enabled: true, idle_socket_ttl: IDLE_SOCKET_TTL_MS },
    // Compression would add enable_http_compression to every request; keep the wire plain and explicit.
    compression: { request: false, response: false },
    // Failures are rethrown as ClickHouseServerError; the client's own console logging would duplicate them.
    log: { level: ClickHouseLogLevel.OFF },
    application: 'gala',
  });
  let closed = false;

  async function run<T>(op: string, sql: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw new ClickHouseServerError(op, 'connection is closed', undefined, undefined);
    try {
      return await fn();
    } catch (err) {
      // The client's timeout error says only "Timeout error."; say which limit was hit.
      const timedOut = err instanceof Error && /^Timeout error/.test(err.message);
      throw toServerError(`${op} (${sqlHead(sql)})`, timedOut ? new Error(`${err.message} (requestTimeoutMs = ${cfg.requestTimeoutMs})`, { cause: err }) : err);
    }
  }

  async function queryText(op: string, sql: string, format: 'TabSeparated' | 'JSONEachRow', opts?: QueryOptions): Promise<string> {
    // Settings travel as URL parameters, which 18.16 takes (it has no SETTINGS clause in SELECT).
    const settings: ClickHouseSettings = { ...QUERY_SETTINGS };
    if (opts?.maxThreads !== undefined) settings.max_threads = Math.max(1, Math.trunc(opts.maxThreads));
    if (opts?.consistent === true) settings.select_sequential_consistency = '1';
    if (opts?.maxReplicaDelayS !== undefined) {
      settings.max_replica_delay_for_distributed_queries = String(Math.max(1, Math.trunc(opts.maxReplicaDelayS)));
      settings.fallback_to_stale_replicas_for_distributed_queries = 1;
    }
    return run(op, sql, async () => {
      const rs = await client.query({ query: sql, format, clickhouse_settings: settings });
      return rs.text();
    });
  }

  /**
   * A quorum insert that failed while waiting for its quorum (18.16: code 319, or a cut request) left its part on
   * this replica, pending: it reaches the other replicas once one comes back. Until then its orders are on one
   * replica only, so it is not settled: the caller keeps storage down and asks again (never counting or acking
   * them as stored meanwhile). Settled once the table has no pending quorum in ZooKeeper.
   */
  async function quorumSettled(table: string | undefined): Promise<void> {
    if (table === undefined || !IDENTIFIER.test(table)) return;
    const text = async (sql: string) => (await (await settleClient.query({ query: sql, format: 'TabSeparated' })).text()).trim();
    const path = await text(`SELECT zookeeper_path FROM system.replicas WHERE database = currentDatabase() AND table = '${table}'`);
    if (path === '' || !/^[A-Za-z0-9_./{}-]+$/.test(path)) return;
    const pending = Number(await text(`SELECT count() FROM system.zookeeper WHERE path = '${path}/quorum' AND name = 'status'`));
    if (pending > 0) throw new Error(`an insert into ${table} still waits for its quorum (a replica is down): not settled yet`);
  }

  /**
   * A raw body in `format`; the HTTP response (and so this promise) comes only after the server wrote the part.
   * Each insert carries its own query_id, so after a failure it can be found (and stopped) on the server.
   */
  const insertRows: SqlConnection['insertRows'] = async (table, columns, data, format, opts) => {
    checkInsertNames(table, columns);
    const queryId = `gala-insert-${randomUUID()}`;
    const body = () => Readable.from([typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength)], { objectMode: false });
    const settings = opts?.quorum === undefined ? {} : { clickhouse_settings: quorumSettings(opts.quorum) };
    await run('insert', `INSERT INTO ${table}`, async () => {
      if (format === 'TabSeparated') {
        await client.insert({ query_id: queryId, table, ...settings, columns: [...columns] as [string, ...string[]], format, values: body() });
        return;
      }
      // The client's insert() takes text and JSON formats only: a binary body goes through exec with the statement's
      // own FORMAT clause, and its (empty) answer is read to the end so the connection goes back to the pool.
      const res = await client.exec({ query_id: queryId, query: `INSERT INTO ${table} (${columns.join(', ')}) FORMAT ${format}`, ...settings, values: body() });
      for await (const _ of res.stream) void _;
    }).catch((e: unknown) => {
      throw settleable(e, queryId, table, opts);
    });
  };

  return {
    engine: 'clickhouse-server',

    async command(sql) {
      await run('command', sql, () => client.command({ query: sql }));
    },

    async queryRows<T>(sql: string, opts?: QueryOptions): Promise<T[]> {
      const text = await queryText('query', sql, 'JSONEachRow', opts);
      if (text.length === 0) return [];
      return text.trimEnd().split('\n').map((line) => JSON.parse(line) as T);
    },

    queryTsv: (sql, opts) => queryText('query', sql, 'TabSeparated', opts),

    insertTsv(table, columns, tsv, opts?: InsertOptions) {
      return insertRows(table, columns, tsv, 'TabSeparated', opts);
    },

    rowFormats: SERVER_ROW_FORMATS,
    insertRows,

    async insertSelect(table, columns, select, opts?: InsertOptions) {
      checkInsertNames(table, columns);
      const queryId = `gala-insert-${randomUUID()}`;
      const sql = `INSERT INTO ${table} (${columns.join(', ')}) ${select}`;
      // One thread (see chdb-connection.ts); settings travel as URL parameters, which 18.16 takes.
      const settings: ClickHouseSettings = { max_threads: 1, ...(opts?.quorum === undefined ? {} : quorumSettings(opts.quorum)) };
      await run('insert', sql, () => client.command({ query: sql, query_id: queryId, clickhouse_settings: settings })).catch((e: unknown) => {
        throw settleable(e, queryId, table, opts);
      });
    },

    async settleFailedInsert(error) {
      const queryId = (error as { insertQueryId?: unknown } | null)?.insertQueryId;
      if (typeof queryId !== 'string' || !/^gala-insert-[0-9a-f-]{36}$/.test(queryId)) return;
      const { insertTable, insertQuorum } = error as { insertTable?: string; insertQuorum?: boolean };
      // Over for certain: the server never got it (nothing listened), or it answered with its own exception (it
      // sends one only once the query has ended). Only a cut or timed-out request needs the watch below.
      if (neverSentOrAnswered(error)) return quorumSettled(insertQuorum === true ? insertTable : undefined);
      // A server that lost the client may still run the insert: one shutting down gracefully finishes it, and an
      // insert can be queued before it shows in system.processes. So: stop it, then watch the same server process
      // for a grace period with the query gone, or see a restart (the old process and its queries are dead).
      // Any error here means "not known yet": the caller tries again later, with storage still marked down.
      const text = async (sql: string) => (await (await settleClient.query({ query: sql, format: 'TabSeparated' })).text()).trim();
      const running = async () => {
        await settleClient.command({ query: `KILL QUERY WHERE query_id = '${queryId}' SYNC` });
        return Number(await text(`SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)) > 0;
      };
      const uptime = async () => Number(await text('SELECT uptime()'));
      if (await running()) throw new Error(`insert ${queryId} is still running on the server`);
      const before = await uptime();
      await new Promise((r) => setTimeout(r, cfg.settleGraceMs));
      if (await running()) throw new Error(`insert ${queryId} is still running on the server`);
      const after = await uptime();
      if (after < before || after - before >= Math.floor(cfg.settleGraceMs / 1000) - 1) return quorumSettled(insertQuorum === true ? insertTable : undefined);
      throw new Error(`cannot tell yet whether insert ${queryId} is over`);
    },

    async ping() {
      if (closed) return false;
      try {
        // A SELECT, not /ping: it also proves the credentials and that queries run.
        const result = await client.ping({ select: true });
        return result.success;
      } catch {
        return false;
      }
    },

    async version() {
      return (await queryText('version', 'SELECT version()', 'TabSeparated')).trim();
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([client.close(), settleClient.close()]);
    },
  };
}
