// `gala cluster-demo` (`npm run demo:cluster`): a whole cluster on this machine in one command. Starts Debian's
// clickhouse-server as N shards that name one another in `remote_servers`, writes the cluster file, starts N Gala
// nodes (`gala serve --cluster FILE --node nK`) as child processes, streams the gala simulator to them and prints
// every URL. SIGINT/SIGTERM stops the simulator, then the nodes, then the servers, and exits 0 with no child left.
// `--replicated` (issue 15): one ZooKeeper and S shards of two replicas each; the first S nodes are the shards'
// preferred owners (replica 1), the others standbys (replica 2 of the last shard first, so that the coordinator n1 is
// the last to get one); a replica without a node gets Gala's tables as `gala migrate` gives them. The simulator
// follows the published owner map, so it keeps streaming through a takeover; ZooKeeper stops last.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { coordinatorOf, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import { ConfigError } from '../platform/config-error.ts';
import { CLUSTER_SEND_MODES, createClusterSender, type ClusterSendMode } from '../simulator/cluster-sender.ts';
import { createSimulator } from '../simulator/simulator.ts';
import { overlayNames } from '../overlays/server/overlay-assets.ts';
import type { ClusterView } from '../protocol/cluster-protocol.ts';
import { clickHouseServerAvailable, clusterFileFor, NO_CLICKHOUSE_SERVER, startClickHouseCluster, type ClickHouseCluster, type NodePlacement } from './clickhouse-launcher.ts';
import { DEFAULT_SHOW_FILE, loadShow } from './config.ts';
import { migrateServer } from './migrate.ts';
import { NO_ZOOKEEPER, startZooKeeper, zookeeperAvailable, type ZooKeeper } from './zookeeper-launcher.ts';

export const CLUSTER_DEMO_USAGE = `usage: gala cluster-demo [flags]   (npm run demo:cluster -- [flags])
  --nodes N        Gala nodes, each over its own clickhouse-server shard: 1 to 8 (default 3)
  --replicated     replicated shards instead: one ZooKeeper, --shards S shards of 2 clickhouse-server replicas each,
                   and --nodes from S to 2S (default S + 1): nodes n1..nS own shards 1..S (on replica 1), the others
                   are standbys on replica 2 of shards S, S-1, ... and take their shard over when its owner dies
  --shards S       with --replicated: 1 to 4 (default 2)
  --send MODE      owner: the simulator sends each order straight to the node that owns it (the partition map of
                   GET /v1/cluster); any: each whole batch to the next node in turn, which forwards what it does not
                   own (default owner)
  --rate N         the simulator's peak orders/s (default GALA_DEMO_RATE, else 2000)
  --data DIR       keep the servers' and nodes' data in DIR, reused by the next run (default: a temp dir, removed at exit)
Tokens come from GALA_INGEST_TOKEN, GALA_PRODUCER_TOKEN, GALA_ADMIN_TOKEN, GALA_VIEWER_TOKEN, else are made up.`;

const BIN = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));
/** The cluster's name in every server's remote_servers and in the cluster file. */
const CLUSTER_NAME = 'gala_demo';
const MAX_NODES = 8;
const MAX_SHARDS = 4;
const BATCH = 500;
const TICK_MS = 10;
const LINGER_MS = 50;

interface DemoArgs {
  nodes: number;
  /** Replicated shards (null: issue 14's layout, one shard per node). */
  shards: number | null;
  send: ClusterSendMode;
  rate: number;
  data: string | null;
}

