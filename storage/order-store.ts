// The engine-neutral order store: SQL over a SqlConnection, results parsed into exact typed values.
import type { Channel } from '../domain/order.ts';
import { escapeTsv, FPS_TABLE, ORDER_COLUMNS, ORDERS_TABLE } from './order-rows.ts';
import { DERIVED_TABLES, FPS_SIDE } from './derived-fold.ts';
import { AGG_KEY_MINUTE_TABLE, AGG_KEY_TOTAL_TABLE, AGG_SECOND_TABLE, CLUSTER_READ_TABLES, clusterTable, currentSchemaVersion, ensureClusterTables, keyMinuteRollup, keyTotalRollup, migrate, MILESTONES_TABLE, PER_SERVER_TABLES, RUNS_TABLE, secondRollup } from './schema.ts';
import { OPEN_MINUTES, SKU_MINUTE_KEYS, SkuMinuteBound, skuMinuteTsv } from './sku-minute-bound.ts';
import type { DuplicateIdRow, EncodedRows, QueryOptions, FingerprintPage, InsertOptions, KeyKind, KeySums, MilestoneRow, OrderStore, ReplicaStatus, SecondRow, SqlConnection, TotalsRow } from './storage.ts';

const FP_PAGE_ROWS = 1_000_000;
/** The reconciler's look for late duplicates runs beside ingest all night: one thread, never every core. */
const BACKGROUND: QueryOptions = { maxThreads: 1 };

export interface OrderStoreOptions {
  /** Rows per fingerprintsSince page; tests shrink it to exercise paging. Default 1,000,000. */
  fingerprintPageRows?: number;
  /** Rows of one fingerprint fill statement, at most (FPS_FILL_ROWS; lower in tests, to see the chunks). */
  fingerprintFillRows?: number;
  /**
   * Cluster mode: the ClickHouse cluster's name (in its servers' remote_servers). migrate() then also creates the
   * Distributed tables `<table>_all` on this server, and the reads that span the cluster go through them: totals,
   * perSecond, rolledSeconds, topKeys, keySums, duplicateIds and milestones. Writes and what concerns this node's
   * own inserts stay on its shard: fingerprintsSince and ordersReceivedSince (the window restore), storedFingerprints
   * (what a failed insert of this node stored), repairDerived, runs and engineStats.
   */
  clickhouseCluster?: string | null;
  /** SKUs kept per paid-at minute in the key-minute rollup (sku-minute-bound.ts); tests shrink it. Default 1,000. */
  skuMinuteKeys?: number;
  /**
   * Replicated shards (issue 15; the server engine only): migrate() creates Replicated tables and runs DDL only
   * (schema.ts MigrateOptions), every insert but the per-server tables' waits for `insertQuorum` replicas, the reads
   * a node rebuilds its own figures and window from read only what reached the quorum, and Distributed reads skip
   * lagging replicas. Null or absent: plain tables, as before.
   */
  replication?: StoreReplication | null;
}

export interface StoreReplication {
  /** Replicas an insert must reach before it succeeds (the cluster file's insertQuorum). */
  insertQuorum: number;
  /** insert_quorum_timeout, ms. Default DEFAULT_INSERT_QUORUM_TIMEOUT_MS. */
  insertQuorumTimeoutMs?: number;
  /** max_replica_delay_for_distributed_queries, s. Default DEFAULT_MAX_REPLICA_DELAY_S. */
  maxReplicaDelayS?: number;
  /** How long repairDerived waits for this replica to fetch the parts it lacks before it gives up. Default 30 s. */
  catchUpMs?: number;
}

const DEFAULT_CATCH_UP_MS = 30_000;

/**
 * How long an insert waits for its quorum (ClickHouse's default is 10 minutes). The wait happens only when a replica
 * counted alive does not take the part: one killed within its server's ZooKeeper session (6 s in the launcher's
 * config), or one overloaded. 10 s outlasts such a session, so the next insert is refused at once (fewer live
 * replicas than the quorum) instead of waiting again; it stays below the client's 30 s request timeout (a request cut
 * by the client leaves the insert running on the server) and below the 15 s takeover target, so a stuck insert is
 * known failed (code 319: its outcome unknown; the committer settles it as uncertain) before a takeover completes.
 */
export const DEFAULT_INSERT_QUORUM_TIMEOUT_MS = 10_000;
/**
 * A Distributed read skips a replica more than 5 s behind; when all of a shard's are, it reads the least stale
 * (fallback_to_stale_replicas_for_distributed_queries=1) rather than fail: the figures stay on air, and the replica's
 * lag is shown by replicaStatus(). With a quorum of every replica (2 of 2), each replica holds every acknowledged
 * order and the choice never matters for them.
 */
export const DEFAULT_MAX_REPLICA_DELAY_S = 5;

/** What the new holder of a shard reads its own figures and window with: only what reached the insert quorum. */
const CONSISTENT: QueryOptions = { consistent: true };

/**
 * The connection as a replicated store uses it: every insert into a replicated table carries the quorum, and every
 * query the replica-delay limit (ClickHouse applies it to Distributed reads only).
 * 18.16 admits one quorum insert per table and shard at a time: a second started before the first has its quorum is
 * refused ("Another quorum insert has been already started", code 286; current releases have insert_quorum_parallel).
 * So this store's quorum inserts into one table run one after another; inserts into different tables still overlap.
 */
