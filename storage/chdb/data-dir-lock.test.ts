// The held-directory check: /proc/locks parsed as the kernel prints it, and a lock matched to the `status` file by
// device and inode only (another file's lock, a waiter, or this process's own lock is no holder).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataDirHolder, deviceNumbers, parseProcLocks, refuseHeldDataDir } from './data-dir-lock.ts';

const dir = mkdtempSync(join(tmpdir(), 'gala-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the data directory lock', () => {
  it('parses /proc/locks: flock, POSIX and OFD locks, leaving waiters out', () => {
    const text = [
      '1: FLOCK  ADVISORY  WRITE 11970 fe:00:2164548 0 EOF',
      '1: -> FLOCK  ADVISORY  WRITE 12001 fe:00:2164548 0 EOF',
      '2: POSIX  ADVISORY  READ 0 103:02:42 0 EOF',
      '3: OFDLCK ADVISORY  WRITE -1 00:19:7 0 EOF',
    ].join('\n');
    expect(parseProcLocks(text)).toEqual([
      { major: 0xfe, minor: 0, inode: 2164548n, pid: 11970 },
      { major: 0x103, minor: 2, inode: 42n, pid: null },
      { major: 0, minor: 0x19, inode: 7n, pid: null },
    ]);
  });

  it('decodes st_dev as glibc does', () => {
    expect(deviceNumbers(0xfe00n)).toEqual({ major: 0xfe, minor: 0 });
    expect(deviceNumbers(0x10302n)).toEqual({ major: 0x103, minor: 2 });
    // glibc's makedev: minor bits above 8 and major bits above 12 go to the high part.
    const makedev = (major: bigint, minor: bigint) => (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | ((major & 0xfffff000n) << 32n);
    expect(deviceNumbers(makedev(0x1abcn, 0x1efn))).toEqual({ major: 0x1abc, minor: 0x1ef });
  });

  it("names the holder of the status file's lock, and nobody for another file, no file, or this process", () => {
    writeFileSync(join(dir, 'status'), 'PID: 1\n');
    const st = statSync(join(dir, 'status'), { bigint: true });
    const { major, minor } = deviceNumbers(st.dev);
    const line = (pid: number, ino: bigint) => `1: FLOCK  ADVISORY  WRITE ${pid} ${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${ino} 0 EOF`;
    expect(dataDirHolder(dir, () => line(4242, st.ino))).toEqual({ pid: 4242 });
    expect(dataDirHolder(dir, () => line(4242, st.ino + 1n))).toBeNull();
    expect(dataDirHolder(dir, () => line(process.pid, st.ino))).toBeNull();
    expect(dataDirHolder(join(dir, 'nothing-here'), () => line(4242, st.ino))).toBeNull();
    expect(dataDirHolder(dir, () => {
      throw new Error('ENOENT: no /proc/locks');
    })).toBeNull();
    // A status file left by a killed process is not locked: the real /proc/locks has nothing on it.
    expect(() => refuseHeldDataDir(dir)).not.toThrow();
  });
});
