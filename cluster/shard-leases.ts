// Shard leases in ZooKeeper (issue 15, REPLICATION-DESIGN decisions 3 and 4): which node commits each shard's
// partitions now, with an epoch that grows at every change of owner, and whether this node may ack at that epoch.
//
// Layout under `replication.root`:
//   nodes/<id>           ephemeral, {shard, startedAt}: membership (who is alive)
//   shards/<s>/epoch     persistent; its data version is the epoch; its data names the last claimant
//   shards/<s>/owner     ephemeral, {node, epoch, serving} (+ from, tookMs, at once serving): the lease
// A claim is one multi: setData(epoch, expected version v) + create(owner, epoch v+1, EPHEMERAL). The holder calls
// hooks.acquire (rebuild), then sets serving: true and acks while its lease is valid (see mayAck).
//
// node-zookeeper-client has one ZooKeeper I/O path here: this file is its only importer.
import type { TakeoverView } from '../protocol/cluster-protocol.ts';
import zk from 'node-zookeeper-client';
import { performance } from 'node:perf_hooks';
import { preferredOwnerOf, shardCount, shardOfPartition, type ClusterFile, type ClusterNode } from '../domain/cluster-map.ts';
import type { Counter, Registry } from '../platform/metrics.ts';
import type { Ownership, PartitionOwner, ShardOwnerView } from './ownership.ts';

export interface LeaseHooks {
  /** Rebuild the shard from this node's replica; resolve when ready to ack at `epoch`. Never two at once. */
  acquire(shard: number, epoch: number): Promise<void>;
  /** Stop acking the shard and drain what is in flight; called after an acquire in progress has ended. */
  release(shard: number): Promise<void>;
}

export interface ShardLeasesOptions {
  file: ClusterFile;
  self: ClusterNode;
  hooks: LeaseHooks;
  metrics?: Registry;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** A monotonic clock in ms (default performance.now); the lease's validity is measured on it. */
  now?: () => number;
}

export type ZooKeeperState = 'connected' | 'connecting' | 'disconnected' | 'expired';

/** A change of a shard's holder, as GET /v1/cluster shows it; `tookMs` runs from when the new holder saw the shard
 * vacant to when it served (claim + rebuild). */
export type Takeover = TakeoverView;

/** A lease this node holds, in one ZooKeeper session (`gen`). */
interface Held {
  gen: number;
  epoch: number;
  serving: boolean;
  acquireStarted: boolean;
  from: string | null;
  vacantSince: number;
}

interface ShardState {
  node: string | null;
  epoch: number;
  serving: boolean;
  since: string | null;
  /** The owner node's session (8 bytes), to tell our own lease from a lease of an earlier session of ours. */
  ephemeralOwner: Buffer | null;
  /** The cached answer of ownerOfPartition for this shard's partitions (null unless serving). */
  owner: PartitionOwner | null;
  takeover: Takeover | null;
}

interface OwnerData {
  node: string;
  epoch: number;
  serving: boolean;
  from?: string | null;
  tookMs?: number;
  at?: string;
}

const STATES: readonly ZooKeeperState[] = ['connected', 'connecting', 'disconnected', 'expired'];
type Op = 'create' | 'remove' | 'setData' | 'multi' | 'exists' | 'getData' | 'getChildren';
/** The ops that write (go through ZooKeeper's leader and its log): what the coordination load counts. */
export const ZOOKEEPER_WRITES: readonly Op[] = ['create', 'remove', 'setData', 'multi'];

/** A ZooKeeper error code (zk.Exception), or null for anything else. */
function codeOf(err: unknown): number | null {
  return err instanceof zk.Exception ? err.getCode() : null;
}

class SessionGone extends Error {
  constructor() {
    super('ZooKeeper session replaced');
  }
}

function parseOwner(data: Buffer | undefined): OwnerData | null {
  try {
    const o = JSON.parse((data ?? Buffer.alloc(0)).toString('utf8')) as Record<string, unknown>;
    if (typeof o.node !== 'string' || !Number.isInteger(o.epoch) || typeof o.serving !== 'boolean') return null;
    return o as unknown as OwnerData;
  } catch {
    return null;
  }
}

