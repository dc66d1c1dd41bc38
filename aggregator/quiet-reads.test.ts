// The periodic reads of the leaderboards and watched products stop while nothing changed: two reads at the same
// state (the second sees the derived rows that land just after a commit), then none until the state changes or the
// last read is too old.
import { describe, expect, it } from 'vitest';
import { QuietReads } from './live-state.ts';

describe('QuietReads', () => {
  it('is quiet after two successful reads at the same state, and only then', () => {
    const q = new QuietReads(30_000);
    expect(q.none).toBe(true);
    expect(q.quiet('7|100', 0)).toBe(false);
    q.done('7|100', 0);
    expect(q.none).toBe(false);
    expect(q.quiet('7|100', 2000)).toBe(false);
    q.done('7|100', 2000);
    expect(q.quiet('7|100', 4000)).toBe(true);
    // A commit (a new revision) or a new minute reads again, twice.
    expect(q.quiet('8|100', 4000)).toBe(false);
    q.done('8|100', 4000);
    expect(q.quiet('8|100', 6000)).toBe(false);
    q.done('8|100', 6000);
    expect(q.quiet('8|100', 8000)).toBe(true);
    expect(q.quiet('8|101', 8000)).toBe(false);
  });

  it('reads again once the last read is older than its limit', () => {
    const q = new QuietReads(30_000);
    q.done('1', 0);
    q.done('1', 2000);
    expect(q.quiet('1', 31_999)).toBe(true);
    expect(q.quiet('1', 32_000)).toBe(false);
  });
});
