// The checks every cluster failure test ends with: each order stored exactly once over the Distributed table, and no
// node's figures ever going backwards at any read.
import { expect } from 'vitest';
import { createServerConnection } from '../storage/server/clickhouse-server-connection.ts';

/** `count() = count(DISTINCT id) = orders` and the exact sum over `gala_orders_all`, read through `url`'s server. */
export async function expectStoredOnce(url: string, orders: number, hundredths: bigint): Promise<void> {
  const conn = createServerConnection(url);
  try {
    const [row] = await conn.queryRows<{ n: string | number; u: string | number; h: string }>('SELECT count() AS n, count(DISTINCT id) AS u, toString(sum(hundredths)) AS h FROM gala_orders_all');
    expect([Number(row!.n), Number(row!.u), BigInt(row!.h)]).toEqual([orders, orders, hundredths]);
  } finally {
    await conn.close();
  }
}

/** Each node's figures, in the order read, never went down (and enough reads were made to say so). */
export function expectNeverBackwards(seen: Record<string, readonly { gmv: bigint; orders: number }[]>): void {
  for (const [id, list] of Object.entries(seen)) {
    expect(list.length, `${id}: reads made`).toBeGreaterThan(20);
    for (let k = 1; k < list.length; k++) {
      expect(list[k]!.orders, `${id}: read ${k} orders`).toBeGreaterThanOrEqual(list[k - 1]!.orders);
      expect(list[k]!.gmv >= list[k - 1]!.gmv, `${id}: read ${k} gmv ${list[k]!.gmv} after ${list[k - 1]!.gmv}`).toBe(true);
    }
  }
}
