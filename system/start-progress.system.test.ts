// A start with a long restore says how it is going: progress lines with done, total, rate and time left while it
// rebuilds a de-duplication window of over a million fingerprints (and repairs the rollups after a crash), and
// /healthz answers "starting" with that progress before it answers ok.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../domain/fingerprint.ts';
import type { ProgressSnapshot } from '../platform/progress.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { OrderRowWriter } from '../storage/order-row-writer.ts';
import { createOrderStore } from '../storage/order-store.ts';
import { startTestSystem } from '../test-support/system-harness.ts';

const ORDERS = 1_100_000;
const BATCH = 275_000;
const dir = mkdtempSync(join(tmpdir(), 'gala-start-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Orders received in the last minute, stored straight through the store in large inserts; then a "crash". */
async function seed(): Promise<void> {
  const store = createOrderStore(createChdbConnection(dir));
  await store.migrate();
  const t0 = Date.now() - 60_000;
  for (let from = 0; from < ORDERS; from += BATCH) {
    const w = new OrderRowWriter(BATCH * 80);
    for (let i = from; i < from + BATCH; i++) {
      const id = `seed-${i}`;
      const [hi, lo] = fingerprint(id);
      w.add({ id, ts: t0, hundredths: 100, currency: 'CNY', channel: 'mobile', brand: '', sku: '', category: '', region: '' }, t0 + Math.floor(i / 1000), hi, lo);
    }
    await store.insert({ count: BATCH, data: w.bytes() });
  }
  // A run that never stopped: the next start repairs the rollups before it restores.
  await store.beginRun(t0);
  await store.close();
}

interface Health {
  ok: boolean;
  status?: string;
  phase?: string;
  progress?: ProgressSnapshot | null;
}

describe('a long start', () => {
  it('prints and logs its progress, and /healthz answers "starting" with it until the node serves', async () => {
    await seed();
    const lines: string[] = [];
    const events: Record<string, unknown>[] = [];
    const health: Health[] = [];
    let otherDuringStart: number | null = null;
    let started = false;
    let polling: Promise<void> = Promise.resolve();
    const poll = async (port: number) => {
      // Until the start returns: every /healthz answer in order, and one other request while starting.
      while (!started) {
        const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Health;
        health.push(h);
        if (otherDuringStart === null && h.status === 'starting') otherDuringStart = (await fetch(`http://127.0.0.1:${port}/v1/stats`)).status;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const { system, cleanup } = await startTestSystem(
      { dataDir: dir },
      {
        print: (l) => lines.push(l),
        log: (event, fields = {}) => {
          if (event === 'progress') events.push(fields);
        },
        onListening: (line) => {
          const http = /^listening http=(\d+)$/.exec(line);
          if (http !== null) polling = poll(Number(http[1]));
        },
      },
    ).finally(() => (started = true));
    try {
      await polling;
      const after = (await (await fetch(`http://127.0.0.1:${system.httpPort}/healthz`)).json()) as Health;
      expect(after).toMatchObject({ ok: true, storage: 'up' });
      expect(system.totals.orders).toBe(ORDERS);

      // The lines: what, how far of how much, the rate and the time left, the last one saying it is done. The count
      // came first, so the first line knows the total; lines between (one a second at most) estimate the time left.
      const line = /^restore\.dedup_window: ([\d,]+) \/ ([\d,]+) fingerprints \(\d+%\), ([\d,]+)\/s, (?:([\d.]+) s left|time left unknown), [\d.]+ s elapsed(, done)?$/;
      const restore = lines.filter((l) => l.startsWith('restore.dedup_window:'));
      const parsed = restore.map((l) => line.exec(l));
      expect(parsed.filter((m) => m === null).length, restore.join('\n')).toBe(0);
      const num = (s: string | undefined) => Number(s?.replace(/,/g, ''));
      const [first, ...rest] = parsed as RegExpExecArray[];
      const last = rest.at(-1)!;
      expect([num(first![1]), num(first![2]), first![4], first![5]]).toEqual([0, ORDERS, undefined, undefined]);
      expect([num(last[1]), num(last[2]), num(last[4]), last[5]]).toEqual([ORDERS, ORDERS, 0, ', done']);
      expect(num(last[3])).toBeGreaterThan(0);
      // Between them: the total, and a time left once anything is done (before, a long query shows it still runs).
      for (const m of rest.slice(0, -1)) expect([num(m[2]), m[4] !== undefined || num(m[1]) === 0, m[5]]).toEqual([ORDERS, true, undefined]);
      const done = parsed.map((m) => num(m![1]));
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(lines.some((l) => /^restore\.repair_derived: [\d,]+ \/ [\d,]+ tables checked .*, done$/.test(l))).toBe(true);
      // The structured log carries the same figures.
      expect(events.filter((e) => e.task === 'restore.dedup_window').at(-1)).toMatchObject({ done: ORDERS, total: ORDERS, finished: true, unit: 'fingerprints' });

      // /healthz said "starting", with the restore's progress, before it said ok; everything else was 503 meanwhile.
      const firstOk = health.findIndex((h) => h.ok);
      const starting = (firstOk < 0 ? health : health.slice(0, firstOk)).filter((h) => h.status === 'starting');
      expect(starting.length).toBeGreaterThan(0);
      expect(starting.some((h) => h.phase === 'restore.dedup_window' && h.progress?.total === ORDERS && typeof h.progress.ratePerSecond === 'number')).toBe(true);
      expect(health.slice(firstOk < 0 ? health.length : firstOk).every((h) => h.ok)).toBe(true);
      expect(otherDuringStart).toBe(503);
    } finally {
      await cleanup();
    }
    // About 15 s alone on this 2-core machine (most of it seeding); far longer when other suites share the cores.
  }, 180_000);
});
