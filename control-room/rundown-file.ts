// Keeps the admins' live rundown edits across a restart: the edited rundown is written (atomically: temporary file,
// then rename) to the data directory, tagged with a digest of the show file's rundown it was edited from. At start
// it is used only while the show file still holds that same rundown: a new show file wins over old edits.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { parseRundown, type Rundown } from '../domain/rundown.ts';

export const RUNDOWN_FILE = 'control-rundown.json';

export function rundownDigest(r: Rundown): string {
  return createHash('sha256').update(JSON.stringify(r)).digest('hex');
}

/** The rundown in the show config's own shape (acts holding their cues), which parseRundown reads back. */
export function toRaw(r: Rundown): object {
  return {
    armWindowMs: r.armWindowMs,
    holdMs: r.holdMs,
    undoWindowMs: r.undoWindowMs,
    doubleGoMs: r.doubleGoMs,
    acts: r.acts.map((a) => ({ ...a, cues: r.cues.filter((c) => c.act === a.id).map(({ act: _act, ...c }) => ({ ...c, trigger: c.trigger ?? undefined })) })),
  };
}

/** The saved edits of this show's rundown, or null (none, another show file, or unreadable: said in `why`). */
export function loadSavedRundown(path: string, base: Rundown): { rundown: Rundown; rundownRev: number } | { rundown: null; why: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { rundown: null, why: 'no saved edits' };
  }
  try {
    const saved = JSON.parse(text) as { base?: unknown; rundownRev?: unknown; rundown?: unknown };
    if (saved.base !== rundownDigest(base)) return { rundown: null, why: 'the show file changed since the edits were saved' };
    if (typeof saved.rundownRev !== 'number') return { rundown: null, why: 'rundownRev missing' };
    return { rundown: parseRundown(saved.rundown), rundownRev: saved.rundownRev };
  } catch (e) {
    return { rundown: null, why: `unreadable: ${(e as Error).message}` };
  }
}

/** Writes edits one at a time, the latest winning; a failure is reported, never thrown into the cue engine. */
export function createRundownSaver(path: string, base: Rundown, onError: (e: unknown) => void): (r: Rundown, rev: number) => Promise<void> {
  const digest = rundownDigest(base);
  let chain: Promise<void> = Promise.resolve();
  return (r, rev) => {
    const body = JSON.stringify({ base: digest, rundownRev: rev, savedAt: new Date().toISOString(), rundown: toRaw(r) });
    chain = chain.then(async () => {
      try {
        await writeFile(`${path}.tmp`, body);
        await rename(`${path}.tmp`, path);
      } catch (e) {
        onError(e);
      }
    });
    return chain;
  };
}
