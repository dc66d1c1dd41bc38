// The `gala serve` configuration from flags and environment (a flag wins over its variable), validated once.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseClusterFile, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import { parseShowConfig, type ShowConfig } from '../domain/show.ts';
import { parseTokenList } from '../platform/tokens.ts';
import { ConfigError } from '../platform/config-error.ts';
import { DEFAULT_MERGE_NICE } from '../storage/chdb/background-nice.ts';
import type { ServeConfig } from '../system/serve-config.ts';

export { ConfigError } from '../platform/config-error.ts';
export type { ServeConfig } from '../system/serve-config.ts';


export const DEFAULT_SHOW_FILE = fileURLToPath(new URL('../domain/default-show.json', import.meta.url));

function port(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new ConfigError(`${name}: must be a port number 0-65535 (got "${value}")`);
  return n;
}

/** Reads a JSON file a flag names and checks it with `parse`; every error names the flag, the file and the fault. */
function loadJsonFile<T>(flag: string, file: string, parse: (raw: unknown) => T): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${flag}: cannot read "${file}": ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${flag}: "${file}" is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return parse(raw);
  } catch (e) {
    throw new ConfigError(`${flag}: "${file}": ${(e as Error).message}`);
  }
}

export function loadShow(file: string): ShowConfig {
  return loadJsonFile('--show', file, parseShowConfig);
}

/** Reads and checks a cluster file; every error names the flag, the file and what is wrong. */
export function loadClusterFile(file: string): ClusterFile {
  return loadJsonFile('--cluster', file, parseClusterFile);
}

type Picked = { value: string; from: string } | null;

/**
 * `--cluster FILE --node ID`: this node's entry, and the file. A node listens on its entry's host and ports and writes
 * to its entry's ClickHouse; a flag or variable that sets one of them to something else is refused.
 */
function clusterNode(cluster: Picked, node: Picked, overrides: { key: keyof ClusterNode; picked: Picked }[]): { file: ClusterFile; self: ClusterNode } | null {
  if (cluster === null && node === null) return null;
  if (cluster === null) throw new ConfigError(`${node!.from}: a node is named only with a cluster file (--cluster FILE or GALA_CLUSTER)`);
  if (node === null) throw new ConfigError(`${cluster.from}: a cluster node needs its id too (--node ID or GALA_NODE)`);
  const file = loadClusterFile(cluster.value);
  const self = file.nodes.find((n) => n.id === node.value);
  if (self === undefined) {
    throw new ConfigError(`${node.from}: "${node.value}" is not a node of the cluster file "${cluster.value}" (its nodes: ${file.nodes.map((n) => n.id).join(', ')})`);
  }
  for (const { key, picked } of overrides) {
    if (picked === null || picked.value === String(self[key])) continue;
    throw new ConfigError(
      `${picked.from}: "${picked.value}" disagrees with the cluster file "${cluster.value}", where node "${self.id}" has ${key} "${String(self[key])}"; leave it out (a node takes it from the file)`,
    );
  }
  return { file, self };
}