function replicatedConnection(conn: SqlConnection, r: StoreReplication): SqlConnection {
  const quorum: InsertOptions = { quorum: { replicas: r.insertQuorum, timeoutMs: r.insertQuorumTimeoutMs ?? DEFAULT_INSERT_QUORUM_TIMEOUT_MS } };
  const delay: QueryOptions = { maxReplicaDelayS: r.maxReplicaDelayS ?? DEFAULT_MAX_REPLICA_DELAY_S };
  /** Per table, the last quorum insert queued: the next one starts when it has settled. */
  const tails = new Map<string, Promise<unknown>>();
  const inTurn = (table: string, insert: () => Promise<void>): Promise<void> => {
    const run = (tails.get(table) ?? Promise.resolve()).then(insert, insert);
    const tail = run.catch(() => undefined);
    tails.set(table, tail);
    void tail.then(() => {
      if (tails.get(table) === tail) tails.delete(table);
    });
    return run;
  };
  return {
    engine: conn.engine,
    command: (sql) => conn.command(sql),
    queryRows: (sql, o) => conn.queryRows(sql, { ...delay, ...o }),
    queryTsv: (sql, o) => conn.queryTsv(sql, { ...delay, ...o }),
    insertTsv: (table, columns, tsv, o) =>
      (PER_SERVER_TABLES.has(table) && o === undefined ? conn.insertTsv(table, columns, tsv) : inTurn(table, () => conn.insertTsv(table, columns, tsv, o ?? quorum))),
    rowFormats: conn.rowFormats,
    insertRows: (table, columns, data, format, o) =>
      (PER_SERVER_TABLES.has(table) && o === undefined ? conn.insertRows(table, columns, data, format) : inTurn(table, () => conn.insertRows(table, columns, data, format, o ?? quorum))),
    insertSelect: (table, columns, select, o) =>
      (PER_SERVER_TABLES.has(table) && o === undefined ? conn.insertSelect(table, columns, select) : inTurn(table, () => conn.insertSelect(table, columns, select, o ?? quorum))),
    settleFailedInsert: (error) => conn.settleFailedInsert(error),
    ping: () => conn.ping(),
    version: () => conn.version(),
    close: () => conn.close(),
  };
}

function int(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/** A string literal for ClickHouse SQL (both engines): backslash and quote escaped. */
export function sqlString(s: string): string {
  return `'${s.replace(/[\\']/g, '\\$&')}'`;
}

/** A Float64 literal (always with a point or exponent, so an array of them is never read as integers). */
function floatLiteral(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`weight must be finite, got ${n}`);
  const s = n.toString();
  return /[.e]/.test(s) ? s : `${s}.0`;
}

const KINDS: ReadonlySet<string> = new Set(['brand', 'sku', 'region']);

function kindOf(kind: KeyKind): string {
  if (!KINDS.has(kind)) throw new Error(`key kind must be brand, sku or region, got ${JSON.stringify(kind)}`);
  return `'${kind}'`;
}

type KeyRowText = { key: string; n: string | number; cur: string[]; h: string[]; cns: (string | number)[] };

function keySums(rows: KeyRowText[]): KeySums[] {
  return rows.map((r) => ({
    key: r.key,
    orders: int(r.n),
    byCurrency: r.cur.map((currency, i) => ({ currency, hundredths: BigInt(r.h[i] ?? '0'), orders: int(r.cns[i] ?? 0) })),
  }));
}

/** Each derived table's rows recomputed from the orders table for the orders matching `where`, in its column order. */
const RECOMPUTE: Record<string, (where: string) => string> = {
  [AGG_SECOND_TABLE]: secondRollup,
  [AGG_KEY_MINUTE_TABLE]: keyMinuteRollup,
  [AGG_KEY_TOTAL_TABLE]: keyTotalRollup,
};

/**
 * Rows of one fingerprint fill statement, at most: below the engine's min_insert_block_size_rows (1,048,576 on both),
 * an INSERT ... SELECT on one thread squashes its rows and its marker into one block, so into one part.
 */
export const FPS_FILL_ROWS = 500_000;

/**
 * [from, through, rows] arrival chunks of `runs`, given (instant, rows) arrivals in order: each holds at most maxRows
 * rows (one arrival instant may hold more alone).
 */
export function fillChunks(arrivals: readonly (readonly [number, number])[], runs: readonly (readonly [number, number])[], maxRows: number): [number, number, number][] {
  const chunks: [number, number, number][] = [];
  let i = 0;
  for (const [from, through] of runs) {
    while (i < arrivals.length && arrivals[i]![0] < from) i++;
    let open: [number, number, number] | null = null;
    for (; i < arrivals.length && arrivals[i]![0] <= through; i++) {
      const [ms, n] = arrivals[i]!;
      if (open === null || open[2] + n > maxRows) chunks.push((open = [ms, ms, 0]));
      open[1] = ms;
      open[2] += n;
    }
  }
  return chunks;
}

function tsvLines(text: string): string[] {
  return text.length === 0 ? [] : text.trimEnd().split('\n');
}

