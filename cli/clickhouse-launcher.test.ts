// The replicated rig's configuration and cluster files, without starting servers: remote_servers per shard with
// internal replication, ZooKeeper and macros per server, and a Gala cluster file placing nodes on replicas.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseClusterFile } from '../domain/cluster-map.ts';
import { writeClusterFile } from '../test-support/clickhouse-cluster.ts';
import { clusterFileFor, remoteServersXml, replicaName, replicationXml } from './clickhouse-launcher.ts';

const squash = (s: string) => s.replace(/\s+/g, '');

describe('replicated cluster configuration', () => {
  it('lists every replica of each shard, with internal replication; one port per shard stays issue 14\'s layout', () => {
    expect(squash(remoteServersXml('gala', [[9001, 9002], [9003, 9004]]))).toContain(
      squash(`<gala>
        <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>9001</port></replica><replica><host>127.0.0.1</host><port>9002</port></replica></shard>
        <shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>9003</port></replica><replica><host>127.0.0.1</host><port>9004</port></replica></shard>
      </gala>`),
    );
    const plain = squash(remoteServersXml('gala', [9001, 9003]));
    expect(plain).toContain(squash('<shard><replica><host>127.0.0.1</host><port>9001</port></replica></shard>'));
    expect(plain).not.toContain('internal_replication');
    expect(plain).toContain('<interserver_http_host>127.0.0.1</interserver_http_host>');
  });

  it('gives each server the ZooKeeper and its macros: shard number, replica s<shard>r<replica>', () => {
    const x = squash(replicationXml({ host: '127.0.0.1', port: 2181 }, 2, 1));
    expect(x).toContain(squash('<zookeeper><node index="1"><host>127.0.0.1</host><port>2181</port></node>'));
    expect(x).toContain(squash('<macros><shard>2</shard><replica>s2r1</replica></macros>'));
    expect(replicaName(1, 2)).toBe('s1r2');
  });

  it('places nodes on replicas: a file that parses, with each node\'s shard and replication set', async () => {
    const replicaOf = (shard: number, replica: number) => ({ url: `http://127.0.0.1:${8000 + 10 * shard + replica}` });
    const file = await clusterFileFor({
      clickhouseCluster: 'gala',
      nodes: [{ shard: 1, replica: 1 }, { shard: 2, replica: 1 }, { shard: 1, replica: 2 }],
      cluster: { replicaOf },
      zookeeper: '127.0.0.1:2181',
      sessionTimeoutMs: 2000,
    });
    expect(file.nodes.map((n) => [n.id, n.shard, n.clickhouseUrl])).toEqual([
      ['n1', 1, 'http://127.0.0.1:8011'],
      ['n2', 2, 'http://127.0.0.1:8021'],
      ['n3', 1, 'http://127.0.0.1:8012'],
    ]);
    expect(file.replication).toEqual({ zookeeper: '127.0.0.1:2181', sessionTimeoutMs: 2000, insertQuorum: 2, root: '/gala/gala' });
    expect(parseClusterFile(JSON.parse(JSON.stringify(file)))).toEqual(file);
    await expect(clusterFileFor({ clickhouseCluster: 'gala', nodes: [{ shard: 1, replica: 1 }] })).rejects.toThrow(/need cluster and zookeeper/);
    await expect(clusterFileFor({ clickhouseCluster: 'gala' })).rejects.toThrow(/either clickhouseUrls or nodes/);
  });

  it('writes the file: replication only when set, as before without it', async () => {
    const replicaOf = (shard: number, replica: number) => ({ url: `http://127.0.0.1:${8000 + 10 * shard + replica}` });
    const written = await writeClusterFile({ clickhouseCluster: 'gala', nodes: [{ shard: 1, replica: 1 }, { shard: 1, replica: 2 }], cluster: { replicaOf }, zookeeper: 'zk:2181' });
    const plain = await writeClusterFile({ clickhouseCluster: 'gala', clickhouseUrls: ['http://127.0.0.1:8123', 'http://127.0.0.1:8124'] });
    try {
      const json = JSON.parse(readFileSync(written.file, 'utf8')) as Record<string, unknown>;
      expect(Object.keys(json).sort()).toEqual(['clickhouseCluster', 'nodes', 'replication']);
      expect(parseClusterFile(json)).toEqual(written.cluster);
      const plainJson = JSON.parse(readFileSync(plain.file, 'utf8')) as Record<string, unknown>;
      expect(Object.keys(plainJson).sort()).toEqual(['clickhouseCluster', 'nodes']);
      expect(parseClusterFile(plainJson).replication).toBeNull();
    } finally {
      written.cleanup();
      plain.cleanup();
    }
  });
});
