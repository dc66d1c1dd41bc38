// Versioned schema migrations, written in SQL that ClickHouse 18.16 and current releases both accept.
import { FPS_TABLE, ORDERS_TABLE } from './order-rows.ts';
import type { SqlConnection } from './storage.ts';

export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const MIGRATIONS_TABLE = 'gala_schema_migrations';
export const AGG_SECOND_TABLE = 'gala_agg_second';
export const AGG_KEY_MINUTE_TABLE = 'gala_agg_key_minute';
export const AGG_KEY_TOTAL_TABLE = 'gala_agg_key_total';
export const MILESTONES_TABLE = 'gala_milestones';
export const RUNS_TABLE = 'gala_runs';

/**
 * Rollup selects over the orders table (optionally only the orders matching `where`): what the derived-table
 * repair recomputes, what migrations backfill with, and the definition the in-process fold (derived-fold.ts) must
 * equal to the minor unit (the contract suite compares them).
 */
export function secondRollup(where = ''): string {
  return `SELECT intDiv(ts, 1000) AS second, currency, channel, sum(hundredths) AS hundredths, count() AS orders
  FROM gala_orders ${where === '' ? '' : `WHERE ${where} `}GROUP BY second, currency, channel`;
}
// 18.16 converts nothing when a view pushes rows, so the kind is cast to the column's Enum here.
const KIND = `CAST(k AS Enum8('brand' = 1, 'sku' = 2, 'region' = 3)) AS kind`;
const keys = (where: string) => `FROM gala_orders ARRAY JOIN ['brand', 'sku', 'region'] AS k, [brand, sku, region] AS key WHERE key != ''${where === '' ? '' : ` AND ${where}`}`;
export function keyMinuteRollup(where = ''): string {
  return `SELECT ${KIND}, intDiv(ts, 60000) AS minute, key, currency, sum(hundredths) AS hundredths, count() AS orders
  ${keys(where)} GROUP BY kind, minute, key, currency`;
}
export function keyTotalRollup(where = ''): string {
  return `SELECT ${KIND}, key, currency, sum(hundredths) AS hundredths, count() AS orders
  ${keys(where)} GROUP BY kind, key, currency`;
}
export const SECOND_ROLLUP = secondRollup();
export const KEY_MINUTE_ROLLUP = keyMinuteRollup();
export const KEY_TOTAL_ROLLUP = keyTotalRollup();

/** Before v4, whatever a crash left the views short of: the orders table's rollup less the held one, per key. */
function missingFromView(table: string, keyCols: string, rollup: string): string {
  return `INSERT INTO ${table} (${keyCols}, hundredths, orders) SELECT ${keyCols}, h - ah AS hundredths, n - an AS orders FROM (
    SELECT ${keyCols}, hundredths AS h, orders AS n FROM (${rollup})) AS truth ALL LEFT JOIN (
    SELECT ${keyCols}, sum(hundredths) AS ah, sum(orders) AS an FROM ${table} GROUP BY ${keyCols}) AS held USING (${keyCols}) WHERE n > an`;
}
/** Arrivals held by the orders table (when it holds any), for v4's markers. */
const ARRIVALS = `(SELECT min(received_ms) AS mn, max(received_ms) AS mx, count() AS n FROM gala_orders) WHERE n > 0`;
const CAST_BRAND = `CAST('brand' AS Enum8('brand' = 1, 'sku' = 2, 'region' = 3))`;

