// The router under leased ownership, driven by hand: the owners change between batches (the orders follow them), a
// partition without an owner makes its batch unavailable with nothing committed, and a lease that lapses while a
// commit is in flight turns its ack into unavailable. The ownership is an in-test implementation of our own
// interface; the peers are fake ingest servers behind real links; the committer's store finishes inserts when the
// test says so (insert completion cannot be steered on a real engine).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterFile, partitionOf, type ClusterFile } from '../domain/cluster-map.ts';
import type { RawBatch } from '../domain/order.ts';
import { DedupWindow } from '../ingest/dedup-window.ts';
import { GroupCommitter } from '../ingest/group-commit.ts';
import type { IngestOutcome } from '../ingest/ingest-outcome.ts';
import type { OrderStore } from '../storage/storage.ts';
import { startFakeIngestServer, type FakeIngestServer } from '../test-support/fake-ingest-server.ts';
import { testShow } from '../test-support/test-show.ts';
import { until } from '../test-support/until.ts';
import { staticOwnership, type Ownership, type PartitionOwner } from './ownership.ts';
import { PeerLink } from './peer-link.ts';
import { Registry } from '../platform/metrics.ts';
import { createRouter, NO_OWNER_RETRY_MS, type Router } from './router.ts';

const TOKEN = 'router-ownership-token';
const show = testShow({});
const TS = Date.UTC(2026, 10, 10, 16);

