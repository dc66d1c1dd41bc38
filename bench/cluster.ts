// `npm run bench:cluster`: what a cluster costs per order against one node, on real `gala serve` processes over a
// real ClickHouse cluster (clickhouse-server shards naming one another in remote_servers), with the load generator in
// this process. Four configurations, the order turned by one each run:
// - single: one node, plain --clickhouse-url to the first shard (no cluster file: the product as one node runs it);
// - routed: three nodes over three shards, each order sent straight to its owner (the partition map read from
//   GET /v1/cluster, each id mapped with domain/cluster-map.ts ownerOf), per-owner batches of --batch orders;
// - forwarded: the same cluster, every batch of --batch orders sent to the nodes in turn whatever its ids, so each
//   node commits its third and forwards the other two thirds to their owners;
// - per-node: one node as in single, at the rate each cluster node takes (--rate ÷ --nodes).
// Per run and as medians: CPU per order of the Gala processes (and of the clickhouse-server processes, apart), the
// ratios against the single node (and the per-node one) of the same run, ack to visible on every node (p99), orders/s, and the
// projection for N machines with its assumptions.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { getPriority, loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { ownerOf, partitionOf, partitionsOwnedBy, type ClusterFile } from '../domain/cluster-map.ts';
import { ownersOfView, type ClusterView } from '../protocol/cluster-protocol.ts';
import type { Ack, FrameError } from '../domain/order.ts';
import { startClickHouseCluster, writeClusterFile, type ClickHouseCluster, type WrittenClusterFile } from '../test-support/clickhouse-cluster.ts';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { ZOOKEEPER_WRITES } from '../cluster/shard-leases.ts';
import { fourLetter, startZooKeeper, type ZooKeeper } from '../test-support/zookeeper.ts';
import { countsOf, measureTakeover, type TakeoverResult } from './replicated-takeover.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import { createOrderFrames } from './order-frames.ts';
import { cpuOf } from './proc-stats.ts';
import { median, pct } from './stats.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    nodes: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '1' },
    window: { type: 'string', default: '16' },
    'poll-ms': { type: 'string', default: '20' },
    'node-rate': { type: 'string', default: '250000' },
    project: { type: 'string', default: '3,10' },
    configs: { type: 'string' },
    'slope-rate': { type: 'string', default: '0' },
    idle: { type: 'string', default: '0' },
    replicated: { type: 'boolean', default: false },
    'session-ms': { type: 'string', default: '6000' },
    'clickhouse-nice': { type: 'string', default: '10' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help === true) {
  process.stdout.write(
    'npm run bench:cluster -- [--rate 20000] [--duration 20] [--warmup 5] [--runs 3] [--nodes 3] [--batch 1000] [--connections 1] [--window 16]\n' +
      '  [--poll-ms 20] [--node-rate 250000] [--project 3,10] [--configs single,routed,forwarded,per-node] [--slope-rate 0] [--idle 0] [--clickhouse-nice 10]\n' +
      '--slope-rate R: after the --duration seconds at --rate, the same processes take R orders/s for another --duration seconds\n' +
      '  (after 3 s of settling): the marginal CPU per order is the difference in cores over the difference in orders/s.\n' +
      '--clickhouse-nice N (default 10): every clickhouse-server thread runs N nice levels below this process and its nodes (at most\n' +
      '  nice 19): the servers take the cores the nodes leave, as if they had machines of their own; 0: the same priority.\n' +
      '--idle S: first, an idle single node and an idle cluster for S seconds each: CPU of every process, no orders. --runs 0 stops there.\n' +
      '--replicated [--session-ms 6000]: issue 15. One ZooKeeper, 2 shards x 2 replicas of clickhouse-server (quorum 2) beside 2 plain\n' +
      '  shards (--nodes is 2); configurations (default) routed,replicated, the order turned by one each run:\n' +
      '  routed: 2 nodes over the plain shards (unreplicated); replicated: 3 nodes, n1 on s1r1, n2 on s2r1, n3 on s2r2 (standby of\n' +
      '  shard 2; s1r2 gets its tables from `gala migrate`), each order sent to its shard\'s lease holder by the published map.\n' +
      '  Cost of replication: Gala, clickhouse-server and ZooKeeper CPU per order and ack p99, replicated against routed, same run,\n' +
      '  same --rate. Coordination load over the measured seconds: ZooKeeper write transactions (the zxid from `srvr`), Gala\'s own\n' +
      '  (gala_zookeeper_operations_total), the nodes\' inserts (gala_ingest_inserts_total), per second and per insert, and the\n' +
      '  projection to 100,000 orders/s. Takeover, after that on the same processes: orders streamed at --rate, n2 (shard 2\'s\n' +
      '  owner) killed with kill -9, the time from the kill to the first ack of shard 2\'s orders (the client\'s view) and the new\n' +
      '  holder\'s lastTakeover.tookMs (claim + rebuild), with leases of --session-ms (ZooKeeper admits 1000-10000).\n',
  );
  process.exit(0);
}
/** Orders/s offered in total, whatever the configuration. */
const RATE = Number(values.rate);
/** Node.js flags for every Gala node, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" (as bench:ingest). */
const NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
const DURATION = Number(values.duration);
/** Seconds at the rate before anything counts: fresh processes' JIT, first parts, links settling. */
const WARMUP = Number(values.warmup);
const RUNS = Number(values.runs);
/** Issue 15: a replicated cluster beside the plain one (see --help). */
const REPLICATED = values.replicated === true || (values.configs ?? '').split(',').includes('replicated');
/** Nodes (and plain shards) of the unreplicated cluster: 2 with --replicated, as the replicated cluster's shards. */
const NODES = REPLICATED ? 2 : Number(values.nodes);
const BATCH = Number(values.batch);
/** WebSocket connections to each node the load generator sends to. */
const CONNS = Number(values.connections);
/** Batches in flight per connection. */
const WINDOW = Number(values.window);
/** Pause between two polls of a node's GET /v1/stats (each poll carries If-None-Match: mostly a 304). */
const POLL_MS = Number(values['poll-ms']);
/** Orders/s one node reaches alone on its machine, for the projection (default: bench:ingest's figure). */
const NODE_RATE = Number(values['node-rate']);
const PROJECT = values.project!.split(',').map(Number);
/** A second rate for the same processes after the first (0: none): the slope gives the marginal CPU per order. */
const SLOPE_RATE = Number(values['slope-rate']);
/** Seconds an idle single node and an idle cluster are measured for first (0: not at all). */
const IDLE = Number(values.idle);
const SESSION_MS = Number(values['session-ms']);
/**
 * Nice levels the clickhouse-servers run below this process and its nodes (0: the same priority). On 2 shared cores
 * at one priority a node's event loop waits for a core behind three servers' threads (docs/benchmarks.md, 3 December
 * 2026): the bench models shards on machines of their own, so by default the servers take what the nodes leave.
 */