export function parseClusterDemoArgs(argv: string[], env: NodeJS.ProcessEnv): DemoArgs | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { nodes: { type: 'string' }, replicated: { type: 'boolean' }, shards: { type: 'string' }, send: { type: 'string' }, rate: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help === true) return 'help';
  let shards: number | null = null;
  let minNodes = 1;
  let maxNodes = MAX_NODES;
  if (values.replicated === true) {
    const shardsText = (values.shards as string | undefined) ?? '2';
    shards = Number(shardsText);
    if (!/^\d+$/.test(shardsText) || shards < 1 || shards > MAX_SHARDS) throw new ConfigError(`--shards: an integer from 1 to ${MAX_SHARDS} (got "${shardsText}")`);
    [minNodes, maxNodes] = [shards, 2 * shards];
  } else if (values.shards !== undefined) {
    throw new ConfigError('--shards: only with --replicated (without it, each node has a shard of its own)');
  }
  const nodesText = (values.nodes as string | undefined) ?? (shards === null ? '3' : String(shards + 1));
  const nodes = Number(nodesText);
  if (!/^\d+$/.test(nodesText) || nodes < minNodes || nodes > maxNodes) {
    throw new ConfigError(`--nodes: an integer from ${minNodes} to ${maxNodes}${shards === null ? '' : ` with --shards ${shards} (a node per shard at least, two at most)`} (got "${nodesText}")`);
  }
  const send = (values.send as string | undefined) ?? 'owner';
  if (!(CLUSTER_SEND_MODES as readonly string[]).includes(send)) throw new ConfigError(`--send: one of ${CLUSTER_SEND_MODES.join(', ')} (got "${send}")`);
  const rateText = (values.rate as string | undefined) ?? (env.GALA_DEMO_RATE || '2000');
  const rate = Number(rateText);
  if (!(Number.isFinite(rate) && rate > 0 && rate <= 10_000_000)) throw new ConfigError(`--rate (or GALA_DEMO_RATE): a number of orders/s above 0 and at most 10,000,000 (got "${rateText}")`);
  const data = values.data as string | undefined;
  if (data === '') throw new ConfigError('--data: a directory path (leave it out for a temp dir)');
  return { nodes, shards, send: send as ClusterSendMode, rate, data: data === undefined ? null : resolve(data) };
}

/**
 * Where the replicated demo's nodes write: n1..nS on replica 1 of shards 1..S (each shard's preferred owner), the
 * rest on replica 2 of shards S, S-1, ... (standbys), so that the coordinator's shard is the last to get one.
 */
export function demoPlacements(shards: number, nodes: number): NodePlacement[] {
  return Array.from({ length: nodes }, (_, i) => (i < shards ? { shard: i + 1, replica: 1 } : { shard: shards - (i - shards), replica: 2 }));
}