function timeOf(stamp: Buffer): number {
  return Number(stamp.readBigInt64BE(0));
}

export class ShardLeases implements Ownership {
  private readonly file: ClusterFile;
  private readonly self: ClusterNode;
  private readonly hooks: LeaseHooks;
  private readonly log: (event: string, fields: Record<string, unknown>) => void;
  private readonly now: () => number;
  private readonly shardsTotal: number;
  private readonly ownShard: number;
  private readonly preferred: string;
  private readonly root: string;
  private readonly askedTimeoutMs: number;

  private client: zk.Client | null = null;
  private gen = 0;
  private state: ZooKeeperState = 'connecting';
  private timeoutMs: number;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatOutstanding: { gen: number; sentAt: number } | null = null;
  /** When the connection last changed state (or was last kicked): a connect that hangs is retried from it. */
  private stateSince = 0;
  /** Send time of the last heartbeat ZooKeeper answered, in this session (the server saw us alive after it). */
  private lastAnsweredSentAt = Number.NEGATIVE_INFINITY;
  private readonly pending = new Set<(e: Error) => void>();
  private memberGen = 0;
  private members = new Set<string>();
  private readonly view: ShardState[] = [];
  private shardsCache: ShardOwnerView[] | null = null;
  private held: Held | null = null;
  /** A lease lost (session expired, owner node gone) whose release hook has still to run. */
  private releaseDue = false;
  private vacantSince: number | null = null;
  private claimBackoffUntil = 0;
  /** A standby claims nothing before this (set at its first join): see step(). */
  private standbyGraceUntil: number | null = null;
  private lastOwn: Takeover | null = null;
  private readonly listeners = new Set<() => void>();
  private loop: Promise<void> = Promise.resolve();
  /** The acquire hook in progress: a release (close included) waits for it. */
  private acquiring: Promise<void> | null = null;
  private running = false;
  private dirty = false;
  private closed = false;
  private readyResolve: (() => void) | null = null;
  private readonly ready: Promise<void>;
  private readonly opsCount: Record<Op, number> = { create: 0, remove: 0, setData: 0, multi: 0, exists: 0, getData: 0, getChildren: 0 };
  private readonly opsCounter: Counter | null = null;
  private readonly takeovers: Counter | null = null;
  private readonly ownerWatchers: ((e: zk.Event) => void)[] = [];
  private membersWatcher: (e: zk.Event) => void = () => undefined;

  constructor(opts: ShardLeasesOptions) {
    const replication = opts.file.replication;
    if (replication === null) throw new Error('ShardLeases: the cluster file has no "replication" (use staticOwnership)');
    if (opts.self.shard === undefined) throw new Error(`ShardLeases: node ${opts.self.id} has no shard`);
    this.file = opts.file;
    this.self = opts.self;
    this.hooks = opts.hooks;
    this.log = opts.log ?? (() => undefined);
    this.now = opts.now ?? (() => performance.now());
    this.shardsTotal = shardCount(opts.file);
    this.ownShard = opts.self.shard;
    this.preferred = preferredOwnerOf(opts.file, this.ownShard).id;
    this.root = replication.root;
    this.askedTimeoutMs = replication.sessionTimeoutMs;
    this.timeoutMs = replication.sessionTimeoutMs;
    for (let s = 0; s <= this.shardsTotal; s++) {
      this.view.push({ node: null, epoch: 0, serving: false, since: null, ephemeralOwner: null, owner: null, takeover: null });
    }
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    if (opts.metrics !== undefined) {
      const m = opts.metrics;
      this.opsCounter = m.counter('gala_zookeeper_operations_total', 'ZooKeeper requests the shard leases issued, by operation (create, remove, setData and multi are writes)', ['op']);
      this.takeovers = m.counter('gala_shard_takeovers_total', 'Shards this node claimed and then served, by shard', ['shard']);
      m.gauges('gala_zookeeper_state', 'The leases\' ZooKeeper session: 1 for the state it is in, 0 for the others', ['state'], () => STATES.map((st) => [{ state: st }, st === this.state ? 1 : 0] as const));
      m.gauges('gala_shard_epoch', 'Each shard\'s lease epoch as this node sees it', ['shard'], () => this.view.slice(1).map((v, i) => [{ shard: String(i + 1) }, v.epoch] as const));
      m.gauges('gala_shard_owner', 'Each shard\'s lease holder: 1 while serving, 0 while it rebuilds; no sample while vacant', ['shard', 'node'], () =>
        this.view.slice(1).flatMap((v, i) => (v.node === null ? [] : [[{ shard: String(i + 1), node: v.node }, v.serving ? 1 : 0] as const])),
      );
      m.gauge('gala_shard_last_takeover_seconds', 'How long the last takeover took, from vacant seen to serving (s)', () => {
        const t = this.lastTakeover();
        return t === null ? null : t.tookMs / 1000;
      });
      m.gauge('gala_zookeeper_heartbeat_age_seconds', 'Age of the last answered lease heartbeat (s); no sample before the first', () => {
        const age = this.heartbeatAgeMs();
        return age === null ? null : age / 1000;
      });
    }
  }

