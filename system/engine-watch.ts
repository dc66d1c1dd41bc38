// The engine's background work (parts per table, merges) sampled every few seconds and shown on /metrics, so a
// slow stretch of acks can be matched with what ClickHouse was doing then. One read at a time; never throws.
import type { Registry } from '../platform/metrics.ts';
import type { EngineStats, OrderStore } from '../storage/storage.ts';

export interface EngineWatch {
  /** The last sample, or null before the first (or while storage is down from the start). */
  last(): EngineStats | null;
  stop(): Promise<void>;
}

export function startEngineWatch(store: OrderStore, metrics: Registry, everyMs: number, log: (event: string, fields: Record<string, unknown>) => void): EngineWatch {
  let last: EngineStats | null = null;
  let pending: Promise<void> | null = null;
  let failedLogged = false;
  const sample = () => {
    if (pending !== null) return;
    pending = store
      .engineStats()
      .then((s) => {
        last = s;
        failedLogged = false;
      })
      .catch((e: unknown) => {
        if (!failedLogged) log('engine_watch.failed', { error: String(e) });
        failedLogged = true;
      })
      .finally(() => {
        pending = null;
      });
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  sample();
  const tables = (pick: (t: EngineStats['tables'][number]) => number) => () => (last?.tables ?? []).map((t) => [{ table: t.table }, pick(t)] as const);
  metrics.gauges('gala_storage_parts', 'Active ClickHouse parts per table', ['table'], tables((t) => t.parts));
  metrics.gauges('gala_storage_rows', 'Rows in active parts per table', ['table'], tables((t) => t.rows));
  // Before the first sample these have no value, rather than a zero that never was.
  metrics.gauge('gala_storage_merges_running', 'Background merges running now', () => last?.mergesRunning ?? null);
  metrics.gauge('gala_storage_merge_rows_read', 'Rows read so far by the merges running now', () => last?.mergeRowsRead ?? null);
  metrics.counterReading('gala_storage_merges_total', 'Merges begun since the engine started', () => last?.mergesStarted ?? null);
  metrics.counterReading('gala_storage_merged_rows_total', 'Rows merged since the engine started', () => last?.mergedRows ?? null);
  metrics.counterReading('gala_storage_merged_bytes_total', 'Uncompressed bytes merged since the engine started', () => last?.mergedBytes ?? null);
  metrics.counterReading('gala_storage_merge_seconds_total', 'Time spent merging since the engine started', () => (last === null ? null : last.mergeMs / 1000));
  return {
    last: () => last,
    async stop() {
      clearInterval(timer);
      await pending;
    },
  };
}
