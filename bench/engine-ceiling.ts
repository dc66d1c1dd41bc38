// The storage engine alone: the same orders-table rows inserted through the adapter, no network, no validation
// (Gala's own route to the engine: TabSeparated through a tmpfs file). With `naive` as the third argument, the
// issue's naive engine path instead: the same rows as JSONEachRow through chDB's insert API, into the orders table
// (which has no views), built here outside Gala's adapter on purpose.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint } from '../domain/fingerprint.ts';
import type { Order } from '../domain/order.ts';
import { encodeOrderRow } from '../storage/order-rows.ts';
import { openStore } from '../system/open-store.ts';

const cpuPerRow = (from: NodeJS.CpuUsage, rows: number) => {
  const c = process.cpuUsage(from);
  return Math.round(((c.user + c.system) / rows) * 100) / 100;
};

/** Inserts pre-encoded groups of `groupRows` for `seconds`; returns rows/s. Runs in its own process (one chDB dir each). */
export interface EngineRate {
  rowsPerSecond: number;
  /** CPU of the whole process (every chDB thread) per row inserted. */
  cpuUsPerRow: number;
}

/** Eight groups of `groupRows` orders, each row encoded by `encode` (with its fingerprint) and the group joined. */
function sampleGroups(groupRows: number, encode: (o: Order, now: number, hi: number, lo: number) => string, join: string): string[] {
  const groups: string[] = [];
  const now = Date.now();
  for (let g = 0; g < 8; g++) {
    const parts: string[] = [];
    for (let i = 0; i < groupRows; i++) {
      const id = `c-${g}-${i}`;
      const o: Order = { id, ts: now, hundredths: 1000 + (i % 9000), currency: 'CNY', channel: 'mobile', brand: `brand-${i % 2000}`, sku: `sku-${i % 20000}`, category: 'apparel', region: 'Zhejiang' };
      const [hi, lo] = fingerprint(id);
      parts.push(encode(o, now, hi, lo));
    }
    groups.push(parts.join(join) + join);
  }
  return groups;
}

export async function measureEngineCeiling(seconds: number, groupRows: number): Promise<EngineRate> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-ceiling-'));
  const store = await openStore({ clickhouseUrl: null, dataDir: dir });
  await store.migrate();
  // encodeOrderRow ends each row with its newline.
  const groups = sampleGroups(groupRows, encodeOrderRow, '');
  let rows = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let g = 0; performance.now() - start < seconds * 1000; g++) {
    await store.insert({ count: groupRows, data: groups[g % groups.length]! });
    rows += groupRows;
  }
  const rate = { rowsPerSecond: rows / ((performance.now() - start) / 1000), cpuUsPerRow: cpuPerRow(cpu0, rows) };
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** The naive path: pre-encoded JSONEachRow groups of `groupRows` through chDB's insert API for `seconds`; rows/s. */
export async function measureNaiveEngine(seconds: number, groupRows: number): Promise<EngineRate> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-naive-'));
  // Migrated by Gala's store (the same table), then closed: the naive path opens the directory itself.
  const store = await openStore({ clickhouseUrl: null, dataDir: dir });
  await store.migrate();
  await store.close();
  const { Session } = await import('chdb');
  const session = new Session(dir);
  const json = (o: Order, now: number, hi: number, lo: number) =>
    JSON.stringify({ id: o.id, fp_hi: hi, fp_lo: lo, ts: o.ts, received_ms: now, hundredths: o.hundredths, currency: o.currency, channel: o.channel, brand: o.brand, sku: o.sku, category: o.category, region: o.region });
  const groups = sampleGroups(groupRows, json, '\n').map((g) => Buffer.from(g));
  let rows = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let g = 0; performance.now() - start < seconds * 1000; g++) {
    await session.insert({ table: 'gala_orders', values: groups[g % groups.length]!, format: 'JSONEachRow', settings: { async_insert: 0 } });
    rows += groupRows;
  }
  const rate = { rowsPerSecond: rows / ((performance.now() - start) / 1000), cpuUsPerRow: cpuPerRow(cpu0, rows) };
  session.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

if (process.argv[1]?.endsWith('engine-ceiling.ts')) {
  const [seconds, groupRows] = [Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 50_000)];
  const rate = process.argv[4] === 'naive' ? await measureNaiveEngine(seconds, groupRows) : await measureEngineCeiling(seconds, groupRows);
  process.stdout.write(`${JSON.stringify({ engineRowsPerSecond: Math.round(rate.rowsPerSecond), cpuUsPerRow: rate.cpuUsPerRow })}\n`);
}