const CH_NICE = Number(values['clickhouse-nice']);
if (!(Number.isInteger(CH_NICE) && CH_NICE >= 0 && CH_NICE <= 39)) throw new Error(`bench:cluster: --clickhouse-nice = ${values['clickhouse-nice']}: a whole number of nice levels, 0 to 39`);
if (REPLICATED && !(Number.isInteger(SESSION_MS) && SESSION_MS >= 1000 && SESSION_MS <= 10_000)) throw new Error(`bench:cluster: --session-ms = ${values['session-ms']}: 1000 to 10000 (what the bench's ZooKeeper admits)`);
for (const [name, v, min] of [['rate', RATE, 1], ['duration', DURATION, 1], ['warmup', WARMUP, 0], ['runs', RUNS, 0], ['slope-rate', SLOPE_RATE, 0], ['idle', IDLE, 0], ['nodes', NODES, 2], ['batch', BATCH, 1], ['connections', CONNS, 1], ['window', WINDOW, 1], ['poll-ms', POLL_MS, 1], ['node-rate', NODE_RATE, 1]] as const) {
  if (!Number.isFinite(v) || v < min) throw new Error(`bench:cluster: --${name} = ${v}: a number of at least ${min}`);
}
if (BATCH > 10_000) throw new Error('bench:cluster: --batch: at most 10,000 orders (the contract\'s limit)');
if (PROJECT.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('bench:cluster: --project: node counts, e.g. 3,10');

/**
 * `per-node`: one node at --rate ÷ --nodes, what each cluster node takes: a node's fixed costs (a group commit's
 * inserts, its reads and beats) are spread over fewer orders at a lower rate, and this tells that apart from what
 * the cluster adds.
 */
type Config = 'single' | 'routed' | 'forwarded' | 'per-node' | 'replicated';
const ALL_CONFIGS: readonly Config[] = ['single', 'routed', 'forwarded', 'per-node', 'replicated'];
const CONFIGS: readonly Config[] = (values.configs ?? (REPLICATED ? 'routed,replicated' : 'single,routed,forwarded,per-node')).split(',').map((c) => {
  if (!(ALL_CONFIGS as readonly string[]).includes(c)) throw new Error(`bench:cluster: --configs: ${c} is none of ${ALL_CONFIGS.join(', ')}`);
  return c as Config;
});
if (!REPLICATED && !CONFIGS.includes('single')) throw new Error('bench:cluster: --configs must include single (the ratios are taken against it)');
const rateOf = (c: Config, rate = RATE) => (c === 'per-node' ? rate / NODES : rate);
const show = loadShow(DEFAULT_SHOW_FILE);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- what this bench starts, so that every exit (error, Ctrl-C) stops it ----

const root = mkdtempSync(join(tmpdir(), 'gala-bench-cluster-'));
let chCluster: ClickHouseCluster | null = null;
/** The cluster while it starts, so that a stop then waits for it and removes it too. */
let chStarting: Promise<ClickHouseCluster> | null = null;
const galas = new Set<GalaProcess>();
/** --replicated: the ZooKeeper and the 2 x 2 replicated servers, each while it starts too. */
let zkStarting: Promise<ZooKeeper> | null = null;
let replStarting: Promise<ClickHouseCluster> | null = null;
let zkServer: ZooKeeper | null = null;
let replCluster: ClickHouseCluster | null = null;
const clusterFiles = new Set<WrittenClusterFile>();

/** Gala processes started with a data dir under `root` that no handle reached (a start that timed out). */
function strayGalaPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('gala.mjs') && cmd.includes(root)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function stopGala(p: GalaProcess): Promise<void> {
  p.proc.kill('SIGTERM');
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 15_000);
  await p.exited;
  clearTimeout(timer);
  galas.delete(p);
}

let cleaning: Promise<void> | null = null;
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const p of galas) p.proc.kill('SIGKILL');
    await Promise.all([...galas].map((p) => p.exited));
    for (const pid of strayGalaPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await (chCluster ?? (await chStarting?.catch(() => null)))?.cleanup();
    await (replCluster ?? (await replStarting?.catch(() => null)))?.cleanup();
    await (zkServer ?? (await zkStarting?.catch(() => null)))?.cleanup();
    for (const f of clusterFiles) f.cleanup();
    rmSync(root, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\nbench:cluster: ${sig}, stopping everything it started\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}
// An error nothing awaits (a socket's handler, a poll) ends the bench the same way, after stopping what it started;
// once stopping, the errors of what is being stopped (a poll of a node just killed) are expected and ignored.
const fail = (err: unknown) => {
  if (cleaning !== null) return;
  process.stderr.write(`bench:cluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void cleanupAll().finally(() => process.exit(1));
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

// ---- /proc ----

const cpuSeconds = (pid: number): number => {
  try {
    const c = cpuOf(`/proc/${pid}/stat`);
    return c.user + c.system;
  } catch {
    return Number.NaN;
  }
};

/**
 * A thread's time on a core and waiting for one, from /proc/<pid>/task/<tid>/schedstat (nanoseconds): the node's main
 * thread, which runs its event loop. NaN where the kernel keeps no schedstats (or the process is gone).
 */
function mainThreadSched(pid: number): { ranNs: number; waitedNs: number } {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { ranNs: ran ?? Number.NaN, waitedNs: waited ?? Number.NaN };
  } catch {
    return { ranNs: Number.NaN, waitedNs: Number.NaN };
  }
}

/** --clickhouse-nice: every thread of the cluster's clickhouse-servers (those they start later inherit it). */
function lowerClickHouse(cluster: ClickHouseCluster): void {
  if (CH_NICE === 0) return;
  const nice = Math.min(19, getPriority() + CH_NICE);
  for (const s of cluster.servers) {
    const pid = clickHousePid(s.dir);
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        setPriority(Number(tid), nice);
      } catch {
        // a thread gone meanwhile
      }
    }
  }
}

/** The clickhouse-server process started with `dir`'s config (the test rig gives each server its own dir). */
function clickHousePid(dir: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`--config-file=${join(dir, 'config.xml')}`)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`bench:cluster: no clickhouse-server process with its config in ${dir}`);
}

const CURRENCIES = [...show.rates.keys()];

// ---- ClickHouse: a database per configuration run ----

async function chCommand(url: string, sql: string): Promise<void> {
  const res = await fetch(`${url}/?query=${encodeURIComponent(sql)}`, { method: 'POST' });
  if (!res.ok) throw new Error(`bench:cluster: ${sql} on ${url}: ${res.status} ${await res.text()}`);
}

// ---- one configuration run ----

interface Node {
  id: string;
  httpPort: number;
  ingestPort: number;
  pid: number;
}

interface Pending {
  batch: string;
  body: Buffer | string;
  orders: number;
  cents: readonly number[];
  node: number;
  sentAt: number;
}

interface ConfigResult {
  config: Config;
  /** Orders acked per second over the measured seconds. */
  ordersPerSecond: number;
  /** µs of CPU of every Gala node process per order acked, over the measured seconds. */
  cpuPerOrderUs: number;
  /** The same per node, in cores (CPU seconds per second). */
  nodeCores: number[];
  /** µs of CPU of every clickhouse-server process (all shards, also idle ones) per order acked. */
  chCpuPerOrderUs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** For each ack after the warm-up, until every node's GET /v1/stats counts at least the orders acked by then. */
  visibleP50Ms: number;
  visibleP99Ms: number;
  /** Batches generated but not sent when the measured seconds ended: 0 when the rate was sustained. */
  backlogBatches: number;
  /** Answers `unavailable` over the whole run (each batch then sent again). */
  unavailable: number;
  /** Every node's orders and gmv equal to what was acked, exactly, at the end. */
  exact: boolean;
  loadCores: number;
  /**
   * With --slope-rate: the same processes' orders/s, Gala cores and ClickHouse cores at the second rate, and the
   * batches still waiting when it ended; the marginal µs per order is the difference in cores over that in orders/s.
   */
  slope: { ordersPerSecond: number; cores: number; chCores: number; backlogBatches: number } | null;
  marginalUs: number | null;
  chMarginalUs: number | null;
  /** --replicated: the ZooKeeper server's CPU per order acked (µs); 0 for a configuration that does not use it. */
  zkCpuPerOrderUs: number;
  /** Cluster configurations: the measured seconds' coordination load and inserts (see coordinationCounters). */
  coordination: { idleZkWritesPerSecond: number | null; zkWritesPerSecond: number | null; galaWritesPerSecond: number; galaOpsPerSecond: number; insertsPerSecond: number; ordersPerInsert: number } | null;
  /** replicated: the takeover measured after the rest, on the same processes. */
  takeover: TakeoverResult | null;
}

/** The clickhouse-servers a configuration writes to: the replicated ones, or the plain shards. */
const clusterOf = (config: Config): ClickHouseCluster => (config === 'replicated' ? replCluster! : chCluster!);

async function startNodes(config: Config, db: string, dir: string): Promise<{ nodes: Node[]; procs: GalaProcess[] }> {
  const cluster = chCluster!;
  const env = {
    // Every poll of /v1/stats comes from this one process.
    GALA_PUBLIC_RATE: '0',
    // The window sized for the orders each node owns.
    GALA_DEDUP_EXPECTED_RATE: String(config === 'single' ? RATE : Math.ceil(RATE / NODES)),
  };
  if (config === 'replicated') return startReplicatedNodes(db, dir, env);
  // A node that finishes starting after a stop began is stopped at once (the stop has already swept the others).
  const track = (p: Promise<GalaProcess>) =>
    p.then((g) => {
      if (cleaning !== null) g.proc.kill('SIGKILL');
      else galas.add(g);
      return g;
    });
  if (config === 'single' || config === 'per-node') {
    const p = await track(startGalaProcess(['--clickhouse-url', `${cluster.urls[0]}/${db}`, '--data', join(dir, 'n1')], env, NODE_ARGS));
    return { nodes: [{ id: 'single', httpPort: p.httpPort, ingestPort: p.ingestPort, pid: p.proc.pid! }], procs: [p] };
  }
  const written = await writeClusterFile({ clickhouseCluster: cluster.name, clickhouseUrls: cluster.urls.map((u) => `${u}/${db}`) });
  clusterFiles.add(written);
  const settled = await Promise.allSettled(written.cluster.nodes.map((n) => track(startGalaProcess(['--cluster', written.file, '--node', n.id, '--data', join(dir, n.id)], env, NODE_ARGS))));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  const procs = settled.map((s) => (s as PromiseFulfilledResult<GalaProcess>).value);
  // Every node sees every other up (its links connected) before any order goes.
  for (const p of procs) {
    await until(`node on ${p.httpPort} sees every node up`, async () => (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/cluster`)).json()) as { nodes: { state: string }[] }, (b) => b.nodes.every((n) => n.state === 'up'), { timeoutMs: 60_000 });
  }
  return { nodes: written.cluster.nodes.map((n, i) => ({ id: n.id, httpPort: n.httpPort, ingestPort: n.ingestPort, pid: procs[i]!.proc.pid! })), procs };
}

