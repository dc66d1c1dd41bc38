// The live panel's summary of the partitions a cluster node owns.
import { describe, expect, it } from 'vitest';
import { partitionsOwnedBy, type ClusterFile } from '../../domain/cluster-map.ts';
import { partitionRanges } from './format.ts';

const file = (n: number, partitions: number) =>
  ({ clickhouseCluster: 'gala', partitions, nodes: Array.from({ length: n }, (_, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', httpPort: 1, ingestPort: 2, clickhouseUrl: 'http://x' })) }) as ClusterFile;

describe('partitionRanges', () => {
  it('says what a cluster gives each node in a few characters', () => {
    expect(partitionRanges(partitionsOwnedBy(file(3, 64), 'n1'))).toBe('0, 3, 6 … 63 (step 3)');
    expect(partitionRanges(partitionsOwnedBy(file(3, 64), 'n3'))).toBe('2, 5, 8 … 62 (step 3)');
    expect(partitionRanges(partitionsOwnedBy(file(1, 64), 'n1'))).toBe('0–63');
  });

  it('lists runs, at most six, of an uneven set; none and one are said as such', () => {
    expect(partitionRanges([])).toBe('none');
    expect(partitionRanges([7])).toBe('7');
    expect(partitionRanges([4, 1, 2, 3, 9, 12, 13, 14, 15, 9])).toBe('1–4, 9, 12–15');
    expect(partitionRanges([0, 5])).toBe('0, 5');
    expect(partitionRanges([0, 2, 4, 5, 7, 9, 11, 13, 20])).toBe('0, 2, 4–5, 7, 9, 11 … (8 runs)');
  });
});
