// The orders table's rows in readable form: TabSeparated rows of validated orders (the row writer's readable twin),
// and RowBinary rows read back into TabSeparated ones (the embedded engine's way in when no file can carry them).
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

/** The channel column's Enum8 names by value (schema.ts). */
const CHANNEL_BY_ENUM8: Readonly<Record<number, string>> = { 1: 'mobile', 2: 'desktop', 3: 'tv', 4: 'store' };
/** How RowBinary carries each of ORDER_COLUMNS. */
const ORDER_ROW_TYPES = ['String', 'UInt32', 'UInt32', 'Int64', 'Int64', 'Int64', 'String', 'Enum8', 'String', 'String', 'String', 'String'] as const;

/**
 * RowBinary rows of ORDER_COLUMNS (OrderRowBinaryWriter's) as their fields, in order: text as it is, numbers in
 * decimal, the channel by name. Throws on bytes that end inside a row.
 */
export function readOrderRowBinary(bytes: Uint8Array): string[][] {
  const rows: string[][] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new Error(`RowBinary: row ${rows.length + 1} ends after ${bytes.length - p} of ${n} more bytes`);
  };
  while (p < bytes.length) {
    const row: string[] = [];
    for (const type of ORDER_ROW_TYPES) {
      if (type === 'String') {
        let n = 0;
        for (let shift = 0; ; shift += 7) {
          need(1);
          const b = bytes[p++]!;
          n += (b & 0x7f) * 2 ** shift;
          if (b < 0x80) break;
        }
        need(n);
        row.push(utf8.decode(bytes.subarray(p, p + n)));
        p += n;
      } else if (type === 'UInt32') {
        need(4);
        row.push(String(view.getUint32(p, true)));
        p += 4;
      } else if (type === 'Int64') {
        need(8);
        row.push(String(view.getBigInt64(p, true)));
        p += 8;
      } else {
        need(1);
        const name = CHANNEL_BY_ENUM8[bytes[p++]!];
        if (name === undefined) throw new Error(`RowBinary: row ${rows.length + 1}: channel value ${bytes[p - 1]} is not one of the enum's`);
        row.push(name);
      }
    }
    rows.push(row);
  }
  return rows;
}

/** RowBinary rows of ORDER_COLUMNS as TabSeparated rows of the same columns. */
export function orderRowBinaryToTsv(bytes: Uint8Array): string {
  return readOrderRowBinary(bytes).map((r) => `${r.map(escapeTsv).join('\t')}\n`).join('');
}

const UNESCAPE: Readonly<Record<string, string>> = { '\\\\': '\\', '\\t': '\t', '\\n': '\n', '\\r': '\r', '\\0': '\0' };

/** The fields of encoded orders rows, in either format: what a test or a tool reads back from an insert's bytes. */
export function readOrderRows(rows: { data: string | Uint8Array; format?: 'TabSeparated' | 'RowBinary' }): string[][] {
  if (rows.format === 'RowBinary') return readOrderRowBinary(typeof rows.data === 'string' ? Buffer.from(rows.data) : rows.data);
  const text = typeof rows.data === 'string' ? rows.data : Buffer.from(rows.data).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t').map((f) => f.replace(/\\[\\tnr0]/g, (e) => UNESCAPE[e]!)));
}
