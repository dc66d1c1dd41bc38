// bench:cluster --replicated: one takeover as a client sees it. Orders stream at a fixed rate in batches of one shard
// each, every batch sent to its shard's serving owner by the map GET /v1/cluster publishes (read every 100 ms, and
// at once after an `unavailable`); a batch whose shard nobody serves, or whose owner's connection is gone, goes to a
// live node, which answers `unavailable` or forwards it. The victim (a shard's owner) is killed with kill -9 mid-
// stream; the takeover as the client sees it is the time from the kill to the first ack, from another node, of a
// batch of the victim's shard. Every batch unanswered or answered `unavailable` is sent again until it is acked, so
// at the end every node's count must equal the orders stored (acked, or found already stored on a resend).
import WebSocket from 'ws';
import type { ShowConfig } from '../domain/show.ts';
import { partitionOf, shardOfPartition } from '../domain/cluster-map.ts';
import type { Ack, FrameError } from '../domain/order.ts';
import type { ClusterView, TakeoverView } from '../protocol/cluster-protocol.ts';
import { TEST_TOKEN } from '../test-support/system-harness.ts';
import { until } from '../test-support/until.ts';
import { createOrderFrames } from './order-frames.ts';

export interface TakeoverNode {
  id: string;
  httpPort: number;
  ingestPort: number;
}

export interface TakeoverOptions {
  nodes: readonly TakeoverNode[];
  /** The node killed: it must hold the lease of `shard` when the stream starts. */
  victim: string;
  shard: number;
  kill: () => void;
  show: ShowConfig;
  rate: number;
  batch: number;
  window: number;
  /** Streaming before the kill, and after the first ack of the taken shard. */
  beforeMs: number;
  afterMs: number;
  /** The first frame's number: ids unlike those of any earlier stream into the same tables. */
  firstFrame: number;
}

export interface TakeoverResult {
  /** From the kill to the first ack of a batch of the taken shard (the client's view). */
  clientMs: number;
  /**
   * From the kill, as the client's map reads (every 100 ms) show it: the shard no longer held by the victim (its
   * session expired: vacant, or claimed), claimed by the new holder, and served by it (rebuilt, acking).
   */
  vacantMs: number | null;
  claimedMs: number | null;
  servingMs: number | null;
  /** The new holder's own figure: GET /v1/cluster lastTakeover.tookMs (claim + rebuild). */
  nodeTookMs: number | null;
  newOwner: string;
  epochBefore: number;
  epochAfter: number;
  /** Answers `unavailable`, and batches sent again because their connection went (the victim's in flight). */
  unavailable: number;
  lost: number;
  /** Orders found already stored on a resend (committed by the victim, its ack lost with it). */
  duplicates: number;
  /** Orders this stream stored (acked, or found stored on a resend): each surviving node's count grows by this. */
  stored: number;
}

interface Batch {
  id: string;
  shard: number;
  body: string;
  orders: number;
  sentAt: number;
  sentTo: string;
}

