// Time spent in each storage call, by call, on /metrics: with the engine's merges (engine-watch.ts) it says what
// ClickHouse is busy with when inserts slow down (chDB keeps no query log).
import type { Registry } from '../platform/metrics.ts';
import type { OrderStore } from '../storage/storage.ts';

export function timeStoreCalls(store: OrderStore, metrics: Registry): OrderStore {
  const calls = metrics.counter('gala_storage_calls_total', 'Storage calls made, by call', ['call']);
  const seconds = metrics.counter('gala_storage_call_seconds_total', 'Time spent waiting on storage calls, by call', ['call']);
  const timed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function') {
      timed[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    const labels = { call: name };
    timed[name] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await fn.apply(store, args);
      } finally {
        calls.inc(1, labels);
        seconds.inc((performance.now() - t0) / 1000, labels);
      }
    };
  }
  return timed as unknown as OrderStore;
}
