// The storage engine alone: the same orders-table rows inserted through the adapter, no network, no validation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint } from '../domain/fingerprint.ts';
import type { Order } from '../domain/order.ts';
import { encodeOrderRow } from '../storage/order-rows.ts';
import { openStore } from '../system/open-store.ts';

/** Inserts pre-encoded groups of `groupRows` for `seconds`; returns rows/s. Runs in its own process (one chDB dir each). */
export async function measureEngineCeiling(seconds: number, groupRows: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gala-ceiling-'));
  const store = await openStore({ clickhouseUrl: null, dataDir: dir });
  await store.migrate();
  const groups: string[] = [];
  const now = Date.now();
  for (let g = 0; g < 8; g++) {
    const parts: string[] = [];
    for (let i = 0; i < groupRows; i++) {
      const id = `c-${g}-${i}`;
      const o: Order = { id, ts: now, hundredths: 1000 + (i % 9000), currency: 'CNY', channel: 'mobile', brand: `brand-${i % 2000}`, sku: `sku-${i % 20000}`, category: 'apparel', region: 'Zhejiang' };
      const [hi, lo] = fingerprint(id);
      parts.push(encodeOrderRow(o, now, hi, lo));
    }
    groups.push(parts.join(''));
  }
  let rows = 0;
  const start = performance.now();
  for (let g = 0; performance.now() - start < seconds * 1000; g++) {
    await store.insert({ count: groupRows, tsv: groups[g % groups.length]! });
    rows += groupRows;
  }
  const rate = rows / ((performance.now() - start) / 1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

if (process.argv[1]?.endsWith('engine-ceiling.ts')) {
  const rate = await measureEngineCeiling(Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 50_000));
  process.stdout.write(`${JSON.stringify({ engineRowsPerSecond: Math.round(rate) })}\n`);
}
