// `gala rehearse` (and `GALA_REHEARSAL=1 gala serve`): the whole system as a rehearsal, replaying the simulated night
// through its own ingest at 1x to 100x, on its own data directory, with OBS steps logged or sent to a rehearsal OBS.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { prepareRehearsalDataDir, checkRehearsalClickhouseUrl } from '../control-room/rehearsal/data-dir-guard.ts';
import { clockText, MAX_SEND_RATE, MAX_SPEED, MIN_SPEED, type ReplayView } from '../control-room/rehearsal/replay.ts';
import { createLog, type Log } from '../platform/log.ts';
import { refuseHeldDataDir } from '../storage/chdb/data-dir-lock.ts';
import { formatDuration } from '../platform/progress.ts';
import { startSystem, type RunningSystem } from '../system/start-system.ts';
import { ConfigError, parseServeConfig, type ServeConfig } from './config.ts';

export const DEFAULT_REHEARSAL_DATA = './data-rehearsal';

export const REHEARSE_USAGE = `usage: gala rehearse [flags]        (or GALA_REHEARSAL=1 gala serve [flags])
  --speed X             simulated seconds per second, ${MIN_SPEED} to ${MAX_SPEED} (default 10); producers change it live
  --rate N              peak orders per simulated second (default 200); rate × speed at most ${MAX_SEND_RATE}
  --seed N              seed of the simulated night (default 42)
  --obs log|live        log: OBS steps are only logged (default); live: sent to the rehearsal OBS of --obs-url
  --obs-url URL         the rehearsal OBS (GALA_OBS_URL, the night's OBS, is never read); password GALA_OBS_PASSWORD
  --data DIR            rehearsal data directory (default ${DEFAULT_REHEARSAL_DATA}; GALA_DATA is never read);
                        refused if it holds data that is not a rehearsal's; emptied at start unless --keep
  --keep                continue the previous rehearsal's figures in DIR instead of starting from zero
  --clickhouse-url URL  a ClickHouse server database whose name contains "rehearsal" (GALA_CLICKHOUSE_URL is never read)
  --wait                wait for a producer's POST /v1/control/rehearsal/start
  --http-port N --ingest-port N --host H --show FILE   as for gala serve`;

const SERVE_FLAGS = ['http-port', 'ingest-port', 'host', 'show'] as const;
/** The night's settings a rehearsal must never pick up from the environment by accident. */
const NIGHT_ENV = ['GALA_DATA', 'GALA_CLICKHOUSE_URL', 'GALA_OBS_URL'] as const;

