// At start, the de-duplication window is refilled from the fingerprints stored over its span, so an order resent
// across a restart is still counted once.
import type { Log } from '../platform/log.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { DedupWindow } from './dedup-window.ts';

/** Loads every fingerprint received within the window's span; call before ingest opens. Returns how many. */
export async function restoreDedupWindow(store: OrderStore, dedup: DedupWindow, log: Log): Promise<number> {
  const started = Date.now();
  const n = await store.fingerprintsSince(started - dedup.windowMs, (p) => {
    for (let i = 0; i < p.count; i++) dedup.add(p.hi[i]!, p.lo[i]!, p.receivedMs[i]!);
  });
  log('restore.dedup_window', { fingerprints: n, ms: Date.now() - started });
  return n;
}
