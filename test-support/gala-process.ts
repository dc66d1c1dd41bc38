// Runs `gala serve` as a child process (the real command), for crash, restart and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_TOKEN } from './system-harness.ts';

const BIN = fileURLToPath(new URL('../bin/gala.mjs', import.meta.url));

export interface GalaProcess {
  proc: ChildProcess;
  httpPort: number;
  ingestPort: number;
  exited: Promise<number | null>;
  stderr: () => string;
}

export async function startGalaProcess(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<GalaProcess> {
  // A cluster node listens on its entry's ports (a port flag that disagrees with the file is refused).
  const clusterNode = args.includes('--cluster') || env.GALA_CLUSTER !== undefined;
  const portArgs = clusterNode ? [] : ['--http-port', '0', '--ingest-port', '0'];
  const proc = spawn(process.execPath, [...nodeArgs, BIN, 'serve', ...portArgs, ...args], {
    env: { ...process.env, GALA_INGEST_TOKEN: TEST_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ http: number; ingest: number }>((resolve, reject) => {
    let out = '';
    const found: Record<string, number> = {};
    const timer = setTimeout(() => reject(new Error(`gala serve did not print its ports in 60 s; stderr: ${err}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of out.matchAll(/^listening (http|ingest)=(\d+)$/gm)) found[m[1]!] = Number(m[2]);
      if (found.http !== undefined && found.ingest !== undefined) {
        clearTimeout(timer);
        resolve({ http: found.http, ingest: found.ingest });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gala serve exited with ${code} before listening; stderr: ${err}`));
    });
  });
  return { proc, httpPort: ports.http, ingestPort: ports.ingest, exited, stderr: () => err };
}
