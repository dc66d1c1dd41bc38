// The `gala` command: `serve` runs the system, `demo` runs it with the gala simulator, `simulate` drives an ingest.
import { ConfigError, parseServeConfig } from './config.ts';
import { refuseRehearsalDataDir } from '../control-room/rehearsal/data-dir-guard.ts';
import { createLog } from '../platform/log.ts';
import { startSystem, type RunningSystem } from '../system/start-system.ts';

const USAGE = `usage: gala <command> [flags]
  serve     the system without the simulator (flags: --http-port --ingest-port --host --data --clickhouse-url --show --obs-url;
            a cluster node: --cluster FILE --node ID, its host, ports and ClickHouse from the file)
  demo      the whole system on the embedded engine with the gala simulator streaming orders
  cluster-demo  N nodes over N clickhouse-server shards with the simulator streaming orders (gala cluster-demo --help;
            --replicated: shards of 2 replicas, one ZooKeeper, standbys that take a dead owner's shard over)
  migrate   create Gala's tables on a cluster's ClickHouse server that no node writes to (gala migrate --help)
  simulate  drive a running ingest endpoint with the gala simulator (gala simulate --help)
  rehearse  a rehearsal: the night replayed at 1x-100x through ingest, overlays and cues, OBS logged or a rehearsal OBS
            (gala rehearse --help; GALA_REHEARSAL=1 gala serve does the same)`;

/** Stops on the first SIGTERM/SIGINT: refuse new work, commit and acknowledge in-flight batches, exit 0. */
export function stopOnSignals(system: RunningSystem, before?: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: finishing in-flight batches, then exiting\n`);
    void (async () => {
      await before?.();
      await system.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function serve(argv: string[]): Promise<void> {
  const cfg = parseServeConfig(argv, process.env);
  // A real night never runs on a rehearsal's data: its orders are simulated.
  if (cfg.clickhouseUrl === null) {
    try {
      refuseRehearsalDataDir(cfg.dataDir);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  const log = createLog('gala');
  if (cfg.ingestTokens.length === 0) log('config.warning', { message: 'GALA_INGEST_TOKEN is not set: ingest refuses everyone' });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const system = await startSystem(cfg, { log, onListening: out, print: out });
  stopOnSignals(system);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'rehearse' || (command === 'serve' && ['1', 'true'].includes(process.env.GALA_REHEARSAL ?? ''))) {
      const { runRehearse } = await import('./rehearse.ts');
      return await runRehearse(rest, stopOnSignals);
    }
    if (command === 'serve') return await serve(rest);
    if (command === 'demo') {
      const { runDemo } = await import('./demo.ts');
      return await runDemo(rest, stopOnSignals);
    }
    if (command === 'cluster-demo') {
      const { runClusterDemo } = await import('./cluster-demo.ts');
      return await runClusterDemo(rest);
    }
    if (command === 'migrate') {
      const { runMigrate } = await import('./migrate.ts');
      return await runMigrate(rest, (line) => process.stdout.write(`${line}\n`));
    }
    if (command === 'simulate') {
      const { runSimulateCli } = await import('../simulator/simulate-cli.ts');
      process.exit(await runSimulateCli(rest));
    }
    process.stderr.write(`${USAGE}\n`);
    process.exit(command === undefined || command === '--help' ? 0 : 2);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`gala: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

await main();
