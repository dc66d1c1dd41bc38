// Shard leases against a real ZooKeeper (Debian's 3.8, 500 ms tick): claims by the preferred owners, a holder
// killed (SIGKILL) and frozen (SIGSTOP: the zombie case) in a process of its own, ZooKeeper stopped and started,
// and the handback to a restarted preferred owner. Sessions of 2 s keep the file short.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import zk from 'node-zookeeper-client';
import { parseClusterFile, partitionsOfShard, type ClusterFile } from '../domain/cluster-map.ts';
import { Registry } from '../platform/metrics.ts';
import type { LeaseChildMessage } from '../test-support/lease-child.ts';
import { until } from '../test-support/until.ts';
import { requireZooKeeper, startZooKeeper, type ZooKeeper } from '../test-support/zookeeper.ts';
import { commitClaim, ShardLeases, ZOOKEEPER_WRITES } from './shard-leases.ts';

const available = requireZooKeeper();
const SESSION_MS = 2000;
const TICK_MS = 500;
/** Takeover after a crash: the session expires within SESSION_MS + one tick of the last ping; then claim + acquire. */
const TAKEOVER_BOUND_MS = SESSION_MS + TICK_MS + 1000;
/** The target for a takeover. */
const TAKEOVER_TARGET_MS = 15_000;
const CHILD = fileURLToPath(new URL('../test-support/lease-child.ts', import.meta.url));

let server: ZooKeeper;
let roots = 0;
const open: ShardLeases[] = [];
const children: ChildProcess[] = [];

/** Two shards: n1 (preferred) and n3 (standby) on shard 1, n2 on shard 2; a root of its own per test. */
function clusterFile(): ClusterFile {
  const node = (id: string, shard: number, i: number) => ({ id, host: '127.0.0.1', httpPort: 10_000 + i, ingestPort: 11_000 + i, clickhouseUrl: `http://127.0.0.1:${12_000 + i}`, shard });
  return parseClusterFile({
    clickhouseCluster: 'gala',
    partitions: 8,
    nodes: [node('n1', 1, 1), node('n2', 2, 2), node('n3', 1, 3)],
    replication: { zookeeper: server.connectString, sessionTimeoutMs: SESSION_MS, root: `/gala/leases-${process.pid}-${++roots}` },
  });
}

interface Hooked {
  leases: ShardLeases;
  acquires: { shard: number; epoch: number; at: number }[];
  releases: { shard: number; at: number }[];
  metrics: Registry;
}

/** A node in this process; `gate` (when given) holds its acquire hook until it resolves. */
function startNode(file: ClusterFile, id: string, gate?: () => Promise<void>): Hooked {
  const acquires: Hooked['acquires'] = [];
  const releases: Hooked['releases'] = [];
  const metrics = new Registry();
  const leases = new ShardLeases({
    file,
    self: file.nodes.find((n) => n.id === id)!,
    metrics,
    log: process.env.LEASES_LOG === '1' ? (e, f) => console.log(Math.round(performance.now()), id, e, JSON.stringify(f)) : undefined,
    hooks: {
      acquire: async (shard, epoch) => {
        acquires.push({ shard, epoch, at: Date.now() });
        if (gate !== undefined) await gate();
      },
      release: async (shard) => {
        releases.push({ shard, at: Date.now() });
      },
    },
  });
  open.push(leases);
  void leases.start();
  return { leases, acquires, releases, metrics };
}

/** A node in a child process (to be killed or frozen), reporting over IPC. */
function startChild(file: ClusterFile, id: string) {
  const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(proc);
  const acquires: { epoch: number; at: number }[] = [];
  let report: Extract<LeaseChildMessage, { type: 'report' }> | null = null;
  proc.on('message', (m: LeaseChildMessage) => {
    if (m.type === 'acquire') acquires.push(m);
    if (m.type === 'report') report = m;
  });
  const raw = { ...file, nodes: file.nodes, replication: file.replication };
  proc.send({ type: 'start', file: raw, self: id });
  return {
    proc,
    acquires,
    /** Asks the child for its probe's record and waits for the answer. */
    async report() {
      report = null;
      proc.send({ type: 'report' });
      return until('the child\'s report', () => report);
    },
  };
}

const P1 = 0; // partition 0 is shard 1's ((0 mod 2) + 1)
const P2 = 1;

function servingOwner(l: ShardLeases, p: number, node: string) {
  const o = l.ownerOfPartition(p);
  return o !== null && o.node === node ? o : null;
}

