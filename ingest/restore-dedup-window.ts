// At start, the de-duplication window is refilled from the fingerprints of every order received within its span
// (tens of millions after a busy night), so an order resent across a restart is still counted once; the read is
// counted first and reports its progress.
import type { Progress, ProgressReporter } from '../platform/progress.ts';
import type { OrderStore } from '../storage/storage.ts';
import type { DedupWindow } from './dedup-window.ts';

/** Adds to `dedup` every order received at or after sinceMs; returns how many were read. */
export async function restoreDedupWindow(store: OrderStore, dedup: DedupWindow, sinceMs: number, progress: ProgressReporter): Promise<number> {
  // Counted first (a few granules of the table's index), so the first line already says how much there is.
  const total = await store.ordersReceivedSince(sinceMs);
  const read = (p: Progress) =>
    store.fingerprintsSince(sinceMs, (page) => {
      for (let i = 0; i < page.count; i++) dedup.add(page.hi[i]!, page.lo[i]!, page.receivedMs[i]!);
      p.advance(page.count);
    });
  return progress.run('restore.dedup_window', 'fingerprints', read, total);
}