  /** Connects to ZooKeeper; resolves once this node is a member and has read every shard's lease. */
  start(): Promise<void> {
    if (this.client === null && !this.closed) this.openSession();
    return this.ready;
  }

  // ---- Ownership ------------------------------------------------------------------------------------------------

  ownerOfPartition(p: number): PartitionOwner | null {
    if (!(p >= 0 && p < this.file.partitions)) return null;
    return this.view[(p % this.shardsTotal) + 1]!.owner;
  }

  mayAck(p: number, epoch: number): boolean {
    const h = this.held;
    return (
      h !== null &&
      h.serving &&
      h.epoch === epoch &&
      h.gen === this.gen &&
      this.state === 'connected' &&
      p >= 0 &&
      p < this.file.partitions &&
      shardOfPartition(p, this.shardsTotal) === this.ownShard &&
      this.now() - this.lastAnsweredSentAt < this.timeoutMs / 2
    );
  }

  shards(): ShardOwnerView[] {
    if (this.shardsCache === null) {
      this.shardsCache = this.view.slice(1).map((v, i) => ({ shard: i + 1, node: v.node, epoch: v.epoch, serving: v.serving, since: v.since }));
    }
    return this.shardsCache;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- Operators' view ------------------------------------------------------------------------------------------

  zookeeperState(): ZooKeeperState {
    return this.state;
  }

  /** The latest takeover of any shard: this node's own, or one another holder published in its owner node. */
  lastTakeover(): Takeover | null {
    let last: Takeover | null = this.lastOwn;
    for (const v of this.view) if (v.takeover !== null && (last === null || v.takeover.at > last.at)) last = v.takeover;
    return last;
  }

  /** The session timeout in force (the server's grant when it is shorter than asked), ms. */
  sessionTimeoutMs(): number {
    return this.timeoutMs;
  }

  /** Age of the last answered heartbeat (ms); null before the first answer of this session. */
  heartbeatAgeMs(): number | null {
    return Number.isFinite(this.lastAnsweredSentAt) ? this.now() - this.lastAnsweredSentAt : null;
  }

  /** ZooKeeper requests this module issued since it started, by operation. */
  operations(): Readonly<Record<Op, number>> {
    return this.opsCount;
  }

  /** The members (node ids with a live session) as last read. */
  memberIds(): string[] {
    return [...this.members].sort();
  }

  /**
   * A clean stop: waits for an acquire in progress, runs the release hook, deletes the owner node (the shard is
   * vacant at once, so a standby claims without waiting for the session to expire), then closes the session.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An acquire in progress ends first; ZooKeeper requests the loop waits on may hang while ZooKeeper is away, so
    // they are given the session timeout, then failed.
    if (this.acquiring !== null) await this.acquiring.catch(() => undefined);
    const idle = await Promise.race([this.loop.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), this.timeoutMs).unref())]);
    if (!idle) {
      for (const reject of this.pending) reject(new SessionGone());
      this.pending.clear();
      await this.loop;
    }
    const h = this.held;
    if (h !== null || this.releaseDue) await this.runRelease(h?.acquireStarted ?? true);
    if (h !== null && h.gen === this.gen && this.state === 'connected') {
      await this.bounded(this.call<void>('remove', (c, done) => c.remove(this.ownerPath(this.ownShard), (e) => done(e))), 'remove owner').catch((err: unknown) =>
        this.log('lease_close_remove_failed', { shard: this.ownShard, error: String(err) }),
      );
    }
    this.held = null;
    this.stopHeartbeat();
    this.abandon();
    this.state = 'disconnected';
    this.changed();
  }

  // ---- Session --------------------------------------------------------------------------------------------------

  private openSession(): void {
    const gen = ++this.gen;
    const replication = this.file.replication!;
    const client = zk.createClient(replication.zookeeper, { sessionTimeout: this.askedTimeoutMs, spinDelay: 200, retries: 0 });
    this.client = client;
    this.lastAnsweredSentAt = Number.NEGATIVE_INFINITY;
    this.heartbeatOutstanding = null;
    this.memberGen = 0;
    this.ownerWatchers.length = 0;
    // One watcher function per path and session: the library keeps a watcher once per function, and a watcher of
    // a replaced session must not re-arm itself on the new one.
    for (let s = 0; s <= this.shardsTotal; s++) {
      this.ownerWatchers.push(() => {
        if (gen === this.gen) this.readOwner(gen, s).catch((err: unknown) => this.readFailed(err, s));
      });
    }
    this.membersWatcher = () => {
      if (gen === this.gen) this.readMembers(gen).catch((err: unknown) => this.readFailed(err, 0));
    };
    client.on('state', (st) => this.onState(gen, st));
    this.stateSince = this.now();
    if (this.heartbeatTimer === null) this.startHeartbeat();
    client.connect();
  }

  private onState(gen: number, st: zk.State): void {
    if (gen !== this.gen || this.closed) return;
    const before = this.state;
    this.stateSince = this.now();
    if (st === zk.State.SYNC_CONNECTED) {
      this.state = 'connected';
      const granted = this.client!.getSessionTimeout();
      const t = Math.min(this.askedTimeoutMs, granted > 0 ? granted : this.askedTimeoutMs);
      if (t !== this.timeoutMs || this.heartbeatTimer === null) {
        this.timeoutMs = t;
        this.startHeartbeat();
      }
      this.heartbeat();
      void this.resync(gen);
    } else if (st === zk.State.DISCONNECTED) {
      this.state = 'disconnected';
    } else if (st === zk.State.EXPIRED) {
      this.state = 'expired';
      this.log('zookeeper_session_expired', { node: this.self.id });
      this.loseLease('session expired');
      this.abandon();
      this.openSession();
      this.state = 'expired';
    } else {
      return;
    }
    if (before !== this.state) {
      this.log('zookeeper_state', { node: this.self.id, state: this.state });
      this.changed();
    }
  }

  /** Closes the current client and fails every request still waiting on it. */
  private abandon(): void {
    const c = this.client;
    this.client = null;
    for (const reject of this.pending) reject(new SessionGone());
    this.pending.clear();
    if (c !== null) {
      c.removeAllListeners('state');
      c.close();
    }
  }

  /** One ZooKeeper request on the current session, counted; rejects with SessionGone if the session is replaced. */
  private call<T>(op: Op, run: (c: zk.Client, done: (err: unknown, value?: T) => void) => void): Promise<T> {
    const c = this.client;
    if (c === null) return Promise.reject(new SessionGone());
    this.opsCount[op]++;
    this.opsCounter?.inc(1, { op });
    return new Promise<T>((resolve, reject) => {
      const gone = (e: Error) => reject(e);
      this.pending.add(gone);
      run(c, (err, value) => {
        this.pending.delete(gone);
        if (err !== null && err !== undefined) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(value as T);
      });
    });
  }

  private bounded<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no answer from ZooKeeper within ${this.timeoutMs} ms`)), this.timeoutMs);
      p.then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });
  }

  // ---- Heartbeat ------------------------------------------------------------------------------------------------

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(this.timeoutMs / 6)));
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /**
   * One `exists` on the lease (or on the membership node when holding none). Its send time, once answered, is the
   * latest instant the server is known to have renewed the session: the lease is valid for timeout/2 after it.
   */
  private heartbeat(): void {
    const gen = this.gen;
    if (this.closed) return;
    if (this.state !== 'connected') {
      // The library times out a TCP connect but not the handshake after it: a server that accepts and never
      // answers (one starting up) would hold the client for good. Drop the socket; the library connects again.
      if (this.now() - this.stateSince > this.timeoutMs) {
        this.log('zookeeper_connect_retry', { node: this.self.id, waitedMs: Math.round(this.now() - this.stateSince) });
        this.stateSince = this.now();
        this.dropSocket();
      }
      return;
    }
    const out = this.heartbeatOutstanding;
    if (out !== null && out.gen === gen) {
      // No answer for 2/3 of the session: the connection is silent (a frozen server, a cut link). Drop the socket
      // so the client reconnects (to another server of an ensemble), as ZooKeeper's Java client does on its read
      // timeout. The socket is the library's own field: read defensively.
      if (this.now() - out.sentAt > (this.timeoutMs * 2) / 3) {
        this.log('zookeeper_silent', { node: this.self.id, waitedMs: Math.round(this.now() - out.sentAt) });
        this.dropSocket();
        this.heartbeatOutstanding = null;
      }
      return;
    }
    const h = this.held;
    const holding = h !== null && h.gen === gen;
    const path = holding ? this.ownerPath(this.ownShard) : `${this.root}/nodes/${this.self.id}`;
    const sentAt = this.now();
    this.heartbeatOutstanding = { gen, sentAt };
    this.call<zk.Stat | null>('exists', (c, done) => c.exists(path, (e, stat) => done(e, stat ?? null)))
      .then((stat) => {
        if (gen !== this.gen) return;
        this.heartbeatOutstanding = null;
        if (sentAt > this.lastAnsweredSentAt) this.lastAnsweredSentAt = sentAt;
        if (holding && this.held === h && (stat === null || !this.isOurs(stat.ephemeralOwner))) {
          this.log('lease_lost', { shard: this.ownShard, epoch: h.epoch, reason: 'owner node gone or not ours at heartbeat' });
          this.loseLease('owner node not ours');
          this.kick();
        }
      })
      .catch(() => {
        if (gen === this.gen) this.heartbeatOutstanding = null;
      });
  }

  /** Closes the library's socket (its own field, read defensively); the library then connects again. */
  private dropSocket(): void {
    const socket = (this.client as unknown as { connectionManager?: { socket?: { destroy(): void } } } | null)?.connectionManager?.socket;
    socket?.destroy();
  }

  // ---- Reading the leases ---------------------------------------------------------------------------------------

  private ownerPath(s: number): string {
    return `${this.root}/shards/${s}/owner`;
  }

  private epochPath(s: number): string {
    return `${this.root}/shards/${s}/epoch`;
  }

  private isOurs(ephemeralOwner: Buffer | null | undefined): boolean {
    const c = this.client;
    return c !== null && ephemeralOwner !== null && ephemeralOwner !== undefined && ephemeralOwner.equals(c.getSessionId());
  }

  /** After every (re)connect: the tree exists, this node is a member, and every watch is set and read again. */
  private async resync(gen: number): Promise<void> {
    try {
      if (this.memberGen !== gen) await this.join(gen);
      await this.readMembers(gen);
      for (let s = 1; s <= this.shardsTotal; s++) await this.readOwner(gen, s);
      if (gen === this.gen && this.readyResolve !== null) {
        this.readyResolve();
        this.readyResolve = null;
      }
      this.kick();
    } catch (err) {
      this.readFailed(err, -1);
    }
  }

  private readFailed(err: unknown, shard: number): void {
    if (err instanceof SessionGone || codeOf(err) === zk.Exception.CONNECTION_LOSS || codeOf(err) === zk.Exception.SESSION_EXPIRED) return; // the next connect reads again
    this.log('zookeeper_read_failed', { node: this.self.id, shard, error: String(err) });
  }

  /** Creates the persistent tree (once per session, only what is missing) and this node's membership node. */
  private async join(gen: number): Promise<void> {
    const paths = [`${this.root}/nodes`];
    for (let s = 1; s <= this.shardsTotal; s++) paths.push(this.epochPath(s));
    const made = new Set<string>();
    for (const path of paths) {
      const stat = await this.call<zk.Stat | null>('exists', (c, done) => c.exists(path, (e, st) => done(e, st ?? null)));
      if (stat !== null) continue;
      let prefix = '';
      for (const part of path.split('/').slice(1)) {
        prefix += `/${part}`;
        if (made.has(prefix)) continue;
        made.add(prefix);
        await this.call<string>('create', (c, done) => c.create(prefix, (e, p) => done(codeOf(e) === zk.Exception.NODE_EXISTS ? null : e, p)));
      }
    }
    const me = `${this.root}/nodes/${this.self.id}`;
    const body = Buffer.from(JSON.stringify({ shard: this.ownShard, startedAt: new Date().toISOString() }));
    for (;;) {
      try {
        await this.call<string>('create', (c, done) => c.create(me, body, zk.CreateMode.EPHEMERAL, (e, p) => done(e, p)));
        break;
      } catch (err) {
        if (codeOf(err) !== zk.Exception.NODE_EXISTS) throw err;
        // Ours (a create answered after a lost connection), or an earlier session's (this node restarted within its
        // session timeout): then wait until ZooKeeper expires it.
        const stat = await this.call<zk.Stat | null>('exists', (c, done) => c.exists(me, (e, st) => done(e, st ?? null)));
        if (stat !== null && this.isOurs(stat.ephemeralOwner)) break;
        if (stat === null) continue;
        this.log('membership_wait', { node: this.self.id, reason: 'a node of an earlier session is still there' });
        await new Promise<void>((resolve, reject) => {
          this.call<zk.Stat | null>('exists', (c, done) => c.exists(me, () => resolve(), (e, st) => done(e, st ?? null)))
            .then((st) => st === null && resolve())
            .catch(reject);
        });
      }
    }
    if (gen === this.gen) this.memberGen = gen;
    this.standbyGraceUntil ??= this.now() + this.timeoutMs;
  }

  private async readMembers(gen: number): Promise<void> {
    const children = await this.call<string[]>('getChildren', (c, done) => c.getChildren(`${this.root}/nodes`, this.membersWatcher, (e, ch) => done(e, ch)));
    if (gen !== this.gen) return;
    const next = new Set(children);
    const same = next.size === this.members.size && [...next].every((m) => this.members.has(m));
    this.members = next;
    if (!same) {
      this.changed();
      this.kick();
    }
  }

  private async readOwner(gen: number, s: number): Promise<void> {
    const path = this.ownerPath(s);
    const watcher = this.ownerWatchers[s]!;
    for (;;) {
      try {
        const [data, stat] = await this.call<[Buffer, zk.Stat]>('getData', (c, done) => c.getData(path, watcher, (e, d, st) => done(e, [d, st])));
        if (gen === this.gen) this.setOwner(s, parseOwner(data), stat);
        return;
      } catch (err) {
        if (codeOf(err) !== zk.Exception.NO_NODE) throw err;
      }
      // Vacant: watch for its creation. If it appeared in between, read it.
      const stat = await this.call<zk.Stat | null>('exists', (c, done) => c.exists(path, watcher, (e, st) => done(e, st ?? null)));
      if (stat !== null) continue;
      if (gen === this.gen) this.setOwner(s, null, null);
      return;
    }
  }

  private setOwner(s: number, data: OwnerData | null, stat: zk.Stat | null): void {
    const v = this.view[s]!;
    const node = stat === null ? null : (data?.node ?? '?');
    const epoch = data?.epoch ?? v.epoch;
    const serving = data?.serving ?? false;
    const since = stat === null ? null : new Date(timeOf(stat.ctime)).toISOString();
    const ephemeralOwner = stat?.ephemeralOwner ?? null;
    if (data !== null && data.serving && typeof data.at === 'string' && typeof data.tookMs === 'number') {
      v.takeover = { shard: s, from: data.from ?? null, to: data.node, epoch: data.epoch, at: data.at, tookMs: data.tookMs };
    }
    const changed = v.node !== node || v.epoch !== epoch || v.serving !== serving || v.since !== since;
    v.node = node;
    v.epoch = epoch;
    v.serving = serving;
    v.since = since;
    v.ephemeralOwner = ephemeralOwner;
    if (changed) v.owner = node !== null && serving ? { node, epoch } : null;
    if (s === this.ownShard) {
      if (node === null) this.vacantSince ??= this.now();
      else if (!this.isOurs(ephemeralOwner)) this.vacantSince = null;
      // Our lease, yet not held here: a claim whose answer was lost with the connection. Adopt it.
      if (node === this.self.id && this.isOurs(ephemeralOwner) && (this.held === null || this.held.gen !== this.gen) && data !== null && !this.closed) {
        this.log('lease_adopted', { shard: s, epoch: data.epoch });
        this.held = { gen: this.gen, epoch: data.epoch, serving: false, acquireStarted: false, from: null, vacantSince: this.vacantSince ?? this.now() };
      }
      // Another owner: the lease is gone. (A vacant read may predate our own claim; the heartbeat checks that.)
      const h = this.held;
      if (h !== null && h.gen === this.gen && node !== null && !(node === this.self.id && this.isOurs(ephemeralOwner) && epoch === h.epoch)) {
        this.log('lease_lost', { shard: s, epoch: h.epoch, owner: node, ownerEpoch: epoch });
        this.loseLease('owner node changed');
      }
    }
    if (changed) {
      this.log('shard_owner', { shard: s, owner: node, epoch, serving });
      this.changed();
    }
    this.kick();
  }

  // ---- Claims, rebuilds, handbacks ------------------------------------------------------------------------------

  private loseLease(reason: string): void {
    const h = this.held;
    if (h === null) return;
    this.held = null;
    if (h.acquireStarted) this.releaseDue = true;
    this.log('lease_released', { shard: this.ownShard, epoch: h.epoch, reason });
    this.changed();
  }

  /** Runs the control loop again (serialized: one claim, acquire or release at a time). */
  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    this.loop = (async () => {
      try {
        do {
          this.dirty = false;
          try {
            await this.step();
          } catch (err) {
            if (!(err instanceof SessionGone)) this.log('lease_step_failed', { shard: this.ownShard, error: String(err) });
          }
        } while (this.dirty && !this.closed);
      } finally {
        this.running = false;
      }
    })();
  }

  private async runRelease(acquireStarted: boolean): Promise<void> {
    this.releaseDue = false;
    if (!acquireStarted) return;
    try {
      await this.hooks.release(this.ownShard);
    } catch (err) {
      this.log('lease_release_hook_failed', { shard: this.ownShard, error: String(err) });
    }
  }

  private handbackDue(): boolean {
    return this.preferred !== this.self.id && this.members.has(this.preferred);
  }

  private async step(): Promise<void> {
    const s = this.ownShard;
    if (this.releaseDue) await this.runRelease(true);
    if (this.closed || this.state !== 'connected' || this.memberGen !== this.gen) return;
    const gen = this.gen;
    const h = this.held;
    if (h !== null && h.gen === gen) {
      if (this.handbackDue()) return this.handback(h);
      if (h.serving) return;
      h.acquireStarted = true;
      this.log('lease_acquire', { shard: s, epoch: h.epoch });
      try {
        this.acquiring = this.hooks.acquire(s, h.epoch);
        await this.acquiring;
      } catch (err) {
        this.log('lease_acquire_failed', { shard: s, epoch: h.epoch, error: String(err) });
        this.claimBackoffUntil = this.now() + this.timeoutMs;
        setTimeout(() => this.kick(), this.timeoutMs).unref();
        return this.handback(h);
      } finally {
        this.acquiring = null;
      }
      if (this.held !== h || gen !== this.gen) return; // lost meanwhile: the loop runs the release hook
      if (this.handbackDue()) return this.handback(h);
      const tookMs = Math.round(this.now() - h.vacantSince);
      const at = new Date().toISOString();
      const body: OwnerData = { node: this.self.id, epoch: h.epoch, serving: true, from: h.from, tookMs, at };
      await this.call<zk.Stat>('setData', (c, done) => c.setData(this.ownerPath(s), Buffer.from(JSON.stringify(body)), 0, (e, st) => done(e, st)));
      if (this.held !== h || gen !== this.gen) return;
      h.serving = true;
      this.lastOwn = { shard: s, from: h.from, to: this.self.id, epoch: h.epoch, at, tookMs };
      this.takeovers?.inc(1, { shard: String(s) });
      this.log('lease_serving', { shard: s, epoch: h.epoch, from: h.from, tookMs });
      this.changed();
      return;
    }
    const v = this.view[s]!;
    if (v.node !== null || this.handbackDue()) return;
    if (this.now() < this.claimBackoffUntil) return;
    // A standby that has just started gives the preferred owner one session timeout to join: when a whole cluster
    // starts at once, the standby would otherwise often claim first, rebuild, and hand the shard back at once.
    if (this.preferred !== this.self.id && this.standbyGraceUntil !== null) {
      const wait = this.standbyGraceUntil - this.now();
      if (wait > 0) {
        setTimeout(() => this.kick(), wait + 1).unref();
        return;
      }
    }
    await this.claim(gen);
  }

  private async claim(gen: number): Promise<void> {
    const s = this.ownShard;
    const vacantSince = this.vacantSince ?? this.now();
    const [data, stat] = await this.call<[Buffer, zk.Stat]>('getData', (c, done) => c.getData(this.epochPath(s), (e, d, st) => done(e, [d, st])));
    const v = stat.version;
    let from: string | null = null;
    try {
      const last = JSON.parse(data?.toString('utf8') ?? '') as { node?: unknown };
      if (typeof last.node === 'string') from = last.node;
    } catch {
      from = null;
    }
    const epoch = v + 1;
    const owner: OwnerData = { node: this.self.id, epoch, serving: false };
    try {
      await this.call<unknown>('multi', (c, done) => commitClaim(c, this.epochPath(s), this.ownerPath(s), v, Buffer.from(JSON.stringify({ node: this.self.id, epoch })), Buffer.from(JSON.stringify(owner)), done));
    } catch (err) {
      const code = codeOf(err);
      if (code === zk.Exception.BAD_VERSION || code === zk.Exception.NODE_EXISTS) {
        this.log('lease_claim_lost', { shard: s, epoch, reason: code === zk.Exception.NODE_EXISTS ? 'owner exists' : 'epoch moved' });
        return;
      }
      throw err; // a lost connection: the next read of the owner adopts the lease if the claim went through
    }
    if (gen !== this.gen || this.closed) return;
    this.held = { gen, epoch, serving: false, acquireStarted: false, from, vacantSince };
    this.vacantSince = null;
    this.log('lease_claimed', { shard: s, epoch, from });
    this.dirty = true;
  }

  /** Gives the lease up: release hook (stop acking, drain), then the owner node goes, so the preferred can claim. */
  private async handback(h: Held): Promise<void> {
    const s = this.ownShard;
    this.log('lease_handback', { shard: s, epoch: h.epoch, to: this.preferred });
    await this.runRelease(h.acquireStarted);
    if (this.held === h) this.held = null;
    this.changed();
    try {
      await this.call<void>('remove', (c, done) => c.remove(this.ownerPath(s), (e) => done(e)));
    } catch (err) {
      if (codeOf(err) !== zk.Exception.NO_NODE) throw err;
    }
  }

  private changed(): void {
    this.shardsCache = null;
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log('lease_listener_failed', { error: String(err) });
      }
    }
  }
}

/**
 * The claim as one multi: the epoch node's version must still be `expectedVersion` (it becomes the new epoch), and
 * the owner node must not exist. node-zookeeper-client's Transaction turns an expected version of 0 into -1 ("any
 * version", `version || -1`), which would let a stale claim reuse an epoch; the op's version is set after the call.
 */
export function commitClaim(client: zk.Client, epochPath: string, ownerPath: string, expectedVersion: number, epochData: Buffer, ownerData: Buffer, done: (err: unknown, results?: unknown) => void): void {
  const tx = client.transaction().setData(epochPath, epochData, expectedVersion);
  (tx as unknown as { ops: { version: number }[] }).ops[0]!.version = expectedVersion;
  tx.create(ownerPath, ownerData, zk.CreateMode.EPHEMERAL).commit((e, r) => done(e, r));
}
