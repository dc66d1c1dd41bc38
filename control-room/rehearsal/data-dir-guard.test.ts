// The data-directory guard: a rehearsal refuses a real night's directory, marks and wipes only its own; a real night
// refuses a rehearsal's; a rehearsal on a ClickHouse server needs a rehearsal database.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRehearsalClickhouseUrl, prepareRehearsalDataDir, refuseRehearsalDataDir, REHEARSAL_MARKER } from './data-dir-guard.ts';

const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'gala-guard-'));
  made.push(d);
  return d;
};
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('rehearsal data directory guard', () => {
  it('refuses a directory holding a real night\'s data, and leaves it untouched', () => {
    const night = tmp();
    writeFileSync(join(night, 'orders.bin'), 'real orders');
    expect(() => prepareRehearsalDataDir(night, false)).toThrow(/^--data: ".*" holds data that is not a rehearsal's \(no \.gala-rehearsal file in it\)/);
    expect(readdirSync(night)).toEqual(['orders.bin']);
    expect(() => refuseRehearsalDataDir(night)).not.toThrow();
  });

  it('marks a new or empty directory, wipes a previous rehearsal unless kept, and a real night refuses it', () => {
    const root = tmp();
    const dir = join(root, 'data-rehearsal');
    expect(prepareRehearsalDataDir(dir, false)).toBe('new');
    expect(existsSync(join(dir, REHEARSAL_MARKER))).toBe(true);
    mkdirSync(join(dir, 'store'));
    writeFileSync(join(dir, 'store', 'part'), 'simulated');
    expect(prepareRehearsalDataDir(dir, true)).toBe('kept');
    expect(existsSync(join(dir, 'store', 'part'))).toBe(true);
    expect(prepareRehearsalDataDir(dir, false)).toBe('wiped');
    expect(readdirSync(dir)).toEqual([REHEARSAL_MARKER]);
    expect(() => refuseRehearsalDataDir(dir)).toThrow(/^--data: ".*" is a rehearsal's data directory/);
    const empty = tmp();
    expect(prepareRehearsalDataDir(empty, false)).toBe('new');
  });

  it('a ClickHouse server database must say rehearsal', () => {
    expect(() => checkRehearsalClickhouseUrl('http://ch:8123/gala')).toThrow('--clickhouse-url: a rehearsal needs a database whose name contains "rehearsal"');
    expect(() => checkRehearsalClickhouseUrl('http://ch:8123')).toThrow(/got database "default"/);
    expect(() => checkRehearsalClickhouseUrl('not a url')).toThrow(/^--clickhouse-url: must be a URL/);
    expect(() => checkRehearsalClickhouseUrl('http://u:secret@ch:8123/gala_rehearsal')).not.toThrow();
  });
});
