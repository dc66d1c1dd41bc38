// `gala serve --cluster FILE --node n1`, the real command, over two clickhouse-server shards that name each other in
// remote_servers: it listens on its entry's ports, creates the Distributed tables on its own shard, waits for the
// other node to create its own, answers
// GET /v1/cluster as its OpenAPI document says, and stops cleanly; a port flag that disagrees with the file is refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';
import { startClickHouseCluster, writeClusterFile, type ClickHouseCluster, type WrittenClusterFile } from '../test-support/clickhouse-cluster.ts';
import { requireClickHouseServer } from '../test-support/clickhouse-server.ts';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { createOpenApiCheck, type OpenApiDoc } from '../test-support/openapi-check.ts';
import { until } from '../test-support/until.ts';

const serverAvailable = requireClickHouseServer();

describe.skipIf(!serverAvailable)('gala serve as a cluster node', () => {
  let cluster: ClickHouseCluster;
  let written: WrittenClusterFile;
  const dataDir = mkdtempSync(join(tmpdir(), 'gala-cluster-node-'));
  const dataDir2 = mkdtempSync(join(tmpdir(), 'gala-cluster-node-'));
  const procs: GalaProcess[] = [];

  beforeAll(async () => {
    cluster = await startClickHouseCluster({ shards: 2, name: 'gala_test' });
    written = await writeClusterFile({ clickhouseCluster: 'gala_test', clickhouseUrls: cluster.urls });
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.proc.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await cluster?.cleanup();
    written?.cleanup();
    for (const d of [dataDir, dataDir2]) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  it('starts on its entry of the cluster file, migrates its shard, waits for the other shard and answers GET /v1/cluster', async () => {
    const n1 = written.cluster.nodes[0]!;
    const base = `http://127.0.0.1:${n1.httpPort}`;
    const starting = startGalaProcess(['--cluster', written.file, '--node', 'n1', '--data', dataDir]);
    starting.then((p) => procs.push(p), () => {});
    // Its own shard migrated, it waits (bound, saying so on /healthz) for the other shard's tables.
    const tables = "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'Distributed' ORDER BY name";
    const own = createServerConnection(cluster.urls[0]!);
    const other = createServerConnection(cluster.urls[1]!);
    try {
      await until('n1 waits for the shards', async () => {
        const health = await fetch(`${base}/healthz`).then(async (r) => (await r.json()) as { phase?: string }, () => null);
        return health?.phase === 'cluster.waiting_for_shards';
      });
      expect((await own.queryRows<{ name: string }>(tables)).map((r) => r.name)).toEqual(['gala_agg_key_minute_all', 'gala_agg_key_total_all', 'gala_agg_second_all', 'gala_milestones_all', 'gala_order_fps_all', 'gala_orders_all']);
      expect(await other.queryRows(tables)).toEqual([]);
    } finally {
      await own.close();
      await other.close();
    }
    // The second node migrates its shard: both start.
    const [node, second] = await Promise.all([starting, startGalaProcess(['--cluster', written.file, '--node', 'n2', '--data', dataDir2])]);
    procs.push(second);
    expect([node.httpPort, node.ingestPort]).toEqual([n1.httpPort, n1.ingestPort]);
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ ok: true, storage: 'up' });

    const doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as OpenApiDoc;
    type ClusterBody = { self: string; nodes: { id: string; state: string; partitions: number[] }[] };
    // Each node sees the other through its link to the peer's ingest port: 'up' once that link is connected.
    const seen = (port: number) => async () => (await (await fetch(`http://127.0.0.1:${port}/v1/cluster`)).json()) as ClusterBody;
    await until('n1 sees n2 up', seen(n1.httpPort), (b) => b.nodes.every((n) => n.state === 'up'));
    await until('n2 sees n1 up', seen(second.httpPort), (b) => b.nodes.every((n) => n.state === 'up'));
    const res = await fetch(`${base}/v1/cluster`);
    const body = (await createOpenApiCheck(doc).conforms('GET', '/v1/cluster', res)) as ClusterBody;
    expect(body.self).toBe('n1');
    expect(body.nodes.map((n) => [n.id, n.state, n.partitions.length])).toEqual([['n1', 'up', 32], ['n2', 'up', 32]]);

    for (const p of [node, second]) p.proc.kill('SIGTERM');
    expect(await Promise.all([node.exited, second.exited])).toEqual([0, 0]);
  });

  it('refuses a port flag that disagrees with the file, naming it, before listening', async () => {
    await expect(startGalaProcess(['--cluster', written.file, '--node', 'n2', '--http-port', '1'])).rejects.toThrow(
      /exited with 2 before listening; stderr: gala: --http-port: "1" disagrees with the cluster file ".*cluster.json", where node "n2" has httpPort/,
    );
  });
});
