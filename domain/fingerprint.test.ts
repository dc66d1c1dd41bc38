import { describe, expect, it } from 'vitest';
import { fingerprint } from './fingerprint.ts';

describe('fingerprint', () => {
  it('never changes: stored orders carry it, and a change would let every resend through', () => {
    expect(fingerprint('o-1')).toEqual([3332741399, 317408167]);
    expect(fingerprint('order-42')).toEqual([741263264, 3801237336]);
    expect(fingerprint('A.b_c:d-9')).toEqual([2609209523, 423631896]);
  });
});
