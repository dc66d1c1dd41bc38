// A replicated node's side of a shard lease: what it does when it takes a shard (rebuild from its own replica, then
// commit and ack) and when it lets one go (stop committing, answer what is in flight, send its last figures). The
// leases (cluster/shard-leases.ts) call these hooks; nothing here talks to ZooKeeper.
import type { Aggregator } from '../aggregator/index.ts';
import type { Log } from '../platform/log.ts';
import type { Registry } from '../platform/metrics.ts';
import type { ShardOwnerView } from './ownership.ts';

/** The hooks a lease holder calls: `acquire` resolves once this node may ack the shard; `release` once it stopped. */
export interface ShardHooks {
  acquire(shard: number, epoch: number): Promise<void>;
  release(shard: number): Promise<void>;
}

/** The last time this node took a shard, and how long its rebuild took (ms). */
export interface Acquired {
  shard: number;
  epoch: number;
  at: string;
  rebuildMs: number;
}

export interface ShardLifecycleOptions {
  /** The router's gate on local commits of a shard (cluster/router.ts). */
  routing: { stopTaking(shard: number): Promise<void>; startTaking(shard: number): void };
  aggregator: Pick<Aggregator, 'takeSlot' | 'releaseSlot' | 'ownSlot' | 'reconciler'>;
  /** The figures link: sends what is due now. */
  server: { publishNow(): void };
  /** Refills the de-duplication window from this node's own replica (every order received within its span). */
  restoreWindow: () => Promise<number>;
  /** Has the fingerprint side table filled for every arrival since sinceMs that it lacks (group commit's fillSince). */
  fillSideTable?: (sinceMs: number) => void;
  log: Log;
}

export interface ShardLifecycle extends ShardHooks {
  /** The last acquire that completed; null before any. */
  lastAcquired(): Acquired | null;
}

/** How far before a takeover the look for ids stored twice reaches back, and when it looks again. */
const LOOK_BACK_MS = 60_000;
const LATE_INSERT_MS = 30_000;

export function createShardLifecycle(opts: ShardLifecycleOptions): ShardLifecycle {
  const { routing, aggregator, server, log } = opts;
  let last: Acquired | null = null;
  /** One change at a time: an acquire and a release of the same lease never interleave. */
  let chain: Promise<void> = Promise.resolve();
  const serial = (work: () => Promise<void>): Promise<void> => {
    const next = chain.then(work);
    chain = next.catch(() => {});
    return next;
  };
  return {
    acquire: (shard, epoch) =>
      serial(async () => {
        const t0 = Date.now();
        // Nothing of the shard is committed here while it is rebuilt (the router refuses it until startTaking).
        await routing.stopTaking(shard);
        // (a) The window: every id the shard took within its span, including what the previous holder acked.
        const ids = await opts.restoreWindow();
        // (b) The figures: the shard's, from the replica, published in full under `shard:<s>` at this epoch.
        await aggregator.takeSlot(shard, epoch);
        server.publishNow();
        // (c) Then the shard's orders are committed here (each part still checked against the lease).
        routing.startTaking(shard);
        last = { shard, epoch, at: new Date(t0).toISOString(), rebuildMs: Date.now() - t0 };
        // A change of owner (epoch 1 is the night's first claim): an insert the old holder had on the wire may land
        // after this rebuild, beside this node's commit of its resend. The reconciler looks for ids stored twice
        // over that span now and once more when such an insert must be over (the quorum timeout is 10 s).
        if (epoch > 1) {
          // The look reads the side table, which the previous holder filled every few seconds: what it left owed
          // (its last orders) is filled now, before the second look at the latest.
          opts.fillSideTable?.(t0 - LOOK_BACK_MS);
          aggregator.reconciler.lookSoon(t0 - LOOK_BACK_MS);
          setTimeout(() => aggregator.reconciler.lookSoon(t0 - LOOK_BACK_MS), LATE_INSERT_MS).unref();
        }
        log('cluster.shard_acquired', { shard, epoch, windowIds: ids, ms: last.rebuildMs });
      }),
    release: (shard) =>
      serial(async () => {
        const t0 = Date.now();
        // No new commit of the shard starts; those in flight are answered (acked while the lease holds).
        await routing.stopTaking(shard);
        if (aggregator.ownSlot()?.slot !== `shard:${shard}`) return;
        // The final figures go out at this epoch, then stay here as an ordinary part until a higher epoch's come.
        server.publishNow();
        aggregator.releaseSlot();
        log('cluster.shard_released', { shard, ms: Date.now() - t0 });
      }),
    lastAcquired: () => last,
  };
}

/** The leases in /metrics: each shard's epoch, whether it is served, and by which node (1 for the holder). */
export function registerShardMetrics(metrics: Registry, shards: () => readonly ShardOwnerView[]): void {
  metrics.gauges('gala_cluster_shard_epoch', "Each shard's lease epoch (grows with every change of owner)", ['shard'], () => shards().map((s) => [{ shard: String(s.shard) }, s.epoch] as const));
  metrics.gauges('gala_cluster_shard_serving', '1 while a shard has a holder that rebuilt and acks; 0 while vacant or rebuilding', ['shard'], () => shards().map((s) => [{ shard: String(s.shard) }, s.serving ? 1 : 0] as const));
  metrics.gauges('gala_cluster_shard_owner', "1 for each shard's lease holder", ['shard', 'node'], () => shards().flatMap((s) => (s.node === null ? [] : [[{ shard: String(s.shard), node: s.node }, 1] as const])));
}
