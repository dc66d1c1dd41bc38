// Saved rundown edits: read back exactly, and ignored once the show file's rundown is another one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SHOW_FILE, loadShow } from '../cli/config.ts';
import { parseRundown } from '../domain/rundown.ts';
import { createRundownSaver, loadSavedRundown, toRaw } from './rundown-file.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('rundown file', () => {
  it('writes edits that read back equal, and only for the show file they were made from', async () => {
    const base = loadShow(DEFAULT_SHOW_FILE).rundown;
    expect(parseRundown(toRaw(base))).toEqual(base);
    const dir = mkdtempSync(join(tmpdir(), 'gala-rundown-'));
    dirs.push(dir);
    const file = join(dir, 'r.json');
    expect(loadSavedRundown(file, base)).toEqual({ rundown: null, why: 'no saved edits' });
    const edited = { ...base, cues: base.cues.filter((c) => c.id !== 'look-2') };
    const save = createRundownSaver(file, base, (e) => {
      throw e;
    });
    void save(base, 2);
    await save(edited, 3);
    expect(loadSavedRundown(file, base)).toEqual({ rundown: edited, rundownRev: 3 });
    const otherShow = { ...base, cues: base.cues.slice(1) };
    expect(loadSavedRundown(file, otherShow)).toEqual({ rundown: null, why: 'the show file changed since the edits were saved' });
    writeFileSync(file, '{"base":');
    expect(loadSavedRundown(file, base).rundown).toBeNull();
  });
});
