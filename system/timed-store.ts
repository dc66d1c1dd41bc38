// Time spent in each storage call, by call, on /metrics: with the engine's merges (engine-watch.ts) it says what
// ClickHouse is busy with when inserts slow down (chDB keeps no query log).
import type { Registry } from '../platform/metrics.ts';
import type { OrderStore } from '../storage/storage.ts';

export function timeStoreCalls(store: OrderStore, metrics: Registry): OrderStore {
  const calls = new Map<string, { n: number; seconds: number }>();
  const timed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function') {
      timed[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    timed[name] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await fn.apply(store, args);
      } finally {
        const c = calls.get(name) ?? { n: 0, seconds: 0 };
        c.n++;
        c.seconds += (performance.now() - t0) / 1000;
        calls.set(name, c);
      }
    };
  }
  metrics.text(() => {
    if (calls.size === 0) return '';
    const lines = ['# HELP gala_storage_calls_total Storage calls made, by call', '# TYPE gala_storage_calls_total counter'];
    for (const [name, c] of calls) lines.push(`gala_storage_calls_total{call="${name}"} ${c.n}`);
    lines.push('# HELP gala_storage_call_seconds_total Time spent waiting on storage calls, by call', '# TYPE gala_storage_call_seconds_total counter');
    for (const [name, c] of calls) lines.push(`gala_storage_call_seconds_total{call="${name}"} ${c.seconds.toFixed(6)}`);
    return lines.join('\n');
  });
  return timed as unknown as OrderStore;
}
