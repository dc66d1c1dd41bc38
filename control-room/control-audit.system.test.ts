// What the control room keeps across a restart of the whole system: the audit (its JSONL file in the data
// directory, exported as CSV with formula-like operator names defused) and the admins' rundown edits.
// Its own file: chDB allows one data directory per process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestSystem } from '../test-support/system-harness.ts';
import type { AuditEntry } from './audit-log.ts';

const tokens = { producerTokens: ['test-producer-token'], viewerTokens: ['test-viewer-token'], adminTokens: ['test-admin-token'] };

async function call(at: string, method: string, path: string, token: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(`${at}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  // Kept byte for byte: res.text() would drop the CSV's byte-order mark.
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await res.arrayBuffer());
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as { entries: AuditEntry[] } };
}

describe('the audit', () => {
  it('keeps the audit and the rundown edits across a restart; the audit exports as CSV', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gala-control-'));
    try {
      const first = await startTestSystem({ ...tokens, dataDir });
      const at = `http://127.0.0.1:${first.system.httpPort}`;
      const r = await call(at, 'POST', '/v1/control/go', 'test-producer-token', { 'x-operator': '=Dee' }, { standby: 'open-scene' });
      expect(r.status).toBe(200);
      const add = await call(at, 'POST', '/v1/control/rundown/cues', 'test-admin-token', {}, { rundownRev: 1, act: 'act-stars', after: 'star-1', cue: { id: 'late-add', label: 'Added live', onAir: true } });
      expect(add.status).toBe(201);
      await first.cleanup();
      const second = await startTestSystem({ ...tokens, dataDir });
      const at2 = `http://127.0.0.1:${second.system.httpPort}`;
      try {
        const entries = (await call(at2, 'GET', '/v1/control/audit', 'test-viewer-token')).json().entries;
        expect(entries.find((e) => e.action === 'go')).toMatchObject({ operator: '=Dee', role: 'producer', via: 'token', target: null, result: 'ok', detail: 'fired open-scene' });
        const rundown = JSON.parse((await call(at2, 'GET', '/v1/control/rundown', 'test-viewer-token')).text) as { rundownRev: number; rundown: { cues: { id: string; act: string; onAir: boolean }[] } };
        expect(rundown.rundownRev).toBe(2);
        const ids = rundown.rundown.cues.map((c) => c.id);
        expect(ids.indexOf('late-add')).toBe(ids.indexOf('star-1') + 1);
        expect(rundown.rundown.cues.find((c) => c.id === 'late-add')).toMatchObject({ act: 'act-stars', onAir: true });
        const csv = await call(at2, 'GET', '/v1/control/audit.csv', 'test-viewer-token');
        expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
        expect(csv.text).toMatch(/^\uFEFFseq,at,operator,role,via,action,target,result,status,detail\r\n/);
        expect(csv.text).toContain(`,"'=Dee",producer,token,go,,ok,200,fired open-scene\r\n`);
      } finally {
        await second.cleanup();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('audits the graphics API: a producer token playing or stopping a graphic, and a refused command, by operator', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gala-control-'));
    const { system, cleanup } = await startTestSystem({ ...tokens, dataDir });
    const at = `http://127.0.0.1:${system.httpPort}`;
    try {
      const played = await call(at, 'POST', '/v1/graphics/lowerthird/play', 'test-producer-token', { 'x-operator': 'Gfx Op' }, { title: 'Live from Hangzhou' });
      expect(played.status).toBe(200);
      const stopped = await call(at, 'POST', '/v1/graphics/lowerthird/stop', 'test-producer-token');
      expect(stopped.status).toBe(200);
      const refused = await call(at, 'POST', '/v1/graphics/lowerthird/dance', 'test-producer-token', { 'x-operator': 'Gfx Op' });
      expect(refused.status).toBe(400);
      // A caller without a producer token is refused before anything runs, and leaves no entry under a name.
      expect((await call(at, 'POST', '/v1/graphics/lowerthird/play', 'test-viewer-token')).status).toBe(401);
      const entries = (await call(at, 'GET', '/v1/control/audit?limit=50', 'test-viewer-token')).json().entries.filter((e) => e.action.startsWith('graphics.'));
      expect(entries.map((e) => [e.operator, e.action, e.target, e.result, e.status])).toEqual([
        ['Gfx Op', 'graphics.play', 'lowerthird', 'ok', 200],
        ['producer token', 'graphics.stop', 'lowerthird', 'ok', 200],
        ['Gfx Op', 'graphics.dance', 'lowerthird', 'refused', 400],
      ]);
      expect(entries[0]).toMatchObject({ role: 'producer', via: 'token' });
      expect(entries[0]!.detail).toMatch(/^lowerthird play \(rev \d+\)$/);
      expect(entries[2]!.detail).toMatch(/dance/);
    } finally {
      await cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
