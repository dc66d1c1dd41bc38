// A cluster node's start waits, after migrating its own shard, until every shard of the ClickHouse cluster answers
// reads of the Distributed tables: the cluster-wide reads of the start (the figures, the milestones) would fail
// while a shard is down or its node has not created its tables yet. Nodes may start in any order.
import type { Log } from '../platform/log.ts';
import type { ProgressReporter } from '../platform/progress.ts';
import type { OrderStore } from '../storage/storage.ts';

export interface AwaitShardsOptions {
  progress: ProgressReporter;
  log: Log;
  /** Lines for the operator's console. */
  print?: (line: string) => void;
  /** Between two checks (default 1 s). */
  intervalMs?: number;
}

export async function awaitShards(store: Pick<OrderStore, 'clusterUnready'>, clickhouseCluster: string, opts: AwaitShardsOptions): Promise<void> {
  let reason = await store.clusterUnready();
  if (reason === null) return;
  await opts.progress.run('cluster.waiting_for_shards', 'checks', async (p) => {
    let said: string | null = null;
    while (reason !== null) {
      // The first line of ClickHouse's error names the table and the shard; once per change of it.
      const line = reason.split('\n').find((l) => l.trim() !== '') ?? reason;
      if (line !== said) {
        said = line;
        opts.log('cluster.waiting_for_shards', { clickhouseCluster, reason: line });
        opts.print?.(`waiting for every shard of ClickHouse cluster "${clickhouseCluster}": ${line}`);
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1_000));
      p.advance(1);
      reason = await store.clusterUnready();
    }
  });
  opts.log('cluster.shards_ready', { clickhouseCluster });
}
