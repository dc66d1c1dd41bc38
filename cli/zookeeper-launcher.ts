// Runs a real ZooKeeper (Debian's `zookeeper` package, 3.8, on the `java` from the same package set) as a child
// process: standalone, own directory, a free client port. The replicated cluster demo and the tests start theirs
// with it; ClickHouse's replicated tables and Gala's partition leases both use it.
//
// Debian ships the server as /usr/share/java/zookeeper.jar with its dependencies on the jar's class path; the
// standalone entry point is org.apache.zookeeper.server.ZooKeeperServerMain, given a zoo.cfg written here. The
// admin HTTP server (port 8080 by default) is switched off so that several can run on one host.
import { spawn } from 'node:child_process';
import { ChildSlot } from './child-slot.ts';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, type ManagedServer } from './clickhouse-launcher.ts';

const JAR = '/usr/share/java/zookeeper.jar';
const JAVA_CANDIDATES = ['/usr/bin/java'];

export const NO_ZOOKEEPER =
  'ZooKeeper is not installed: install Debian\'s package (`apt-get install zookeeper`, which brings java), or set GALA_ZOOKEEPER_JAR to a zookeeper.jar with its dependencies on its class path';

function resolveJava(): string | null {
  const fromEnv = process.env.GALA_JAVA;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return JAVA_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

function resolveJar(): string {
  return process.env.GALA_ZOOKEEPER_JAR ?? JAR;
}

export function zookeeperAvailable(): boolean {
  return resolveJava() !== null && existsSync(resolveJar());
}

export interface ZooKeeperOptions {
  /** The client port; default a free one. A restart keeps it. */
  port?: number;
  /** The server's directory (config, data, log), kept when given; default a temp dir removed by cleanup(). */
  dir?: string;
  /**
   * The tick (ms). Sessions may last from 2 to 20 ticks; default 500 ms, so that sessions of 1 to 10 s are
   * admitted (Gala's leases want seconds, not ZooKeeper's default 4 to 40 s).
   */
  tickMs?: number;
  /** How long to wait for the server to answer `ruok`. Default 60 s. */
  startTimeoutMs?: number;
  /** Runs the server in its own process group (see ClickHouseServerOptions.ownProcessGroup). */
  ownProcessGroup?: boolean;
  /** Told every 5 s while the server does not answer yet. */
  onProgress?: (line: string) => void;
}

export interface ZooKeeper extends ManagedServer {
  /** host:port, as a ZooKeeper connection string and as ClickHouse's `<zookeeper><node>` takes it. */
  readonly connectString: string;
  readonly host: string;
  readonly port: number;
  /** The server's `mntr` four-letter answer as key/value pairs (outstanding requests, znode count, ...). */
  monitor(): Promise<Record<string, string>>;
}

/** Sends a four-letter command and returns the whole answer ('' when the server does not answer). */
export function fourLetter(host: string, port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let out = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('connect', () => socket.write(command));
    socket.on('data', (d) => (out += d.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', () => undefined);
  });
}

export async function startZooKeeper(opts: ZooKeeperOptions = {}): Promise<ZooKeeper> {
  const java = resolveJava();
  const jar = resolveJar();
  if (java === null || !existsSync(jar)) throw new Error(`startZooKeeper: ${NO_ZOOKEEPER}`);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gala-zookeeper-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'conf'), { recursive: true });
  const port = opts.port ?? (await freePorts(1))[0]!;
  const tick = opts.tickMs ?? 500;
  const host = '127.0.0.1';
  writeFileSync(
    join(dir, 'conf', 'zoo.cfg'),
    [
      `tickTime=${tick}`,
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${port}`,
      `clientPortAddress=${host}`,
      'maxClientCnxns=0',
      `minSessionTimeout=${2 * tick}`,
      `maxSessionTimeout=${20 * tick}`,
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,mntr,stat,cons',
      // Sessions and data must outlive a stop: the tests stop and start the server mid-show.
      'autopurge.snapRetainCount=3',
      'autopurge.purgeInterval=0',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'conf', 'log4j.properties'),
    ['log4j.rootLogger=WARN, FILE', 'log4j.appender.FILE=org.apache.log4j.FileAppender', `log4j.appender.FILE.File=${join(dir, 'zookeeper.log')}`, 'log4j.appender.FILE.layout=org.apache.log4j.PatternLayout', 'log4j.appender.FILE.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n', ''].join('\n'),
  );
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const child = new ChildSlot();

  function launch(): void {
    const errFd = openSync(join(dir, 'stderr.log'), 'a');
    const proc = spawn(
      java!,
      ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-Dzookeeper.admin.enableServer=false', `-Dlog4j.configuration=file:${join(dir, 'conf', 'log4j.properties')}`, '-cp', `${join(dir, 'conf')}:${jar}`, 'org.apache.zookeeper.server.ZooKeeperServerMain', join(dir, 'conf', 'zoo.cfg')],
      { cwd: dir, stdio: ['ignore', errFd, errFd], detached: opts.ownProcessGroup === true },
    );
    closeSync(errFd);
    child.adopt(proc);
  }

  async function waitReady(): Promise<void> {
    const began = Date.now();
    let toldAt = began;
    for (;;) {
      if (child.current === null) throw new Error(`zookeeper exited during start-up. Last lines of its log:\n${tail(join(dir, 'stderr.log'))}\n${tail(join(dir, 'zookeeper.log'))}`);
      if ((await fourLetter(host, port, 'ruok', 1000)) === 'imok') return;
      if (opts.onProgress !== undefined && Date.now() - toldAt >= 5000) {
        toldAt = Date.now();
        opts.onProgress(`zookeeper on port ${port}: starting, ${Math.round((toldAt - began) / 1000)} s so far`);
      }
      if (Date.now() - began > startTimeoutMs) {
        await signalAndWait('SIGKILL', 0);
        throw new Error(`zookeeper did not answer ruok on ${host}:${port} within ${startTimeoutMs} ms. Last lines of its log:\n${tail(join(dir, 'zookeeper.log'))}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const signalAndWait = (signal: NodeJS.Signals, graceMs: number) => child.signalAndWait(signal, graceMs);

  async function start(): Promise<void> {
    if (child.current !== null) throw new Error(`zookeeper on port ${port} is already running`);
    launch();
    await waitReady();
  }

  try {
    await start();
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    connectString: `${host}:${port}`,
    host,
    port,
    dir,
    get pid() {
      return child.current?.pid ?? null;
    },
    stop: () => signalAndWait('SIGTERM', 15_000),
    kill: () => signalAndWait('SIGKILL', 0),
    start,
    async cleanup() {
      await signalAndWait('SIGTERM', 15_000);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    async monitor() {
      const out: Record<string, string> = {};
      for (const line of (await fourLetter(host, port, 'mntr')).split('\n')) {
        const tab = line.indexOf('\t');
        if (tab > 0) out[line.slice(0, tab)] = line.slice(tab + 1).trim();
      }
      return out;
    },
  };
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
