// The storage seam: each engine supplies a small SqlConnection; everything above it is engine-neutral.
import type { Channel } from '../domain/order.ts';
import type { DerivedRows } from './derived-fold.ts';
import type { RowFormat } from './order-row-writer.ts';
import type { Progress } from '../platform/progress.ts';

export interface QueryOptions {
  /**
   * Threads the query may use (ClickHouse's max_threads). Background checks take 1, so that on a small machine they
   * leave the other cores to the inserts that acknowledgements wait for, instead of taking every core in bursts.
   */
  maxThreads?: number;
  /**
   * Replicated tables: read only what reached the insert quorum (ClickHouse's select_sequential_consistency). On a
   * replica that lacks a part the quorum acknowledged, the read fails (code 289) until the replica has caught up:
   * a rebuild from it then waits instead of missing acknowledged orders. Ignored by plain tables and by chDB.
   */
  consistent?: boolean;
  /**
   * Distributed reads skip a replica lagging more than this many seconds (max_replica_delay_for_distributed_queries);
   * when every replica of a shard lags more, the least stale is read all the same. Ignored by chDB.
   */
  maxReplicaDelayS?: number;
}

/** How an insert into a replicated table must land. Ignored by plain tables and by chDB. */
export interface InsertOptions {
  /**
   * Replicas that must hold the part before the insert succeeds (insert_quorum), and how long the server waits for
   * them (insert_quorum_timeout, ms): past it the insert fails with an unknown outcome (code 319).
   */
  quorum?: { replicas: number; timeoutMs: number };
}

export interface InsertOptions {
  /**
   * An insert of derived rows, which runs beside the next group's orders insert: an engine whose session runs one
   * statement at a time gives these a session of their own, so the orders insert an ack waits for never queues
   * behind them.
   */
  beside?: boolean;
}

/** What an engine adapter must provide. SQL given to it is plain ClickHouse SQL both engines understand. */
export interface SqlConnection {
  readonly engine: 'chdb' | 'clickhouse-server';
  /** Runs a statement that returns nothing (DDL, ALTER). */
  command(sql: string): Promise<void>;
  /** Runs a query and returns its rows (JSONEachRow; 64-bit integers arrive as strings). */
  queryRows<T = Record<string, unknown>>(sql: string, opts?: QueryOptions): Promise<T[]>;
  /** Runs a query and returns its TabSeparated text, for bulk reads that must not build objects. */
  queryTsv(sql: string, opts?: QueryOptions): Promise<string>;
  /** Inserts TabSeparated rows (text or UTF-8 bytes); resolves only once ClickHouse has committed them. */
  insertTsv(table: string, columns: readonly string[], tsv: string | Uint8Array, opts?: InsertOptions): Promise<void>;
  /** The formats insertRows takes on this connection, the one to use first (the fastest both ways) first. */
  readonly rowFormats: readonly RowFormat[];
  /** Inserts rows in `format` (one of rowFormats); resolves only once ClickHouse has committed them. */
  insertRows(table: string, columns: readonly string[], data: string | Uint8Array, format: RowFormat, opts?: InsertOptions): Promise<void>;
  /**
   * `INSERT INTO table (columns) <select>`, run by the engine on one thread, its rows never passing through this
   * process; resolves once they are committed. A failure is settled like an insertTsv's (settleFailedInsert).
   */
  insertSelect(table: string, columns: readonly string[], select: string, opts?: InsertOptions): Promise<void>;
  /**
   * After an insert failed: makes sure nothing of it can still be running (a server may go on with an insert
   * whose client has gone), so what it stored is final. Resolves once that is so; throws if it cannot tell.
   */
  settleFailedInsert(error: unknown): Promise<void>;
  /** True when the engine answers. Never throws. */
  ping(): Promise<boolean>;
  /** The engine's version string, e.g. "18.16.1" or "26.7.3.1". */
  version(): Promise<string>;
  close(): Promise<void>;
}

/** Rows encoded for one insert (see order-rows.ts). */
export interface EncodedRows {
  count: number;
  /** The rows in ORDER_COLUMNS order, in `format`: TabSeparated text or UTF-8 bytes, or RowBinary bytes. */
  data: string | Uint8Array;
  /** TabSeparated when left out. */
  format?: RowFormat;
  /** The same orders folded into the derived tables' rows (OrderRowWriter.derived()); absent: none written. */
  derived?: DerivedRows | null;
}

export interface TotalsRow {
  currency: string;
  channel: Channel;
  hundredths: bigint;
  orders: number;
}

export interface SecondRow extends TotalsRow {
  /** Epoch second of the orders' paid-at instant. */
  second: number;
}

export interface DuplicateIdRow {
  id: string;
  copies: number;
  currency: string;
  /** Amount of one copy, in hundredths of its currency. */
  hundredths: bigint;
  firstReceivedMs: number;
  lastReceivedMs: number;
}

