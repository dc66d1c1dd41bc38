// Keeps rehearsal figures and a real night's apart: a rehearsal writes only into a directory marked as a rehearsal's
// (or a new, empty one it marks), a real `serve` refuses a marked one, and a rehearsal's ClickHouse database says so.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The file that marks a data directory as a rehearsal's. */
export const REHEARSAL_MARKER = '.gala-rehearsal';

export class DataDirError extends Error {
  override name = 'DataDirError';
}

const isMarked = (dir: string) => existsSync(join(dir, REHEARSAL_MARKER));
const isEmpty = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

/**
 * Makes `dir` ready for a rehearsal: created and marked when new or empty; wiped back to empty (then marked) when it
 * is a previous rehearsal's and `keep` is false; refused when it holds anything else, such as a real night's data.
 */
export function prepareRehearsalDataDir(dir: string, keep: boolean): 'new' | 'wiped' | 'kept' {
  const abs = resolve(dir);
  if (!isEmpty(abs) && !isMarked(abs)) {
    throw new DataDirError(
      `--data: "${dir}" holds data that is not a rehearsal's (no ${REHEARSAL_MARKER} file in it): a rehearsal never writes into a real night's data directory; give an empty or new directory (default ./data-rehearsal)`,
    );
  }
  let how: 'new' | 'wiped' | 'kept' = 'new';
  if (isMarked(abs)) {
    how = keep ? 'kept' : 'wiped';
    if (!keep) for (const f of readdirSync(abs)) rmSync(join(abs, f), { recursive: true, force: true });
  }
  mkdirSync(abs, { recursive: true });
  writeFileSync(join(abs, REHEARSAL_MARKER), 'This directory holds a Gala rehearsal: simulated orders, never a real night.\n');
  return how;
}

/** A real night refuses a rehearsal's data directory, so simulated orders never reach air. */
export function refuseRehearsalDataDir(dir: string): void {
  if (isMarked(resolve(dir))) {
    throw new DataDirError(`--data: "${dir}" is a rehearsal's data directory (it has ${REHEARSAL_MARKER}): its orders are simulated; a real night needs its own directory`);
  }
}

/** A rehearsal on a ClickHouse server needs a database whose name says rehearsal, so it cannot be the night's. */
export function checkRehearsalClickhouseUrl(url: string): void {
  let db: string;
  try {
    db = decodeURIComponent(new URL(url).pathname.replace(/^\/+|\/+$/g, ''));
  } catch {
    throw new DataDirError(`--clickhouse-url: must be a URL such as http://host:8123/gala_rehearsal (got "${url.replace(/\/\/[^@/]*@/, '//***@')}")`);
  }
  if (!/rehearsal/i.test(db)) {
    throw new DataDirError(
      `--clickhouse-url: a rehearsal needs a database whose name contains "rehearsal" in the URL path, such as http://host:8123/gala_rehearsal (got database "${db || 'default'}"), so it never writes into the night's`,
    );
  }
}
