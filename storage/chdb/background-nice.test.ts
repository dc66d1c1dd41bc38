import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createChdbConnection } from './chdb-connection.ts';
import { niceBackgroundThreads } from './background-nice.ts';

/** Every thread of this process: its name and nice value (/proc/<pid>/task/<tid>/stat, field 19). */
function threads(): { tid: number; name: string; nice: number }[] {
  const out: { tid: number; name: string; nice: number }[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // The name is in parentheses and may hold spaces: the fields after it are counted from its closing one.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: Number(tid), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(fields[16]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'gala-nice-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(process.platform === 'linux')('the embedded engine merge threads, niced', () => {
  it('runs every merge thread of chDB at the nice value given and leaves the other threads alone', async () => {
    const conn = createChdbConnection(dir, { mergeNice: 7 });
    try {
      await conn.command('CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x');
      for (let i = 0; i < 4; i++) await conn.insertTsv('t', ['x'], `${i}\n`);
      // The merge pool's threads are there once the engine is up; the scan runs once a second after the first.
      const merges = () => threads().filter((t) => t.name.startsWith('MergeMutate'));
      // The pool can grow at any moment, and a new thread waits up to a scan for its nice: judge one snapshot, taken
      // once every merge thread in it has been niced (never a second read, which could hold a thread just born).
      let seen = merges();
      for (let i = 0; i < 100 && !(seen.length > 0 && seen.every((t) => t.nice === 7)); i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = merges();
      }
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.map((t) => t.nice)).toEqual(seen.map(() => 7));
      // The event loop keeps the process's priority, and no other thread was given the merges' (the engine sets a
      // few of its own, e.g. its memory worker at -20).
      expect(threads().find((t) => t.tid === process.pid)?.nice).toBe(0);
      expect(threads().filter((t) => !t.name.startsWith('MergeMutate') && t.nice === 7)).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('says why it does nothing when the threads cannot be listed, and does nothing at nice 0', () => {
    const missing = niceBackgroundThreads(5, 1000, join(dir, 'no-such-task-dir'));
    expect(missing.off).toMatch(/no-such-task-dir: ENOENT/);
    expect(missing.niced).toBe(0);
    missing.stop();
    const zero = niceBackgroundThreads(0);
    expect(zero.off).toBe('nice 0: off');
    zero.stop();
  });
});