interface NodeProcess {
  node: ClusterNode;
  proc: ChildProcess;
  log: string;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

interface Health {
  ok?: boolean;
  status?: string;
  phase?: string;
}

async function health(node: ClusterNode): Promise<Health | null> {
  try {
    const res = await fetch(`http://${node.host}:${node.httpPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as Health;
  } catch {
    return null;
  }
}

/** `gala cluster-demo [flags]`: runs until SIGINT/SIGTERM, then exits the process (0 after a clean stop). */
export async function runClusterDemo(argv: string[]): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const args = parseClusterDemoArgs(argv, process.env);
  if (args === 'help') {
    out(CLUSTER_DEMO_USAGE);
    return;
  }
  if (!clickHouseServerAvailable()) throw new ConfigError(`cluster-demo: ${NO_CLICKHOUSE_SERVER}`);
  if (args.shards !== null && !zookeeperAvailable()) throw new ConfigError(`cluster-demo --replicated: ${NO_ZOOKEEPER}`);
  const shards = args.shards;

  // Tokens from the environment win; the rest are made up for this run. Every node gets the same ones: the nodes
  // reach one another on their ingest ports with the (first) ingest token.
  const env = { ...process.env };
  env.GALA_INGEST_TOKEN ||= `demo-ingest-${randomBytes(9).toString('base64url')}`;
  env.GALA_PRODUCER_TOKEN ||= `demo-producer-${randomBytes(9).toString('base64url')}`;
  env.GALA_ADMIN_TOKEN ||= `demo-admin-${randomBytes(9).toString('base64url')}`;
  env.GALA_VIEWER_TOKEN ||= `demo-viewer-${randomBytes(9).toString('base64url')}`;
  // Each node reserves its de-duplication table for the rate it expects: the demo's, not a production night's.
  env.GALA_DEDUP_EXPECTED_RATE ||= String(Math.max(1000, Math.ceil(args.rate)));
  delete env.GALA_CLUSTER;
  delete env.GALA_NODE;
  const ingestToken = env.GALA_INGEST_TOKEN.split(',')[0]!.trim();
  const showFile = env.GALA_SHOW || DEFAULT_SHOW_FILE;
  const show = loadShow(showFile);

  const temp = args.data === null;
  const root = args.data ?? mkdtempSync(join(tmpdir(), 'gala-cluster-demo-'));
  mkdirSync(root, { recursive: true });
  const layout = shards === null
    ? `over ${args.nodes} clickhouse-server shard${args.nodes > 1 ? 's' : ''}`
    : `over ${shards} shard${shards > 1 ? 's' : ''} of 2 clickhouse-server replicas each, with one ZooKeeper`;
  out(`Gala cluster demo: ${args.nodes} node${args.nodes > 1 ? 's' : ''} ${layout}, data in ${root}${temp ? ' (removed at exit; --data DIR keeps it)' : ''}`);

  let zk: ZooKeeper | null = null;
  let chCluster: ClickHouseCluster | null = null;
  const nodes: NodeProcess[] = [];
  let stopping = false;
  let stopped: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (stopped = r));

  // Stops in order: the simulator (the loop sees `stopping`), the nodes (each finishes its in-flight batches), then
  // the servers, then ZooKeeper. A second signal while stopping is ignored: the order matters more than the haste.
  async function stopAll(code: number): Promise<never> {
    const began = Date.now();
    const since = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
    const running = nodes.filter((n) => n.exitCode === undefined);
    if (running.length > 0) out(`stopping ${running.map((n) => n.node.id).join(', ')}`);
    for (const n of running) n.proc.kill('SIGTERM');
    await Promise.all(
      running.map(async (n) => {
        const timer = setTimeout(() => n.proc.kill('SIGKILL'), 30_000);
        await n.exited;
        clearTimeout(timer);
      }),
    );
    if (chCluster !== null) {
      out(`${running.length > 0 ? `nodes stopped after ${since()}; ` : ''}stopping ${chCluster.servers.length} clickhouse-server${chCluster.servers.length > 1 ? 's' : ''}`);
      await chCluster.stop();
    }
    if (zk !== null) {
      out('stopping zookeeper');
      await zk.stop();
    }
    if (temp) rmSync(root, { recursive: true, force: true });
    out(`${code === 0 ? 'stopped' : 'stopped after an error'} in ${since()}`);
    process.exit(code);
  }
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping the simulator, the nodes, then the servers${shards === null ? '' : ', then ZooKeeper'}\n`);
    stopped();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Nodes still running when this process exits for any other reason go with it (the servers do too, see the launcher).
  process.on('exit', () => {
    for (const n of nodes) if (n.exitCode === undefined) n.proc.kill('SIGKILL');
  });

  try {
    // ---- ZooKeeper (replicated only): the servers' Replicated tables and the nodes' leases both use it.
    if (shards !== null) {
      const startingZk = startZooKeeper({ dir: join(root, 'zookeeper'), ownProcessGroup: true, onProgress: out });
      out('zookeeper: starting');
      zk = await Promise.race([startingZk, stopRequested.then(() => null)]);
      if (zk === null) {
        zk = await startingZk.catch(() => null);
        return await stopAll(0);
      }
      out(`zookeeper: up at ${zk.connectString} (pid ${zk.pid})`);
    }

    // ---- The shards.
    const starting = startClickHouseCluster({
      shards: shards ?? args.nodes,
      name: CLUSTER_NAME,
      ...(zk === null ? {} : { replicas: 2, zookeeper: { host: zk.host, port: zk.port } }),
      dirOf: (i) => join(root, shards === null ? `clickhouse-s${i + 1}` : `clickhouse-s${Math.floor(i / 2) + 1}r${(i % 2) + 1}`),
      onProgress: out,
      // A Ctrl-C in the terminal reaches only this process, which stops the nodes before their servers.
      ownProcessGroup: true,
    });
    chCluster = await Promise.race([starting, stopRequested.then(() => null)]);
    if (chCluster === null) {
      // Stopped while the servers were starting: let them finish starting, then stop them.
      chCluster = await starting.catch(() => null);
      return await stopAll(0);
    }

    // ---- The cluster file.
    const placements = shards === null ? null : demoPlacements(shards, args.nodes);
    const file: ClusterFile = placements === null || zk === null
      ? await clusterFileFor({ clickhouseCluster: CLUSTER_NAME, clickhouseUrls: chCluster.urls })
      : await clusterFileFor({ clickhouseCluster: CLUSTER_NAME, nodes: placements, cluster: chCluster, zookeeper: zk.connectString });
    const clusterPath = join(root, 'cluster.json');
    writeFileSync(clusterPath, `${JSON.stringify(file, null, 2)}\n`);
    out(`cluster file ${clusterPath}`);
    // A replica no node writes to gets Gala's tables now (as `gala migrate` makes them): without them it is no replica
    // and its shard would have no quorum.
    if (placements !== null) {
      for (let s = 1; s <= shards!; s++) {
        for (const r of [1, 2]) {
          if (placements.some((p) => p.shard === s && p.replica === r)) continue;
          const version = await migrateServer(file, chCluster.replicaOf(s, r).url);
          out(`clickhouse shard ${s} replica ${r}: no node writes to it; its tables migrated to schema version ${version}`);
        }
      }
    }

    // ---- The nodes, all at once: each waits until every shard has its Distributed tables.
    for (const node of file.nodes) {
      const dir = join(root, node.id);
      mkdirSync(dir, { recursive: true });
      const log = join(root, `${node.id}.log`);
      const fd = openSync(log, 'a');
      const proc = spawn(process.execPath, [BIN, 'serve', '--cluster', clusterPath, '--node', node.id, '--data', dir], { env, stdio: ['ignore', fd, fd], detached: true });
      closeSync(fd);
      const np: NodeProcess = { node, proc, log, exitCode: undefined, exited: Promise.resolve(null) };
      np.exited = new Promise((r) =>
        proc.once('exit', (code, signal) => {
          np.exitCode = code;
          if (!stopping) out(`${node.id} exited (${signal ?? `code ${code}`}); its log: ${log}`);
          r(code);
        }),
      );
      nodes.push(np);
      out(`${node.id}: starting (pid ${proc.pid}), log ${log}`);
    }
    const said = new Map<string, string>();
    for (;;) {
      if (stopping) return await stopAll(0);
      const dead = nodes.find((n) => n.exitCode !== undefined);
      if (dead !== undefined) throw new Error(`${dead.node.id} exited during start; see ${dead.log}`);
      const states = await Promise.all(nodes.map((n) => health(n.node)));
      states.forEach((h, i) => {
        const id = nodes[i]!.node.id;
        const state = h === null ? 'not listening yet' : h.ok === true ? 'up' : `${h.status ?? 'starting'}${h.phase === undefined || h.phase === h.status ? '' : ` (${h.phase})`}`;
        if (said.get(id) !== state) out(`${id}: ${state}`);
        said.set(id, state);
      });
      if (states.every((h) => h?.ok === true)) break;
      await sleep(250);
    }
    // Replicated: every shard's lease held by its preferred owner, rebuilt and serving.
    let view: ClusterView | null = null;
    if (shards !== null) {
      for (;;) {
        if (stopping) return await stopAll(0);
        view = await clusterView(nodes);
        if (view?.shards !== undefined && view.shards.every((s) => s.serving)) break;
        await sleep(250);
      }
    }

    printUrls(file, chCluster, nodes, env, args, zk, view);

    // ---- The simulator.
    const sender = createClusterSender({
      cluster: file,
      token: ingestToken,
      mode: args.send,
      // Replicated: sends by the owners the cluster publishes, read again at every change, so it follows takeovers.
      ...(shards === null ? {} : { map: async () => (await clusterView(nodes)) ?? Promise.reject(new Error('no node answers GET /v1/cluster')) }),
      onConnection: (id, e) => {
        if (!stopping && e.type === 'close') out(`simulator: connection to ${id} closed (${e.code}); it reconnects`);
      },
    });
    await sender.ready();
    const sim = createSimulator({ seed: 42, show, startMs: show.startsAt ?? Date.now(), peakPerSecond: args.rate, idPrefix: `demo-${Date.now().toString(36)}` });
    const status = setInterval(() => void printStatus(nodes, sender.counters(), shards !== null), 5_000);
    status.unref();
    const t0 = performance.now();
    let batchNo = 0;
    let lastSendAt = 0;
    while (!stopping) {
      const now = performance.now() - t0;
      const due = sim.dueBy(now, BATCH);
      if (due === 0 || (due < BATCH && now - lastSendAt < LINGER_MS)) {
        await sleep(TICK_MS);
        continue;
      }
      // Waits while a node's window is full (a node down: its part waits, and the whole stream with it).
      const sending = sender.send(`b${++batchNo}`, sim.nextBatch(due));
      sending.catch(() => {}); // closing the sender at stop rejects a send still waiting; the race below sees real errors
      await Promise.race([sending, stopRequested]);
      lastSendAt = performance.now() - t0;
    }
    clearInterval(status);
    await sender.close().catch(() => {});
    return await stopAll(0);
  } catch (e) {
    process.stderr.write(`gala cluster-demo: ${(e as Error).message}\n`);
    stopping = true;
    return await stopAll(1);
  }
}

/** GET /v1/cluster from the first node that answers; null when none does. */
async function clusterView(nodes: readonly NodeProcess[]): Promise<ClusterView | null> {
  for (const n of nodes) {
    if (n.exitCode !== undefined) continue;
    try {
      const res = await fetch(`http://${n.node.host}:${n.node.httpPort}/v1/cluster`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return (await res.json()) as ClusterView;
    } catch {
      // the next node
    }
  }
  return null;
}

function printUrls(file: ClusterFile, ch: ClickHouseCluster, nodes: readonly NodeProcess[], env: NodeJS.ProcessEnv, args: DemoArgs, zk: ZooKeeper | null, view: ClusterView | null): void {
  const coordinator = coordinatorOf(file);
  const lines = [''];
  if (file.replication === null || zk === null) {
    lines.push(`The cluster "${file.clickhouseCluster}": ${file.partitions} partitions, partition p owned by nodes[p mod ${file.nodes.length}]`);
    ch.servers.forEach((s, i) => lines.push(`  clickhouse shard ${i + 1}   ${s.url} (tcp ${s.tcpPort}, pid ${s.pid})`));
  } else {
    const S = ch.shards;
    lines.push(
      `The cluster "${file.clickhouseCluster}": ${file.partitions} partitions, partition p on shard (p mod ${S}) + 1, committed by the holder of that shard's lease`,
      `  zookeeper            ${zk.connectString} (pid ${zk.pid}), leases under ${file.replication.root}, session timeout ${file.replication.sessionTimeoutMs} ms, insert quorum ${file.replication.insertQuorum}`,
    );
    for (let s = 1; s <= S; s++) {
      for (let r = 1; r <= ch.replicas; r++) {
        const server = ch.replicaOf(s, r);
        const on = file.nodes.find((n) => n.clickhouseUrl === server.url);
        lines.push(`  clickhouse shard ${s} replica ${r}   ${server.url} (tcp ${server.tcpPort}, pid ${server.pid}), ${on === undefined ? 'no node (a copy only)' : `node ${on.id}`}`);
      }
    }
    for (const sh of view?.shards ?? []) {
      const standbys = sh.nodes.filter((id) => id !== sh.owner);
      lines.push(`  shard ${sh.shard}: held by ${sh.owner ?? 'nobody'} (epoch ${sh.epoch}${sh.serving ? ', serving' : ', rebuilding'}), ${standbys.length === 0 ? 'no standby: no takeover if its owner dies' : `standby ${standbys.join(', ')}`}`);
    }
  }
  for (const n of nodes) {
    const { id, host, httpPort, ingestPort } = n.node;
    const http = `http://${host}:${httpPort}`;
    lines.push(
      `node ${id}${id === coordinator.id ? ' (coordinator: control state, milestones)' : ''}, pid ${n.proc.pid}`,
      `  public page        ${http}/`,
      `  live snapshot      ${http}/v1/stats`,
      `  cluster map        ${http}/v1/cluster`,
      `  overlays (OBS)     ${overlayNames().map((o) => `${http}/overlays/${o}`).join(' ')}`,
      `  control room       ${http}/control  (live panel ${http}/control/live)`,
      `  ingest WebSocket   ws://${host}:${ingestPort}/v1/ingest`,
      `  metrics            http://${host}:${ingestPort}/metrics`,
    );
  }
  lines.push(
    `clickhouse-server pids ${ch.servers.map((s) => s.pid).join(' ')}`,
    `gala node pids ${nodes.map((n) => n.proc.pid).join(' ')}`,
    ...(zk === null ? [] : [`zookeeper pid ${zk.pid}`]),
    `  ingest token       ${env.GALA_INGEST_TOKEN?.split(',')[0]}  (also the nodes' token to one another)`,
    `  producer token     ${env.GALA_PRODUCER_TOKEN?.split(',')[0]}`,
    `  admin token        ${env.GALA_ADMIN_TOKEN?.split(',')[0]}`,
    `  viewer token       ${env.GALA_VIEWER_TOKEN?.split(',')[0]}`,
    `The simulator streams a gala night at up to ${args.rate} orders/s, ${
      args.send === 'owner' ? 'each order straight to its owner (--send any: to any node, which forwards)' : 'each batch to the next node in turn, which forwards what it does not own'
    }. Ctrl-C stops cleanly.`,
    '',
  );
  if (file.replication !== null) {
    // A failure to try: an owner that has a standby (the last shard's first, so the coordinator n1 stays up).
    const shardsView = view?.shards ?? [];
    const target = [...shardsView].reverse().find((sh) => sh.owner !== null && sh.nodes.length > 1);
    if (target !== undefined) {
      const victim = nodes.find((n) => n.node.id === target.owner);
      const standby = target.nodes.find((id) => id !== target.owner)!;
      const base = `http://${file.nodes[0]!.host}:${file.nodes[0]!.httpPort}`;
      lines.splice(
        lines.length - 1,
        0,
        `To try a failure: kill -9 ${victim?.proc.pid} (${target.owner}, shard ${target.shard}'s owner). Within the session timeout (${file.replication.sessionTimeoutMs} ms) plus its rebuild, ${standby} holds shard ${target.shard} at a higher epoch:`,
        `  watch it on ${base}/control/live or with curl ${base}/v1/cluster (shards[].owner, epoch, lastTakeover); the simulator follows.`,
        `  Or freeze it: kill -STOP ${victim?.proc.pid}, then kill -CONT ${victim?.proc.pid}: it stops acking before its lease can pass, and acks nothing more under it.`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function printStatus(nodes: readonly NodeProcess[], c: { accepted: number; duplicates: number; unavailable: number }, replicated: boolean): Promise<void> {
  const parts = await Promise.all(
    nodes.map(async (n) => {
      try {
        const res = await fetch(`http://${n.node.host}:${n.node.httpPort}/v1/stats`, { signal: AbortSignal.timeout(2_000) });
        const s = (await res.json()) as { gmv?: string; orders?: number; currency?: string };
        return `${n.node.id} GMV ${s.gmv} orders ${s.orders}`;
      } catch {
        return `${n.node.id} not answering${n.exitCode === undefined ? '' : ' (exited)'}`;
      }
    }),
  );
  let owners = '';
  if (replicated) {
    const view = await clusterView(nodes);
    owners = `  | ${(view?.shards ?? []).map((s) => `shard ${s.shard} ${s.owner ?? 'vacant'}@${s.epoch}${s.serving ? '' : ' (rebuilding)'}`).join(', ') || 'leases unknown'}`;
  }
  process.stdout.write(`${new Date().toISOString()}  ${parts.join(' | ')}  | simulator acked ${c.accepted} new, ${c.duplicates} duplicates, ${c.unavailable} unavailable${owners}\n`);
}
