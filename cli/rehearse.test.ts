// `gala rehearse` flags: defaults that keep a rehearsal off the night's data and OBS, and errors that name the flag and the rule.
import { describe, expect, it } from 'vitest';
import { ConfigError, type ServeConfig } from './config.ts';
import { DEFAULT_REHEARSAL_DATA, nightLeft, parseRehearseConfig, rehearsalLog } from './rehearse.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): { cfg: ServeConfig; keep: boolean } => {
  const r = parseRehearseConfig(argv, env, Date.UTC(2026, 10, 1));
  if (r === 'help') throw new Error('help');
  return r;
};
const error = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parse(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('gala rehearse flags', () => {
  it('defaults: its own data dir, log-only OBS, the night\'s env settings ignored, made-up tokens, a show that starts now and never turns final', () => {
    const night = { GALA_DATA: '/srv/night', GALA_CLICKHOUSE_URL: 'http://ch:8123/gala', GALA_OBS_URL: 'ws://air:4455', GALA_PRODUCER_TOKEN: 'p1' };
    const { cfg, keep } = parse([], night);
    expect(cfg.dataDir).toBe(DEFAULT_REHEARSAL_DATA);
    expect(cfg.clickhouseUrl).toBeNull();
    expect(cfg.obsUrl).toBeNull();
    expect(cfg.rehearsal).toEqual({ speed: 10, rate: 200, seed: 42, obs: 'log', wait: false, nightMs: null });
    expect(cfg.producerTokens).toEqual(['p1']);
    expect(cfg.ingestTokens[0]).toMatch(/^rehearsal-ingest-/);
    expect(cfg.show.startsAt).toBe(Date.UTC(2026, 10, 1));
    expect(cfg.show.endsAt).toBeNull();
    expect(keep).toBe(false);
    const live = parse(['--obs', 'live', '--obs-url', 'ws://127.0.0.1:4466', '--speed', '100', '--rate', '150', '--keep', '--wait', '--data', 'x']);
    expect(live.cfg.rehearsal).toMatchObject({ obs: 'live', speed: 100, rate: 150, wait: true });
    expect([live.cfg.obsUrl, live.cfg.dataDir, live.keep]).toEqual(['ws://127.0.0.1:4466', 'x', true]);
  });

  it('errors name the flag and the rule', () => {
    expect(error(['--speed', '0'])).toBe('--speed: must be a number from 1 to 100 (got "0")');
    expect(error(['--speed', '101'])).toBe('--speed: must be a number from 1 to 100 (got "101")');
    expect(error(['--speed', 'fast'])).toBe('--speed: must be a number from 1 to 100 (got "fast")');
    expect(error(['--rate', '0'])).toBe('--rate: must be a number from 1 to 20000 (got "0")');
    expect(error(['--rate', '1000', '--speed', '50'])).toBe('--rate, --speed: rate × speed must be at most 20000 orders/s (got 1000 × 50)');
    expect(error(['--seed', '1.5'])).toBe('--seed: must be a whole number from -2147483648 to 2147483647 (got "1.5")');
    expect(error(['--obs', 'air'])).toBe('--obs: must be log or live (got "air")');
    expect(error(['--obs', 'live'])).toMatch(/^--obs live: needs --obs-url of the rehearsal OBS/);
    expect(error(['--obs-url', 'http://x'])).toMatch(/^--obs-url: must be a ws:\/\/ URL/);
    expect(error(['--clickhouse-url', 'http://ch:8123/gala'])).toMatch(/^--clickhouse-url: a rehearsal needs a database whose name contains "rehearsal"/);
    expect(error(['--http-port', '70000'])).toBe('--http-port: must be a port number 0-65535 (got "70000")');
    expect(error(['--bogus'])).toMatch(/Unknown option '--bogus'/);
  });

  it('every log line says REHEARSAL', () => {
    const lines: unknown[] = [];
    rehearsalLog((event, fields) => lines.push({ event, ...fields }))('x', { a: 1 });
    expect(lines).toEqual([{ event: 'x', mode: 'REHEARSAL', a: 1 }]);
  });

  it('says how far through the night the replay is and the time left at its speed', () => {
    // Four simulated hours, one done, at 10x: three hours left take 18 real minutes.
    expect(nightLeft({ simMs: 3_600_000, nightMs: 14_400_000, speed: 10 })).toBe(' of 04:00:00 (25%), 18 min left');
    expect(nightLeft({ simMs: 14_500_000, nightMs: 14_400_000, speed: 10 })).toBe(' of 04:00:00 (100%), 0.0 s left');
    expect(nightLeft({ simMs: 60_000, nightMs: null, speed: 10 })).toBe('');
  });
});