beforeAll(async () => {
  if (available) server = await startZooKeeper({ tickMs: TICK_MS });
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
  await Promise.all(open.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  await server?.cleanup();
});

describe.skipIf(!available)('shard leases on a real ZooKeeper', () => {
  it('the preferred owners claim their shards at epoch 1; only holders may ack; a steady holder writes nothing', async () => {
    const file = clusterFile();
    // All three at once: the standby's start-up grace lets the preferred owner claim first.
    const [n1, n2, n3] = [startNode(file, 'n1'), startNode(file, 'n2'), startNode(file, 'n3')];
    for (const n of [n1, n2, n3]) {
      await until('both shards served, seen from every node', () => servingOwner(n.leases, P1, 'n1') !== null && servingOwner(n.leases, P2, 'n2') !== null);
    }
    expect(n1.leases.ownerOfPartition(P1)).toEqual({ node: 'n1', epoch: 1 });
    expect(n3.leases.ownerOfPartition(P2)).toEqual({ node: 'n2', epoch: 1 });
    expect(n1.acquires).toEqual([{ shard: 1, epoch: 1, at: expect.any(Number) }]);
    expect(n2.acquires).toEqual([{ shard: 2, epoch: 1, at: expect.any(Number) }]);
    expect(n3.acquires).toEqual([]);
    for (const p of partitionsOfShard(file, 1)) {
      expect(n1.leases.mayAck(p, 1)).toBe(true);
      expect(n1.leases.mayAck(p, 2)).toBe(false);
      expect(n3.leases.mayAck(p, 1)).toBe(false);
      expect(n2.leases.mayAck(p, 1)).toBe(false);
    }
    for (const p of partitionsOfShard(file, 2)) expect([n1.leases.mayAck(p, 1), n2.leases.mayAck(p, 1)]).toEqual([false, true]);
    expect(n3.leases.shards()).toEqual([
      { shard: 1, node: 'n1', epoch: 1, serving: true, since: expect.any(String) },
      { shard: 2, node: 'n2', epoch: 1, serving: true, since: expect.any(String) },
    ]);
    expect(n1.leases.lastTakeover()).toMatchObject({ shard: expect.any(Number), from: null, epoch: 1 });
    expect(n1.leases.zookeeperState()).toBe('connected');

    // Steady state: heartbeats are reads (one exists each); no write reaches ZooKeeper's log.
    const writes = (l: ShardLeases) => ZOOKEEPER_WRITES.reduce((a, op) => a + l.operations()[op], 0);
    const [w1, e1] = [writes(n1.leases), n1.leases.operations().exists];
    await until('six more heartbeats on n1', () => n1.leases.operations().exists >= e1 + 6);
    expect(writes(n1.leases)).toBe(w1);
    const text = await n1.metrics.render();
    expect(text).toContain('gala_shard_owner{shard="1",node="n1"} 1');
    expect(text).toContain('gala_shard_epoch{shard="2"} 1');
    expect(text).toContain('gala_zookeeper_state{state="connected"} 1');
    expect(text).toMatch(/gala_zookeeper_operations_total\{op="multi"\} 1\n/);
    // The heartbeat's age is published (how fresh it is depends on the machine's load; mayAck holds it under T/2).
    expect(text).toMatch(/gala_zookeeper_heartbeat_age_seconds \d+(\.\d+)?\n/);
    console.log(`leases: ops of n1 after claim + ${n1.leases.operations().exists - e1} heartbeats: ${JSON.stringify(n1.leases.operations())}`);

    // A clean stop hands over at once (the owner node is deleted, not left to expire).
    const stoppedAt = Date.now();
    await n1.leases.close();
    await until('n3 serving shard 1 after n1 stopped', () => servingOwner(n3.leases, P1, 'n3'));
    const handedMs = Date.now() - stoppedAt;
    console.log(`leases: clean stop -> standby serving in ${handedMs} ms`);
    expect(handedMs).toBeLessThan(SESSION_MS);
    expect(n3.acquires).toEqual([{ shard: 1, epoch: 2, at: expect.any(Number) }]);
    expect(n1.releases).toEqual([{ shard: 1, at: expect.any(Number) }]);
  });

  it('a stale claim (the epoch moved since it was read) fails, even from epoch 0', async () => {
    const file = clusterFile();
    const root = file.replication!.root;
    const c = zk.createClient(server.connectString, { sessionTimeout: SESSION_MS });
    c.connect();
    const run = <T,>(f: (done: (e: unknown, v?: T) => void) => void) => new Promise<T>((res, rej) => f((e, v) => (e ? rej(e as Error) : res(v as T))));
    try {
      await run<string>((d) => c.mkdirp(`${root}/shards/1/epoch`, d));
      await run((d) => c.setData(`${root}/shards/1/epoch`, Buffer.from('{}'), 0, d)); // someone claimed: version 1
      const err = await run((d) => commitClaim(c, `${root}/shards/1/epoch`, `${root}/shards/1/owner`, 0, Buffer.from('{}'), Buffer.from('{}'), d)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(zk.Exception);
      expect((err as zk.Exception).getCode()).toBe(zk.Exception.BAD_VERSION);
      await run((d) => commitClaim(c, `${root}/shards/1/epoch`, `${root}/shards/1/owner`, 1, Buffer.from('{}'), Buffer.from('{}'), d));
    } finally {
      c.close();
    }
  });

  it('a holder killed with SIGKILL: the standby takes over with a higher epoch, after its acquire hook ran', async () => {
    const file = clusterFile();
    const holder = startChild(file, 'n1');
    await until('the child acks', async () => (await holder.report()).acks > 0);
    const n3 = startNode(file, 'n3');
    const first = await until('n1 (child) serving shard 1, seen from n3', () => servingOwner(n3.leases, P1, 'n1'));
    const killedAt = Date.now();
    holder.proc.kill('SIGKILL');
    const now = await until('n3 serving shard 1', () => servingOwner(n3.leases, P1, 'n3'), { timeoutMs: 15_000 });
    const tookMs = Date.now() - killedAt;
    expect(now.epoch).toBeGreaterThan(first.epoch);
    expect(n3.acquires).toEqual([{ shard: 1, epoch: now.epoch, at: expect.any(Number) }]);
    expect(n3.leases.mayAck(P1, now.epoch)).toBe(true);
    const t = n3.leases.lastTakeover()!;
    expect(t).toMatchObject({ shard: 1, from: 'n1', to: 'n3', epoch: now.epoch });
    console.log(`leases: SIGKILL -> standby serving in ${tookMs} ms (bound ${TAKEOVER_BOUND_MS}); vacant seen -> serving ${t.tookMs} ms`);
    // The bound the README states (the takeover's figures are bench:cluster's): well above the session timeout, so a
    // loaded machine's lag does not fail it; a takeover that waited for anything but the session would.
    expect(tookMs).toBeLessThanOrEqual(TAKEOVER_TARGET_MS);
  });

  it('a holder frozen past its session (SIGSTOP) never acks once the new epoch has begun (the zombie case)', async () => {
    const file = clusterFile();
    const holder = startChild(file, 'n1');
    await until('the child acks', async () => (await holder.report()).acks > 0);
    let open3!: () => void;
    const gate = new Promise<void>((r) => (open3 = r));
    onTestFinished(() => open3());
    const n3 = startNode(file, 'n3', () => gate);
    const old = await until('n1 (child) serving shard 1, seen from n3', () => servingOwner(n3.leases, P1, 'n1'));
    holder.proc.kill('SIGSTOP');
    // The standby claims once the frozen session expires; its acquire hook waits on the gate.
    await until('n3 claimed shard 1', () => n3.acquires.length === 1, { timeoutMs: 15_000 });
    const view = await until('n3 seen as the holder', () => n3.leases.shards()[0]!, (v) => v.node === 'n3');
    const began = Date.parse(view.since!); // the owner node's creation on ZooKeeper: the new epoch began then
    expect(view.epoch).toBeGreaterThan(old.epoch);
    holder.proc.kill('SIGCONT');
    const after = await holder.report();
    expect(n3.acquires).toHaveLength(1); // the new holder's acquire is still in progress
    expect(after.mayAckNow).toBe(false);
    expect(Object.keys(after.lastAck)).toEqual([String(old.epoch)]);
    expect(after.lastAck[old.epoch]!).toBeLessThan(began);
    console.log(`leases: frozen holder's last ack ${began - after.lastAck[old.epoch]!} ms before the new epoch began`);
    open3();
    // The old holder is the preferred owner: back as a member with a new session, it gets the shard handed back.
    const back = await until('n1 serving shard 1 again', () => servingOwner(n3.leases, P1, 'n1'), { timeoutMs: 15_000 });
    expect(back.epoch).toBeGreaterThan(view.epoch);
    expect(n3.releases).toHaveLength(1);
    const final = await until('the child acks at its new epoch', () => holder.report(), (r) => r.lastAck[back.epoch] !== undefined);
    expect(final.lastAck[old.epoch]).toBe(after.lastAck[old.epoch]);
    expect(final.lastAck[view.epoch]).toBeUndefined();
  });

  it('handback: a restarted preferred owner gets its shard back from the standby at a higher epoch', async () => {
    const file = clusterFile();
    const n1 = startNode(file, 'n1');
    const n3 = startNode(file, 'n3');
    await until('n1 serving shard 1', () => servingOwner(n3.leases, P1, 'n1'));
    await n1.leases.close();
    const standby = await until('n3 serving shard 1', () => servingOwner(n3.leases, P1, 'n3'));
    const restarted = startNode(file, 'n1');
    const back = await until('n1 serving shard 1 again', () => servingOwner(n3.leases, P1, 'n1'));
    expect(back.epoch).toBeGreaterThan(standby.epoch);
    expect(n3.releases).toHaveLength(1);
    expect(n3.releases[0]!.at).toBeLessThanOrEqual(restarted.acquires[0]!.at);
    expect(n3.leases.mayAck(P1, standby.epoch)).toBe(false);
    await until('n1 may ack at its new epoch', () => restarted.leases.mayAck(P1, back.epoch));
    expect(restarted.leases.lastTakeover()).toMatchObject({ shard: 1, from: 'n3', to: 'n1', epoch: back.epoch });
  });

  it('ZooKeeper stopped: no holder may ack within sessionTimeout/2; started again: the leases are served by themselves', async () => {
    const file = clusterFile();
    const [n1, n2, n3] = [startNode(file, 'n1'), startNode(file, 'n2'), startNode(file, 'n3')];
    const o1 = await until('n1 serving', () => servingOwner(n3.leases, P1, 'n1'));
    const o2 = await until('n2 serving', () => servingOwner(n3.leases, P2, 'n2'));
    await until('n1 may ack', () => n1.leases.mayAck(P1, o1.epoch) && n2.leases.mayAck(P2, o2.epoch));
    const stoppedAt = performance.now();
    const stopping = server.stop();
    const lost = await Promise.all(
      [
        [n1, P1, o1.epoch],
        [n2, P2, o2.epoch],
      ].map(async ([n, p, e]) => {
        await until('mayAck false', () => !(n as Hooked).leases.mayAck(p as number, e as number), { everyMs: 10 });
        return performance.now() - stoppedAt;
      }),
    );
    await stopping;
    console.log(`leases: ZooKeeper stopped -> mayAck false after ${lost.map(Math.round).join(', ')} ms`);
    // The rule stops acks at sessionTimeout/2 without an answer; seen from here, a loaded machine may add its lag to
    // the observation, so the bound checked is the one safety needs: before the session (and the lease) can expire.
    for (const ms of lost) expect(ms).toBeLessThan(SESSION_MS);
    expect(n1.leases.zookeeperState()).not.toBe('connected');
    const restartAt = performance.now();
    await server.start();
    // Each holder as it sees itself (another node's view may still show the epoch before a session expired).
    const acking = (n: Hooked, p: number, id: string) => {
      const o = servingOwner(n.leases, p, id);
      return o !== null && n.leases.mayAck(p, o.epoch) ? o : null;
    };
    const a = await until('n1 serving and acking again', () => acking(n1, P1, 'n1'), { timeoutMs: 60_000 });
    const b = await until('n2 serving and acking again', () => acking(n2, P2, 'n2'), { timeoutMs: 60_000 });
    console.log(`leases: ZooKeeper back -> acking again ${Math.round(performance.now() - restartAt)} ms after start; epochs ${o1.epoch}->${a.epoch}, ${o2.epoch}->${b.epoch}`);
    expect(a.epoch).toBeGreaterThanOrEqual(o1.epoch);
    expect(n3.acquires).toEqual([]);
  });

  it('ZooKeeper frozen (SIGSTOP: connections open, nothing answers): the heartbeat age alone stops acks within sessionTimeout/2', async () => {
    const file = clusterFile();
    const [n1, n2] = [startNode(file, 'n1'), startNode(file, 'n2')];
    const o1 = await until('n1 serving', () => servingOwner(n2.leases, P1, 'n1'));
    await until('n1 may ack', () => n1.leases.mayAck(P1, o1.epoch));
    const pid = server.pid!;
    const frozenAt = performance.now();
    process.kill(pid, 'SIGSTOP');
    onTestFinished(() => void process.kill(pid, 'SIGCONT'));
    await until('n1 may not ack', () => !n1.leases.mayAck(P1, o1.epoch), { everyMs: 5 });
    const ms = performance.now() - frozenAt;
    console.log(`leases: ZooKeeper frozen -> mayAck false after ${Math.round(ms)} ms (state ${n1.leases.zookeeperState()})`);
    // As above: the rule's T/2, observed from a possibly loaded machine, is checked against what safety needs.
    expect(ms).toBeLessThan(SESSION_MS);
    process.kill(pid, 'SIGCONT');
    const back = await until('n1 serving again', () => servingOwner(n2.leases, P1, 'n1'), { timeoutMs: 20_000 });
    await until('n1 may ack again', () => n1.leases.mayAck(P1, back.epoch), { timeoutMs: 20_000 });
    console.log(`leases: ZooKeeper thawed -> acking again ${Math.round(performance.now() - frozenAt - ms)} ms after; epoch ${o1.epoch}->${back.epoch}`);
  });
});