/**
 * The orders table is ordered by arrival: parts then cover separate time ranges and merges stay cheap (keyed on
 * the random id fingerprint instead, merges cost ingest 30% of its throughput). A narrow side table keys the
 * fingerprints so "is this id stored?" still reads a few granules: filled by a materialized view until v4, by Gala's
 * derived inserts until 3 December, since then by the engine from the orders table every few seconds
 * (OrderStore.fillFingerprints).
 * Money is Int64 hundredths; instants are Int64 epoch ms (18.16 has no DateTime64).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'orders table',
    statements: [
      `CREATE TABLE IF NOT EXISTS gala_orders (
        id String,
        fp_hi UInt32,
        fp_lo UInt32,
        ts Int64,
        received_ms Int64,
        hundredths Int64,
        currency String,
        channel Enum8('mobile' = 1, 'desktop' = 2, 'tv' = 3, 'store' = 4),
        brand String,
        sku String,
        category String,
        region String
      ) ENGINE = MergeTree() ORDER BY received_ms`,
      `CREATE TABLE IF NOT EXISTS gala_order_fps (fp_hi UInt32, fp_lo UInt32, received_ms Int64) ENGINE = MergeTree() ORDER BY (fp_hi, fp_lo)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS gala_order_fps_mv TO gala_order_fps AS SELECT fp_hi, fp_lo, received_ms FROM gala_orders`,
    ],
  },
  {
    version: 2,
    description: 'aggregates and milestones',
    // Rollups by paid-at second, and by brand / product / region per minute and over the night, kept by
    // materialized views so they survive restarts. SummingMergeTree folds rows with the same key as parts merge;
    // readers always sum() again, so an unmerged part never shows. The backfill runs before the views exist and
    // before ingest starts (migrations run first), so a crash half-way is repaired by running it again.
    statements: [
      `CREATE TABLE IF NOT EXISTS ${AGG_SECOND_TABLE} (second Int64, currency String, channel Enum8('mobile' = 1, 'desktop' = 2, 'tv' = 3, 'store' = 4), hundredths Int64, orders UInt64) ENGINE = SummingMergeTree() ORDER BY (second, currency, channel)`,
      `CREATE TABLE IF NOT EXISTS ${AGG_KEY_MINUTE_TABLE} (kind Enum8('brand' = 1, 'sku' = 2, 'region' = 3), minute Int64, key String, currency String, hundredths Int64, orders UInt64) ENGINE = SummingMergeTree() ORDER BY (kind, minute, key, currency)`,
      `CREATE TABLE IF NOT EXISTS ${AGG_KEY_TOTAL_TABLE} (kind Enum8('brand' = 1, 'sku' = 2, 'region' = 3), key String, currency String, hundredths Int64, orders UInt64) ENGINE = SummingMergeTree() ORDER BY (kind, key, currency)`,
      `CREATE TABLE IF NOT EXISTS ${MILESTONES_TABLE} (id String, threshold_hundredths Int64, currency String, crossed_ms Int64, recorded_ms Int64, total_hundredths Int64, orders UInt64) ENGINE = MergeTree() ORDER BY id`,
      `DROP TABLE IF EXISTS gala_agg_second_mv`,
      `DROP TABLE IF EXISTS gala_agg_key_minute_mv`,
      `DROP TABLE IF EXISTS gala_agg_key_total_mv`,
      `TRUNCATE TABLE ${AGG_SECOND_TABLE}`,
      `TRUNCATE TABLE ${AGG_KEY_MINUTE_TABLE}`,
      `TRUNCATE TABLE ${AGG_KEY_TOTAL_TABLE}`,
      `INSERT INTO ${AGG_SECOND_TABLE} ${SECOND_ROLLUP}`,
      `INSERT INTO ${AGG_KEY_MINUTE_TABLE} ${KEY_MINUTE_ROLLUP}`,
      `INSERT INTO ${AGG_KEY_TOTAL_TABLE} ${KEY_TOTAL_ROLLUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS gala_agg_second_mv TO ${AGG_SECOND_TABLE} AS ${SECOND_ROLLUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS gala_agg_key_minute_mv TO ${AGG_KEY_MINUTE_TABLE} AS ${KEY_MINUTE_ROLLUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS gala_agg_key_total_mv TO ${AGG_KEY_TOTAL_TABLE} AS ${KEY_TOTAL_ROLLUP}`,
    ],
  },
  {
    version: 3,
    description: 'runs',
    // A row when a process starts using the database and another when it stops cleanly: a start without its stop
    // is a crash, after which the tables the views fill are checked against the orders table.
    statements: [`CREATE TABLE IF NOT EXISTS ${RUNS_TABLE} (started_ms Int64, clean_stop UInt8, at_ms Int64) ENGINE = MergeTree() ORDER BY started_ms`],
  },
  {
    version: 4,
    description: 'derived tables written by Gala',
    // The views ran five selects over every block before an insert (and its ack) could return. Gala now folds each
    // group into its rollup rows and side-table rows and inserts those, each insert carrying a marker of the arrival
    // range it covers (derived-fold.ts). Here: the views go; whatever a crash under the old code left them short of
    // is added (the old repair, whole rollups and the last 10 minutes of fingerprints); then one marker per table
    // says that every arrival held so far is in it. Re-run after a crash half-way, each step is a no-op or folds
    // into an identical marker.
    statements: [
      `DROP TABLE IF EXISTS gala_order_fps_mv`,
      `DROP TABLE IF EXISTS gala_agg_second_mv`,
      `DROP TABLE IF EXISTS gala_agg_key_minute_mv`,
      `DROP TABLE IF EXISTS gala_agg_key_total_mv`,
      missingFromView(AGG_SECOND_TABLE, 'second, currency, channel', SECOND_ROLLUP),
      missingFromView(AGG_KEY_MINUTE_TABLE, 'kind, minute, key, currency', KEY_MINUTE_ROLLUP),
      missingFromView(AGG_KEY_TOTAL_TABLE, 'kind, key, currency', KEY_TOTAL_ROLLUP),
      `INSERT INTO gala_order_fps (fp_hi, fp_lo, received_ms) SELECT fp_hi, fp_lo, received_ms FROM gala_orders
        WHERE received_ms >= (SELECT max(received_ms) FROM gala_orders) - 600000 AND (fp_hi, fp_lo, received_ms) NOT IN (
          SELECT fp_hi, fp_lo, received_ms FROM gala_order_fps WHERE received_ms >= (SELECT max(received_ms) FROM gala_orders) - 600000)`,
      `INSERT INTO ${AGG_SECOND_TABLE} (second, currency, channel, hundredths, orders)
        SELECT -mx, '', CAST('mobile' AS Enum8('mobile' = 1, 'desktop' = 2, 'tv' = 3, 'store' = 4)), mn, toUInt64(1) FROM ${ARRIVALS}`,
      `INSERT INTO ${AGG_KEY_MINUTE_TABLE} (kind, minute, key, currency, hundredths, orders) SELECT ${CAST_BRAND}, -mx, '', '', mn, toUInt64(1) FROM ${ARRIVALS}`,
      `INSERT INTO ${AGG_KEY_TOTAL_TABLE} (kind, key, currency, hundredths, orders) SELECT ${CAST_BRAND}, '', toString(mx), mn, toUInt64(1) FROM ${ARRIVALS}`,
      // The side table's marker holds the range's length in fp_lo (UInt32): a range longer than 49 days is cut to
      // its last 46, which the repair never reaches back past (it looks at the runs since the last clean stop).
      `INSERT INTO gala_order_fps (fp_hi, fp_lo, received_ms) SELECT toUInt32(0), toUInt32(least(mx - mn, 4000000000)), -mx FROM ${ARRIVALS}`,
    ],
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Tables each server keeps for itself, plain MergeTree even in a replicated cluster: which migrations ran on this
 * server (a replica created after the others must still run every statement on its own server, which it would skip
 * if it found the shard's version replicated to it), and the runs of the process using this server (a start without
 * its stop means this node crashed; with one node per replica, per server is per node, and another node of the shard
 * stopping cleanly must not hide it).
 */