/** Leases as a test sets them: owner and epoch per shard, and whether this node's lease is valid now. */
class HandOwnership implements Ownership {
  owners = new Map<number, PartitionOwner | null>();
  valid = true;
  private readonly listeners = new Set<() => void>();
  constructor(private readonly file: ClusterFile, private readonly self: string) {}
  set(shard: number, owner: PartitionOwner | null): void {
    this.owners.set(shard, owner);
    for (const l of this.listeners) l();
  }
  ownerOfPartition(p: number): PartitionOwner | null {
    return this.owners.get((p % 2) + 1) ?? null;
  }
  mayAck(p: number, epoch: number): boolean {
    const o = this.ownerOfPartition(p);
    return this.valid && o !== null && o.node === this.self && o.epoch === epoch;
  }
  shards() {
    return [];
  }
  onChange(listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A store whose order inserts finish when the test releases them. */
function steeredStore() {
  const pending: (() => void)[] = [];
  let hold = false;
  const store = {
    insertOrders: () => (hold ? new Promise<void>((r) => pending.push(r)) : Promise.resolve()),
    insertDerived: async () => {},
    repairDerived: async () => ({}),
    ping: async () => true,
    storedFingerprints: async () => new Set<string>(),
    settleFailedInsert: async () => {},
  } as unknown as OrderStore;
  return { store, pending, setHold: (h: boolean) => (hold = h) };
}

describe('the router under leased ownership', () => {
  // n1 (this node) and n3 replicate shard 1, n2 holds shard 2; partition p is on shard (p mod 2) + 1.
  let file: ClusterFile;
  const peers = new Map<string, FakeIngestServer>();
  const links: PeerLink[] = [];
  let own: HandOwnership;
  let router: Router;
  let steer: ReturnType<typeof steeredStore>;
  let seq = 0;
  const metrics = new Registry();

  beforeAll(async () => {
    for (const id of ['n2', 'n3']) peers.set(id, await startFakeIngestServer({ tokens: [TOKEN], show }));
    const node = (id: string, shard: number, port: number) => ({ id, host: '127.0.0.1', httpPort: port + 1, ingestPort: port, clickhouseUrl: `http://127.0.0.1:${port + 2}`, shard });
    file = parseClusterFile({
      clickhouseCluster: 'c',
      partitions: 8,
      replication: { zookeeper: '127.0.0.1:2181' },
      nodes: [node('n1', 1, 40000), { ...node('n2', 2, 40010), ingestPort: peers.get('n2')!.port }, { ...node('n3', 1, 40020), ingestPort: peers.get('n3')!.port }],
    });
    own = new HandOwnership(file, 'n1');
    own.set(1, { node: 'n1', epoch: 3 });
    own.set(2, { node: 'n2', epoch: 1 });
    steer = steeredStore();
    const committer = new GroupCommitter({ store: steer.store, dedup: new DedupWindow({ windowMs: 600_000, maxEntries: 1e6 }), currencies: ['CNY', 'USD'], flushIntervalMs: 1 });
    const linkByIndex = file.nodes.map((n) => (n.id === 'n1' ? null : new PeerLink({ url: peers.get(n.id)!.url, token: TOKEN, selfId: 'n1' })));
    for (const l of linkByIndex) if (l !== null) links.push(l);
    router = createRouter({ file, self: file.nodes[0]!, committer, currencies: ['CNY', 'USD'], linkOf: (i) => linkByIndex[i]!, ownership: own, metrics });
    router.startTaking(1);
    await until('links up', () => links.every((l) => l.state === 'up'));
  });
  afterAll(async () => {
    router.close();
    for (const l of links) l.close();
    for (const p of peers.values()) await p.close();
  });

  /** Fresh order ids: `n` on shard `shard`. */
  const idsOn = (shard: number, n: number): string[] => {
    const out: string[] = [];
    while (out.length < n) {
      const id = `o-${++seq}`;
      if ((partitionOf(id, file.partitions) % 2) + 1 === shard) out.push(id);
    }
    return out;
  };
  const route = (ids: string[], forwardedBy: string | null = null): Promise<IngestOutcome> => {
    const batch: RawBatch = { batch: `b-${++seq}`, orders: ids.map((id) => ({ id, ts: TS, amount: '1.00', currency: 'CNY', channel: 'mobile' })) };
    return router.route({ kind: 'parsed', batch: batch.batch, value: batch }, Date.now(), forwardedBy);
  };
  const accepted = (o: IngestOutcome) => (o.kind === 'ack' ? o.ack.accepted : -1);

  it('commits its own shard, forwards the other, and follows an owner change mid-stream', async () => {
    expect(accepted(await route([...idsOn(1, 3), ...idsOn(2, 2)]))).toBe(5);
    expect(peers.get('n2')!.totals().orders).toBe(2);
    expect(peers.get('n3')!.totals().orders).toBe(0);
    // Shard 1 passes to n3 (this node's lease lapsed, n3 took it at epoch 4): shard 1's orders now go there.
    own.set(1, { node: 'n3', epoch: 4 });
    expect(accepted(await route([...idsOn(1, 4), ...idsOn(2, 1)]))).toBe(5);
    expect(peers.get('n3')!.totals().orders).toBe(4);
    expect(peers.get('n2')!.totals().orders).toBe(3);
    // A peer's part forwarded to this node by an older map is not forwarded again: unavailable, resent later.
    const fwd = await route(idsOn(2, 1), 'n3');
    expect(fwd).toMatchObject({ kind: 'unavailable', retryAfterMs: NO_OWNER_RETRY_MS });
    own.set(1, { node: 'n1', epoch: 5 });
    expect(accepted(await route(idsOn(1, 2)))).toBe(2);
    expect(peers.get('n3')!.totals().orders).toBe(4);
  });

  it('answers unavailable, committing nothing, while a partition has no owner', async () => {
    own.set(2, null);
    const before = peers.get('n2')!.totals().orders;
    const ids = [...idsOn(1, 2), ...idsOn(2, 1)];
    expect(await route(ids)).toEqual({ kind: 'unavailable', batch: expect.any(String), retryAfterMs: NO_OWNER_RETRY_MS });
    own.set(2, { node: 'n2', epoch: 2 });
    // The resend is the first time any of it is committed: all accepted, none a duplicate.
    const again = await route(ids);
    expect(again).toMatchObject({ kind: 'ack', ack: { accepted: 3, duplicates: 0 } });
    expect(peers.get('n2')!.totals().orders).toBe(before + 1);
  });

  it('refuses to start a local part whose lease is invalid, and never acks one that lapsed while in flight', async () => {
    own.valid = false;
    expect(await route(idsOn(1, 2))).toMatchObject({ kind: 'unavailable', retryAfterMs: NO_OWNER_RETRY_MS });
    own.valid = true;
    steer.setHold(true);
    const ids = idsOn(1, 3);
    const answer = route(ids);
    await until('the insert started', () => steer.pending.length === 1);
    expect(router.inflightLocal).toBe(1);
    // The lease lapses while the insert is under way: durable, but never acked.
    own.valid = false;
    steer.setHold(false);
    steer.pending.shift()!();
    expect(await answer).toMatchObject({ kind: 'unavailable', retryAfterMs: NO_OWNER_RETRY_MS });
    expect(router.inflightLocal).toBe(0);
    own.valid = true;
    const text = await metrics.render();
    expect(text).toContain('gala_cluster_lease_refusals_total{when="start"} 1');
    expect(text).toContain('gala_cluster_lease_refusals_total{when="answer"} 1');
    // Stored, so its resend (here to the same window) is duplicates.
    expect(await route(ids)).toMatchObject({ kind: 'ack', ack: { accepted: 0, duplicates: 3 } });
  });

  it('stopTaking waits for the local commits in flight, then refuses the shard', async () => {
    steer.setHold(true);
    const answer = route(idsOn(1, 2));
    await until('the insert started', () => steer.pending.length === 1);
    let drained = false;
    const stopped = router.stopTaking(1).then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    steer.setHold(false);
    steer.pending.shift()!();
    expect(accepted(await answer)).toBe(2);
    await stopped;
    expect(await route(idsOn(1, 1))).toMatchObject({ kind: 'unavailable' });
    router.startTaking(1);
    expect(accepted(await route(idsOn(1, 1)))).toBe(1);
  });

  it('the static ownership is issue 14\'s map: nodes[p mod N] at epoch 0, never vacant', () => {
    const st = staticOwnership({ ...file, replication: null }, 'n2');
    for (let p = 0; p < file.partitions; p++) {
      expect(st.ownerOfPartition(p)).toEqual({ node: file.nodes[p % 3]!.id, epoch: 0 });
      expect(st.mayAck(p, 0)).toBe(p % 3 === 1);
    }
    expect(st.shards()).toEqual([]);
  });
});
