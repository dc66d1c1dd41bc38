// The cluster file's replication keys and the shard mapping: defaults, every refusal naming its key and rule, and
// partitions dealt to shards the same way on every node.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INSERT_QUORUM,
  DEFAULT_SESSION_TIMEOUT_MS,
  nodesOfShard,
  parseClusterFile,
  partitionsOfShard,
  preferredOwnerOf,
  shardCount,
  shardOfPartition,
} from './cluster-map.ts';

const node = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `n${i}`,
  host: '127.0.0.1',
  httpPort: 8080 + i,
  ingestPort: 9010 + i,
  clickhouseUrl: `http://127.0.0.1:${8122 + i}`,
  ...extra,
});

/** n1 on shard 1, n2 on shard 2, n3 on shard 1 (a standby of shard 1): the issue-15 test layout. */
function replicated(replication: Record<string, unknown> = { zookeeper: '127.0.0.1:2181' }, extra: Record<string, unknown> = {}) {
  return { clickhouseCluster: 'show', nodes: [node(1, { shard: 1 }), node(2, { shard: 2 }), node(3, { shard: 1 })], replication, ...extra };
}

describe('parseClusterFile: replication', () => {
  it('fills the defaults: session timeout, quorum, and the root named after the cluster', () => {
    const file = parseClusterFile(replicated());
    expect(file.replication).toEqual({ zookeeper: '127.0.0.1:2181', sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS, insertQuorum: DEFAULT_INSERT_QUORUM, root: '/gala/show' });
    expect(DEFAULT_SESSION_TIMEOUT_MS).toBe(6000);
    expect(DEFAULT_INSERT_QUORUM).toBe(2);
    expect(file.nodes.map((n) => n.shard)).toEqual([1, 2, 1]);
  });

  it('keeps what the file says, several ZooKeeper servers included', () => {
    const file = parseClusterFile(replicated({ zookeeper: 'zk1:2181,zk2.example:2182,10.0.0.3:2183', sessionTimeoutMs: 1000, insertQuorum: 3, root: '/shows/gala-2026' }));
    expect(file.replication).toEqual({ zookeeper: 'zk1:2181,zk2.example:2182,10.0.0.3:2183', sessionTimeoutMs: 1000, insertQuorum: 3, root: '/shows/gala-2026' });
    expect(parseClusterFile(replicated({ zookeeper: 'z:1', sessionTimeoutMs: 30_000, insertQuorum: 16 })).replication?.sessionTimeoutMs).toBe(30_000);
  });

  it('without replication: null, and nodes carry no shard', () => {
    const file = parseClusterFile({ clickhouseCluster: 'show', nodes: [node(1), node(2)] });
    expect(file.replication).toBeNull();
    expect(file.nodes.every((n) => n.shard === undefined)).toBe(true);
    expect(shardCount(file)).toBe(0);
  });

  it.each([
    ['an unknown key in replication', replicated({ zookeeper: 'z:1', quorum: 2 }), /^replication: unknown key "quorum"$/],
    ['two unknown keys', replicated({ zookeeper: 'z:1', a: 1, b: 2 }), /^replication: unknown keys "a", "b"$/],
    ['replication not an object', replicated([] as unknown as Record<string, unknown>), /^replication: must be an object$/],
    ['zookeeper missing', replicated({}), /^replication\.zookeeper: required, host:port/],
    ['zookeeper without a port', replicated({ zookeeper: 'zk1' }), /^replication\.zookeeper: required, host:port/],
    ['zookeeper with a chroot', replicated({ zookeeper: 'zk1:2181/gala' }), /^replication\.zookeeper:/],
    ['zookeeper with an empty member', replicated({ zookeeper: 'zk1:2181,' }), /^replication\.zookeeper:/],
    ['zookeeper port 0', replicated({ zookeeper: 'zk1:0' }), /^replication\.zookeeper:.*ports 1-65535/],
    ['zookeeper port 70000', replicated({ zookeeper: 'zk1:2181,zk2:70000' }), /^replication\.zookeeper:.*ports 1-65535/],
    ['zookeeper not a string', replicated({ zookeeper: 2181 }), /^replication\.zookeeper:/],
    ['session timeout too short', replicated({ zookeeper: 'z:1', sessionTimeoutMs: 999 }), /^replication\.sessionTimeoutMs: must be an integer from 1000 to 30000/],
    ['session timeout too long', replicated({ zookeeper: 'z:1', sessionTimeoutMs: 30_001 }), /^replication\.sessionTimeoutMs:/],
    ['session timeout not an integer', replicated({ zookeeper: 'z:1', sessionTimeoutMs: 1500.5 }), /^replication\.sessionTimeoutMs:/],
    ['quorum of 1', replicated({ zookeeper: 'z:1', insertQuorum: 1 }), /^replication\.insertQuorum: must be an integer from 2 to 16/],
    ['quorum of 17', replicated({ zookeeper: 'z:1', insertQuorum: 17 }), /^replication\.insertQuorum:/],
    ['quorum as a string', replicated({ zookeeper: 'z:1', insertQuorum: '2' }), /^replication\.insertQuorum:/],
    ['root not a path', replicated({ zookeeper: 'z:1', root: 'gala' }), /^replication\.root: must be a ZooKeeper path/],
    ['root with a trailing slash', replicated({ zookeeper: 'z:1', root: '/gala/' }), /^replication\.root:/],
  ])('refuses %s, naming the key and the rule', (_what, raw, message) => {
    expect(() => parseClusterFile(raw)).toThrow(message);
  });

  it('refuses a node without a shard when replication is on', () => {
    const raw = { clickhouseCluster: 'show', nodes: [node(1, { shard: 1 }), node(2)], replication: { zookeeper: 'z:1' } };
    expect(() => parseClusterFile(raw)).toThrow(/^nodes\[1\]\.shard: required with "replication"/);
  });

  it.each([0, -1, 1.5, '1', 1025])('refuses shard %j', (shard) => {
    const raw = { clickhouseCluster: 'show', nodes: [node(1, { shard })], replication: { zookeeper: 'z:1' } };
    expect(() => parseClusterFile(raw)).toThrow(/^nodes\[0\]\.shard: required with "replication"/);
  });

  it('refuses a shard given without replication', () => {
    expect(() => parseClusterFile({ clickhouseCluster: 'show', nodes: [node(1), node(2, { shard: 1 })] })).toThrow(/^nodes\[1\]\.shard: only with "replication"/);
  });

  it('refuses a shard with no node (shards are numbered without gaps)', () => {
    const raw = { clickhouseCluster: 'show', nodes: [node(1, { shard: 1 }), node(2, { shard: 3 })], replication: { zookeeper: 'z:1' } };
    expect(() => parseClusterFile(raw)).toThrow(/^nodes: shard 2 has no node/);
  });

  it('refuses more nodes (so more shards) than partitions', () => {
    const raw = { clickhouseCluster: 'show', partitions: 1, nodes: [node(1, { shard: 1 }), node(2, { shard: 2 })], replication: { zookeeper: 'z:1' } };
    expect(() => parseClusterFile(raw)).toThrow(/^nodes: at most one node per partition \(1 partitions\)/);
  });

  it('refuses a clickhouseUrl given twice with replication, also when written differently', () => {
    const twice = (url: string) => ({ clickhouseCluster: 'show', nodes: [node(1, { shard: 1 }), node(2, { shard: 1, clickhouseUrl: url })], replication: { zookeeper: 'z:1' } });
    expect(() => parseClusterFile(twice('http://127.0.0.1:8123'))).toThrow(/^nodes: http:\/\/127\.0\.0\.1:8123 is given twice \(with replication, each node writes to a replica of its own\)/);
    expect(() => parseClusterFile(twice('http://127.0.0.1:8123/'))).toThrow(/is given twice/);
    expect(() => parseClusterFile(twice('http://user:pw@127.0.0.1:8123'))).toThrow(/is given twice/);
    // Another database on the same server is another set of tables, not the same replica.
    expect(parseClusterFile(twice('http://127.0.0.1:8123/other')).nodes).toHaveLength(2);
    // Without replication nodes may share a shard's server (issue 14).
    expect(parseClusterFile({ clickhouseCluster: 'show', nodes: [node(1), node(2, { clickhouseUrl: 'http://127.0.0.1:8123' })] }).nodes).toHaveLength(2);
  });
});

