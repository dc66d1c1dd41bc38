// `gala serve` settings from flags and the environment: defaults, and errors that name the setting and the rule.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseServeConfig } from './config.ts';

describe('gala serve settings', () => {
  it('takes the group-commit flush from GALA_GROUP_FLUSH_MS, 100 ms by default', () => {
    expect(parseServeConfig([], {}).flushIntervalMs).toBe(100);
    expect(parseServeConfig([], { GALA_GROUP_FLUSH_MS: '40' }).flushIntervalMs).toBe(40);
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
