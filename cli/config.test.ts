// `gala serve` settings from flags and the environment: defaults, and errors that name the setting and the rule.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseServeConfig } from './config.ts';

describe('gala serve settings', () => {
  it('takes the group-commit flush from GALA_GROUP_FLUSH_MS, 100 ms by default', () => {
    expect(parseServeConfig([], {}).flushIntervalMs).toBe(100);
    expect(parseServeConfig([], { GALA_GROUP_FLUSH_MS: '40' }).flushIntervalMs).toBe(40);
  });

  it('takes the least time between derived inserts from GALA_DERIVED_INTERVAL_MS, 500 ms by default, 0 allowed, and refuses the rest by name', () => {
    expect(parseServeConfig([], {}).derivedIntervalMs).toBe(500);
    expect(parseServeConfig([], { GALA_DERIVED_INTERVAL_MS: '0' }).derivedIntervalMs).toBe(0);
    expect(parseServeConfig([], { GALA_DERIVED_INTERVAL_MS: '1000' }).derivedIntervalMs).toBe(1000);
    for (const bad of ['-1', 'later']) expect(() => parseServeConfig([], { GALA_DERIVED_INTERVAL_MS: bad })).toThrow(/GALA_DERIVED_INTERVAL_MS: milliseconds .* 0 for one after every group \(got "/);
  });

  it('takes the nice value of the embedded engine merge threads from GALA_MERGE_NICE, 10 by default, and refuses the rest by name', () => {
    expect(parseServeConfig([], {}).mergeNice).toBe(10);
    expect(parseServeConfig([], { GALA_MERGE_NICE: '0' }).mergeNice).toBe(0);
    expect(parseServeConfig([], { GALA_MERGE_NICE: '19' }).mergeNice).toBe(19);
    for (const bad of ['-1', '20', '2.5', 'low']) expect(() => parseServeConfig([], { GALA_MERGE_NICE: bad })).toThrow(/GALA_MERGE_NICE: a whole nice value from 0 to 19 .* \(got "/);
  });

  it('refuses a flush that is not a positive number, naming the variable and the rule', () => {
    for (const bad of ['0', '-5', 'soon']) {
      expect(() => parseServeConfig([], { GALA_GROUP_FLUSH_MS: bad })).toThrow(ConfigError);
      expect(() => parseServeConfig([], { GALA_GROUP_FLUSH_MS: bad })).toThrow(/GALA_GROUP_FLUSH_MS: milliseconds .* at least 1 \(got "/);
    }
  });

  it('turns reconciliation off with GALA_RECONCILE_SECONDS=0 and refuses a negative interval', () => {
    expect(parseServeConfig([], { GALA_RECONCILE_SECONDS: '0' }).reconcileIntervalMs).toBe(0);
    expect(() => parseServeConfig([], { GALA_RECONCILE_SECONDS: '-1' })).toThrow(/GALA_RECONCILE_SECONDS: a number of seconds/);
  });
});

describe('gala serve --cluster FILE --node ID', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gala-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  const node = (id: string, httpPort: number, ingestPort: number, ch: number) => ({ id, host: '127.0.0.1', httpPort, ingestPort, clickhouseUrl: `http://127.0.0.1:${ch}` });
  const file = write('cluster.json', { clickhouseCluster: 'gala', nodes: [node('n1', 8081, 9011, 8123), node('n2', 8082, 9012, 8124)] });

  it("takes this node's host, ports and ClickHouse from its entry, and keeps the file", () => {
    const cfg = parseServeConfig(['--cluster', file, '--node', 'n2'], {});
    expect(cfg).toMatchObject({ host: '127.0.0.1', httpPort: 8082, ingestPort: 9012, clickhouseUrl: 'http://127.0.0.1:8124' });
    expect(cfg.cluster?.self.id).toBe('n2');
    expect(cfg.cluster?.file).toMatchObject({ clickhouseCluster: 'gala', partitions: 64 });
    expect(cfg.cluster?.file.nodes.map((n) => n.id)).toEqual(['n1', 'n2']);
    // The same from the environment.
    expect(parseServeConfig([], { GALA_CLUSTER: file, GALA_NODE: 'n1' }).cluster?.self.httpPort).toBe(8081);
    expect(parseServeConfig([], {}).cluster).toBeNull();
  });

  it('accepts a flag or variable that agrees with the file and refuses one that does not, naming it', () => {
    expect(parseServeConfig(['--cluster', file, '--node', 'n1', '--http-port', '8081', '--host', '127.0.0.1'], { GALA_INGEST_PORT: '9011' }).httpPort).toBe(8081);
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n1', '--http-port', '0'], {})).toThrow(ConfigError);
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n1', '--http-port', '0'], {})).toThrow(/^--http-port: "0" disagrees with the cluster file ".*cluster.json", where node "n1" has httpPort "8081"/);
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n1'], { GALA_INGEST_PORT: '9001' })).toThrow(/^GALA_INGEST_PORT: "9001" disagrees .* ingestPort "9011"/);
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n1', '--host', '0.0.0.0'], {})).toThrow(/^--host: "0.0.0.0" disagrees .* host "127.0.0.1"/);
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n1'], { GALA_CLICKHOUSE_URL: 'http://127.0.0.1:8124' })).toThrow(/^GALA_CLICKHOUSE_URL: .* clickhouseUrl "http:\/\/127.0.0.1:8123"/);
  });

  it('refuses one of --cluster and --node without the other', () => {
    expect(() => parseServeConfig(['--cluster', file], {})).toThrow(/^--cluster: a cluster node needs its id too \(--node ID or GALA_NODE\)/);
    expect(() => parseServeConfig([], { GALA_NODE: 'n1' })).toThrow(/^GALA_NODE: a node is named only with a cluster file/);
  });

  it('refuses a node the file does not name, listing the ones it does', () => {
    expect(() => parseServeConfig(['--cluster', file, '--node', 'n3'], {})).toThrow(/^--node: "n3" is not a node of the cluster file ".*" \(its nodes: n1, n2\)/);
  });

  it('names the file and the key for a file that is missing, not JSON, or breaks a rule', () => {
    expect(() => parseServeConfig(['--cluster', join(dir, 'none.json'), '--node', 'n1'], {})).toThrow(/^--cluster: cannot read ".*none.json"/);
    expect(() => parseServeConfig(['--cluster', write('bad.json', '{"nodes": ['), '--node', 'n1'], {})).toThrow(/^--cluster: ".*bad.json" is not valid JSON/);
    const extra = write('extra.json', { clickhouseCluster: 'gala', nodes: [{ ...node('n1', 1, 2, 3), weight: 2 }] });
    expect(() => parseServeConfig(['--cluster', extra, '--node', 'n1'], {})).toThrow(/^--cluster: ".*extra.json": nodes\[0\]: unknown key "weight"/);
    const noUrl = write('no-url.json', { clickhouseCluster: 'gala', nodes: [{ id: 'n1', host: 'h', httpPort: 1, ingestPort: 2 }] });
    expect(() => parseServeConfig(['--cluster', noUrl, '--node', 'n1'], {})).toThrow(/^--cluster: ".*no-url.json": nodes\[0\].clickhouseUrl: required, an http\(s\) URL/);
  });
});
