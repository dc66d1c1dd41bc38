// `npm run bench:loopback-floor`: what this machine's kernel alone costs to deliver one small message to each of
// ~20,000 loopback TCP sockets (bench/loopback-floor.c, built here with the system's C compiler), with one and
// with two writing threads. bench:fanout's latency target is measured against the same delivery, so no server,
// in any language, can beat these figures here; they say how much of the fan-out's latency is the server's own.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '19600' },
    rounds: { type: 'string', default: '11' },
    bytes: { type: 'string', default: '420' },
    receivers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1,2' },
  },
});

const dir = mkdtempSync(join(tmpdir(), 'gala-floor-'));
const bin = join(dir, 'loopback-floor');
try {
  const cc = spawnSync('cc', ['-O2', '-o', bin, fileURLToPath(new URL('./loopback-floor.c', import.meta.url)), '-lpthread'], { stdio: 'inherit' });
  if (cc.status !== 0) throw new Error('bench:loopback-floor needs a C compiler (cc): apt-get install gcc');
  for (const threads of values.threads!.split(',')) {
    // Raise the soft descriptor limit to the hard one for the child (a shell builtin, hence bash).
    const out = execFileSync('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'floor', bin, values.sockets!, threads, values.receivers!, values.rounds!, values.bytes!], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    process.stdout.write(out);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