/** The order store every role uses; one implementation over any SqlConnection. */
export interface OrderStore {
  readonly engine: SqlConnection['engine'];
  /** The format orders are best written in for this store's engine (the first of its connection's rowFormats). */
  readonly orderFormat: RowFormat;
  /** Creates or migrates the schema to the latest version; safe to call on every start. */
  migrate(): Promise<number>;
  schemaVersion(): Promise<number>;
  /**
   * Inserts encoded orders, then their derived rows, then fills the side table for them (fillFingerprints);
   * resolves once all are durable. The arrival ranges of inserts
   * must not overlap (each insert's markers vouch for every order received in its range).
   */
  insert(rows: EncodedRows): Promise<void>;
  /** The orders alone: what an ack waits for. Their derived rows follow with insertDerived. */
  insertOrders(rows: EncodedRows): Promise<void>;
  /**
   * Derived rows (the rollups), one insert per table, each with its marker. After a failure,
   * settle it and call repairDerived: a table's insert may or may not have landed, and only markers can tell.
   * `only` names the tables to insert this time (each table of a batch once: the SKU bound chooses with the
   * key-minute table's); every table when left out. Group commit (and bench:engine-paced's `gap` path) inserts a
   * batch one table at a time this way.
   */
  insertDerived(rows: DerivedRows, only?: readonly string[]): Promise<void>;
  /** See SqlConnection.settleFailedInsert: call before asking what a failed insert stored. */
  settleFailedInsert(error: unknown): Promise<void>;
  /**
   * Totals of every stored row, by currency and channel; or of those received at or before receivedThroughMs,
   * and after receivedAfterMs (the orders table is ordered by arrival, so a recent range reads only its parts).
   */
  totals(receivedThroughMs?: number, receivedAfterMs?: number, opts?: QueryOptions): Promise<TotalsRow[]>;
  /** Per-second sums by paid-at second, currency and channel, for seconds in [fromSecond, toSecond). */
  perSecond(fromSecond: number, toSecond: number): Promise<SecondRow[]>;
  /**
   * Streams the fingerprints of orders received at or after sinceMs, oldest first, in pages,
   * so the de-duplication window can be rebuilt after a restart. Returns how many were read.
   */
  fingerprintsSince(sinceMs: number, onPage: (page: FingerprintPage) => void): Promise<number>;
  /** How many orders were received at or after sinceMs: the size of a fingerprintsSince read, before it starts. */
  ordersReceivedSince(sinceMs: number): Promise<number>;
  /**
   * Which of these fingerprints are stored; keys are `${hi}:${lo}`. With `receivedBetween` (inclusive epoch ms)
   * the orders table itself is asked, which is authoritative (the fingerprint side table is filled from the
   * orders table every few seconds, so it lags it); without it, the side table.
   */
  storedFingerprints(fps: readonly (readonly [number, number])[], receivedBetween?: readonly [number, number]): Promise<Set<string>>;
  /**
   * Ids stored more than once: resends that arrived after the de-duplication window. With
   * receivedSinceMs, only ids with a copy received at or after that instant (the incremental check); with a
   * slice as well, only the fingerprints in slice `index` of `count` equal ranges, so a check can be spread
   * over several short reads instead of one long one (the slices of a count together cover every id).
   */
  duplicateIds(limit: number, receivedSinceMs?: number, slice?: { index: number; count: number }): Promise<DuplicateIdRow[]>;
  /**
   * Puts into each derived table (the rollups; then the side table, with fillFingerprints) the rows of every order received at or after
   * `receivedSinceMs` that no marker of that table vouches for: an orders insert that landed while its derived
   * insert failed or was cut by a crash. The rows are recomputed from the orders table for those arrivals only,
   * with their marker, one insert per table. Only while nothing is being inserted (start-up, or ingest paused).
   * Returns the rows added per table, markers not counted (none when every arrival is covered).
   * With `progress`, the derived tables to check are counted first and each is reported when done.
   * Replicated, it reads this replica as it is, so it first waits (bounded) until the replica has no part of the
   * shard left to fetch, and throws if it still has.
   */
  repairDerived(receivedSinceMs: number, progress?: Progress): Promise<Record<string, number>>;
  /**
   * Fills the fingerprint side table from the orders table, in the engine (INSERT ... SELECT), for every order
   * received in [receivedSinceMs, receivedThroughMs] that no marker of the side table vouches for, each chunk of at
   * most FPS_FILL_ROWS rows with its marker in the same statement (one part: both land or neither). Group commit
   * calls it every few seconds for the arrivals committed since; repairDerived calls it too. Only while no other
   * fill or repair of the same arrivals runs. Replicated and open-ended (no receivedThroughMs: a takeover, a repair),
   * it first waits, bounded, until this replica has no part of its shard left to fetch, as repairDerived does.
   * Returns the rows added (markers not counted).
   */
  fillFingerprints(receivedSinceMs: number, receivedThroughMs?: number): Promise<number>;
  /**
   * Records that a process started using the database at `startedMs`, and says whether the one before it (if
   * any) stopped cleanly: false means it crashed, possibly mid-insert; then `uncleanSinceMs` is the start of the
   * first run since the last clean stop (what a repair must look back to).
   */
  beginRun(startedMs: number): Promise<{ previousStoppedCleanly: boolean; uncleanSinceMs?: number }>;
  /** Records the clean stop of the run begun at `startedMs`. */
  endRun(startedMs: number): Promise<void>;
  /** Per-second sums from the rollup table (cheap over a whole night). */
  rolledSeconds(fromSecond: number, toSecond: number): Promise<SecondRow[]>;
  /**
   * totals() and rolledSeconds() of this node's own shard alone, whatever the mode: a cluster node's own partitions,
   * which its live figures restore from (the other nodes' come over the figures link). On a single node, the same.
   */
  ownTotals(receivedThroughMs?: number, receivedAfterMs?: number, opts?: QueryOptions): Promise<TotalsRow[]>;
  ownRolledSeconds(fromSecond: number, toSecond: number): Promise<SecondRow[]>;
  /**
   * Cluster mode: the totals of the whole cluster's orders (through the Distributed table) per owning node, the
   * owner's index in the cluster file being (fp_lo mod partitions) mod nodes, as domain/cluster-map.ts maps them.
   */
  totalsByOwner(partitions: number, nodes: number): Promise<(TotalsRow & { owner: number })[]>;
  /** Per-currency sums and orders of the per-second rollup (the whole cluster's in cluster mode) before `second`. */
  rolledBefore(second: number): Promise<{ currency: string; hundredths: bigint; orders: number }[]>;
  /** The orders (the whole cluster's in cluster mode) of one paid-at second, in (ts, id) order: a milestone's instant. */
  ordersOfSecond(second: number): Promise<{ ts: number; id: string; currency: string; hundredths: bigint }[]>;
  /**
   * The `limit` keys of a kind (brand, sku, region) with the most GMV, ranked by `weights` (currency -> display
   * rate, as a float: ranking only), over the night or over the paid-at minutes [fromMinute, toMinute).
   * Each key comes with its exact per-currency sums, for the caller to convert exactly.
   */
  topKeys(kind: KeyKind, limit: number, weights: ReadonlyMap<string, number>, minutes?: readonly [number, number]): Promise<KeySums[]>;
  /** Exact per-currency sums of these keys over the night; keys never sold are absent. */
  keySums(kind: KeyKind, keys: readonly string[]): Promise<KeySums[]>;
  /**
   * Cluster mode: null once every shard answers a read of each Distributed table; until then what ClickHouse says
   * is wrong (a shard down, or one whose node has not created its tables yet). Always null for a single node.
   */
  clusterUnready(): Promise<string | null>;
  /**
   * Replicated clusters: the state of this node's replica of its shard, from system.replicas for the orders table;
   * null without replication.
   */
  replicaStatus(): Promise<ReplicaStatus | null>;
  /** Milestones recorded so far, oldest first. */
  milestones(): Promise<MilestoneRow[]>;
  /** Records a milestone crossing; resolves once durable. */
  recordMilestone(row: MilestoneRow): Promise<void>;
  /** What the engine is doing in the background: parts per table and merges (for /metrics and the benchmarks). */
  engineStats(): Promise<EngineStats>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface EngineStats {
  /** Active parts and rows per Gala table. */
  tables: { table: string; parts: number; rows: number }[];
  /** Merges running now, and the rows they read so far. */
  mergesRunning: number;
  mergeRowsRead: number;
  /** Since the engine started: merges begun, rows and uncompressed bytes merged, and the time merges took. */
  mergesStarted: number;
  mergedRows: number;
  mergedBytes: number;
  mergeMs: number;
}

export interface ReplicaStatus {
  /** Seconds this replica is behind the newest part it knows of (0: caught up). */
  absoluteDelayS: number;
  /** Fetches and merges waiting in its replication queue. */
  queueSize: number;
  /** True while it cannot write: its ZooKeeper session is lost (or the server starts without ZooKeeper). */
  readonly: boolean;
  /** Replicas of the shard with a live ZooKeeper session, and all of them. */
  activeReplicas: number;
  totalReplicas: number;
}

export type KeyKind = 'brand' | 'sku' | 'region';

export interface KeySums {
  key: string;
  orders: number;
  byCurrency: { currency: string; hundredths: bigint; orders: number }[];
}

export interface MilestoneRow {
  id: string;
  /** Threshold in hundredths of `currency`, the show's display currency. */
  thresholdHundredths: bigint;
  currency: string;
  /** The paid-at instant of the order that took the running total over the threshold. */
  crossedMs: number;
  /** When the crossing was recorded. */
  recordedMs: number;
  /** The running total (display currency) and order count just after the crossing. */
  totalHundredths: bigint;
  orders: number;
}

export interface FingerprintPage {
  hi: Uint32Array;
  lo: Uint32Array;
  receivedMs: Float64Array;
  count: number;
}
