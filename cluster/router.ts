// The cluster's ingest router: splits each batch by the owner of every order (the partition of its id's fingerprint),
// commits this node's part with the local committer, forwards each other owner's part over that owner's link, and
// answers the client once, when every part is durable. A batch whose orders are all this node's goes the single-node
// path untouched. Who owns a partition is the Ownership's answer (issue 14's fixed map, or with replication the
// holder of the shard's lease): without an owner a batch is answered unavailable; with replication every local part
// is checked against its lease before it is committed and again when it is answered.
import { fingerprintBytesInto, fingerprintInto } from '../domain/fingerprint.ts';
import { partitionOfFingerprint, shardCount, shardOfPartition, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import { MAX_ORDERS_PER_BATCH, parseOrder, type Ack } from '../domain/order.ts';
import { ScannedOrders } from '../ingest/frame-scanner.ts';
import type { BatchOutcome, GroupCommitter } from '../ingest/group-commit.ts';
import { submitBatch, type IngestMessage, type RouteBatch } from '../ingest/ingest-message.ts';
import type { IngestOutcome } from '../ingest/ingest-outcome.ts';
import type { Registry } from '../platform/metrics.ts';
import { isStaticOwnership, type Ownership } from './ownership.ts';
import type { PeerLink, SendResult } from './peer-link.ts';

export interface RouterOptions {
  file: ClusterFile;
  self: ClusterNode;
  committer: GroupCommitter;
  /** The show's currencies: an order in any other is invalid and never leaves this node. */
  currencies: readonly string[];
  /** The link to the node at this index of the file (never asked for this node's own index). */
  linkOf: (nodeIndex: number) => PeerLink;
  /** Who commits each partition now; issue 14's static map unless the cluster is replicated. */
  ownership: Ownership;
  metrics?: Registry;
}

/**
 * How long a client is told to wait when a partition has no serving owner: a takeover (a lease claimed, the new
 * owner rebuilding from its replica) takes seconds, so a resend each second finds the new owner within about a
 * second of its first ack, at one cheap refusal per second per client meanwhile. Also what a part refused for an
 * invalid lease gets: the same takeover is under way.
 */
export const NO_OWNER_RETRY_MS = 1000;

export interface Router {
  route: RouteBatch;
  /**
   * Replication only: this node stops committing `shard`'s orders (new parts of it are answered unavailable), then
   * resolves once every local commit in flight is answered. Without replication it resolves at once.
   */
  stopTaking(shard: number): Promise<void>;
  /** Replication only: this node commits `shard`'s orders again (its lease's validity is still checked per part). */
  startTaking(shard: number): void;
  /** Local commits started and not yet answered (replication only; 0 without). */
  readonly inflightLocal: number;
  /** Stops listening to the ownership's changes. */
  close(): void;
}

/** A part's answer, with the client's index of each of its orders (its rejections are mapped back through it). */
type Part = { ok: true; ack: Ack; indexes: readonly number[] | null } | { ok: false; retryAfterMs: number };

/** Marks an order this node keeps whatever its id: an invalid one, which the local committer rejects with its error. */
const LOCAL = -1;
/** Marks an order of a partition nobody serves now. */
const NONE = -2;

export function createRouter(opts: RouterOptions): Router {
  const { file, self, committer, ownership } = opts;
  const nodes = file.nodes;
  const selfIndex = nodes.findIndex((n) => n.id === self.id);
  if (selfIndex < 0) throw new Error(`cluster router: node "${self.id}" is not in the cluster file`);
  // Issue 14's map never changes and its leases never lapse: no check at commit or answer time.
  const gated = !isStaticOwnership(ownership);
  const shards = Math.max(1, shardCount(file));
  const indexOf = new Map(nodes.map((n, i) => [n.id, i]));
  /** Each partition's owner (node index, NONE) and lease epoch, as last read from the ownership. */
  const ownerOfP = new Int32Array(file.partitions);
  const epochOfP = new Float64Array(file.partitions);
  let stale = true;
  const refresh = () => {
    for (let p = 0; p < file.partitions; p++) {
      const o = ownership.ownerOfPartition(p);
      ownerOfP[p] = o === null ? NONE : (indexOf.get(o.node) ?? NONE);
      epochOfP[p] = o?.epoch ?? 0;
    }
    stale = false;
  };
  const unsubscribe = ownership.onChange(() => {
    stale = true;
  });
  /** Replication: the shards this node takes orders of (opened by startTaking once rebuilt), and its local commits in flight. */
  const taking = new Set<number>();
  let inflight = 0;
  let drained: (() => void)[] = [];
  /** The distinct partitions of the local part of the batch being routed (replication only), with a stamp per partition. */
  const stamp = new Uint32Array(file.partitions);
  let generation = 0;
  let localPartitions: number[] = [];
  /**
   * Every partition of the local part holds its lease at the epoch read, valid now; at the start its shard must be
   * taken too (a shard being handed back commits nothing new, but what is in flight is answered under its lease).
   */
  const leaseValid = (ps: readonly number[], epochs: readonly number[], starting: boolean): boolean => {
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      if ((starting && !taking.has(shardOfPartition(p, shards))) || !ownership.mayAck(p, epochs[i]!)) return false;
    }
    return true;
  };
  /**
   * A local part under leases: refused unless its leases are valid before it starts, and answered unavailable
   * unless they still are once it is durable (the orders may be stored: the next owner finds the resend as
   * duplicates, its window being rebuilt from the replica).
   */
  const commitLeased = <T>(ps: readonly number[], commit: () => Promise<T>, refusedAs: () => T, isAck: (t: T) => boolean): Promise<T> => {
    const epochs = ps.map((p) => epochOfP[p]!);
    if (!leaseValid(ps, epochs, true)) {
      leaseM?.refused.inc(1, { when: 'start' });
      return Promise.resolve(refusedAs());
    }
    inflight++;
    const done = () => {
      if (--inflight === 0 && drained.length > 0) {
        const waiters = drained;
        drained = [];
        for (const w of waiters) w();
      }
    };
    return commit().then(
      (t) => {
        const lapsed = isAck(t) && !leaseValid(ps, epochs, false);
        if (lapsed) leaseM?.refused.inc(1, { when: 'answer' });
        const answer = lapsed ? refusedAs() : t;
        done();
        return answer;
      },
      (e: unknown) => {
        done();
        throw e;
      },
    );
  };
  const currencySet = new Set(opts.currencies);
  const knownCurrency = (c: string) => currencySet.has(c);
  const owner = new Int32Array(MAX_ORDERS_PER_BATCH);
  /** The partition of each valid order (for the error that names it); LOCAL for an invalid one. */
  const partition = new Int32Array(MAX_ORDERS_PER_BATCH);
  const subset = new ScannedOrders();
  const fp = new Uint32Array(2);
  const partitionOfFp = () => partitionOfFingerprint(fp[1]!, file.partitions);
  const m = opts.metrics && {
    orders: opts.metrics.counter('gala_cluster_forwarded_orders_total', 'Orders forwarded to their owner, by peer', ['peer']),
    batches: opts.metrics.counter('gala_cluster_forwarded_batches_total', 'Sub-batches forwarded to their owner, by peer and result (ack, failed)', ['peer', 'result']),
    failures: opts.metrics.counter('gala_cluster_forward_failures_total', 'Forwarded sub-batches not acked, by peer and reason (down, full, timeout, dropped, refused, error)', ['peer', 'reason']),
    seconds: opts.metrics.histogram('gala_cluster_forward_seconds', 'From forwarding a sub-batch to its owner\'s ack', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ['peer']),
    foreign: opts.metrics.counter('gala_cluster_foreign_orders_total', 'Orders in forwarded frames that this node does not own (the cluster files disagree), rejected'),
  };
  const leaseM = gated && opts.metrics !== undefined
    ? {
        refused: opts.metrics.counter('gala_cluster_lease_refusals_total', 'Local parts answered unavailable for their lease, by when: start (not valid, or the shard not taken, before committing) or answer (committed, but the lease lapsed before the ack)', ['when']),
        unowned: opts.metrics.counter('gala_cluster_unowned_batches_total', 'Batches answered unavailable because a partition of theirs had no serving owner (a takeover under way)'),
      }
    : null;

  /** The partition of order k of a scanned frame; LOCAL when the order is invalid. */
  const partitionScanned = (bytes: Uint8Array, s: ScannedOrders, k: number): number => {
    if (s.fast[k] === 1) {
      fingerprintBytesInto(bytes, s.idStart[k]!, s.idEnd[k]!, fp);
      return partitionOfFp();
    }
    // The scanner read only ASCII frames, so latin1 is exact; it proved the grammar, so JSON.parse cannot throw.
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + s.start[k]!, s.end[k]! - s.start[k]!).toString('latin1'));
    } catch {
      return LOCAL;
    }
    return partitionRaw(raw);
  };
  const partitionRaw = (raw: unknown): number => {
    const r = parseOrder(raw, knownCurrency);
    if (!r.ok) return LOCAL;
    fingerprintInto(r.order.id, fp);
    return partitionOfFp();
  };
  const idOf = (msg: IngestMessage, k: number): string | null => {
    if (msg.kind === 'parsed') return (msg.value.orders[k] as { id?: string }).id ?? null;
    const s = msg.orders;
    if (s.fast[k] === 1) return Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset + s.idStart[k]!, s.idEnd[k]! - s.idStart[k]!).toString('latin1');
    const raw = JSON.parse(Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset + s.start[k]!, s.end[k]! - s.start[k]!).toString('latin1')) as { id?: string };
    return raw.id ?? null;
  };

  /** The local committer's part: the orders at `indexes`, in the message's own form (scanned orders stay scanned). */
  const submitLocal = (msg: IngestMessage, indexes: readonly number[], receivedMs: number): Promise<BatchOutcome> => {
    if (msg.kind === 'parsed') return committer.submit({ batch: msg.batch, orders: indexes.map((k) => msg.value.orders[k]) }, receivedMs);
    const s = msg.orders;
    for (let j = 0; j < indexes.length; j++) {
      const k = indexes[j]!;
      subset.fast[j] = s.fast[k]!;
      subset.start[j] = s.start[k]!;
      subset.end[j] = s.end[k]!;
      subset.idStart[j] = s.idStart[k]!;
      subset.idEnd[j] = s.idEnd[k]!;
      subset.ts[j] = s.ts[k]!;
      subset.hundredths[j] = s.hundredths[k]!;
      subset.currency[j] = s.currency[k]!;
      subset.channel[j] = s.channel[k]!;
      for (let f = 0; f < 8; f++) subset.text[j * 8 + f] = s.text[k * 8 + f]!;
    }
    subset.count = indexes.length;
    // The committer reads the subset before it returns; the scratch is free again for the next frame.
    return committer.submitScanned(msg.batch, subset, msg.bytes, receivedMs);
  };

  /** The orders at `indexes` as a JSON array of the orders as received (a copy: the frame's bytes die soon). */
  const ordersJson = (msg: IngestMessage, indexes: readonly number[]): Buffer => {
    if (msg.kind === 'parsed') return Buffer.from(JSON.stringify(indexes.map((k) => msg.value.orders[k])), 'utf8');
    const s = msg.orders;
    const pieces: Uint8Array[] = [OPEN];
    for (let j = 0; j < indexes.length; j++) {
      const k = indexes[j]!;
      if (j > 0) pieces.push(COMMA);
      pieces.push(msg.bytes.subarray(s.start[k]!, s.end[k]!));
    }
    pieces.push(CLOSE);
    return Buffer.concat(pieces);
  };

  const forward = (nodeIndex: number, json: Buffer, indexes: readonly number[]): Promise<Part> => {
    const peer = nodes[nodeIndex]!.id;
    const started = performance.now();
    m?.orders.inc(indexes.length, { peer });
    return opts
      .linkOf(nodeIndex)
      .send(json, indexes.length)
      .then((r: SendResult): Part => {
        if (r.kind === 'ack') {
          m?.batches.inc(1, { peer, result: 'ack' });
          m?.seconds.observe((performance.now() - started) / 1000, { peer });
          return { ok: true, ack: r.ack, indexes };
        }
        m?.batches.inc(1, { peer, result: 'failed' });
        m?.failures.inc(1, { peer, reason: r.reason });
        return { ok: false, retryAfterMs: r.retryAfterMs };
      });
  };

  const route: RouteBatch = (msg, receivedMs, forwardedBy) => {
    if (stale) refresh();
    const n = msg.kind === 'scanned' ? msg.orders.count : msg.value.orders.length;
    let elsewhere = 0;
    let unowned = 0;
    if (gated) {
      generation = generation === 0xffffffff ? 1 : generation + 1;
      localPartitions = [];
    }
    for (let k = 0; k < n; k++) {
      const p = msg.kind === 'scanned' ? partitionScanned(msg.bytes, msg.orders, k) : partitionRaw(msg.value.orders[k]);
      const o = p === LOCAL ? LOCAL : ownerOfP[p]!;
      partition[k] = p;
      owner[k] = o;
      if (o === NONE) unowned++;
      else if (o !== LOCAL && o !== selfIndex) elsewhere++;
      else if (gated && o === selfIndex && stamp[p] !== generation) {
        stamp[p] = generation;
        localPartitions.push(p);
      }
    }
    // A partition nobody serves now (a takeover under way): the whole batch waits, nothing of it is committed.
    if (unowned > 0) {
      leaseM?.unowned.inc();
      return Promise.resolve({ kind: 'unavailable', batch: msg.batch, retryAfterMs: NO_OWNER_RETRY_MS });
    }
    // Under leases a forwarded order this node does not own was sent by a map older than a takeover: resent later,
    // the sender's refreshed map finds the owner (never forwarded twice).
    if (gated && forwardedBy !== null && elsewhere > 0) return Promise.resolve({ kind: 'unavailable', batch: msg.batch, retryAfterMs: NO_OWNER_RETRY_MS });
    // Every order is this node's (an order system that routes by the map, or a peer's forwarded part): no split.
    if (elsewhere === 0) {
      if (!gated) return submitBatch(committer, msg, receivedMs);
      const batch = msg.batch;
      return commitLeased<IngestOutcome>(localPartitions, () => submitBatch(committer, msg, receivedMs), () => ({ kind: 'unavailable', batch, retryAfterMs: NO_OWNER_RETRY_MS }), (o) => o.kind === 'ack');
    }

    const local: number[] = [];
    const byOwner = new Map<number, number[]>();
    const refused: Ack['rejected'] = [];
    for (let k = 0; k < n; k++) {
      const o = owner[k]!;
      if (o === LOCAL || o === selfIndex) local.push(k);
      else if (forwardedBy !== null) {
        // A forwarded order is never forwarded again: the sender's map says this node owns it, ours says not.
        m?.foreign.inc();
        refused.push({
          index: k,
          id: idOf(msg, k),
          error: `id: owned by node ${nodes[o]!.id} (partition ${partition[k]} of ${file.partitions} by this node's map), not by ${self.id}; a forwarded order is not forwarded again: the nodes' cluster files disagree`,
        });
      } else {
        let list = byOwner.get(o);
        if (list === undefined) byOwner.set(o, (list = []));
        list.push(k);
      }
    }
    const parts: Promise<Part>[] = [];
    // Everything that reads the frame's bytes runs now, before the socket callback returns.
    if (local.length > 0) {
      const commit = () => submitLocal(msg, local, receivedMs).then((o): Part => (o.kind === 'ack' ? { ok: true, ack: o.ack, indexes: local } : { ok: false, retryAfterMs: o.retryAfterMs }));
      parts.push(gated ? commitLeased<Part>(localPartitions, commit, () => ({ ok: false, retryAfterMs: NO_OWNER_RETRY_MS }), (p) => p.ok) : commit());
    }
    for (const [o, indexes] of byOwner) parts.push(forward(o, ordersJson(msg, indexes), indexes));
    if (refused.length > 0) parts.push(Promise.resolve({ ok: true, ack: { batch: msg.batch, accepted: 0, duplicates: 0, rejected: refused }, indexes: null }));
    return Promise.all(parts).then((done) => combine(msg.batch, done));
  };

  return {
    route,
    stopTaking(shard) {
      taking.delete(shard);
      if (inflight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drained.push(resolve));
    },
    startTaking(shard) {
      taking.add(shard);
    },
    get inflightLocal() {
      return inflight;
    },
    close: unsubscribe,
  };
}

/**
 * One answer from the parts: the sum of their acks, rejections at the client's indexes; or, if any part was not
 * committed, `unavailable` (what the other parts committed is found as duplicates when the client resends).
 */
function combine(batch: string, parts: Part[]): IngestOutcome {
  let retryAfterMs = -1;
  for (const p of parts) if (!p.ok) retryAfterMs = Math.max(retryAfterMs, p.retryAfterMs);
  if (retryAfterMs >= 0) return { kind: 'unavailable', batch, retryAfterMs };
  const ack: Ack = { batch, accepted: 0, duplicates: 0, rejected: [] };
  for (const p of parts) {
    if (!p.ok) continue;
    ack.accepted += p.ack.accepted;
    ack.duplicates += p.ack.duplicates;
    for (const r of p.ack.rejected) ack.rejected.push(p.indexes === null ? r : { ...r, index: p.indexes[r.index]! });
  }
  ack.rejected.sort((a, b) => a.index - b.index);
  return { kind: 'ack', ack };
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');