/** Runs [first, last] of consecutive `arrivals` (sorted) that no range of `covered` (disjoint) contains. */
export function uncoveredRuns(arrivals: readonly number[], covered: readonly (readonly [number, number])[]): [number, number][] {
  const ranges = [...covered].sort((x, y) => x[0] - y[0]);
  const runs: [number, number][] = [];
  let r = 0;
  let open: [number, number] | null = null;
  for (const ms of arrivals) {
    while (r < ranges.length && ranges[r]![1] < ms) r++;
    const isCovered = r < ranges.length && ranges[r]![0] <= ms;
    if (isCovered) open = null;
    else if (open === null) runs.push((open = [ms, ms]));
    else open[1] = ms;
  }
  return runs;
}

export function createOrderStore(plain: SqlConnection, opts: OrderStoreOptions = {}): OrderStore {
  const replication = opts.replication ?? null;
  if (replication !== null && plain.engine !== 'clickhouse-server') throw new Error(`createOrderStore: replication needs the clickhouse-server engine, not ${plain.engine}`);
  const conn = replication === null ? plain : replicatedConnection(plain, replication);
  /** Rebuild reads: only what reached the quorum, when replicated (plain tables ignore it). */
  const rebuild = replication === null ? undefined : CONSISTENT;
  const pageRows = opts.fingerprintPageRows ?? FP_PAGE_ROWS;
  if (!Number.isInteger(pageRows) || pageRows < 1) {
    throw new Error(`createOrderStore: fingerprintPageRows = ${pageRows} must be a positive integer`);
  }
  const fillRows = opts.fingerprintFillRows ?? FPS_FILL_ROWS;
  if (!Number.isInteger(fillRows) || fillRows < 1 || fillRows > FPS_FILL_ROWS) {
    throw new Error(`createOrderStore: fingerprintFillRows = ${fillRows} must be a whole number from 1 to ${FPS_FILL_ROWS}`);
  }
  const cluster = opts.clickhouseCluster ?? null;
  /** Where a cluster-wide read of `table` reads: every shard's in cluster mode, else the local table. */
  const wide = (table: string) => (cluster === null ? table : clusterTable(table));
  /**
   * The per-minute SKU sets, restored on first use from what the table holds for the last minutes written (a
   * sorted read of a few granules: the table is ordered by kind, minute, key).
   */
  let bound: Promise<SkuMinuteBound> | null = null;
  const skuBound = () =>
    (bound ??= (async () => {
      const b = new SkuMinuteBound(opts.skuMinuteKeys ?? SKU_MINUTE_KEYS);
      const text = await conn.queryTsv(
        `SELECT DISTINCT minute, key FROM ${AGG_KEY_MINUTE_TABLE} WHERE kind = 'sku' AND key != '' AND minute >= (
           SELECT max(minute) FROM ${AGG_KEY_MINUTE_TABLE} WHERE kind = 'sku' AND key != '') - ${OPEN_MINUTES}`,
      );
      b.restore(tsvLines(text).map((l) => {
        const tab = l.indexOf('\t');
        return [Number(l.slice(0, tab)), l.slice(tab + 1)] as const;
      }));
      return b;
    })().catch((e: unknown) => {
      bound = null;
      throw e;
    }));
  /** Orders stored, or received at or after sinceMs (on the table's sort key: a few granules of its index). */
  const countOrders = async (sinceMs?: number) =>
    int((await conn.queryRows<{ n: string | number }>(`SELECT count() AS n FROM ${ORDERS_TABLE}${sinceMs === undefined ? '' : ` WHERE received_ms >= ${Math.trunc(sinceMs)}`}`, rebuild))[0]?.n ?? 0);
  /** Sums by currency and channel of `table`'s rows received in (receivedAfterMs, receivedThroughMs]. */
  const totalsOf = async (table: string, receivedThroughMs?: number, receivedAfterMs?: number, opts?: QueryOptions): Promise<TotalsRow[]> => {
    const bounds = [
      ...(receivedAfterMs === undefined ? [] : [`received_ms > ${Math.trunc(receivedAfterMs)}`]),
      ...(receivedThroughMs === undefined ? [] : [`received_ms <= ${Math.trunc(receivedThroughMs)}`]),
    ];
    const where = bounds.length === 0 ? '' : ` WHERE ${bounds.join(' AND ')}`;
    const rows = await conn.queryRows<{ currency: string; channel: Channel; h: string; n: string }>(
      `SELECT currency, channel, toString(sum(hundredths)) AS h, count() AS n FROM ${table}${where} GROUP BY currency, channel ORDER BY currency, channel`,
      opts,
    );
    return rows.map((r) => ({ currency: r.currency, channel: r.channel, hundredths: BigInt(r.h), orders: int(r.n) }));
  };
  /** Per-second sums of `table` (a rollup of seconds) over [fromSecond, toSecond). */
  const rolledOf = async (table: string, fromSecond: number, toSecond: number, opts?: QueryOptions): Promise<SecondRow[]> => {
    const rows = await conn.queryRows<{ s: string; currency: string; channel: Channel; h: string; n: string }>(
      `SELECT second AS s, currency, channel, toString(sum(hundredths)) AS h, toString(sum(orders)) AS n FROM ${table}
       WHERE currency != '' AND second >= ${Math.trunc(fromSecond)} AND second < ${Math.trunc(toSecond)}
       GROUP BY s, currency, channel ORDER BY s, currency, channel`,
      opts,
    );
    return rows.map((r) => ({ second: int(r.s), currency: r.currency, channel: r.channel, hundredths: BigInt(r.h), orders: int(r.n) }));
  };
  /**
   * Replicated: waits (bounded) until this replica has no part of its shard left to fetch, and throws if it still
   * has. A repair or an open-ended fill compares the replica as it is; a part still to fetch could hold arrivals
   * inside a range it then marks as done.
   */
  const caughtUp = async (what: string): Promise<void> => {
    if (replication === null) return;
    const tables = [ORDERS_TABLE, ...DERIVED_TABLES.map((t) => t.table), FPS_TABLE].map(sqlString).join(', ');
    const giveUpAt = Date.now() + (replication.catchUpMs ?? DEFAULT_CATCH_UP_MS);
    for (;;) {
      const fetches = await conn.queryRows<{ n: string | number }>(
        `SELECT count() AS n FROM system.replication_queue WHERE database = currentDatabase() AND table IN (${tables}) AND type = 'GET_PART'`,
      );
      const n = int(fetches[0]?.n ?? 0);
      if (n === 0) return;
      if (Date.now() >= giveUpAt) throw new Error(`${what}: this replica still has ${n} part${n === 1 ? '' : 's'} of its shard to fetch; try once it has caught up`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** See OrderStore.fillFingerprints. */
  const fill = async (sinceMs: number, throughMs?: number): Promise<number> => {
    const since = Math.trunc(sinceMs);
    // Bounded by this node's own commits (group commit's fills), the rows are this replica's own inserts; open-ended
    // (a takeover, a repair), they may include a previous holder's parts still on their way here.
    if (throughMs === undefined) await caughtUp('fillFingerprints');
    const upTo = throughMs === undefined ? '' : ` AND received_ms <= ${Math.trunc(throughMs)}`;
    // Rows per arrival instant (one per batch; received_ms leads the orders table's key, so a read of its index and
    // one column), and the ranges the side table's markers vouch for.
    const text = await conn.queryTsv(`SELECT received_ms, count() FROM ${ORDERS_TABLE} WHERE received_ms >= ${since}${upTo} GROUP BY received_ms ORDER BY received_ms`);
    const arrivals = tsvLines(text).map((l) => {
      const tab = l.indexOf('\t');
      return [Number(l.slice(0, tab)), Number(l.slice(tab + 1))] as const;
    });
    if (arrivals.length === 0) return 0;
    const markers = await conn.queryRows<{ from_ms: string | number; through_ms: string | number }>(FPS_SIDE.markersSince(since));
    const runs = uncoveredRuns(arrivals.map((a) => a[0]), markers.map((m) => [int(m.from_ms), int(m.through_ms)] as const));
    let added = 0;
    for (const [from, through, rows] of fillChunks(arrivals, runs, fillRows)) {
      // The chunk's rows and its marker in one statement: one part, so a crash or a failure leaves both or neither,
      // and a fill done again never stores a fingerprint twice (the late-duplicate look counts copies).
      await conn.insertSelect(
        FPS_TABLE,
        FPS_SIDE.columns,
        `SELECT fp_hi, fp_lo, received_ms FROM ${ORDERS_TABLE} WHERE received_ms >= ${from} AND received_ms <= ${through} UNION ALL ${FPS_SIDE.markerSelect(from, through)}`,
        { beside: true },
      );
      added += rows;
    }
    return added;
  };
  return {
    engine: conn.engine,
    orderFormat: conn.rowFormats[0] ?? 'TabSeparated',
    async migrate() {
      const version = await migrate(conn, undefined, { replicated: replication !== null });
      if (cluster !== null) await ensureClusterTables(conn, cluster);
      return version;
    },
    schemaVersion: () => currentSchemaVersion(conn),

    async insert(rows: EncodedRows) {
      await this.insertOrders(rows);
      if (rows.count > 0 && rows.derived) {
        await this.insertDerived(rows.derived);
        await fill(rows.derived.receivedFromMs, rows.derived.receivedThroughMs);
      }
    },

    async insertOrders(rows: EncodedRows) {
      if (rows.count === 0) return;
      await conn.insertRows(ORDERS_TABLE, ORDER_COLUMNS, rows.data, rows.format ?? 'TabSeparated');
    },

    async insertDerived(rows, only) {
      const skus = only !== undefined && !only.includes(AGG_KEY_MINUTE_TABLE) ? [] : (await skuBound()).select(rows.skuMinutes);
      const tsv = (t: string) => (t === AGG_KEY_MINUTE_TABLE && skus.length > 0 ? `${skus.map(skuMinuteTsv).join('')}${String(rows.tsv[t])}` : rows.tsv[t]!);
      // One after another: on two cores, several small inserts at once only contend, and the order lets a failure
      // stop before the rest (the repair then finds which tables lack the range). Beside the next orders insert.
      for (const t of DERIVED_TABLES) if (only === undefined || only.includes(t.table)) await conn.insertTsv(t.table, t.columns, tsv(t.table), { beside: true });
    },

    // Sums travel as strings (toString): chDB 26.x does not quote 64-bit integers in JSON, and a JSON
    // number above 2^53 is rounded before BigInt() could see it.
    totals(receivedThroughMs?: number, receivedAfterMs?: number, opts?: QueryOptions): Promise<TotalsRow[]> {
      return totalsOf(wide(ORDERS_TABLE), receivedThroughMs, receivedAfterMs, opts);
    },

    ownTotals: (receivedThroughMs?: number, receivedAfterMs?: number, opts?: QueryOptions) => totalsOf(ORDERS_TABLE, receivedThroughMs, receivedAfterMs, { ...rebuild, ...opts }),


    async perSecond(fromSecond: number, toSecond: number): Promise<SecondRow[]> {
      const rows = await conn.queryRows<{ s: string; currency: string; channel: Channel; h: string; n: string }>(
        `SELECT intDiv(ts, 1000) AS s, currency, channel, toString(sum(hundredths)) AS h, count() AS n FROM ${wide(ORDERS_TABLE)}
         WHERE ts >= ${Math.trunc(fromSecond) * 1000} AND ts < ${Math.trunc(toSecond) * 1000}
         GROUP BY s, currency, channel ORDER BY s, currency, channel`,
      );
      return rows.map((r) => ({ second: int(r.s), currency: r.currency, channel: r.channel, hundredths: BigInt(r.h), orders: int(r.n) }));
    },

    async fingerprintsSince(sinceMs: number, onPage: (page: FingerprintPage) => void): Promise<number> {
      // Pages walk forward by received_ms so no page holds more than pageRows rows in memory. A page
      // starts at the last millisecond of the one before and skips the rows of it already delivered
      // (one batch shares one received_ms, so a millisecond may hold more rows than a page).
      let from = Math.trunc(sinceMs);
      let skip = 0;
      let total = 0;
      for (;;) {
        const text = await conn.queryTsv(
          `SELECT fp_hi, fp_lo, received_ms FROM ${ORDERS_TABLE} WHERE received_ms >= ${from}
           ORDER BY received_ms, fp_hi, fp_lo LIMIT ${skip}, ${pageRows}`,
          rebuild,
        );
        const lines = text.length === 0 ? [] : text.trimEnd().split('\n');
        if (lines.length === 0) return total;
        const page: FingerprintPage = {
          hi: new Uint32Array(lines.length),
          lo: new Uint32Array(lines.length),
          receivedMs: new Float64Array(lines.length),
          count: lines.length,
        };
        let last = from;
        let atLast = 0;
        lines.forEach((line, i) => {
          const [a, b, c] = line.split('\t');
          page.hi[i] = Number(a);
          page.lo[i] = Number(b);
          const ms = Number(c);
          atLast = ms === last ? atLast + 1 : 1;
          last = ms;
          page.receivedMs[i] = ms;
        });
        onPage(page);
        total += lines.length;
        if (lines.length < pageRows) return total;
        skip = last === from ? skip + atLast : atLast;
        from = last;
      }
    },

    ordersReceivedSince: (sinceMs) => countOrders(sinceMs),

    // Replicated, this reads the replica as it is, not only what reached the quorum: it tells what a failed insert of
    // this node stored, and a part whose quorum timed out stays on this replica and reaches the others once they
    // are back (ClickHouse does not roll it back). Counted now, its orders are never stored twice by a resend.
    async storedFingerprints(fps, receivedBetween) {
      // received_ms >= 0 leaves the side table's markers out (derived-fold.ts).
      const source = receivedBetween === undefined
        ? `${FPS_TABLE} WHERE received_ms >= 0 AND`
        : `${ORDERS_TABLE} WHERE received_ms >= ${Math.trunc(receivedBetween[0])} AND received_ms <= ${Math.trunc(receivedBetween[1])} AND`;
      const found = new Set<string>();
      for (let i = 0; i < fps.length; i += 5000) {
        const chunk = fps.slice(i, i + 5000);
        const list = chunk.map(([hi, lo]) => `(${hi >>> 0}, ${lo >>> 0})`).join(', ');
        const rows = await conn.queryRows<{ fp_hi: number | string; fp_lo: number | string }>(
          `SELECT DISTINCT fp_hi, fp_lo FROM ${source} (fp_hi, fp_lo) IN (${list})`,
        );
        for (const r of rows) found.add(`${int(r.fp_hi)}:${int(r.fp_lo)}`);
      }
      return found;
    },

    async duplicateIds(limit: number, receivedSinceMs?: number, slice?: { index: number; count: number }): Promise<DuplicateIdRow[]> {
      let where = '';
      if (slice !== undefined && !(Number.isInteger(slice.count) && slice.count >= 1 && Number.isInteger(slice.index) && slice.index >= 0 && slice.index < slice.count)) {
        throw new Error(`duplicateIds: slice ${JSON.stringify(slice)} must have 0 <= index < count, integers`);
      }
      if (receivedSinceMs !== undefined) {
        // fp_hi leads the side table's key: a slice reads its own range of it only, once, and holds only its
        // share of the fingerprints in memory. (Asking first for those received since, then for their copies, read
        // the range twice and cost 50% more.) The orders table is not read for the recent ones: ordered by arrival,
        // it would be read whole for every slice (bench:fingerprints: a slice of 256 took 2.8-4.8x the side table's
        // at 5M rows, growing with the night).
        // received_ms >= 0 leaves the markers out (derived-fold.ts).
        const range = slice === undefined || slice.count === 1 ? 'WHERE received_ms >= 0' : `WHERE received_ms >= 0 AND fp_hi >= ${Math.floor((2 ** 32 * slice.index) / slice.count)} AND fp_hi < ${Math.floor((2 ** 32 * (slice.index + 1)) / slice.count)}`;
        // Then just the arrival instants of the copies of those seen more than once (orders table, by arrival).
        const candidates = await conn.queryRows<{ fp_hi: number | string; fp_lo: number | string; at: (number | string)[] }>(
          `SELECT fp_hi, fp_lo, groupArray(received_ms) AS at FROM ${wide(FPS_TABLE)} ${range}
           GROUP BY fp_hi, fp_lo HAVING count() > 1 AND max(received_ms) >= ${Math.trunc(receivedSinceMs)} LIMIT ${Math.trunc(limit)}`,
          BACKGROUND,
        );
        if (candidates.length === 0) return [];
        const fps = candidates.map((c) => `(${int(c.fp_hi)}, ${int(c.fp_lo)})`).join(', ');
        const instants = [...new Set(candidates.flatMap((c) => c.at.map(int)))].join(', ');
        where = `WHERE received_ms IN (${instants}) AND (fp_hi, fp_lo) IN (${fps})`;
      }
      const rows = await conn.queryRows<{ id: string; n: string; currency: string; h: string; first: string; last: string }>(
        `SELECT id, count() AS n, any(currency) AS currency, toString(any(hundredths)) AS h, min(received_ms) AS first, max(received_ms) AS last
         FROM ${wide(ORDERS_TABLE)} ${where} GROUP BY id HAVING n > 1 ORDER BY first LIMIT ${Math.trunc(limit)}`,
        BACKGROUND,
      );
      return rows.map((r) => ({
        id: r.id,
        copies: int(r.n),
        currency: r.currency,
        hundredths: BigInt(r.h),
        firstReceivedMs: int(r.first),
        lastReceivedMs: int(r.last),
      }));
    },

    async repairDerived(receivedSinceMs, progress) {
      /**
       * Recomputed key-minute rows less the SKU rows of keys outside their minute's set: a key is kept when the
       * table already holds it for that minute or this process's set has it. Admitting none here keeps every kept
       * key exact (a key left out of an earlier group of the minute must stay out).
       */
      const keptSkuMinutes = async (text: string): Promise<string> => {
        const lines = tsvLines(text);
        const sku = lines.filter((l) => l.startsWith('sku\t'));
        if (sku.length === 0) return text;
        const b = await skuBound();
        let lo = Number.POSITIVE_INFINITY;
        let hi = Number.NEGATIVE_INFINITY;
        for (const l of sku) {
          const m = Number(l.split('\t', 2)[1]);
          if (m < lo) lo = m;
          if (m > hi) hi = m;
        }
        const held = new Set(tsvLines(await conn.queryTsv(
          `SELECT DISTINCT minute, key FROM ${AGG_KEY_MINUTE_TABLE} WHERE kind = 'sku' AND key != '' AND minute >= ${lo} AND minute <= ${hi}`,
        )));
        const keep = (l: string) => {
          if (!l.startsWith('sku\t')) return true;
          const [, minute, key] = l.split('\t');
          return held.has(`${minute}\t${key}`) || b.has(Number(minute), key!);
        };
        const kept = lines.filter(keep);
        return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
      };
      const since = Math.trunc(receivedSinceMs);
      // Replicated, the repair compares the replica as it is (what storedFingerprints saw), so it must hold every
      // part of its shard written so far: one still to fetch could be a derived part the repair would add again.
      // A replica just restarted fetches for a few seconds; one whose parts are on a replica that is down waits
      // for it, so the wait is bounded and the caller tries again later.
      await caughtUp('repairDerived');
      // Every arrival instant since then (one per batch: a column of the sort key, so a cheap read), and per table
      // the ranges its markers vouch for; an arrival no marker covers is one whose derived insert never landed.
      const text = await conn.queryTsv(`SELECT DISTINCT received_ms FROM ${ORDERS_TABLE} WHERE received_ms >= ${since} ORDER BY received_ms`);
      const arrivals = text.length === 0 ? [] : text.trimEnd().split('\n').map(Number);
      const added: Record<string, number> = {};
      progress?.setTotal(DERIVED_TABLES.length + 1);
      if (arrivals.length === 0) {
        progress?.advance(DERIVED_TABLES.length + 1);
        return added;
      }
      for (const t of DERIVED_TABLES) {
        const markers = await conn.queryRows<{ from_ms: string | number; through_ms: string | number }>(t.markersSince(since));
        const runs = uncoveredRuns(arrivals, markers.map((m) => [int(m.from_ms), int(m.through_ms)] as const));
        for (const [from, through] of runs) {
          // Recomputed for exactly the run's arrivals (nothing else was received between them), and inserted in one
          // insert with the run's marker, so a crash during the repair leaves it to be done again, not twice.
          let rows = await conn.queryTsv(RECOMPUTE[t.table]!(`received_ms >= ${from} AND received_ms <= ${through}`));
          if (t.table === AGG_KEY_MINUTE_TABLE) rows = await keptSkuMinutes(rows);
          await conn.insertTsv(t.table, t.columns, `${rows}${t.marker(from, through)}`);
          const n = rows.length === 0 ? 0 : rows.trimEnd().split('\n').length;
          added[t.table] = (added[t.table] ?? 0) + n;
        }
        progress?.advance(1);
      }
      const fps = await fill(since);
      if (fps > 0) added[FPS_TABLE] = fps;
      progress?.advance(1);
      return added;
    },

    fillFingerprints: (sinceMs, throughMs) => fill(sinceMs, throughMs),

    async beginRun(startedMs) {
      const rows = await conn.queryRows<{ s: number | string; clean: number | string }>(
        `SELECT started_ms AS s, max(clean_stop) AS clean FROM ${RUNS_TABLE} GROUP BY started_ms ORDER BY started_ms DESC LIMIT 10000`,
      );
      await conn.insertTsv(RUNS_TABLE, ['started_ms', 'clean_stop', 'at_ms'], `${Math.trunc(startedMs)}\t0\t${Date.now()}\n`);
      // The runs since the last clean stop all crashed; a repair looks back to the first of them.
      let uncleanSinceMs: number | undefined;
      for (const r of rows) {
        if (int(r.clean) === 1) break;
        uncleanSinceMs = int(r.s);
      }
      return uncleanSinceMs === undefined ? { previousStoppedCleanly: true } : { previousStoppedCleanly: false, uncleanSinceMs };
    },

    async endRun(startedMs) {
      await conn.insertTsv(RUNS_TABLE, ['started_ms', 'clean_stop', 'at_ms'], `${Math.trunc(startedMs)}\t1\t${Date.now()}\n`);
    },

    rolledSeconds: (fromSecond: number, toSecond: number) => rolledOf(wide(AGG_SECOND_TABLE), fromSecond, toSecond),
    ownRolledSeconds: (fromSecond: number, toSecond: number) => rolledOf(AGG_SECOND_TABLE, fromSecond, toSecond, rebuild),

    async totalsByOwner(partitions: number, nodes: number) {
      const p = Math.trunc(partitions);
      const n = Math.trunc(nodes);
      if (p < 1 || n < 1) throw new Error(`totalsByOwner: partitions (${partitions}) and nodes (${nodes}) must be positive integers`);
      const rows = await conn.queryRows<{ o: string | number; currency: string; channel: Channel; h: string; n: string }>(
        `SELECT (fp_lo % ${p}) % ${n} AS o, currency, channel, toString(sum(hundredths)) AS h, count() AS n FROM ${wide(ORDERS_TABLE)}
         GROUP BY o, currency, channel ORDER BY o, currency, channel`,
      );
      return rows.map((r) => ({ owner: int(r.o), currency: r.currency, channel: r.channel, hundredths: BigInt(r.h), orders: int(r.n) }));
    },

    async rolledBefore(second: number) {
      const rows = await conn.queryRows<{ currency: string; h: string; n: string }>(
        `SELECT currency, toString(sum(hundredths)) AS h, toString(sum(orders)) AS n FROM ${wide(AGG_SECOND_TABLE)}
         WHERE currency != '' AND second < ${Math.trunc(second)} GROUP BY currency ORDER BY currency`,
      );
      return rows.map((r) => ({ currency: r.currency, hundredths: BigInt(r.h), orders: int(r.n) }));
    },

    async ordersOfSecond(second: number) {
      const from = Math.trunc(second) * 1000;
      const rows = await conn.queryRows<{ ts: string | number; id: string; currency: string; h: string }>(
        `SELECT ts, id, currency, toString(hundredths) AS h FROM ${wide(ORDERS_TABLE)} WHERE ts >= ${from} AND ts < ${from + 1000} ORDER BY ts, id`,
      );
      return rows.map((r) => ({ ts: int(r.ts), id: r.id, currency: r.currency, hundredths: BigInt(r.h) }));
    },


    async topKeys(kind, limit, weights, minutes) {
      const codes = [...weights.keys()];
      const table = wide(minutes === undefined ? AGG_KEY_TOTAL_TABLE : AGG_KEY_MINUTE_TABLE);
      const within = minutes === undefined ? '' : ` AND minute >= ${Math.trunc(minutes[0])} AND minute < ${Math.trunc(minutes[1])}`;
      const rate = `transform(currency, [${codes.map(sqlString).join(', ')}], [${codes.map((c) => floatLiteral(weights.get(c) ?? 0)).join(', ')}], 0.)`;
      const rows = await conn.queryRows<KeyRowText>(
        `SELECT key, sum(cn) AS n, sum(weighted) AS w, groupArray(currency) AS cur, groupArray(toString(ch)) AS h, groupArray(cn) AS cns FROM (
           SELECT key, currency, sum(hundredths) AS ch, sum(orders) AS cn, sum(hundredths) * ${rate} AS weighted
           FROM ${table} WHERE kind = ${kindOf(kind)} AND key != ''${within} GROUP BY key, currency
         ) GROUP BY key ORDER BY w DESC, key LIMIT ${Math.max(0, Math.trunc(limit))}`,
      );
      return keySums(rows);
    },

    async keySums(kind, keys) {
      if (keys.length === 0) return [];
      const rows = await conn.queryRows<KeyRowText>(
        `SELECT key, sum(cn) AS n, groupArray(currency) AS cur, groupArray(toString(ch)) AS h, groupArray(cn) AS cns FROM (
           SELECT key, currency, sum(hundredths) AS ch, sum(orders) AS cn FROM ${wide(AGG_KEY_TOTAL_TABLE)}
           WHERE kind = ${kindOf(kind)} AND key != '' AND key IN (${keys.map(sqlString).join(', ')}) GROUP BY key, currency
         ) GROUP BY key ORDER BY key`,
      );
      return keySums(rows);
    },

    async clusterUnready() {
      if (cluster === null) return null;
      for (const t of CLUSTER_READ_TABLES) {
        try {
          await conn.queryTsv(`SELECT 1 FROM ${clusterTable(t)} LIMIT 1`);
        } catch (e) {
          return `${clusterTable(t)}: ${(e as Error).message}`;
        }
      }
      return null;
    },

    async replicaStatus(): Promise<ReplicaStatus | null> {
      if (replication === null) return null;
      const rows = await conn.queryRows<{ d: string | number; q: string | number; ro: string | number; a: string | number; t: string | number }>(
        `SELECT absolute_delay AS d, queue_size AS q, is_readonly AS ro, active_replicas AS a, total_replicas AS t FROM system.replicas
         WHERE database = currentDatabase() AND table = ${sqlString(ORDERS_TABLE)}`,
      );
      const r = rows[0];
      if (r === undefined) throw new Error(`replicaStatus: ${ORDERS_TABLE} is not a replicated table on this server (migrate first)`);
      return { absoluteDelayS: int(r.d), queueSize: int(r.q), readonly: int(r.ro) === 1, activeReplicas: int(r.a), totalReplicas: int(r.t) };
    },

    async milestones(): Promise<MilestoneRow[]> {
      // One row per id: a crash between the insert and its acknowledgement can leave a second copy.
      const rows = await conn.queryRows<{ id: string; t: string; currency: string; c: string; r: string; total: string; n: string }>(
        `SELECT id, toString(argMin(threshold_hundredths, recorded_ms)) AS t, argMin(currency, recorded_ms) AS currency,
           toString(argMin(crossed_ms, recorded_ms)) AS c, toString(min(recorded_ms)) AS r,
           toString(argMin(total_hundredths, recorded_ms)) AS total, toString(argMin(orders, recorded_ms)) AS n
         FROM ${wide(MILESTONES_TABLE)} GROUP BY id ORDER BY c, id`,
      );
      return rows.map((r) => ({
        id: r.id,
        thresholdHundredths: BigInt(r.t),
        currency: r.currency,
        crossedMs: int(r.c),
        recordedMs: int(r.r),
        totalHundredths: BigInt(r.total),
        orders: int(r.n),
      }));
    },

    async recordMilestone(m: MilestoneRow): Promise<void> {
      const row = [m.id, m.thresholdHundredths, m.currency, Math.trunc(m.crossedMs), Math.trunc(m.recordedMs), m.totalHundredths, m.orders]
        .map((v) => escapeTsv(String(v)))
        .join('\t');
      await conn.insertTsv(MILESTONES_TABLE, ['id', 'threshold_hundredths', 'currency', 'crossed_ms', 'recorded_ms', 'total_hundredths', 'orders'], `${row}\n`);
    },

    async engineStats() {
      const tables = await conn.queryRows<{ table: string; parts: string | number; rows: string | number }>(
        `SELECT table, count() AS parts, sum(rows) AS rows FROM system.parts WHERE active AND database = currentDatabase() AND startsWith(table, 'gala_') GROUP BY table ORDER BY table`,
      );
      const merges = await conn.queryRows<{ n: string | number; r: string | number }>(
        `SELECT count() AS n, sum(rows_read) AS r FROM system.merges WHERE database = currentDatabase()`,
      );
      const events = await conn.queryRows<{ event: string; value: string | number }>(
        `SELECT event, value FROM system.events WHERE event IN ('Merge', 'MergedRows', 'MergedUncompressedBytes', 'MergesTimeMilliseconds', 'MergeTotalMilliseconds')`,
      );
      const ev = new Map(events.map((e) => [e.event, int(e.value)]));
      return {
        tables: tables.map((t) => ({ table: t.table, parts: int(t.parts), rows: int(t.rows) })),
        mergesRunning: int(merges[0]?.n ?? 0),
        mergeRowsRead: int(merges[0]?.r ?? 0),
        mergesStarted: ev.get('Merge') ?? 0,
        mergedRows: ev.get('MergedRows') ?? 0,
        mergedBytes: ev.get('MergedUncompressedBytes') ?? 0,
        // Named MergesTimeMilliseconds in older releases, MergeTotalMilliseconds in current ones.
        mergeMs: ev.get('MergeTotalMilliseconds') ?? ev.get('MergesTimeMilliseconds') ?? 0,
      };
    },
    settleFailedInsert: (error) => conn.settleFailedInsert(error),
    ping: () => conn.ping(),
    close: () => conn.close(),
  };
}
