// Runs a real ClickHouse server (Debian's 18.16 or a current one) for tests: own config, free ports, temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

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
}

export interface ClickHouseServer {
  /** http://127.0.0.1:<httpPort>, no credentials (the `default` user has no password). */
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  /** The temp directory holding config, data and logs. */
  readonly dir: string;
  /** SIGTERM, then wait for the process to exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the process to exit: a crash. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data directory; resolves once it answers `/ping`. */
  start(): Promise<void>;
  /** stop() and remove the temp directory. */
  cleanup(): Promise<void>;
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

/**
 * For test files that need the server: true when it can run. When it cannot, CI fails (a skipped
 * server suite would pass silently); elsewhere the caller skips and the reason is printed.
 */
export function requireClickHouseServer(warn: (message: string) => void = console.warn): boolean {
  if (clickHouseServerAvailable()) return true;
  const reason =
    'no ClickHouse server binary (looked for $CLICKHOUSE_SERVER_BIN, clickhouse-server, clickhouse on PATH, /usr/sbin, /usr/bin); ' +
    'install Debian\'s clickhouse-server';
  if (process.env.CI === 'true') throw new Error(`${reason}. CI=true: server tests must run, not skip.`);
  warn(`skipping ClickHouse server tests: ${reason}`);
  return false;
}

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
    <default></default>
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

// Servers still running when the test process exits are killed with it, so none outlive a crashed worker.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackForExit(child: ChildProcess): void {
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
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
  if (found === null) throw new Error('startClickHouseServer: no clickhouse-server binary (see requireClickHouseServer)');
  const binary: Binary = found;
  const users = opts.users ?? [];
  for (const u of users) {
    if (!USER_NAME.test(u.name) || u.name === 'default') {
      throw new Error(`startClickHouseServer: users[].name = "${u.name}" must match ${USER_NAME.source} and not be "default"`);
    }
  }
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'gala-clickhouse-'));
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'users.xml'), usersXml(users));

  let ports: readonly [number, number, number] = [0, 0, 0];
  let url = '';
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  function launch(): void {
    const stderrFd = openSync(join(dir, 'log', 'stderr.log'), 'a');
    const proc = spawn(binary.file, [...binary.args, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', stderrFd, stderrFd],
    });
    closeSync(stderrFd);
    trackForExit(proc);
    child = proc;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        running.delete(proc);
        if (child === proc) child = null;
        resolve();
      });
      proc.once('error', () => {
        running.delete(proc);
        if (child === proc) child = null;
        resolve();
      });
    });
  }

  async function waitReady(): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (child === null) throw startError('exited during start-up');
      if (await answersPing(url)) return;
      if (Date.now() > deadline) throw startError(`did not answer ${url}/ping within ${startTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function startError(what: string): Error {
    const log = [tail(join(dir, 'log', 'server.err.log'), 30), tail(join(dir, 'log', 'stderr.log'), 10)].filter((s) => s !== '').join('\n');
    return new Error(`clickhouse-server (${binary.file}) ${what}. Last lines of server.err.log and stderr:\n${log || '(empty)'}`);
  }

  async function signalAndWait(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const proc = child;
    if (proc === null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async function start(): Promise<void> {
    if (child !== null) throw new Error(`clickhouse-server on port ${ports[0]} is already running`);
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
        rmSync(dir, { recursive: true, force: true });
        throw new PortTakenError(err);
      }
      if (!portTaken || attempt === 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  return {
    url,
    httpPort: ports[0],
    tcpPort: ports[1],
    dir,
    stop: () => signalAndWait('SIGTERM', 30_000),
    kill: () => signalAndWait('SIGKILL', 0),
    start,
    async cleanup() {
      await signalAndWait('SIGTERM', 30_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
