// `gala rehearse` as the real command: the banner and every log line say REHEARSAL, the replay reaches /v1/stats,
// SIGTERM exits 0; a rehearsal refuses a real night's data directory, and `gala serve` refuses a rehearsal's.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../test-support/until.ts';

const BIN = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'gala-rehearse-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function gala(args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, GALA_PRODUCER_TOKEN: 'p', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const io = { out: '', err: '' };
  proc.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (io.err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, io, exited };
}

describe('gala rehearse (process)', () => {
  it('says REHEARSAL in its banner and log, replays into /v1/stats, stops on SIGTERM; gala serve then refuses its data dir', async () => {
    const dir = join(root, 'data-rehearsal');
    // GALA_REHEARSAL=1 turns `serve` into a rehearsal; GALA_DATA (the night's) is not read.
    const g = gala(['serve', '--http-port', '0', '--ingest-port', '0', '--data', dir, '--speed', '50', '--rate', '100'], { GALA_REHEARSAL: '1', GALA_DATA: join(root, 'night') });
    try {
      // A process starting on a loaded machine: a minute bounds a hang.
      await until('the banner', () => g.io.out.includes('REHEARSAL  -  NOT ON AIR'), { timeoutMs: 60_000 });
      const port = Number(/^listening http=(\d+)$/m.exec(g.io.out)![1]);
      expect(g.io.out).toMatch(/REHEARSAL OBS {8}log only: no OBS command is sent/);
      let body: { orders: number; rehearsal?: boolean } = { orders: 0 };
      await until('orders in /v1/stats', async () => {
        body = (await (await fetch(`http://127.0.0.1:${port}/v1/stats`)).json()) as typeof body;
        return body.orders > 0;
      }, { timeoutMs: 60_000 });
      expect(body.rehearsal).toBe(true);
      const lines = g.io.err.trim().split('\n').filter((l) => l.startsWith('{'));
      expect(lines.length).toBeGreaterThan(2);
      for (const l of lines) expect(JSON.parse(l)).toMatchObject({ mode: 'REHEARSAL' });
    } finally {
      g.proc.kill('SIGTERM');
    }
    expect(await g.exited).toBe(0);

    const serve = gala(['serve', '--http-port', '0', '--ingest-port', '0', '--data', dir]);
    expect(await serve.exited).toBe(2);
    expect(serve.io.err).toMatch(/^gala: --data: ".*data-rehearsal" is a rehearsal's data directory/);
  }, 120_000);

  it("refuses a real night's data directory and bad flags, before starting anything", async () => {
    const night = join(root, 'night');
    rmSync(night, { recursive: true, force: true });
    mkdirSync(night);
    writeFileSync(join(night, 'part.bin'), 'a real night');
    const g = gala(['rehearse', '--data', night]);
    expect(await g.exited).toBe(2);
    expect(g.io.err).toMatch(/^gala: --data: ".*night" holds data that is not a rehearsal's/);
    const bad = gala(['rehearse', '--speed', '500']);
    expect(await bad.exited).toBe(2);
    expect(bad.io.err).toBe('gala: --speed: must be a number from 1 to 100 (got "500")\n');
  }, 60_000);
});
