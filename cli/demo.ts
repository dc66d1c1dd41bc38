// `npm start`: the whole system in one process on the embedded engine, fed by the gala simulator through the
// real ingest endpoint, printing every URL an operator needs.
import { randomBytes } from 'node:crypto';
import { runSimulateCli } from '../simulator/simulate-cli.ts';
import { createLog } from '../platform/log.ts';
import { overlayNames } from '../overlays/server/overlay-assets.ts';
import { startSystem, type RunningSystem } from '../system/start-system.ts';
import { parseServeConfig } from './config.ts';

export async function runDemo(argv: string[], stopOnSignals: (s: RunningSystem) => void): Promise<void> {
  // The demo makes its own tokens when none are set, so it runs as written on a fresh machine.
  const env = { ...process.env };
  env.GALA_INGEST_TOKEN ||= `demo-ingest-${randomBytes(9).toString('base64url')}`;
  env.GALA_PRODUCER_TOKEN ||= `demo-producer-${randomBytes(9).toString('base64url')}`;
  env.GALA_ADMIN_TOKEN ||= `demo-admin-${randomBytes(9).toString('base64url')}`;
  env.GALA_VIEWER_TOKEN ||= `demo-viewer-${randomBytes(9).toString('base64url')}`;
  const cfg = parseServeConfig(argv, env);
  const log = createLog('gala');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const system = await startSystem(cfg, { log, onListening: out, print: out });
  stopOnSignals(system);
  const http = `http://${cfg.host}:${system.httpPort}`;
  const ingest = `${cfg.host}:${system.ingestPort}`;
  const token = cfg.ingestTokens[0]!;
  const rate = process.env.GALA_DEMO_RATE ?? '2000';
  process.stdout.write(
    [
      '',
      `Gala demo: "${cfg.show.name}" in ${cfg.show.currency}, embedded ClickHouse in ${cfg.dataDir}`,
      `  live snapshot      ${http}/v1/stats`,
      `  live stream (SSE)  ${http}/v1/stats/stream`,
      `  per-second series  ${http}/v1/series (CSV: /v1/series.csv)`,
      `  public page        ${http}/`,
      `  live channel       ws://${cfg.host}:${system.httpPort}/v1/live`,
      `  overlays (OBS)     ${overlayNames().map((n) => `${http}/overlays/${n}`).join('\n                     ')}`,
      `                     (1920x1080, transparent; ?guide=1 shows the safe areas)`,
      `  ingest WebSocket   ws://${ingest}/v1/ingest`,
      `  ingest HTTP        http://${ingest}/v1/orders`,
      `  ingest metrics     http://${ingest}/metrics`,
      `  ingest token       ${token}`,
      `  producer token     ${cfg.producerTokens[0]}`,
      `  control room       ${http}/control (log in with the producer, admin or viewer token)`,
      `  live panel         ${http}/control/live`,
      `  admin token        ${cfg.adminTokens?.[0] ?? '(none)'}`,
      `  viewer token       ${cfg.viewerTokens?.[0] ?? '(none)'}`,
      `The simulator streams a gala night at up to ${rate} orders/s (GALA_DEMO_RATE). Ctrl-C stops cleanly.`,
      '',
    ].join('\n'),
  );
  setInterval(() => {
    const s = system.totals.snapshot();
    process.stdout.write(`${s.asOf}  GMV ${s.currency} ${s.gmv}  orders ${s.orders}  mobile ${(s.mobileShare * 100).toFixed(1)}%  last second ${s.lastSecond?.orders ?? 0} orders\n`);
  }, 5000).unref();
  await runSimulateCli(['--url', `ws://${ingest}/v1/ingest`, '--token', token, '--rate', rate, '--duration', '0', '--quiet', '--show', cfg.showFile], {
    handleSignals: false,
  });
}