describe('shards and partitions', () => {
  const file = parseClusterFile(replicated({ zookeeper: 'z:1' }, { partitions: 8 }));

  it('counts the shards', () => {
    expect(shardCount(file)).toBe(2);
  });

  it('puts partition p on shard (p mod S) + 1', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((p) => shardOfPartition(p, 2))).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect([0, 1, 2, 3].map((p) => shardOfPartition(p, 3))).toEqual([1, 2, 3, 1]);
    expect(shardOfPartition(63, 1)).toBe(1);
    expect(() => shardOfPartition(0, 0)).toThrow(/shards = 0 must be a positive integer/);
  });

  it('lists each shard\'s partitions, and together they are every partition once, agreeing with shardOfPartition', () => {
    expect(partitionsOfShard(file, 1)).toEqual([0, 2, 4, 6]);
    expect(partitionsOfShard(file, 2)).toEqual([1, 3, 5, 7]);
    const big = parseClusterFile(replicated({ zookeeper: 'z:1' }, { partitions: 64, nodes: [node(1, { shard: 1 }), node(2, { shard: 2 }), node(3, { shard: 3 })] }));
    const all = [1, 2, 3].flatMap((s) => partitionsOfShard(big, s).map((p) => [p, s] as const));
    expect(all.map(([p]) => p).sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    for (const [p, s] of all) expect(shardOfPartition(p, 3)).toBe(s);
  });

  it('refuses a shard the cluster does not have, and any shard without replication', () => {
    expect(() => partitionsOfShard(file, 3)).toThrow(/shard 3 is not one of this cluster's 2 shards/);
    expect(() => partitionsOfShard(file, 0)).toThrow(/shard 0 is not one/);
    const plain = parseClusterFile({ clickhouseCluster: 'show', nodes: [node(1), node(2)] });
    expect(() => partitionsOfShard(plain, 1)).toThrow(/not one of this cluster's 0 shards/);
  });

  it('names each shard\'s nodes in file order; the first is the preferred owner', () => {
    expect(nodesOfShard(file, 1).map((n) => n.id)).toEqual(['n1', 'n3']);
    expect(nodesOfShard(file, 2).map((n) => n.id)).toEqual(['n2']);
    expect(nodesOfShard(file, 3)).toEqual([]);
    expect(preferredOwnerOf(file, 1).id).toBe('n1');
    expect(preferredOwnerOf(file, 2).id).toBe('n2');
    const reordered = parseClusterFile(replicated({ zookeeper: 'z:1' }, { nodes: [node(3, { shard: 1 }), node(2, { shard: 2 }), node(1, { shard: 1 })] }));
    expect(preferredOwnerOf(reordered, 1).id).toBe('n3');
    expect(() => preferredOwnerOf(file, 3)).toThrow(/no node on shard 3/);
  });
});