export async function measureTakeover(o: TakeoverOptions): Promise<TakeoverResult> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const readView = async (n: TakeoverNode) => (await (await fetch(`http://127.0.0.1:${n.httpPort}/v1/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as ClusterView;
  const survivor = o.nodes.find((n) => n.id !== o.victim)!;
  let view = await readView(survivor);
  const partitions = view.partitions;
  const shards = view.shards!.length;
  const before = view.shards!.find((s) => s.shard === o.shard)!;
  if (before.owner !== o.victim || !before.serving) throw new Error(`bench:cluster: shard ${o.shard} is served by ${before.owner} (serving ${before.serving}), not ${o.victim}`);
  let owners = new Map(view.shards!.map((s) => [s.shard, s.serving ? s.owner : null]));
  let mapping = true;
  const seen = { vacant: 0, claimed: 0, serving: 0 };
  const refresh = async () => {
    try {
      view = await readView(survivor);
      owners = new Map(view.shards!.map((s) => [s.shard, s.serving ? s.owner : null]));
      const sh = view.shards!.find((x) => x.shard === o.shard)!;
      if (killedAt > 0) {
        const now = performance.now();
        if (seen.vacant === 0 && sh.owner !== o.victim) seen.vacant = now;
        if (seen.claimed === 0 && sh.owner !== null && sh.owner !== o.victim) seen.claimed = now;
        if (seen.serving === 0 && sh.owner !== null && sh.owner !== o.victim && sh.serving) seen.serving = now;
      }
    } catch {
      // the next read
    }
  };
  const mapper = (async () => {
    while (mapping) {
      await refresh();
      await sleep(100);
    }
  })();

  const conns = new Map<string, { ws: WebSocket; open: boolean; inflight: Map<string, Batch> }>();
  const queue: Batch[] = [];
  let killedAt = 0;
  let firstAck = 0;
  let stored = 0;
  let duplicates = 0;
  let unavailable = 0;
  let lost = 0;
  let failure: Error | null = null;
  let spread = 0;
  const retry = (b: Batch, ms: number) =>
    setTimeout(() => {
      queue.unshift(b);
      pump();
    }, ms);
  const targetOf = (b: Batch) => {
    const owner = owners.get(b.shard);
    const c = owner === null || owner === undefined ? undefined : conns.get(owner);
    if (c?.open === true) return owner!;
    const live = [...conns].filter(([, x]) => x.open).map(([id]) => id);
    return live[spread++ % live.length]!;
  };
  const pump = () => {
    while (queue.length > 0) {
      const b = queue[0]!;
      const to = targetOf(b);
      const c = conns.get(to)!;
      if (c.inflight.size >= o.window) return;
      queue.shift();
      b.sentAt = performance.now();
      b.sentTo = to;
      c.inflight.set(b.id, b);
      c.ws.send(b.body);
    }
  };
  await Promise.all(o.nodes.map((n) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${n.ingestPort}/v1/ingest`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` }, perMessageDeflate: false });
    const c = { ws, open: false, inflight: new Map<string, Batch>() };
    conns.set(n.id, c);
    ws.once('open', () => {
      c.open = true;
      resolve();
    });
    ws.on('error', (err) => {
      if (!c.open) reject(err);
    });
    ws.on('close', () => {
      c.open = false;
      // What it held unanswered goes again (its ack, if it committed, is lost with it: a resend finds it stored).
      for (const b of c.inflight.values()) {
        lost++;
        retry(b, 100);
      }
      c.inflight.clear();
    });
    ws.on('message', (d) => {
      const a = JSON.parse(String(d)) as Ack | FrameError;
      const b = c.inflight.get(a.batch!);
      if (b === undefined) {
        failure ??= new Error(`bench:cluster: an answer from ${n.id} to a batch not in flight: ${String(d).slice(0, 200)}`);
        return;
      }
      c.inflight.delete(b.id);
      if ('accepted' in a) {
        if (a.accepted + a.duplicates !== b.orders) failure ??= new Error(`bench:cluster: batch ${b.id}: ${a.accepted} accepted + ${a.duplicates} duplicates of ${b.orders}`);
        stored += a.accepted + a.duplicates;
        duplicates += a.duplicates;
        if (killedAt > 0 && firstAck === 0 && b.shard === o.shard && n.id !== o.victim) firstAck = performance.now();
      } else if (a.error === 'unavailable') {
        unavailable++;
        void refresh();
        retry(b, Math.min(a.retryAfterMs ?? 100, 200));
      } else {
        failure ??= new Error(`bench:cluster: unexpected answer from ${n.id}: ${JSON.stringify(a)}`);
      }
      pump();
    });
  })));

  // The offered load: per-shard batches of o.batch orders, frames due at o.rate orders/s.
  const orders = createOrderFrames(o.batch, o.show);
  const building = new Map<number, string[]>(Array.from({ length: shards }, (_, s) => [s + 1, []]));
  let seq = 0;
  const flush = (s: number) => {
    const texts = building.get(s)!;
    if (texts.length === 0) return;
    const id = `t-${o.firstFrame}-${seq++}`;
    queue.push({ id, shard: s, body: `{"batch":"${id}","orders":[${texts.join(',')}]}`, orders: texts.length, sentAt: 0, sentTo: '' });
    building.set(s, []);
  };
  let next = o.firstFrame;
  const t0 = performance.now();
  let generating = true;
  const timer = setInterval(() => {
    if (!generating) return;
    const due = o.firstFrame + Math.floor((o.rate * (performance.now() - t0)) / 1000 / o.batch);
    for (; next < due; next++) {
      for (let i = 0; i < o.batch; i++) {
        const id = orders.id(next, i);
        const s = shardOfPartition(partitionOf(id, partitions), shards);
        const texts = building.get(s)!;
        texts.push(orders.order(id, i));
        if (texts.length >= o.batch) flush(s);
      }
    }
    pump();
  }, 2);
  const check = () => {
    if (failure !== null) throw failure;
  };

  try {
    await sleep(o.beforeMs);
    check();
    killedAt = performance.now();
    o.kill();
    await until('the first ack of the taken shard', () => (check(), firstAck > 0), { timeoutMs: 90_000, everyMs: 5, detail: () => ({ owners: [...owners], unavailable, lost, queued: queue.length }) });
    await sleep(o.afterMs);
    generating = false;
    for (const s of building.keys()) flush(s);
    pump();
    await until('every batch acked', () => (check(), queue.length === 0 && [...conns.values()].every((c) => c.inflight.size === 0)), { timeoutMs: 120_000, detail: () => ({ queued: queue.length, unavailable }) });
  } finally {
    clearInterval(timer);
    mapping = false;
    await mapper;
    for (const c of conns.values()) c.ws.close();
  }
  const after = view.shards!.find((s) => s.shard === o.shard)!;
  const survivors = o.nodes.filter((n) => n.id !== o.victim);
  const taken = await until('the new holder to report the takeover', () => readView(survivors.find((n) => n.id === after.owner) ?? survivor), (v) => v.lastTakeover?.shard === o.shard && v.lastTakeover.epoch === after.epoch, { timeoutMs: 10_000 }).then((v) => v.lastTakeover as TakeoverView, () => null);
  return {
    clientMs: Math.round(firstAck - killedAt),
    vacantMs: seen.vacant === 0 ? null : Math.round(seen.vacant - killedAt),
    claimedMs: seen.claimed === 0 ? null : Math.round(seen.claimed - killedAt),
    servingMs: seen.serving === 0 ? null : Math.round(seen.serving - killedAt),
    nodeTookMs: taken?.tookMs ?? null,
    newOwner: after.owner ?? '?',
    epochBefore: before.epoch,
    epochAfter: after.epoch,
    unavailable,
    lost,
    duplicates,
    stored,
  };
}

/** Every node's GET /v1/stats order count. */
export async function countsOf(nodes: readonly TakeoverNode[]): Promise<number[]> {
  return Promise.all(nodes.map(async (n) => ((await (await fetch(`http://127.0.0.1:${n.httpPort}/v1/stats`)).json()) as { orders: number }).orders));
}