export const PER_SERVER_TABLES: ReadonlySet<string> = new Set([MIGRATIONS_TABLE, RUNS_TABLE]);

/** Migration options. */
export interface MigrateOptions {
  /**
   * Replicated shards (issue 15): every table but PER_SERVER_TABLES is created Replicated*MergeTree over the server's
   * `shard` and `replica` macros, and only DDL runs: TRUNCATE and INSERT backfills are skipped, since on a replicated
   * table they would act on the whole shard's data, which a replica created later must never rewrite.
   */
  replicated?: boolean;
}

/** Where a replicated table keeps its state in ZooKeeper: one path per shard, database and table. */
export function replicatedTablePath(database: string, table: string): string {
  return `/clickhouse/tables/{shard}/${database}.${table}`;
}

const CREATE_TABLE = /^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\b/i;
const MERGE_TREE_ENGINE = /ENGINE\s*=\s*(Summing)?MergeTree\(\)/;
const DATA_STATEMENT = /^\s*(INSERT|TRUNCATE)\b/i;

/**
 * A migration statement as a replicated cluster runs it: a MergeTree or SummingMergeTree table becomes its Replicated
 * kind (per-server tables excepted), INSERT and TRUNCATE become null (skipped), anything else is kept.
 */
export function replicatedStatement(sql: string, database: string): string | null {
  if (DATA_STATEMENT.test(sql)) return null;
  const table = CREATE_TABLE.exec(sql)?.[1];
  if (table === undefined || PER_SERVER_TABLES.has(table)) return sql;
  if (!IDENTIFIER.test(database)) throw new Error(`replicated tables: database "${database}" must match ${IDENTIFIER.source}`);
  return sql.replace(MERGE_TREE_ENGINE, (_m, summing: string | undefined) => `ENGINE = Replicated${summing ?? ''}MergeTree('${replicatedTablePath(database, table)}', '{replica}')`);
}

