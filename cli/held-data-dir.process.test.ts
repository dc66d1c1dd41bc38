// A second gala (serve, demo or rehearse) on a data directory another gala holds: one line on stderr naming the
// directory and the holder's pid, exit 2, nothing served; and after kill -9 of the holder, a restart on the same
// directory works (the lock died with it) with every acknowledged order still counted.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startGalaProcess, type GalaProcess } from '../test-support/gala-process.ts';
import { connectIngest, TEST_TOKEN } from '../test-support/system-harness.ts';

const BIN = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gala-held-'));
const procs: GalaProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `gala <args>` to its exit: its code, stdout and stderr. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, GALA_INGEST_TOKEN: TEST_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => proc.once('close', (code) => done({ code, stdout, stderr })));
}

const stats = async (p: GalaProcess) => (await (await fetch(`http://127.0.0.1:${p.httpPort}/v1/stats`)).json()) as { orders: number; gmv: string };

describe('a data directory held by another gala', () => {
  it('refuses the second process in one line with exit 2, and a restart after kill -9 of the first works', async () => {
    const first = await startGalaProcess(['--data', dir]);
    procs.push(first);
    const ingest = await connectIngest(first.ingestPort);
    const ack = await ingest.send(JSON.stringify({ batch: 'h1', orders: [{ id: 'held-1', ts: Date.now(), amount: '12.34', currency: 'CNY', channel: 'mobile' }] }));
    expect(ack).toMatchObject({ accepted: 1 });
    ingest.close();

    // A rehearsal checks before it clears a directory, so a held one is never wiped under its holder.
    const commands = [['serve', '--data', dir], ['demo', '--data', dir], ['rehearse', '--data', dir]];
    for (const command of commands.map(([c, ...rest]) => [c!, '--http-port', '0', '--ingest-port', '0', ...rest])) {
      const second = await run(command);
      expect(second.code, second.stderr).toBe(2);
      const lines = second.stderr.split('\n').filter((l) => l !== '');
      expect(lines, second.stderr).toHaveLength(1);
      expect(lines[0]).toBe(`gala: --data: "${resolve(dir)}" is in use by another process (pid ${first.proc.pid}): one gala per data directory; stop that one or give another --data`);
      expect(second.stdout).not.toMatch(/listening/);
    }
    // The holder was not disturbed.
    expect((await stats(first)).orders).toBe(1);

    first.proc.kill('SIGKILL');
    await first.exited;
    const again = await startGalaProcess(['--data', dir]);
    procs.push(again);
    expect(await stats(again)).toMatchObject({ orders: 1, gmv: '12.34' });
    again.proc.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });
});
