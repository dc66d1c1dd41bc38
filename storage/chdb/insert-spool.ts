// The files chDB inserts travel through. chDB's insert API parses rows it is handed in memory; the same bytes written
// to a file in tmpfs and read by `INSERT ... FROM INFILE` go in faster (docs/benchmarks.md, "The insert format").
// The price is files outside the data directory: one per insert, unique, removed once its insert has settled, in a
// directory of this data directory's own, so that the files a killed process left are found and removed at the next
// start. Where there is no writable tmpfs, inserts keep to the API, and the route says why.
import { createHash } from 'node:crypto';
import { accessSync, constants, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the files go unless told otherwise: tmpfs on Linux, so a file costs a copy in memory and no disk write. */
export const DEFAULT_TMPFS = '/dev/shm';

/** How inserts reach chDB: through files in `dir`, or through the insert API (and why not files). */
export type InsertRoute = { kind: 'file'; dir: string; removedAtStart: number } | { kind: 'api'; reason: string };

export interface InsertSpool {
  readonly route: InsertRoute;
  /**
   * Writes one insert's bytes to a new file (named `.ext`, `.tsv` by default) and returns its path; null when inserts
   * take the API (no spool, or this write failed, e.g. tmpfs full: nothing is inserted yet, so the API can take the
   * same rows).
   */
  write(bytes: Uint8Array, ext?: string): string | null;
  /** Removes a file `write` returned; call once its insert has settled, whether it succeeded or not. */
  remove(path: string): void;
  /** Gives the directory up; the last spool of a directory in this process removes it. */
  close(): void;
}

/** The spool directory of a data directory: named after its resolved path, so each start finds its own. */
export function spoolDirOf(root: string, dataDir: string): string {
  return join(root, `gala-chdb-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16)}`);
}

/**
 * Spools open per directory in this process. One process holds a data directory (data-dir-lock.ts), but it may open
 * several connections on it: only the first cleans the directory, since the files of the others are live.
 */
const openSpools = new Map<string, number>();
let files = 0;

/**
 * Opens the spool of `dataDir` under `root` (null: none, inserts take the API). Call once this process holds the data
 * directory, so that what the directory holds then is a crash's leftovers and not another process's inserts.
 */
export function openInsertSpool(dataDir: string, root: string | null): InsertSpool {
  const api = (reason: string): InsertSpool => ({ route: { kind: 'api', reason }, write: () => null, remove: () => {}, close: () => {} });
  if (root === null) return api('the file route is off');
  const dir = spoolDirOf(root, dataDir);
  try {
    if (!lstatSync(root).isDirectory()) return api(`${root} is not a directory`);
    accessSync(root, constants.W_OK);
    mkdirSync(dir, { mode: 0o700, recursive: true });
    // A directory someone else made (tmpfs is shared by every user) could be read or swapped under us: not ours, not used.
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) return api(`${dir} is not a private directory of this user`);
  } catch (e) {
    return api(`${root}: ${(e as Error).message}`);
  }
  let removedAtStart = 0;
  if ((openSpools.get(dir) ?? 0) === 0) {
    for (const name of readdirSync(dir)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      removedAtStart++;
    }
  }
  openSpools.set(dir, (openSpools.get(dir) ?? 0) + 1);
  let closed = false;
  return {
    route: { kind: 'file', dir, removedAtStart },
    write(bytes, ext = 'tsv') {
      // Unique within the process (and the directory is this process's alone); 'wx' refuses to reuse a name.
      const path = join(dir, `${process.pid}-${++files}.${ext}`);
      try {
        writeFileSync(path, bytes, { flag: 'wx', mode: 0o600 });
        return path;
      } catch {
        rmSync(path, { force: true });
        return null;
      }
    },
    remove(path) {
      rmSync(path, { force: true });
    },
    close() {
      if (closed) return;
      closed = true;
      const left = (openSpools.get(dir) ?? 1) - 1;
      if (left > 0) {
        openSpools.set(dir, left);
        return;
      }
      openSpools.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
