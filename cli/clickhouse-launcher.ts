// Runs real ClickHouse servers (Debian's 18.16 or a current one) as child processes: own config, free ports, own
// directory. The cluster demo (`gala cluster-demo`) starts its shards with it, and the server tests through
// test-support/clickhouse-server.ts and clickhouse-cluster.ts.
//
// What a cluster needs from 18.16 (current releases take the same):
// - `remote_servers` sits in the server config (config.xml), under the root `<yandex>`; each replica is `<host>` and
//   `<port>`, where the port is the peer's native `tcp_port` (Distributed queries go over the native protocol, never
//   HTTP). A replica whose host and port are the server's own is read locally, without a connection.
// - `interserver_http_port`/`interserver_http_host` serve replicated tables: a replica fetches the parts it lacks from
//   another over interserver HTTP, at the host and port that one registered in ZooKeeper. Each server gets a port of
//   its own so that N servers on one host do not collide, and registers as 127.0.0.1.
// - A replicated cluster (issue 15) adds, per server: `<zookeeper>` (the coordination service its Replicated tables
//   use) and `<macros>`: `shard` is the shard's 1-based number (as the Gala cluster file's `shard`), `replica` is
//   `s<shard>r<replica>`, unique in the whole cluster. Gala's tables name them as
//   ReplicatedMergeTree('/clickhouse/tables/{shard}/<db>.<table>', '{replica}'). `remote_servers` then lists every
//   replica of each shard with `<internal_replication>true</internal_replication>`: Gala inserts into the local
//   replicated tables and ClickHouse replicates; a Distributed read asks one replica per shard.
// - The `default` user (no password) must be admitted from 127.0.0.1: a Distributed query logs into every shard as
//   the user named in the replica (default when none is).
import { spawn } from 'node:child_process';
import { ChildSlot } from './child-slot.ts';
import { accessSync, constants, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { DEFAULT_INSERT_QUORUM, DEFAULT_PARTITIONS, DEFAULT_SESSION_TIMEOUT_MS, type ClusterFile } from '../domain/cluster-map.ts';

export interface ClickHouseServerOptions {
  /** Extra users besides the passwordless `default`, e.g. to test credentials in the URL. */
  users?: readonly { name: string; password: string }[];
  /** How long to wait for `GET /ping` to answer. Default 60 s (18.16 can take a few seconds). */
  startTimeoutMs?: number;
  /**
   * [http, tcp, interserver] ports to bind, chosen by the caller (a cluster's servers must know one another's before
   * any starts); default: free ones, tried again when one is taken meanwhile.
   */
  ports?: readonly [number, number, number];
  /** XML put inside the config's root element, e.g. `<remote_servers>`. */
  extraConfig?: string;
  /**
   * The server's directory (config, data, logs), created when missing and kept (a second start reuses its data);
   * default a new temp dir, removed by cleanup() and after a failed start.
   */
  dir?: string;
  /** Told every 5 s while the server does not answer yet (18.16 can take seconds to start). */
  onProgress?: (line: string) => void;
  /**
   * Runs the server in a process group of its own, so that a Ctrl-C in the terminal reaches only the caller, which
   * then stops it in its own time (the demo stops its nodes before their servers). Default false.
   */
  ownProcessGroup?: boolean;
}

/** A server run as a child process that a test or the demo can stop, crash, start again and remove. */
export interface ManagedServer {
  /** The directory holding config, data and logs. */
  readonly dir: string;
  /** The running server's process id; null while stopped. */
  readonly pid: number | null;
  /** SIGTERM, then wait for the process to exit (SIGKILL after a grace). */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the process to exit: a crash. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data directory; resolves once it answers. */
  start(): Promise<void>;
  /** stop() and remove the directory (when the launcher made it). */
  cleanup(): Promise<void>;
}

export interface ClickHouseServer extends ManagedServer {
  /** http://127.0.0.1:<httpPort>, no credentials (the `default` user has no password). */
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
}

interface Binary {
  file: string;
  args: string[];
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | null {
  // /usr/sbin is where Debian puts clickhouse-server; it is not on every user's PATH.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir !== '' && executable(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** CLICKHOUSE_SERVER_BIN, else `clickhouse-server`, else the single `clickhouse` binary (`clickhouse server`). */
function resolveBinary(): Binary | null {
  const override = process.env.CLICKHOUSE_SERVER_BIN;
  if (override !== undefined && override !== '') {
    if (!executable(override)) return null;
    return { file: override, args: override.endsWith('/clickhouse') ? ['server'] : [] };
  }
  const server = findOnPath('clickhouse-server');
  if (server !== null) return { file: server, args: [] };
  const single = findOnPath('clickhouse');
  return single === null ? null : { file: single, args: ['server'] };
}

export function clickHouseServerAvailable(): boolean {
  return resolveBinary() !== null;
}

/** Why no server can start here, for the callers' own messages. */
export const NO_CLICKHOUSE_SERVER =
  'no ClickHouse server binary (looked for $CLICKHOUSE_SERVER_BIN, clickhouse-server, clickhouse on PATH, /usr/sbin, /usr/bin); ' +
  'install Debian\'s clickhouse-server';

async function freePort(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('could not read a free port');
  return { port: addr.port, release: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

/** `count` distinct free ports on 127.0.0.1: all are held open until the last is found. */
export async function freePorts(count: number): Promise<number[]> {
  const held: { port: number; release: () => Promise<void> }[] = [];
  for (let i = 0; i < count; i++) held.push(await freePort());
  await Promise.all(held.map((h) => h.release()));
  return held.map((h) => h.port);
}

export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function configXml(dir: string, ports: readonly [number, number, number], extra: string): string {
  // <yandex> is the root 18.16 requires; current releases still accept it. GALA_TEST_CH_LOG_LEVEL=debug logs every
  // query with its id, to follow an insert through an outage.
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>${process.env.GALA_TEST_CH_LOG_LEVEL ?? 'information'}</level>
    <log>${xml(join(dir, 'log', 'server.log'))}</log>
    <errorlog>${xml(join(dir, 'log', 'server.err.log'))}</errorlog>
    <size>10M</size>
    <count>1</count>
    <console>false</console>
  </logger>
  <http_port>${ports[0]}</http_port>
  <tcp_port>${ports[1]}</tcp_port>
  <interserver_http_port>${ports[2]}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${xml(join(dir, 'data'))}/</path>
  <tmp_path>${xml(join(dir, 'tmp'))}/</tmp_path>
  <user_files_path>${xml(join(dir, 'user_files'))}/</user_files_path>
  <format_schema_path>${xml(join(dir, 'format_schemas'))}/</format_schema_path>
  <users_config>${xml(join(dir, 'users.xml'))}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mlock_executable>false</mlock_executable>
${extra}</yandex>
`;
}

function usersXml(users: readonly { name: string; password: string }[]): string {
  const user = (name: string, password: string) => `    <${name}>
      <password>${xml(password)}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${name}>`;
  return `<?xml version="1.0"?>
<yandex>
  <profiles>
    <!-- poll_interval: how often an idle native connection checks for shutdown (default 10 s). The shards of a
         cluster hold such connections to one another, so a stop would otherwise wait about 10 s for them. -->
    <default><poll_interval>1</poll_interval></default>
  </profiles>
  <users>
${[user('default', ''), ...users.map((u) => user(u.name, u.password))].join('\n')}
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * One request on its own connection (agent: false sends Connection: close): a kept-alive probe socket
 * would make the server's graceful shutdown wait for it (18.16 waits about 8 s for idle connections).
 */
function answersPing(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(`${url}/ping`, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** A port the caller chose was taken by another process before the server could bind it. */
export class PortTakenError extends Error {
  constructor(cause: unknown) {
    super(`clickhouse-server: a chosen port was taken: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PortTakenError';
  }
}

const USER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function startClickHouseServer(opts: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const found = resolveBinary();
  if (found === null) throw new Error(`startClickHouseServer: ${NO_CLICKHOUSE_SERVER}`);
  const binary: Binary = found;
  const users = opts.users ?? [];
  for (const u of users) {
    if (!USER_NAME.test(u.name) || u.name === 'default') {
      throw new Error(`startClickHouseServer: users[].name = "${u.name}" must match ${USER_NAME.source} and not be "default"`);
    }
  }
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gala-clickhouse-'));
  // A failed start removes only a directory it made: a caller's may hold data.
  const discard = () => {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'users.xml'), usersXml(users));

  let ports: readonly [number, number, number] = [0, 0, 0];
  let url = '';
  const child = new ChildSlot();

  function launch(): void {
    const stderrFd = openSync(join(dir, 'log', 'stderr.log'), 'a');
    const proc = spawn(binary.file, [...binary.args, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', stderrFd, stderrFd],
      detached: opts.ownProcessGroup === true,
    });
    closeSync(stderrFd);
    child.adopt(proc);
  }

  async function waitReady(): Promise<void> {
    const began = Date.now();
    const deadline = began + startTimeoutMs;
    let toldAt = began;
    for (;;) {
      if (child.current === null) throw startError('exited during start-up');
      if (await answersPing(url)) return;
      if (opts.onProgress !== undefined && Date.now() - toldAt >= 5_000) {
        toldAt = Date.now();
        opts.onProgress(`clickhouse-server on port ${ports[0]}: starting, ${Math.round((toldAt - began) / 1000)} s so far`);
      }
      if (Date.now() > deadline) throw startError(`did not answer ${url}/ping within ${startTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function startError(what: string): Error {
    const log = [tail(join(dir, 'log', 'server.err.log'), 30), tail(join(dir, 'log', 'stderr.log'), 10)].filter((s) => s !== '').join('\n');
    return new Error(`clickhouse-server (${binary.file}) ${what}. Last lines of server.err.log and stderr:\n${log || '(empty)'}`);
  }

  const signalAndWait = (signal: NodeJS.Signals, graceMs: number) => child.signalAndWait(signal, graceMs);

  async function start(): Promise<void> {
    if (child.current !== null) throw new Error(`clickhouse-server on port ${ports[0]} is already running`);
    launch();
    try {
      await waitReady();
    } catch (err) {
      await signalAndWait('SIGKILL', 0);
      throw err;
    }
  }

  // Free ports can be taken between probing and binding; a fresh set is tried when that happens.
  // Ports the caller chose are tried once: the caller picks a fresh set (PortTakenError) for all it configures.
  for (let attempt = 1; ; attempt++) {
    if (opts.ports !== undefined) ports = opts.ports;
    else {
      const [http, tcp, interserver] = await freePorts(3);
      ports = [http!, tcp!, interserver!];
    }
    rmSync(join(dir, 'log', 'server.err.log'), { force: true });
    url = `http://127.0.0.1:${ports[0]}`;
    writeFileSync(join(dir, 'config.xml'), configXml(dir, ports, opts.extraConfig ?? ''));
    try {
      await start();
      break;
    } catch (err) {
      const portTaken = /Address already in use/i.test(tail(join(dir, 'log', 'server.err.log'), 30));
      if (portTaken && opts.ports !== undefined) {
        discard();
        throw new PortTakenError(err);
      }
      if (!portTaken || attempt === 3) {
        discard();
        throw err;
      }
    }
  }

  return {
    url,
    httpPort: ports[0],
    tcpPort: ports[1],
    dir,
    get pid() {
      return child.current?.pid ?? null;
    },
    stop: () => signalAndWait('SIGTERM', 30_000),
    kill: () => signalAndWait('SIGKILL', 0),
    start,
    async cleanup() {
      await signalAndWait('SIGTERM', 30_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- A cluster of shards -----------------------------------------------------------------------

export interface ClickHouseCluster {
  /** The cluster's name in every server's `remote_servers`. */
  readonly name: string;
  readonly shards: number;
  /** Replicas per shard: 1 without replication. */
  readonly replicas: number;
  /**
   * Every server, shard by shard (s1r1, s1r2, ..., s2r1, ...): without replication, the shards in `remote_servers`
   * order. Each can be stopped, killed and started again (outage tests).
   */
  readonly servers: readonly ClickHouseServer[];
  /** http://127.0.0.1:<httpPort> of each server, in the same order. */
  readonly urls: readonly string[];
  /** The server of replica `replica` (1-based) of shard `shard` (1-based). */
  replicaOf(shard: number, replica: number): ClickHouseServer;
  /** Stops every server and removes their directories. */
  cleanup(): Promise<void>;
  /** Stops every server (SIGTERM, then waits), keeping their directories. */
  stop(): Promise<void>;
}

export interface ClickHouseClusterOptions {
  /** Shards. Default 3. */
  shards?: number;
  /** Servers per shard; more than 1 needs `zookeeper`. Default 1. */
  replicas?: number;
  /**
   * The ZooKeeper the servers' Replicated tables use (cli/zookeeper-launcher.ts). Given, the servers are configured
   * for replication (zookeeper, macros, internal_replication), even with one replica per shard.
   */
  zookeeper?: { host: string; port: number };
  /** The name in `remote_servers`. Default "gala". */
  name?: string;
  startTimeoutMs?: number;
  /** Server i's directory (0-based, in `servers` order), kept at stop; default a temp dir each, removed by cleanup(). */
  dirOf?: (server: number) => string;
  /** A line per server starting and started, and every 5 s while one is still starting. */
  onProgress?: (line: string) => void;
  /** See ClickHouseServerOptions.ownProcessGroup. */
  ownProcessGroup?: boolean;
}

/**
 * The `remote_servers` element naming every (127.0.0.1, tcp port) as one shard of `name`, one replica each; or, given
 * a list per shard, each shard with all its replicas and internal replication.
 */
export function remoteServersXml(name: string, tcpPorts: readonly number[] | readonly (readonly number[])[]): string {
  const replica = (p: number) => `<replica><host>127.0.0.1</host><port>${p}</port></replica>`;
  const shards = tcpPorts
    .map((p) => (typeof p === 'number'
      ? `      <shard>${replica(p)}</shard>`
      : `      <shard><internal_replication>true</internal_replication>${p.map(replica).join('')}</shard>`))
    .join('\n');
  return `  <remote_servers>
    <${xml(name)}>
${shards}
    </${xml(name)}>
  </remote_servers>
  <interserver_http_host>127.0.0.1</interserver_http_host>
`;
}

/**
 * What a replicated server adds to its config: the ZooKeeper its Replicated tables use, and its macros.
 * session_timeout_ms 6,000 (ClickHouse's default is 30 s; the launcher's ZooKeeper admits up to 10 s): a killed
 * replica stops counting as active that long after, so an insert needing it fails within that bound plus the
 * quorum timeout, not after 30 s.
 */
export function replicationXml(zookeeper: { host: string; port: number }, shard: number, replica: number): string {
  return `  <zookeeper>
    <node index="1"><host>${xml(zookeeper.host)}</host><port>${zookeeper.port}</port></node>
    <session_timeout_ms>6000</session_timeout_ms>
  </zookeeper>
  <macros><shard>${shard}</shard><replica>${replicaName(shard, replica)}</replica></macros>
`;
}

/** The `replica` macro of replica r (1-based) of shard s: unique in the cluster, so logs and system.replicas say which. */
export function replicaName(shard: number, replica: number): string {
  return `s${shard}r${replica}`;
}

/**
 * shards x replicas servers on 127.0.0.1, each naming all in `remote_servers` under `name`. Without `zookeeper`
 * (and one replica, the default) exactly issue 14's cluster: one server per shard.
 */
export async function startClickHouseCluster(opts: ClickHouseClusterOptions = {}): Promise<ClickHouseCluster> {
  const shards = opts.shards ?? 3;
  const replicas = opts.replicas ?? 1;
  const name = opts.name ?? 'gala';
  const zookeeper = opts.zookeeper ?? null;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`startClickHouseCluster: shards = ${shards} must be a positive integer`);
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`startClickHouseCluster: replicas = ${replicas} must be a positive integer`);
  if (replicas > 1 && zookeeper === null) throw new Error(`startClickHouseCluster: replicas = ${replicas} needs zookeeper ({host, port}): Replicated tables coordinate through it`);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`startClickHouseCluster: name = "${name}" must be 1 to 64 of A-Z a-z 0-9 _`);
  const progress = opts.onProgress ?? (() => {});
  const count = shards * replicas;
  /** Server i (0-based, shard by shard) as [shard, replica], both 1-based. */
  const place = (i: number) => [Math.floor(i / replicas) + 1, (i % replicas) + 1] as const;
  const label = (i: number) => (zookeeper === null ? `shard ${i + 1} of ${shards}` : `shard ${place(i)[0]} replica ${place(i)[1]} (${i + 1} of ${count})`);
  // Every server's config names every tcp port, so all ports are chosen before the first starts; if one was taken
  // meanwhile, the servers started so far stop and a fresh set is chosen.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(3 * count);
    const triple = (i: number) => [ports[3 * i]!, ports[3 * i + 1]!, ports[3 * i + 2]!] as const;
    const remote = zookeeper === null
      ? remoteServersXml(name, Array.from({ length: count }, (_, i) => triple(i)[1]))
      : remoteServersXml(name, Array.from({ length: shards }, (_, s) => Array.from({ length: replicas }, (_, r) => triple(s * replicas + r)[1])));
    // One after another: on a small machine, N servers starting at once take N times as long each.
    const servers: ClickHouseServer[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const began = Date.now();
        progress(`clickhouse-server ${label(i)}: starting (http ${triple(i)[0]}, tcp ${triple(i)[1]})`);
        const dir = opts.dirOf?.(i);
        const extraConfig = zookeeper === null ? remote : `${remote}${replicationXml(zookeeper, ...place(i))}`;
        servers.push(
          await startClickHouseServer({ ports: triple(i), extraConfig, startTimeoutMs: opts.startTimeoutMs, onProgress: opts.onProgress, ownProcessGroup: opts.ownProcessGroup, ...(dir === undefined ? {} : { dir }) }),
        );
        progress(`clickhouse-server ${label(i)}: up after ${((Date.now() - began) / 1000).toFixed(1)} s`);
      }
    } catch (err) {
      await Promise.all(servers.map((s) => (opts.dirOf === undefined ? s.cleanup() : s.stop())));
      if (err instanceof PortTakenError && attempt < 3) continue;
      throw err;
    }
    return {
      name,
      shards,
      replicas,
      servers,
      urls: servers.map((s) => s.url),
      replicaOf(shard, replica) {
        if (!Number.isInteger(shard) || shard < 1 || shard > shards || !Number.isInteger(replica) || replica < 1 || replica > replicas) {
          throw new Error(`replicaOf(${shard}, ${replica}): this cluster has shards 1-${shards} with replicas 1-${replicas}`);
        }
        return servers[(shard - 1) * replicas + (replica - 1)]!;
      },
      async cleanup() {
        await Promise.all(servers.map((s) => s.cleanup()));
      },
      async stop() {
        await Promise.all(servers.map((s) => s.stop()));
      },
    };
  }
}

/** Where a node of a replicated cluster file writes: replica `replica` of shard `shard`, both 1-based. */
export interface NodePlacement {
  shard: number;
  replica: number;
}

export interface ClusterFileOptions {
  clickhouseCluster: string;
  /** One node per URL, in order: issue 14's file (no replication). */
  clickhouseUrls?: readonly string[];
  /**
   * A replicated cluster instead: one node per placement, in order, on `cluster.replicaOf(shard, replica)`, with
   * `shard` set and `replication` from `zookeeper` and the other keys below. Needs `cluster` and `zookeeper`.
   */
  nodes?: readonly NodePlacement[];
  cluster?: { replicaOf(shard: number, replica: number): { url: string } };
  /** host:port (ZooKeeper.connectString). */
  zookeeper?: string;
  sessionTimeoutMs?: number;
  insertQuorum?: number;
  /** The leases' ZooKeeper root; default, as the file's default, /gala/<clickhouseCluster>. */
  root?: string;
  partitions?: number;
}

/**
 * A Gala cluster file (domain/cluster-map.ts), ids n1..nN, on 127.0.0.1 with free http and ingest ports: one node
 * per ClickHouse URL, or (replicated) one node per placement on a replica.
 */
export async function clusterFileFor(opts: ClusterFileOptions): Promise<ClusterFile> {
  const replicated = opts.nodes !== undefined;
  if (replicated === (opts.clickhouseUrls !== undefined)) throw new Error('clusterFileFor: give either clickhouseUrls or nodes (placements on replicas)');
  if (replicated && (opts.cluster === undefined || opts.zookeeper === undefined)) throw new Error('clusterFileFor: nodes (placements on replicas) need cluster and zookeeper');
  const urls = replicated ? opts.nodes!.map((p) => opts.cluster!.replicaOf(p.shard, p.replica).url) : opts.clickhouseUrls!;
  const ports = await freePorts(2 * urls.length);
  return {
    clickhouseCluster: opts.clickhouseCluster,
    nodes: urls.map((clickhouseUrl, i) => ({
      id: `n${i + 1}`,
      host: '127.0.0.1',
      httpPort: ports[2 * i]!,
      ingestPort: ports[2 * i + 1]!,
      clickhouseUrl,
      ...(replicated ? { shard: opts.nodes![i]!.shard } : {}),
    })),
    partitions: opts.partitions ?? DEFAULT_PARTITIONS,
    replication: !replicated ? null : {
      zookeeper: opts.zookeeper!,
      sessionTimeoutMs: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      insertQuorum: opts.insertQuorum ?? DEFAULT_INSERT_QUORUM,
      root: opts.root ?? `/gala/${opts.clickhouseCluster}`,
    },
  };
}