function numberFlag(name: string, raw: string | undefined, dflt: number, min: number, max: number, integer = false): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`--${name}: must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

/** The rehearsal's configuration from flags and environment; every error names the flag and the rule. */
export function parseRehearseConfig(argv: string[], env: NodeJS.ProcessEnv, nowMs = Date.now()): { cfg: ServeConfig; keep: boolean } | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'http-port': { type: 'string' }, 'ingest-port': { type: 'string' }, host: { type: 'string' }, show: { type: 'string' },
        data: { type: 'string' }, 'clickhouse-url': { type: 'string' }, 'obs-url': { type: 'string' },
        speed: { type: 'string' }, rate: { type: 'string' }, seed: { type: 'string' }, obs: { type: 'string' },
        keep: { type: 'boolean' }, wait: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help === true) return 'help';
  const s = (k: string) => values[k] as string | undefined;
  const serveArgs = SERVE_FLAGS.flatMap((k) => (s(k) === undefined ? [] : [`--${k}`, s(k)!]));
  const nightFree = { ...env };
  for (const k of NIGHT_ENV) delete nightFree[k];
  const base = parseServeConfig(serveArgs, nightFree);

  const speed = numberFlag('speed', s('speed'), 10, MIN_SPEED, MAX_SPEED);
  const rate = numberFlag('rate', s('rate'), 200, 1, MAX_SEND_RATE);
  if (rate * speed > MAX_SEND_RATE) throw new ConfigError(`--rate, --speed: rate × speed must be at most ${MAX_SEND_RATE} orders/s (got ${rate} × ${speed})`);
  const seed = numberFlag('seed', s('seed'), 42, -(2 ** 31), 2 ** 31 - 1, true);
  const obs = s('obs') ?? 'log';
  if (obs !== 'log' && obs !== 'live') throw new ConfigError(`--obs: must be log or live (got "${obs}")`);
  const obsUrl = s('obs-url') ?? null;
  if (obsUrl !== null && !/^wss?:\/\/[^/]+/.test(obsUrl)) throw new ConfigError(`--obs-url: must be a ws:// URL such as ws://127.0.0.1:4455 (got "${obsUrl}")`);
  if (obs === 'live' && obsUrl === null) throw new ConfigError('--obs live: needs --obs-url of the rehearsal OBS (GALA_OBS_URL is the night\'s and is never read)');
  const data = s('data') ?? DEFAULT_REHEARSAL_DATA;
  if (data.trim() === '') throw new ConfigError('--data: must be a directory path');
  const chUrl = s('clickhouse-url') ?? null;
  if (chUrl !== null) {
    try {
      checkRehearsalClickhouseUrl(chUrl);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  const show = base.show;
  const nightMs = show.startsAt !== null && show.endsAt !== null && show.endsAt > show.startsAt ? show.endsAt - show.startsAt : null;
  const ingestTokens = base.ingestTokens.length > 0 ? base.ingestTokens : [`rehearsal-ingest-${randomBytes(9).toString('base64url')}`];
  const producerTokens = base.producerTokens.length > 0 ? base.producerTokens : [`rehearsal-producer-${randomBytes(9).toString('base64url')}`];
  const cfg: ServeConfig = {
    ...base,
    dataDir: data,
    clickhouseUrl: chUrl,
    obsUrl,
    ingestTokens,
    producerTokens,
    // The rehearsal's show begins when it starts and never turns final: the show file's instants are the night's.
    show: { ...show, startsAt: nowMs, endsAt: null },
    rehearsal: { speed, rate, seed, obs, wait: values.wait === true, nightMs },
  };
  return { cfg, keep: values.keep === true };
}

/** Every log line of a rehearsal says so. */
export function rehearsalLog(base: Log = createLog('gala')): Log {
  return (event, fields = {}) => base(event, { mode: 'REHEARSAL', ...fields });
}

export function rehearsalBanner(cfg: ServeConfig, system: Pick<RunningSystem, 'httpPort' | 'ingestPort'>, how: string): string {
  const r = cfg.rehearsal!;
  const http = `http://${cfg.host}:${system.httpPort}`;
  const bar = '#'.repeat(72);
  return [
    '',
    bar,
    `##  REHEARSAL  -  NOT ON AIR  -  simulated orders only${' '.repeat(16)}##`,
    bar,
    `REHEARSAL of "${cfg.show.name}": replay at ${r.speed}x, peak ${r.rate} orders per simulated second, seed ${r.seed}${r.wait ? ', waiting for a producer to start it' : ''}`,
    `REHEARSAL data       ${cfg.clickhouseUrl === null ? `${cfg.dataDir} (${how})` : 'ClickHouse server (rehearsal database)'}`,
    `REHEARSAL OBS        ${r.obs === 'log' ? 'log only: no OBS command is sent' : `live, to the rehearsal OBS at ${cfg.obsUrl}`}`,
    `  control room       ${http}/control   (API ${http}/v1/control/rehearsal)`,
    `  live snapshot      ${http}/v1/stats`,
    `  public page        ${http}/`,
    `  ingest WebSocket   ws://${cfg.host}:${system.ingestPort}/v1/ingest`,
    `  producer token     ${cfg.producerTokens[0]}`,
    'Ctrl-C stops cleanly.',
    '',
  ].join('\n');
}

/** How far through the night the replay is and the time left at its speed; nothing when the show has no end. */
export function nightLeft(v: Pick<ReplayView, 'simMs' | 'nightMs' | 'speed'>): string {
  if (v.nightMs === null || v.nightMs <= 0) return '';
  const pct = Math.min(100, Math.floor((100 * v.simMs) / v.nightMs));
  return ` of ${clockText(v.nightMs)} (${pct}%), ${formatDuration(Math.max(0, v.nightMs - v.simMs) / v.speed / 1000)} left`;
}

/** `gala rehearse [flags]`: exits 2 on bad flags or a data directory that is not a rehearsal's. */
export async function runRehearse(argv: string[], stopOnSignals: (s: RunningSystem) => void): Promise<void> {
  const parsed = parseRehearseConfig(argv, process.env);
  if (parsed === 'help') {
    process.stdout.write(`${REHEARSE_USAGE}\n`);
    return;
  }
  const { cfg, keep } = parsed;
  let how = 'server';
  if (cfg.clickhouseUrl === null) {
    // Before anything is wiped: a running rehearsal's directory is not the previous rehearsal's to clear.
    refuseHeldDataDir(cfg.dataDir);
    try {
      how = prepareRehearsalDataDir(cfg.dataDir, keep);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  const log = rehearsalLog();
  log('rehearsal.start', { speed: cfg.rehearsal!.speed, rate: cfg.rehearsal!.rate, obs: cfg.rehearsal!.obs, data: cfg.dataDir, how });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const system = await startSystem(cfg, { log, onListening: out, print: out });
  stopOnSignals(system);
  process.stdout.write(rehearsalBanner(cfg, system, how === 'new' ? 'new' : how === 'wiped' ? "the previous rehearsal's figures cleared" : 'continuing'));
  let ackedBefore = system.rehearsal!.view().acked;
  setInterval(() => {
    const v = system.rehearsal!.view();
    const t = system.totals.snapshot();
    const rate = Math.round((v.acked - ackedBefore) / 5).toLocaleString('en-US');
    ackedBefore = v.acked;
    out(`REHEARSAL ${v.phase} ${v.speed}x  show ${v.simClock}${nightLeft(v)}  sent ${v.sent}  acked ${v.acked} (${rate}/s)  GMV ${t.currency} ${t.gmv}  orders ${t.orders}`);
  }, 5000).unref();
}