export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServeConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'http-port': { type: 'string' },
        'ingest-port': { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        'clickhouse-url': { type: 'string' },
        show: { type: 'string' },
        'obs-url': { type: 'string' },
        cluster: { type: 'string' },
        node: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const pick = (flag: string | undefined, v: string | undefined, dflt: string) => flag ?? (v !== undefined && v !== '' ? v : dflt);
  const showFile = pick(values.show, env.GALA_SHOW, DEFAULT_SHOW_FILE);
  const windowS = Number(env.GALA_DEDUP_WINDOW_SECONDS ?? '600');
  if (!Number.isInteger(windowS) || windowS < 600) throw new ConfigError(`GALA_DEDUP_WINDOW_SECONDS: an integer of at least 600 (got "${env.GALA_DEDUP_WINDOW_SECONDS}")`);
  const maxEntries = Number(env.GALA_DEDUP_MAX_ENTRIES ?? '72000000');
  if (!Number.isInteger(maxEntries) || maxEntries < 1000) throw new ConfigError(`GALA_DEDUP_MAX_ENTRIES: an integer of at least 1000 (got "${env.GALA_DEDUP_MAX_ENTRIES}")`);
  const expectedRate = Number(env.GALA_DEDUP_EXPECTED_RATE ?? '20000');
  if (!Number.isInteger(expectedRate) || expectedRate < 0) throw new ConfigError(`GALA_DEDUP_EXPECTED_RATE: a whole number of orders per second (got "${env.GALA_DEDUP_EXPECTED_RATE}")`);
  const reconcileS = Number(env.GALA_RECONCILE_SECONDS ?? '5');
  if (!Number.isFinite(reconcileS) || reconcileS < 0) throw new ConfigError(`GALA_RECONCILE_SECONDS: a number of seconds, 0 to turn it off (got "${env.GALA_RECONCILE_SECONDS}")`);
  const num = (name: string, dflt: string, min: number, rule: string) => {
    const v = Number(env[name] ?? dflt);
    if (!Number.isFinite(v) || v < min) throw new ConfigError(`${name}: ${rule} (got "${env[name]}")`);
    return v;
  };
  const publicRate = num('GALA_PUBLIC_RATE', '20', 0, 'requests per second per client, 0 for no limit');
  const publicBurst = num('GALA_PUBLIC_BURST', '100', 1, 'requests a client may make at once, at least 1');
  const flushMs = num('GALA_GROUP_FLUSH_MS', '100', 1, 'milliseconds a group of batches waits for company before its insert, at least 1');
  const derivedMs = num('GALA_DERIVED_INTERVAL_MS', '500', 0, 'milliseconds at least between two inserts of rollup and side-table rows, 0 for one after every group');
  const niceRule = "a whole nice value from 0 to 19 for the embedded engine's merge threads, 0 to leave them at the process's priority";
  const mergeNice = num('GALA_MERGE_NICE', String(DEFAULT_MERGE_NICE), 0, niceRule);
  if (!Number.isInteger(mergeNice) || mergeNice > 19) throw new ConfigError(`GALA_MERGE_NICE: ${niceRule} (got "${env.GALA_MERGE_NICE}")`);
  const staleS = num('GALA_STALE_SECONDS', '10', 1, 'seconds without orders before input is stale, at least 1');
  const chUrl = pick(values['clickhouse-url'], env.GALA_CLICKHOUSE_URL, '');
  const obsUrl = pick(values['obs-url'], env.GALA_OBS_URL, '');
  // Which flag or variable gave a setting (null: neither), so that an error can name it.
  const given = (flag: string, value: string | undefined, variable: string): Picked =>
    value !== undefined ? { value, from: `--${flag}` } : env[variable] !== undefined && env[variable] !== '' ? { value: env[variable]!, from: variable } : null;
  const cluster = clusterNode(given('cluster', values.cluster, 'GALA_CLUSTER'), given('node', values.node, 'GALA_NODE'), [
    { key: 'httpPort', picked: given('http-port', values['http-port'], 'GALA_HTTP_PORT') },
    { key: 'ingestPort', picked: given('ingest-port', values['ingest-port'], 'GALA_INGEST_PORT') },
    { key: 'host', picked: given('host', values.host, 'GALA_HOST') },
    { key: 'clickhouseUrl', picked: given('clickhouse-url', values['clickhouse-url'], 'GALA_CLICKHOUSE_URL') },
  ]);
  const self = cluster?.self;
  return {
    httpPort: self?.httpPort ?? port('--http-port', pick(values['http-port'], env.GALA_HTTP_PORT, '8080')),
    ingestPort: self?.ingestPort ?? port('--ingest-port', pick(values['ingest-port'], env.GALA_INGEST_PORT, '9001')),
    host: self?.host ?? pick(values.host, env.GALA_HOST, '127.0.0.1'),
    dataDir: pick(values.data, env.GALA_DATA, './data'),
    clickhouseUrl: self?.clickhouseUrl ?? (chUrl === '' ? null : chUrl),
    cluster,
    show: loadShow(showFile),
    showFile,
    ingestTokens: parseTokenList(env.GALA_INGEST_TOKEN),
    producerTokens: parseTokenList(env.GALA_PRODUCER_TOKEN),
    adminTokens: parseTokenList(env.GALA_ADMIN_TOKEN),
    viewerTokens: parseTokenList(env.GALA_VIEWER_TOKEN),
    obsUrl: obsUrl === '' ? null : obsUrl,
    obsPassword: env.GALA_OBS_PASSWORD ?? null,
    dedupWindowMs: windowS * 1000,
    dedupMaxEntries: maxEntries,
    dedupExpectedPerSecond: expectedRate,
    reconcileIntervalMs: reconcileS * 1000,
    flushIntervalMs: flushMs,
    derivedIntervalMs: derivedMs,
    mergeNice,
    publicRatePerSecond: publicRate,
    publicBurst,
    staleSeconds: staleS,
  };
}
