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
  metrics.text(() => {
    if (last === null) return '';
    const s = last;
    const lines = ['# HELP gala_storage_parts Active ClickHouse parts per table', '# TYPE gala_storage_parts gauge'];
    for (const t of s.tables) lines.push(`gala_storage_parts{table="${t.table}"} ${t.parts}`);
    lines.push('# HELP gala_storage_rows Rows in active parts per table', '# TYPE gala_storage_rows gauge');
    for (const t of s.tables) lines.push(`gala_storage_rows{table="${t.table}"} ${t.rows}`);
    const one = (name: string, type: string, help: string, v: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
    one('gala_storage_merges_running', 'gauge', 'Background merges running now', s.mergesRunning);
    one('gala_storage_merge_rows_read', 'gauge', 'Rows read so far by the merges running now', s.mergeRowsRead);
    one('gala_storage_merges_total', 'counter', 'Merges begun since the engine started', s.mergesStarted);
    one('gala_storage_merged_rows_total', 'counter', 'Rows merged since the engine started', s.mergedRows);
    one('gala_storage_merged_bytes_total', 'counter', 'Uncompressed bytes merged since the engine started', s.mergedBytes);
    one('gala_storage_merge_seconds_total', 'counter', 'Time spent merging since the engine started', s.mergeMs / 1000);
    return lines.join('\n');
  });
  return {
    last: () => last,
    async stop() {
      clearInterval(timer);
      await pending;
    },
  };
}