async function ensureMigrationsTable(conn: SqlConnection): Promise<void> {
  await conn.command(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version UInt32, description String, applied_ms Int64) ENGINE = MergeTree() ORDER BY version`,
  );
}

export async function currentSchemaVersion(conn: SqlConnection): Promise<number> {
  await ensureMigrationsTable(conn);
  const rows = await conn.queryRows<{ v: number | string }>(`SELECT max(version) AS v FROM ${MIGRATIONS_TABLE}`);
  return Number(rows[0]?.v ?? 0);
}

/**
 * Applies every migration above the recorded version, in order. Statements are idempotent
 * (IF NOT EXISTS), so a crash between a statement and its record is repaired by the next start.
 * Replicated (see MigrateOptions), this server's macros must name its shard and replica, and a Gala table found plain
 * (created before replication was configured) is refused: it would silently not replicate.
 */
export async function migrate(conn: SqlConnection, migrations: readonly Migration[] = MIGRATIONS, opts: MigrateOptions = {}): Promise<number> {
  let version = await currentSchemaVersion(conn);
  const replicated = opts.replicated === true;
  const db = replicated ? await currentDatabase(conn) : '';
  if (replicated) await checkMacros(conn);
  for (const m of migrations) {
    if (m.version <= version) continue;
    for (const sql of m.statements) {
      const run = replicated ? replicatedStatement(sql, db) : sql;
      if (run !== null) await conn.command(run);
    }
    await conn.command(
      `INSERT INTO ${MIGRATIONS_TABLE} (version, description, applied_ms) VALUES (${m.version}, '${m.description.replace(/[\\']/g, '\\$&')}', ${Date.now()})`,
    );
    version = m.version;
  }
  if (replicated) await checkReplicated(conn);
  return version;
}

async function currentDatabase(conn: SqlConnection): Promise<string> {
  const db = (await conn.queryRows<{ d: string }>('SELECT currentDatabase() AS d'))[0]?.d ?? '';
  if (!IDENTIFIER.test(db)) throw new Error(`database "${db}" must match ${IDENTIFIER.source}`);
  return db;
}

async function checkMacros(conn: SqlConnection): Promise<void> {
  const macros = await conn.queryRows<{ macro: string }>(`SELECT macro FROM system.macros WHERE macro IN ('shard', 'replica')`);
  const missing = ['shard', 'replica'].filter((k) => !macros.some((m) => m.macro === k));
  if (missing.length > 0) {
    throw new Error(`replicated tables: this ClickHouse server has no ${missing.map((k) => `<${k}>`).join(' or ')} in its <macros> (its configuration must name its shard and replica)`);
  }
}