/**
 * --replicated: n1 on s1r1, n2 on s2r1, n3 on s2r2 (shard 2's standby), leases of SESSION_MS under a root of the
 * run's own; s1r2 has no node and gets its tables from `gala migrate` (without them shard 1 has no quorum).
 */
async function startReplicatedNodes(db: string, dir: string, env: Record<string, string>): Promise<{ nodes: Node[]; procs: GalaProcess[] }> {
  const rc = replCluster!;
  const written = await writeClusterFile({
    clickhouseCluster: rc.name,
    nodes: [{ shard: 1, replica: 1 }, { shard: 2, replica: 1 }, { shard: 2, replica: 2 }],
    cluster: { replicaOf: (s, r) => ({ url: `${rc.replicaOf(s, r).url}/${db}` }) },
    zookeeper: zkServer!.connectString,
    sessionTimeoutMs: SESSION_MS,
    root: `/gala/bench/${db}`,
  });
  clusterFiles.add(written);
  const bin = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));
  const migrated = spawnSync(process.execPath, [bin, 'migrate', '--cluster', written.file, '--clickhouse', `${rc.replicaOf(1, 2).url}/${db}`], { encoding: 'utf8', timeout: 120_000 });
  if (migrated.status !== 0) throw new Error(`bench:cluster: gala migrate of s1r2: ${migrated.stderr}${migrated.stdout}`);
  const track = (p: Promise<GalaProcess>) =>
    p.then((g) => {
      if (cleaning !== null) g.proc.kill('SIGKILL');
      else galas.add(g);
      return g;
    });
  const settled = await Promise.allSettled(written.cluster.nodes.map((n) => track(startGalaProcess(['--cluster', written.file, '--node', n.id, '--data', join(dir, n.id)], env, NODE_ARGS))));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  const procs = settled.map((s) => (s as PromiseFulfilledResult<GalaProcess>).value);
  for (const p of procs) {
    await until(`node on ${p.httpPort} sees every node up and both shards served by their preferred owners`, async () => (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/cluster`)).json()) as ClusterView, (b) => b.nodes.every((n) => n.state === 'up') && (b.shards ?? []).every((s) => s.serving && s.owner === `n${s.shard}`), { timeoutMs: 90_000 });
  }
  return { nodes: written.cluster.nodes.map((n, i) => ({ id: n.id, httpPort: n.httpPort, ingestPort: n.ingestPort, pid: procs[i]!.proc.pid! })), procs };
}

/** ZooKeeper's last transaction id (`srvr`): it grows by one per write transaction of any client. */
async function zxid(): Promise<number> {
  const out = await fourLetter(zkServer!.host, zkServer!.port, 'srvr');
  const m = /Zxid: 0x([0-9a-f]+)/i.exec(out);
  if (m === null) throw new Error(`bench:cluster: no Zxid in ZooKeeper's srvr answer: ${out.slice(0, 200)}`);
  // The low 32 bits count transactions within the leader's epoch, which does not change while the server runs.
  return Number(BigInt(`0x${m[1]}`) & 0xffffffffn);
}

/** Summed over nodes: ZooKeeper writes and all requests Gala's leases issued, and inserts that succeeded. */
async function coordinationCounters(nodes: readonly Node[]): Promise<{ galaWrites: number; galaOps: number; inserts: number; insertRows: number }> {
  const out = { galaWrites: 0, galaOps: 0, inserts: 0, insertRows: 0 };
  for (const n of nodes) {
    const m = await (await fetch(`http://127.0.0.1:${n.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
    for (const x of m.matchAll(/^gala_zookeeper_operations_total\{op="(\w+)"\} (\S+)$/gm)) {
      out.galaOps += Number(x[2]);
      if ((ZOOKEEPER_WRITES as readonly string[]).includes(x[1]!)) out.galaWrites += Number(x[2]);
    }
    for (const x of m.matchAll(/^gala_ingest_inserts_total\{result="ok"\} (\S+)$/gm)) out.inserts += Number(x[1]);
    for (const x of m.matchAll(/^gala_ingest_insert_rows_sum (\S+)$/gm)) out.insertRows += Number(x[1]);
  }
  return out;
}

/**
 * The owner index of an id, from the map the first node publishes on GET /v1/cluster (unreplicated: checked against
 * ownerOf's). Replicated, owners change at takeover: `refresh` reads the map again (after an `unavailable`), and an
 * id whose partition nobody serves goes to any node (which answers it unavailable until the new owner serves).
 */
async function smartClientMap(node: Node, nodes: Node[]): Promise<{ ownerIndex: (id: string) => number; refresh: () => void }> {
  const read = async () => (await (await fetch(`http://127.0.0.1:${node.httpPort}/v1/cluster`)).json()) as ClusterView;
  const body = await read();
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  if (body.shards !== undefined) {
    if (body.mapping.partition !== 'fingerprintLo mod partitions' || body.mapping.shard !== 'partition mod shards + 1') {
      throw new Error(`bench:cluster: GET /v1/cluster publishes a mapping this client does not know: ${JSON.stringify(body.mapping)}`);
    }
    let owners = ownersOfView(body);
    let reading = false;
    let spread = 0;
    return {
      ownerIndex: (id) => index.get(owners(partitionOf(id, body.partitions)) ?? '') ?? spread++ % nodes.length,
      refresh: () => {
        if (reading) return;
        reading = true;
        void read()
          .then((b) => (owners = ownersOfView(b)))
          .catch(() => {})
          .finally(() => (reading = false));
      },
    };
  }
  if (body.mapping.partition !== 'fingerprintLo mod partitions' || body.mapping.owner !== 'nodes[partition mod nodes.length]') {
    throw new Error(`bench:cluster: GET /v1/cluster publishes a mapping this client does not know: ${JSON.stringify(body.mapping)}`);
  }
  const file: ClusterFile = { clickhouseCluster: body.clickhouseCluster, partitions: body.partitions, replication: null, nodes: body.nodes.map((n) => ({ id: n.id, host: n.host, httpPort: n.httpPort, ingestPort: n.ingestPort, clickhouseUrl: 'http://unused' })) };
  for (const n of body.nodes) {
    if (JSON.stringify(partitionsOwnedBy(file, n.id)) !== JSON.stringify(n.partitions)) throw new Error(`bench:cluster: node ${n.id}'s published partitions differ from ownerOf's`);
  }
  return { ownerIndex: (id) => index.get(ownerOf(file, id).id)!, refresh: () => {} };
}

async function runConfig(config: Config, run: number): Promise<ConfigResult> {
  const cluster = clusterOf(config);
  const db = `bench_r${run}_${config.replace('-', '_')}`;
  const dir = join(root, db);
  for (const url of cluster.urls) await chCommand(url, `CREATE DATABASE IF NOT EXISTS ${db}`);
  const { nodes, procs } = await startNodes(config, db, dir);
  const chPids = cluster.servers.map((s) => clickHousePid(s.dir));
  const zkPid = config === 'replicated' ? zkServer!.pid : null;
  // Replicated: ZooKeeper's writes with the cluster idle (leases held, no orders), over 5 s.
  let idleZkWrites: number | null = null;
  if (zkPid !== null) {
    const i0 = { t: performance.now(), zxid: await zxid() };
    await sleep(5000);
    idleZkWrites = round2(((await zxid()) - i0.zxid) / ((performance.now() - i0.t) / 1000));
  }
  const orders = createOrderFrames(BATCH, show);
  const smart = config === 'routed' || config === 'replicated' ? await smartClientMap(nodes[0]!, nodes) : null;
  const ownerIndex = smart?.ownerIndex ?? null;

  // Connections: CONNS to each node this configuration sends to.
  const conns = await Promise.all(nodes.flatMap((n, node) => Array.from({ length: CONNS }, () => new Promise<{ ws: WebSocket; node: number; inflight: Map<string, Pending> }>((resolve, reject) => {
    // A zero masking key, as bench:ingest: ws then skips XOR-ing every byte in JavaScript. Still a masked frame.
    const ws = new WebSocket(`ws://127.0.0.1:${n.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` }, perMessageDeflate: false, generateMask: () => undefined });
    ws.once('open', () => resolve({ ws, node, inflight: new Map() })).once('error', reject);
  }))));
  const queues: Pending[][] = nodes.map(() => []);

  const ackLatency: number[] = [];
  const acks: { t: number; cum: number }[] = [];
  const ackedCents = CURRENCIES.map(() => 0);
  let accepted = 0;
  let inexact = '';
  /** Batches answered `unavailable` (sent again after retryAfterMs). */
  let unavailable = 0;
  let phase: 'warmup' | 'measure' | 'settle' | 'drain' = 'warmup';

  // Polls of every node's /v1/stats, for ack to visible and the exact check at the end.
  const polls: { t: number; orders: number; rttMs: number }[][] = nodes.map(() => []);
  const last: { orders: number; gmv: string }[] = nodes.map(() => ({ orders: 0, gmv: '0.00' }));
  let polling = true;
  const pollers = nodes.map(async (n, k) => {
    let etag = '';
    while (polling) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${n.httpPort}/v1/stats`, { headers: etag === '' ? {} : { 'If-None-Match': etag } });
      if (res.status === 200) {
        etag = res.headers.get('etag') ?? '';
        const s = (await res.json()) as { orders: number; gmv: string };
        last[k] = { orders: s.orders, gmv: s.gmv };
      } else {
        await res.arrayBuffer();
        if (res.status !== 304) throw new Error(`bench:cluster: GET /v1/stats on ${n.id}: ${res.status}`);
      }
      polls[k]!.push({ t, orders: last[k]!.orders, rttMs: performance.now() - t });
      await sleep(POLL_MS);
    }
  });

  const pump = () => {
    for (const c of conns) {
      const q = queues[c.node]!;
      while (c.inflight.size < WINDOW && q.length > 0) {
        const p = q.shift()!;
        p.sentAt = performance.now();
        c.inflight.set(p.batch, p);
        c.ws.send(p.body, { binary: false });
      }
    }
  };
  for (const c of conns) {
    c.ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      const now = performance.now();
      const p = c.inflight.get(a.batch!);
      if (p === undefined) throw new Error(`bench:cluster: an answer to a batch not in flight: ${String(d).slice(0, 200)}`);
      c.inflight.delete(a.batch!);
      if ('accepted' in a) {
        if (a.accepted !== p.orders && inexact === '') inexact = `batch ${p.batch}: ${a.accepted} of ${p.orders} accepted (${a.duplicates} duplicates, ${a.rejected.length} rejected)`;
        accepted += a.accepted;
        p.cents.forEach((v, k) => (ackedCents[k]! += v));
        if (phase === 'measure') {
          ackLatency.push(now - p.sentAt);
          acks.push({ t: now, cum: accepted });
        }
      } else if (a.error === 'unavailable') {
        unavailable++;
        smart?.refresh();
        setTimeout(() => {
          queues[p.node]!.unshift(p);
          pump();
        }, a.retryAfterMs ?? 100);
      } else {
        throw new Error(`bench:cluster: unexpected answer ${JSON.stringify(a)}`);
      }
      pump();
    });
  }

  // The offered load: frames due at RATE orders/s since t0. Routed: each frame's orders go into per-owner batches,
  // each sent to its owner once it holds BATCH orders. Single and forwarded: each frame is one batch, to the nodes
  // in turn.
  const owned: { texts: string[]; cents: number[] }[] = nodes.map(() => ({ texts: [], cents: CURRENCIES.map(() => 0) }));
  let routedSeq = 0;
  const sendOwned = (k: number) => {
    const o = owned[k]!;
    if (o.texts.length === 0) return;
    const batch = `r-${k}-${routedSeq++}`;
    queues[k]!.push({ batch, body: `{"batch":"${batch}","orders":[${o.texts.join(',')}]}`, orders: o.texts.length, cents: o.cents, node: k, sentAt: 0 });
    owned[k] = { texts: [], cents: CURRENCIES.map(() => 0) };
  };
  let next = 0;
  // Frames due: the offered rate integrated over time, so that the rate can change mid-run (--slope-rate).
  let rate = rateOf(config);
  let dueFrames = 0;
  let tLast = performance.now();
  const generate = () => {
    if (phase === 'drain') return;
    const now = performance.now();
    dueFrames += (rate * (now - tLast)) / 1000 / BATCH;
    tLast = now;
    const due = Math.floor(dueFrames);
    for (; next < due; next++) {
      if (ownerIndex === null) {
        queues[next % nodes.length]!.push({ batch: `f-${String(next).padStart(12, '0')}`, body: orders.frame(next), orders: BATCH, cents: orders.frameCents, node: next % nodes.length, sentAt: 0 });
        continue;
      }
      for (let i = 0; i < BATCH; i++) {
        const id = orders.id(next, i);
        const k = ownerIndex(id);
        const o = owned[k]!;
        o.texts.push(orders.order(id, i));
        o.cents[orders.currency[i]!]! += orders.cents[i]!;
        if (o.texts.length >= BATCH) sendOwned(k);
      }
    }
    pump();
  };
  const timer = setInterval(generate, 2);

  await sleep(WARMUP * 1000);
  phase = 'measure';
  const clustered = nodes.length > 1;
  const c0 = clustered ? await coordinationCounters(nodes) : null;
  const z0 = zkPid === null ? null : { zxid: await zxid(), cpu: cpuSeconds(zkPid) };
  const w0 = nodes.map((n) => mainThreadSched(n.pid));
  const m0 = { t: performance.now(), accepted, nodes: nodes.map((n) => cpuSeconds(n.pid)), ch: chPids.map(cpuSeconds), load: process.cpuUsage() };
  await sleep(DURATION * 1000);
  const w1 = nodes.map((n) => mainThreadSched(n.pid));
  const m1 = { t: performance.now(), accepted, nodes: nodes.map((n) => cpuSeconds(n.pid)), ch: chPids.map(cpuSeconds), load: process.cpuUsage(m0.load) };
  const z1 = zkPid === null ? null : { zxid: await zxid(), cpu: cpuSeconds(zkPid) };
  const c1 = clustered ? await coordinationCounters(nodes) : null;
  // The same processes at the second rate: the slope between the two is the marginal CPU per order.
  let slope: ConfigResult['slope'] = null;
  if (SLOPE_RATE > 0) {
    phase = 'settle';
    generate();
    rate = rateOf(config, SLOPE_RATE);
    await sleep(3000);
    const s0 = { t: performance.now(), accepted, nodes: nodes.map((n) => cpuSeconds(n.pid)), ch: chPids.map(cpuSeconds) };
    await sleep(DURATION * 1000);
    const sec = (performance.now() - s0.t) / 1000;
    const cores = nodes.reduce((t, n, k) => t + cpuSeconds(n.pid) - s0.nodes[k]!, 0) / sec;
    const chCores = chPids.reduce((t, pid, k) => t + cpuSeconds(pid) - s0.ch[k]!, 0) / sec;
    slope = { ordersPerSecond: Math.round((accepted - s0.accepted) / sec), cores: round2(cores), chCores: round2(chCores), backlogBatches: queues.reduce((t, q) => t + q.length, 0) };
  }
  phase = 'drain';
  clearInterval(timer);
  const backlogBatches = queues.reduce((s, q) => s + q.length, 0);
  // What the routed client still holds goes out too, so that every generated order is acked and counted.
  if (ownerIndex !== null) nodes.forEach((_, k) => sendOwned(k));
  pump();
  await until('every batch acked', () => conns.every((c) => c.inflight.size === 0) && queues.every((q) => q.length === 0), {
    timeoutMs: 120_000,
    detail: () => ({ inFlight: conns.map((c) => [...c.inflight.keys()].slice(0, 5)), queued: queues.map((q) => q.length), unavailable }),
  });
  // Every node's figures reach every acked order (or the check below says they did not).
  const gmv = orders.gmvOf(ackedCents);
  await until('every node counts every acked order', () => last.every((l) => l.orders >= accepted), { timeoutMs: 10_000 }).catch(() => {});
  polling = false;
  await Promise.all(pollers);
  for (const c of conns) c.ws.close();
  const exact = inexact === '' && last.every((l) => l.orders === accepted && l.gmv === gmv);
  if (!exact) process.stdout.write(`  NOT EXACT: ${inexact || `acked ${accepted} orders, ${gmv}; nodes ${JSON.stringify(last)}`}\n`);

  // Ack to visible on every node: for each ack, the first poll of each node sent after it whose count includes
  // every order acked by then; the slowest node's.
  // For the acks over 250 ms: which node was the slowest, and whether its poll before the one that saw them was
  // itself answered late (over 100 ms: the node's event loop was held up, not its figures).
  const visible: number[] = [];
  const at = nodes.map(() => 0);
  const tail = nodes.map(() => ({ slowest: 0, afterLatePoll: 0 }));
  for (const a of acks) {
    let worst = 0;
    let worstK = 0;
    for (let k = 0; k < nodes.length; k++) {
      const ps = polls[k]!;
      while (at[k]! < ps.length && (ps[at[k]!]!.t < a.t || ps[at[k]!]!.orders < a.cum)) at[k]!++;
      const v = at[k]! < ps.length ? ps[at[k]!]!.t - a.t : Number.POSITIVE_INFINITY;
      if (v > worst) [worst, worstK] = [v, k];
    }
    visible.push(worst);
    if (worst > 250) {
      tail[worstK]!.slowest++;
      if ((polls[worstK]![at[worstK]! - 1]?.rttMs ?? 0) > 100) tail[worstK]!.afterLatePoll++;
    }
  }

  // Where each node's time went, to tell a slow storage from a starved node: its inserts, forwards and reads; how
  // long its main thread waited for a core against how long it ran; its answers to the polls.
  const seconds = (m1.t - m0.t) / 1000;
  for (const [k, n] of nodes.entries()) {
    const rtt = polls[k]!.map((p) => p.rttMs);
    const ranMs = (w1[k]!.ranNs - w0[k]!.ranNs) / 1e6;
    const waitedMs = (w1[k]!.waitedNs - w0[k]!.waitedNs) / 1e6;
    process.stdout.write(
      `  ${n.id}: ${await nodeDiagnosis(n)}; main thread ran ${Math.round(ranMs / seconds)} ms/s and waited for a core ${Math.round(waitedMs / seconds)} ms/s; ` +
        `/v1/stats answered in p50 ${pct(rtt, 50).toFixed(1)} / p99 ${pct(rtt, 99).toFixed(0)} / max ${Math.round(Math.max(...rtt))} ms; ` +
        `slowest node for ${tail[k]!.slowest} acks visible after 250 ms (${tail[k]!.afterLatePoll} of them behind a poll answered after 100 ms)\n`,
    );
  }
  // Replicated, on the same processes: shard 2's owner killed mid-stream (ids from frame 10^9 on, unlike the above).
  let takeover: TakeoverResult | null = null;
  if (config === 'replicated') {
    const before = await countsOf(nodes);
    takeover = await measureTakeover({
      nodes,
      victim: 'n2',
      shard: 2,
      kill: () => procs[1]!.proc.kill('SIGKILL'),
      show,
      rate: RATE,
      batch: BATCH,
      window: WINDOW,
      beforeMs: 3000,
      afterMs: 2000,
      firstFrame: 1_000_000_000,
    });
    const survivors = nodes.filter((n) => n.id !== 'n2');
    const want = before.filter((_, k) => nodes[k]!.id !== 'n2').map((b) => b + takeover!.stored);
    const got = await until('every surviving node counts every order stored', () => countsOf(survivors), (c) => c.every((v, k) => v === want[k]), { timeoutMs: 20_000 }).catch(() => null);
    if (got === null) process.stdout.write(`  TAKEOVER NOT EXACT: want ${JSON.stringify(want)}, nodes ${JSON.stringify(await countsOf(survivors))}\n`);
    process.stdout.write(`  takeover: ${JSON.stringify({ ...takeover, exact: got !== null })}\n`);
  }
  await Promise.all(procs.map(stopGala));
  for (const url of cluster.urls) await chCommand(url, `DROP DATABASE IF EXISTS ${db}`);
  rmSync(dir, { recursive: true, force: true });

  const acked = m1.accepted - m0.accepted;
  const nodeCpu = nodes.map((_, k) => m1.nodes[k]! - m0.nodes[k]!);
  const chCpu = chPids.reduce((s, _, k) => s + m1.ch[k]! - m0.ch[k]!, 0);
  const r: ConfigResult = {
    config,
    ordersPerSecond: Math.round(acked / seconds),
    cpuPerOrderUs: round2((nodeCpu.reduce((s, v) => s + v, 0) * 1e6) / acked),
    nodeCores: nodeCpu.map((c) => round2(c / seconds)),
    chCpuPerOrderUs: round2((chCpu * 1e6) / acked),
    ackP50Ms: Math.round(pct(ackLatency, 50)),
    ackP99Ms: Math.round(pct(ackLatency, 99)),
    visibleP50Ms: Math.round(pct(visible, 50)),
    visibleP99Ms: Math.round(pct(visible, 99)),
    backlogBatches,
    unavailable,
    exact,
    loadCores: round2((m1.load.user + m1.load.system) / 1e6 / seconds),
    slope,
    marginalUs: null,
    chMarginalUs: null,
    zkCpuPerOrderUs: z0 === null || z1 === null ? 0 : round2(((z1.cpu - z0.cpu) * 1e6) / acked),
    coordination: c0 === null || c1 === null ? null : {
      idleZkWritesPerSecond: idleZkWrites,
      zkWritesPerSecond: z0 === null || z1 === null ? null : round2((z1.zxid - z0.zxid) / seconds),
      galaWritesPerSecond: round2((c1.galaWrites - c0.galaWrites) / seconds),
      galaOpsPerSecond: round2((c1.galaOps - c0.galaOps) / seconds),
      insertsPerSecond: round2((c1.inserts - c0.inserts) / seconds),
      ordersPerInsert: Math.round((c1.insertRows - c0.insertRows) / Math.max(1, c1.inserts - c0.inserts)),
    },
    takeover,
  };
  // A slope means something only between two windows that each took what was offered: a window catching up on a
  // backlog (or falling behind) acks at another rate than offered, with other group sizes.
  const steady = (acked: number, offered: number, backlog: number) => backlog === 0 && Math.abs(acked - offered) <= 0.05 * offered;
  if (slope !== null && steady(r.ordersPerSecond, rateOf(config), backlogBatches) && steady(slope.ordersPerSecond, rateOf(config, SLOPE_RATE), slope.backlogBatches)) {
    const dRate = slope.ordersPerSecond - r.ordersPerSecond;
    r.marginalUs = round2(((slope.cores - nodeCpu.reduce((t, v) => t + v, 0) / seconds) * 1e6) / dRate);
    r.chMarginalUs = round2(((slope.chCores - chCpu / seconds) * 1e6) / dRate);
  }
  process.stdout.write(`run ${run} ${config}: ${JSON.stringify(r)}\n`);
  return r;
}

/** A node's inserts (count, mean rows and seconds), forwards (count, mean seconds) and busiest storage calls. */
async function nodeDiagnosis(n: Node): Promise<string> {
  const m = await (await fetch(`http://127.0.0.1:${n.ingestPort}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const sum = (re: RegExp) => [...m.matchAll(re)].reduce((s, x) => s + Number(x[1]), 0);
  const inserts = sum(/^gala_ingest_insert_seconds_count (\S+)$/gm);
  const rows = sum(/^gala_ingest_insert_rows_sum (\S+)$/gm);
  const insertS = sum(/^gala_ingest_insert_seconds_sum (\S+)$/gm);
  const fwd = sum(/^gala_cluster_forward_seconds_count\{[^}]*\} (\S+)$/gm);
  const fwdS = sum(/^gala_cluster_forward_seconds_sum\{[^}]*\} (\S+)$/gm);
  const calls = [...m.matchAll(/^gala_storage_call_seconds_total\{call="(\w+)"\} (\S+)$/gm)]
    .map((x) => [x[1]!, Number(x[2])] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, sec]) => `${name} ${sec.toFixed(1)} s`)
    .join(', ');
  const figN = sum(/^gala_cluster_figures_delay_seconds_count\{[^}]*\} (\S+)$/gm);
  const figS = sum(/^gala_cluster_figures_delay_seconds_sum\{[^}]*\} (\S+)$/gm);
  const fig250 = sum(/^gala_cluster_figures_delay_seconds_bucket\{[^}]*le="0.25"[^}]*\} (\S+)$/gm);
  const flN = sum(/^gala_cluster_figures_flush_seconds_count (\S+)$/gm);
  const flS = sum(/^gala_cluster_figures_flush_seconds_sum (\S+)$/gm);
  const fl50 = sum(/^gala_cluster_figures_flush_seconds_bucket\{le="0.05"\} (\S+)$/gm);
  const link = figN === 0 ? '' : `; figures: ${flN} flushes, mean ${((flS * 1000) / Math.max(1, flN)).toFixed(1)} ms from commit (${flN - fl50} over 50 ms), ${figN} received, mean ${((figS * 1000) / figN).toFixed(1)} ms on the link (${figN - fig250} over 250 ms)`;
  return `${inserts} inserts of ${Math.round(rows / Math.max(1, inserts))} orders, mean ${Math.round((insertS * 1000) / Math.max(1, inserts))} ms` +
    (fwd > 0 ? `; ${fwd} sub-batches forwarded, mean ${Math.round((fwdS * 1000) / fwd)} ms to the owner's ack` : '') +
    `; storage calls: ${calls || 'none'}${link}`;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/**
 * --idle: what a node costs with no orders at all, single against cluster: CPU seconds per second of every Gala
 * process and every clickhouse-server over IDLE seconds, after 5 s of settling (each on a fresh database).
 */
