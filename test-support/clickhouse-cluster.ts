// Runs N real ClickHouse servers (Debian's 18.16 or current ones) as the shards of one ClickHouse cluster, for the
// cluster tests: each has its own temp dir and free ports, and a config whose `remote_servers` names all N, one
// replica per shard. Also writes the Gala cluster file for N nodes over them.
//
// What 18.16 needs (current releases take the same):
// - `remote_servers` sits in the server config (config.xml), under the root `<yandex>`; each replica is `<host>` and
//   `<port>`, where the port is the peer's native `tcp_port` (Distributed queries go over the native protocol, never
//   HTTP). A replica whose host and port are the server's own is read locally, without a connection.
// - `interserver_http_port`/`interserver_http_host` serve replicated tables only (unused here); each server still
//   gets a port of its own so that N servers on one host do not collide.
// - The `default` user (no password) must be admitted from 127.0.0.1: a Distributed query logs into every shard as
//   the user named in the replica (default when none is).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterFile } from '../domain/cluster-map.ts';
import { freePorts, PortTakenError, startClickHouseServer, xml, type ClickHouseServer } from './clickhouse-server.ts';

export interface ClickHouseCluster {
  /** The cluster's name in every server's `remote_servers`. */
  readonly name: string;
  /** The shards, in `remote_servers` order. Each can be stopped, killed and started again (outage tests). */
  readonly servers: readonly ClickHouseServer[];
  /** http://127.0.0.1:<httpPort> of each shard, in the same order. */
  readonly urls: readonly string[];
  /** Stops every server and removes their temp dirs. */
  cleanup(): Promise<void>;
}

export interface ClickHouseClusterOptions {
  /** Shards (one server each). Default 3. */
  shards?: number;
  /** The name in `remote_servers`. Default "gala". */
  name?: string;
  startTimeoutMs?: number;
}

/** The `remote_servers` element naming every (127.0.0.1, tcp port) as one shard of `name`, one replica each. */
export function remoteServersXml(name: string, tcpPorts: readonly number[]): string {
  const shards = tcpPorts.map((p) => `      <shard><replica><host>127.0.0.1</host><port>${p}</port></replica></shard>`).join('\n');
  return `  <remote_servers>
    <${xml(name)}>
${shards}
    </${xml(name)}>
  </remote_servers>
  <interserver_http_host>127.0.0.1</interserver_http_host>
`;
}

export async function startClickHouseCluster(opts: ClickHouseClusterOptions = {}): Promise<ClickHouseCluster> {
  const shards = opts.shards ?? 3;
  const name = opts.name ?? 'gala';
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`startClickHouseCluster: shards = ${shards} must be a positive integer`);
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new Error(`startClickHouseCluster: name = "${name}" must be 1 to 64 of A-Z a-z 0-9 _`);
  // Every server's config names every tcp port, so all ports are chosen before the first starts; if one was taken
  // meanwhile, the servers started so far stop and a fresh set is chosen.
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(3 * shards);
    const triple = (i: number) => [ports[3 * i]!, ports[3 * i + 1]!, ports[3 * i + 2]!] as const;
    const extraConfig = remoteServersXml(name, Array.from({ length: shards }, (_, i) => triple(i)[1]));
    // One after another: on a small machine, N servers starting at once take N times as long each.
    const servers: ClickHouseServer[] = [];
    try {
      for (let i = 0; i < shards; i++) servers.push(await startClickHouseServer({ ports: triple(i), extraConfig, startTimeoutMs: opts.startTimeoutMs }));
    } catch (err) {
      await Promise.all(servers.map((s) => s.cleanup()));
      if (err instanceof PortTakenError && attempt < 3) continue;
      throw err;
    }
    return {
      name,
      servers,
      urls: servers.map((s) => s.url),
      async cleanup() {
        await Promise.all(servers.map((s) => s.cleanup()));
      },
    };
  }
}

export interface WrittenClusterFile {
  /** The file's path (in a temp dir of its own). */
  file: string;
  cluster: ClusterFile;
  /** Removes the temp dir. */
  cleanup(): void;
}

/**
 * Writes a Gala cluster file (domain/cluster-map.ts) for one node per URL, ids n1..nN, on 127.0.0.1 with free http
 * and ingest ports. `partitions` is written only when given.
 */
export async function writeClusterFile(opts: { clickhouseCluster: string; clickhouseUrls: readonly string[]; partitions?: number }): Promise<WrittenClusterFile> {
  const ports = await freePorts(2 * opts.clickhouseUrls.length);
  const cluster: ClusterFile = {
    clickhouseCluster: opts.clickhouseCluster,
    nodes: opts.clickhouseUrls.map((clickhouseUrl, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', httpPort: ports[2 * i]!, ingestPort: ports[2 * i + 1]!, clickhouseUrl })),
    partitions: opts.partitions ?? 64,
  };
  const dir = mkdtempSync(join(tmpdir(), 'gala-cluster-'));
  const file = join(dir, 'cluster.json');
  const { partitions, ...rest } = cluster;
  writeFileSync(file, `${JSON.stringify(opts.partitions === undefined ? rest : { ...rest, partitions }, null, 2)}\n`);
  return { file, cluster, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