/** Every Gala table but the per-server ones is Replicated*; one left plain is named. */
async function checkReplicated(conn: SqlConnection): Promise<void> {
  const tables = await conn.queryRows<{ name: string; engine: string }>(
    `SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'gala_') AND engine LIKE '%MergeTree'`,
  );
  const plain = tables.filter((t) => !PER_SERVER_TABLES.has(t.name) && !t.engine.startsWith('Replicated')).map((t) => `${t.name} (${t.engine})`);
  if (plain.length > 0) {
    throw new Error(`replicated tables: ${plain.join(', ')} exist unreplicated on this server (created before "replication" was configured); replication starts on a database of its own`);
  }
}

/**
 * Cluster mode: the tables a cluster-wide read spans. Each node's migrate creates, on its own server, a Distributed
 * table `<table>_all` over each of them on every shard of the ClickHouse cluster; it is only read (each node
 * writes its own shard's local tables), so it needs no sharding key.
 */
export const CLUSTER_READ_TABLES: readonly string[] = [ORDERS_TABLE, FPS_TABLE, AGG_SECOND_TABLE, AGG_KEY_MINUTE_TABLE, AGG_KEY_TOTAL_TABLE, MILESTONES_TABLE];

/** The Distributed table over every shard's `table`. */
export function clusterTable(table: string): string {
  return `${table}_all`;
}

const CLUSTER_NAME = /^[A-Za-z0-9_]{1,64}$/;

/** An engine definition as servers print it, without quotes and spaces (current releases quote what 18.16 does not). */
const bare = (engine: string) => engine.replace(/[\s'"`]/g, '');

/**
 * Creates (or brings up to date) the Distributed tables of CLUSTER_READ_TABLES over `cluster`, on this connection's
 * server and database, which must be the same on every shard. A table already over this cluster, database and table
 * with the local table's columns is left alone, so a second run changes nothing; one over another cluster, or with
 * other columns (a migration added one), is dropped and created again (it holds no data). Run after migrate().
 */
export async function ensureClusterTables(conn: SqlConnection, cluster: string): Promise<void> {
  if (!CLUSTER_NAME.test(cluster)) throw new Error(`cluster tables: cluster name "${cluster}" must be 1 to 64 of A-Z a-z 0-9 _`);
  const clusters = await conn.queryRows<{ n: string | number }>(`SELECT count() AS n FROM system.clusters WHERE cluster = '${cluster}'`);
  if (Number(clusters[0]?.n ?? 0) === 0) {
    throw new Error(`cluster tables: this ClickHouse server has no cluster "${cluster}" in its remote_servers (system.clusters); every shard's configuration must name it`);
  }
  const db = await currentDatabase(conn).catch((e: unknown) => {
    throw new Error(`cluster tables: ${(e as Error).message}`);
  });
  const names = CLUSTER_READ_TABLES.flatMap((t) => [t, clusterTable(t)]);
  const inList = names.map((n) => `'${n}'`).join(', ');
  const tables = await conn.queryRows<{ name: string; engine_full: string }>(
    `SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name IN (${inList})`,
  );
  const engines = new Map(tables.map((t) => [t.name, bare(t.engine_full)]));
  const columns = await conn.queryRows<{ table: string; name: string; type: string }>(
    `SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN (${inList})`,
  );
  const columnsOf = (table: string) => columns.filter((c) => c.table === table).map((c) => `${c.name} ${c.type}`).sort().join(', ');
  for (const t of CLUSTER_READ_TABLES) {
    const all = clusterTable(t);
    const engine = `Distributed(${cluster}, ${db}, ${t})`;
    const held = engines.get(all);
    if (held === bare(engine) && columnsOf(all) === columnsOf(t)) continue;
    if (held !== undefined) await conn.command(`DROP TABLE IF EXISTS ${all}`);
    await conn.command(`CREATE TABLE IF NOT EXISTS ${all} AS ${t} ENGINE = ${engine}`);
  }
}