async function measureIdle(): Promise<string[]> {
  const cluster = chCluster!;
  const chPids = cluster.servers.map((s) => clickHousePid(s.dir));
  const lines = [`idle for ${IDLE} s (CPU in ms per second: Gala process, then its shard's clickhouse-server; the shards of single's unused servers apart):`];
  for (const config of ['single', 'routed'] as const) {
    const db = `bench_idle_${config}`;
    const dir = join(root, db);
    for (const url of cluster.urls) await chCommand(url, `CREATE DATABASE IF NOT EXISTS ${db}`);
    const { nodes, procs } = await startNodes(config, db, dir);
    await sleep(5000);
    const before = { t: performance.now(), nodes: nodes.map((n) => cpuSeconds(n.pid)), ch: chPids.map(cpuSeconds) };
    await sleep(IDLE * 1000);
    const sec = (performance.now() - before.t) / 1000;
    const nodeMs = nodes.map((n, k) => ((cpuSeconds(n.pid) - before.nodes[k]!) * 1000) / sec);
    const chMs = chPids.map((pid, k) => ((cpuSeconds(pid) - before.ch[k]!) * 1000) / sec);
    const name = config === 'single' ? 'single' : 'cluster';
    lines.push(
      `  ${name}: Gala ${nodes.map((n, k) => `${n.id} ${nodeMs[k]!.toFixed(1)}`).join(', ')} (sum ${nodeMs.reduce((t, v) => t + v, 0).toFixed(1)}); ` +
        `clickhouse ${chMs.map((v, k) => `shard ${k + 1} ${v.toFixed(1)}`).join(', ')} (sum ${chMs.reduce((t, v) => t + v, 0).toFixed(1)})`,
    );
    process.stdout.write(`${lines.at(-1)}\n`);
    await Promise.all(procs.map(stopGala));
    for (const url of cluster.urls) await chCommand(url, `DROP DATABASE IF EXISTS ${db}`);
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/** --replicated: medians of the cost of replication, the coordination load and the takeovers, and each run's. */
function replicatedSummary(results: ConfigResult[][], started: string, load0: string): string[] {
  const lines: string[] = [];
  const k = CONFIGS.indexOf('replicated');
  const b = CONFIGS.indexOf('routed');
  const med = (c: number, pick: (r: ConfigResult) => number) => median(results.map((row) => pick(row[c]!)));
  lines.push(`medians over ${RUNS} runs (${started}, load average at start ${load0}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}), ${fmt(RATE)} orders/s offered:`);
  lines.push('| configuration | orders/s | Gala CPU µs/order (cores per node) | ClickHouse CPU µs/order | ZooKeeper CPU µs/order | ack p50 / p99 | ack → visible p99 | orders per insert | exact |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  CONFIGS.forEach((c, i) => {
    const cores = results[0]![i]!.nodeCores.map((_, n) => med(i, (r) => r.nodeCores[n]!).toFixed(2)).join(' + ');
    lines.push(
      `| ${c === 'routed' ? 'routed (2 nodes, 2 plain shards)' : c === 'replicated' ? 'replicated (3 nodes, 2 shards x 2 replicas, quorum 2)' : c} | ${fmt(med(i, (r) => r.ordersPerSecond))} | ${med(i, (r) => r.cpuPerOrderUs).toFixed(2)} (${cores}) | ` +
        `${med(i, (r) => r.chCpuPerOrderUs).toFixed(2)} | ${med(i, (r) => r.zkCpuPerOrderUs).toFixed(2)} | ${med(i, (r) => r.ackP50Ms)} / ${med(i, (r) => r.ackP99Ms)} ms | ${med(i, (r) => r.visibleP99Ms)} ms | ` +
        `${results[0]![i]!.coordination === null ? '-' : fmt(med(i, (r) => r.coordination!.ordersPerInsert))} | ${results.every((row) => row[i]!.exact) ? 'every run' : 'NOT every run'} |`,
    );
  });
  if (k >= 0 && b >= 0) {
    const ratio = (pick: (r: ConfigResult) => number) => median(results.map((row) => pick(row[k]!) / pick(row[b]!))).toFixed(2);
    lines.push(
      `replicated against routed (median of each run's ratio): Gala CPU per order ${ratio((r) => r.cpuPerOrderUs)}x, ClickHouse ${ratio((r) => r.chCpuPerOrderUs)}x ` +
        `(ZooKeeper's ${med(k, (r) => r.zkCpuPerOrderUs).toFixed(2)} µs/order on top), ack p99 ${ratio((r) => r.ackP99Ms)}x; per run: ` +
        results.map((row, r) => `run ${r + 1} Gala ${(row[k]!.cpuPerOrderUs / row[b]!.cpuPerOrderUs).toFixed(2)}x, ClickHouse ${(row[k]!.chCpuPerOrderUs / row[b]!.chCpuPerOrderUs).toFixed(2)}x, p99 ${row[b]!.ackP99Ms} → ${row[k]!.ackP99Ms} ms`).join('; '),
    );
  }
  if (k >= 0) {
    const co = (pick: (c: NonNullable<ConfigResult['coordination']>) => number) => med(k, (r) => pick(r.coordination!));
    const writes = co((c) => c.zkWritesPerSecond ?? Number.NaN);
    const inserts = co((c) => c.insertsPerSecond);
    const perInsert = med(k, (r) => (r.coordination!.zkWritesPerSecond ?? Number.NaN) / r.coordination!.insertsPerSecond);
    const gala = co((c) => c.galaWritesPerSecond);
    const ordersPerInsert = co((c) => c.ordersPerInsert);
    lines.push(
      `coordination load (replicated, at ${fmt(med(k, (r) => r.ordersPerSecond))} orders/s acked): ${writes.toFixed(1)} ZooKeeper writes/s (zxid), of them Gala's leases ${gala.toFixed(1)}/s ` +
        `(all Gala requests ${co((c) => c.galaOpsPerSecond).toFixed(1)}/s), the rest ClickHouse's; ${inserts.toFixed(2)} orders inserts/s of ${fmt(ordersPerInsert)} orders each, ` +
        `${perInsert.toFixed(1)} writes per orders insert (with its derived inserts); idle (leases held, no orders) ${co((c) => c.idleZkWritesPerSecond ?? Number.NaN).toFixed(1)} writes/s; per run: ${results.map((row) => `${row[k]!.coordination!.zkWritesPerSecond} writes/s, ${row[k]!.coordination!.insertsPerSecond} inserts/s`).join('; ')}`,
    );
    lines.push(
      `  at 100,000 orders/s, with groups of the ${fmt(ordersPerInsert)} orders seen: ${fmt(100_000 / ordersPerInsert)} orders inserts/s x ${perInsert.toFixed(1)} = ${fmt((100_000 / ordersPerInsert) * perInsert)} ZooKeeper writes/s ` +
        `(an upper bound: a node's groups grow with the rate, and each group's writes do not; Gala's own ${gala.toFixed(1)}/s do not grow with orders)`,
    );
    const t = results.map((row) => row[k]!.takeover).filter((x): x is TakeoverResult => x !== null);
    if (t.length > 0) {
      lines.push(
        `takeover (kill -9 of shard 2's owner n2, leases of ${SESSION_MS} ms, ${fmt(RATE)} orders/s streamed): kill → first ack of shard 2 (client) median ${fmt(median(t.map((x) => x.clientMs)))} ms; ` +
          `new holder's lastTakeover.tookMs (claim + rebuild) median ${fmt(median(t.map((x) => x.nodeTookMs ?? Number.NaN)))} ms; ` +
          `the client's map saw the lease gone after a median ${fmt(median(t.map((x) => x.vacantMs ?? Number.NaN)))} ms and the shard served after ${fmt(median(t.map((x) => x.servingMs ?? Number.NaN)))} ms; per run: ` +
          t.map((x) => `${x.clientMs} / ${x.nodeTookMs ?? '?'} ms (map from the kill: lease gone ${x.vacantMs ?? '?'}, claimed ${x.claimedMs ?? '?'}, serving ${x.servingMs ?? '?'} ms; epoch ${x.epochBefore} → ${x.epochAfter}, to ${x.newOwner}, ${x.unavailable} unavailable, ${x.lost} resent, ${x.duplicates} duplicates)`).join('; '),
      );
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const load0 = loadavg().map((l) => l.toFixed(1)).join(' ');
  process.stdout.write(
    `bench:cluster ${started}, load average ${load0}: ${RUNS} runs, each of ${CONFIGS.join(', ')} (order turned by one each run), ` +
      `${RATE} orders/s offered for ${DURATION} s after ${WARMUP} s of warm-up${SLOPE_RATE > 0 ? `, then ${SLOPE_RATE} orders/s for ${DURATION} s after 3 s` : ''}, batches of ${BATCH}, ${CONNS} connection(s) per node sent to, window ${WINDOW}, /v1/stats polled every ${POLL_MS} ms on every node\n`,
  );
  chStarting = startClickHouseCluster({ shards: NODES, name: 'gala_bench' });
  chCluster = await chStarting;
  if (cleaning !== null) return;
  lowerClickHouse(chCluster);
  process.stdout.write(`clickhouse-server: ${NODES} shards of cluster gala_bench at ${chCluster.urls.join(' ')}; single node writes to the first (plain --clickhouse-url, no cluster file)${CH_NICE === 0 ? '' : `; every server thread ${CH_NICE} nice levels below this process`}\n`);
  if (REPLICATED) {
    zkStarting = startZooKeeper();
    zkServer = await zkStarting;
    if (cleaning !== null) return;
    replStarting = startClickHouseCluster({ shards: 2, replicas: 2, zookeeper: { host: zkServer.host, port: zkServer.port }, name: 'gala_bench_repl' });
    replCluster = await replStarting;
    if (cleaning !== null) return;
    lowerClickHouse(replCluster);
    process.stdout.write(`zookeeper at ${zkServer.connectString}; clickhouse-server: 2 shards x 2 replicas of cluster gala_bench_repl at ${replCluster.urls.join(' ')} (s1r1 s1r2 s2r1 s2r2); leases of ${SESSION_MS} ms\n`);
  }
  const idleLines = IDLE > 0 ? await measureIdle() : [];
  const results: ConfigResult[][] = [];
  const at = (c: Config) => CONFIGS.indexOf(c);
  const S = at('single');
  for (let run = 1; run <= RUNS; run++) {
    const order = CONFIGS.map((_, i) => CONFIGS[(i + run - 1) % CONFIGS.length]!);
    const byConfig = new Map<Config, ConfigResult>();
    for (const c of order) byConfig.set(c, await runConfig(c, run));
    const row = CONFIGS.map((c) => byConfig.get(c)!);
    results.push(row);
    if (REPLICATED) continue;
    const s = row[S]!;
    const parts = row.filter((r) => r.config !== 'single').map((r) => `${r.config} ${(r.cpuPerOrderUs / s.cpuPerOrderUs).toFixed(2)}x` + (SLOPE_RATE === 0 ? '' : r.marginalUs !== null && s.marginalUs !== null ? ` (marginal ${(r.marginalUs / s.marginalUs).toFixed(2)}x)` : ' (marginal n/a: a window not steady)'));
    process.stdout.write(`run ${run} CPU per order against single: ${parts.join(', ')}\n`);
  }
  await chCluster.cleanup();
  chCluster = null;
  chStarting = null;

  const lines: string[] = [...idleLines];
  if (REPLICATED && RUNS > 0) lines.push(...replicatedSummary(results, started, load0));
  else if (RUNS > 0) {
    const med = (k: number, pick: (r: ConfigResult) => number) => median(results.map((row) => pick(row[k]!)));
    const ratio = (k: number, base = S) => median(results.map((row) => row[k]!.cpuPerOrderUs / row[base]!.cpuPerOrderUs));
    // Over the runs whose two windows were both steady (for this configuration and single).
    const steadyRows = (k: number) => results.filter((row) => row[k]!.marginalUs !== null && row[S]!.marginalUs !== null);
    const marginalRatio = (k: number) => median(steadyRows(k).map((row) => row[k]!.marginalUs! / row[S]!.marginalUs!));
    const marginalOf = (k: number) => {
      const rows = steadyRows(k);
      if (rows.length === 0) return `n/a (no run steady at both rates) |`;
      const m = (pick: (r: ConfigResult) => number) => median(rows.map((row) => pick(row[k]!))).toFixed(2);
      return ` ${m((r) => r.marginalUs!)} (${k === S ? '1' : marginalRatio(k).toFixed(2)}; ${rows.length} of ${RUNS} runs steady) | ${m((r) => r.chMarginalUs!)} |`;
    };
    const P = at('per-node');
    lines.push(`medians over ${RUNS} runs (${started}, load average at start ${load0}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')})${CH_NICE === 0 ? '' : `, clickhouse-servers ${CH_NICE} nice levels below`}:`);
    lines.push('| configuration | orders/s | Gala CPU µs/order | ratio to single (to per-node) | ClickHouse CPU µs/order | ack p50 / p99 | ack → visible on every node p50 / p99 | exact |' + (SLOPE_RATE > 0 ? ' marginal Gala µs/order (ratio to single) | marginal ClickHouse µs/order |' : ''));
    lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |' + (SLOPE_RATE > 0 ? ' --- | --- |' : ''));
    CONFIGS.forEach((c, k) => {
      const target = c === 'routed' ? ' (target ≤ 1.1)' : c === 'forwarded' ? ' (target ≤ 1.6)' : '';
      const ratios = c === 'single' ? '1' : c === 'per-node' || P < 0 ? `${ratio(k).toFixed(2)}${target}` : `${ratio(k).toFixed(2)} (${ratio(k, P).toFixed(2)})${target}`;
      const marginal = SLOPE_RATE > 0 ? marginalOf(k) : '';
      lines.push(
        `| ${c === 'per-node' ? `per-node (single at ${fmt(RATE / NODES)}/s)` : c} | ${fmt(med(k, (r) => r.ordersPerSecond))} | ${med(k, (r) => r.cpuPerOrderUs).toFixed(2)} | ${ratios} | ${med(k, (r) => r.chCpuPerOrderUs).toFixed(2)} | ` +
          `${med(k, (r) => r.ackP50Ms)} / ${med(k, (r) => r.ackP99Ms)} ms | ${med(k, (r) => r.visibleP50Ms)} / ${med(k, (r) => r.visibleP99Ms)} ms (target p99 ≤ 250) | ${results.every((row) => row[k]!.exact) ? 'every run' : 'NOT every run'} |${marginal}`,
      );
    });
    const single = med(S, (r) => r.cpuPerOrderUs);
    lines.push('');
    lines.push(`projection for N machines = rate per node × N × (single-node CPU per order ÷ cluster CPU per order), rate per node ${fmt(NODE_RATE)} orders/s (--node-rate):`);
    for (const c of ['routed', 'forwarded'] as const) {
      const k = at(c);
      if (k < 0) continue;
      lines.push(`  ${c}: ${PROJECT.map((n) => `N=${n}: ${fmt(NODE_RATE * n / ratio(k))} orders/s`).join(', ')}` + (SLOPE_RATE > 0 && steadyRows(k).length > 0 ? `; with the marginal ratio: ${PROJECT.map((n) => `N=${n}: ${fmt(NODE_RATE * n / marginalRatio(k))}`).join(', ')}` : ''));
    }
    lines.push(
      `  assumptions: each node has a machine of its own and, alone, reaches --node-rate (the issue's ~250,000 orders/s of bench:ingest on 2 cores); ` +
        `each shard's clickhouse-server has machines of its own, so a node's CPU is what bounds it; the CPU-per-order ratio measured here at ${fmt(RATE)} orders/s holds at that rate; ` +
        `links cost what loopback costs (no network beyond it); the load is spread evenly over the partitions. ` +
        `The per-node ratio is left out of it: at a few thousand orders/s a node's fixed costs (group inserts, reads, beats) weigh most, and a node at its ceiling spreads them thin. ` +
        `Measured here, the single node's ${single.toFixed(2)} µs/order alone would allow ${fmt(1e6 / single)} orders/s per core of Gala.`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} catch (err) {
  fail(err);
} finally {
  await cleanupAll();
}
