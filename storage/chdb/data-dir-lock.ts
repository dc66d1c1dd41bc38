// Who else holds an embedded data directory. chDB, like clickhouse-server, takes an exclusive flock on DIR/status
// while it has the directory open, and the kernel drops that lock when its holder dies, kill -9 included. So the
// lock itself is the test, looked up in /proc/locks before opening: a second gala refuses in one line (chDB would
// print its own error and a stack trace), and a `status` file left behind by a killed process blocks nothing.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../platform/config-error.ts';

/** The file chDB locks inside its data directory (ClickHouse's StatusFile). */
export const LOCKED_FILE = 'status';

/** A lock of /proc/locks: the device and inode of the locked file and the pid that took it (null if not visible). */
export interface HeldLock {
  major: number;
  minor: number;
  inode: bigint;
  pid: number | null;
}

/**
 * Parses /proc/locks (`1: FLOCK  ADVISORY  WRITE 11970 fe:00:2164548 0 EOF`): device major and minor in hex, the
 * inode in decimal. Waiters (`1: -> FLOCK ...`) hold nothing and are left out. A pid of 0 or -1 (a lock taken in
 * another pid namespace, or an open-file-description lock) is a holder whose pid we cannot name.
 */
export function parseProcLocks(text: string): HeldLock[] {
  const out: HeldLock[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(FLOCK|POSIX|OFDLCK)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line);
    if (m === null) continue;
    const pid = Number(m[2]);
    out.push({ major: parseInt(m[3]!, 16), minor: parseInt(m[4]!, 16), inode: BigInt(m[5]!), pid: pid > 0 ? pid : null });
  }
  return out;
}

/** `st_dev` as glibc encodes it (gnu_dev_major / gnu_dev_minor), which is how /proc/locks prints a device. */
export function deviceNumbers(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n)),
  };
}

/**
 * The process holding `dir` open as a chDB data directory, or null when none does (or this process does: chDB
 * shares one engine per directory within a process). `pid` is null when the holder is not visible from here.
 * Where /proc/locks does not exist (not Linux) it answers null and leaves the refusal to chDB.
 */
export function dataDirHolder(dir: string, locks = () => readFileSync('/proc/locks', 'utf8')): { pid: number | null } | null {
  let st;
  try {
    st = statSync(join(dir, LOCKED_FILE), { bigint: true });
  } catch {
    return null;
  }
  let text: string;
  try {
    text = locks();
  } catch {
    return null;
  }
  const { major, minor } = deviceNumbers(st.dev);
  for (const l of parseProcLocks(text)) {
    if (l.inode !== st.ino || l.major !== major || l.minor !== minor) continue;
    if (l.pid === process.pid) return null;
    return { pid: l.pid };
  }
  return null;
}

/** Refuses a data directory another process holds, naming it and the holder: one line for the operator. */
export function refuseHeldDataDir(dir: string): void {
  const holder = dataDirHolder(dir);
  if (holder === null) return;
  const who = holder.pid === null ? 'another process' : `another process (pid ${holder.pid})`;
  throw new ConfigError(`--data: "${resolve(dir)}" is in use by ${who}: one gala per data directory; stop that one or give another --data`);
}
