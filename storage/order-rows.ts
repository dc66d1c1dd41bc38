// Encodes validated orders as TabSeparated rows of the orders table, the fastest format both engines take.
import type { Order } from '../domain/order.ts';

export const ORDERS_TABLE = 'gala_orders';
/** Fingerprints of stored orders, keyed for lookups (filled from ORDERS_TABLE by a materialized view). */
export const FPS_TABLE = 'gala_order_fps';
export const ORDER_COLUMNS = [
  'id', 'fp_hi', 'fp_lo', 'ts', 'received_ms', 'hundredths', 'currency', 'channel', 'brand', 'sku', 'category', 'region',
] as const;

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;

/** TabSeparated escaping: backslash, tab, newline, carriage return and NUL. */
export function escapeTsv(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r\0]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0'));
}

/** One orders-table row, newline-terminated. The id needs no escaping: its alphabet is restricted. */
export function encodeOrderRow(o: Order, receivedMs: number, hi: number, lo: number): string {
  return `${o.id}\t${hi}\t${lo}\t${o.ts}\t${receivedMs}\t${o.hundredths}\t${o.currency}\t${o.channel}\t${escapeTsv(o.brand)}\t${escapeTsv(o.sku)}\t${escapeTsv(o.category)}\t${escapeTsv(o.region)}\n`;
}
