// The audit file: entries survive reopening with their sequence continued, a torn last line is skipped, CSV is safe.
import { mkdtempSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, auditCsv } from './audit-log.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('persists entries, continues the sequence after reopening, and survives a torn line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gala-audit-'));
    dirs.push(dir);
    const file = join(dir, 'a.jsonl');
    const log = await AuditLog.open(file);
    await log.record({ operator: 'Ann', role: 'producer', via: 'session', action: 'go', target: 'c1', result: 'ok', status: 200, detail: 'fired c1' });
    await log.record({ operator: 'Bob', role: 'viewer', via: 'token', action: 'go', target: null, result: 'refused', status: 403, detail: 'role' });
    await log.close();
    appendFileSync(file, '{"seq":3,"at":"2026'); // a crash mid-write
    const again = await AuditLog.open(file);
    expect(again.list().map((e) => [e.seq, e.operator, e.result])).toEqual([[1, 'Ann', 'ok'], [2, 'Bob', 'refused']]);
    const e = await again.record({ operator: 'Cy', role: 'admin', via: 'session', action: 'rundown.add', target: 'n1', result: 'ok', status: 201, detail: null });
    expect(e.seq).toBe(3);
    expect(again.list({ operator: 'Bob' })).toHaveLength(1);
    expect(again.list({ after: 2 }).map((x) => x.seq)).toEqual([3]);
    await again.close();
    const third = await AuditLog.open(file);
    expect(third.list().map((x) => x.seq)).toEqual([1, 2, 3]);
    await third.close();
  });

  it('writes CSV with formula-like operator names defused', () => {
    const csv = auditCsv([{ seq: 1, at: '2026-11-11T00:00:00.000Z', operator: '=HYPERLINK("x")', role: 'producer', via: 'session', action: 'go', target: 'c1', result: 'ok', status: 200, detail: 'a, b' }]);
    expect(csv.split('\r\n')[0]).toBe('\uFEFFseq,at,operator,role,via,action,target,result,status,detail');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    expect(csv).toContain('"a, b"');
  });
});
