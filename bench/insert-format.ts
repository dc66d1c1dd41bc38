// Which format should the orders insert travel in? The same group of orders is encoded as TabSeparated (the row
// writer Gala uses), RowBinary and Native, each encoder also folding the derived rows as ingest does, and inserted
// into the orders table of each engine, the formats taking turns; medians of encode and insert time per group.
// chDB's insert API takes text formats only (TabSeparated, CSV, JSON); every format also goes through a file in
// tmpfs, read by INSERT ... FROM INFILE (Gala's route) and by INSERT ... SELECT FROM file(), to part the format from
// the route. The server gets each as an HTTP body (INSERT ... FORMAT X), as the connection sends its inserts.
//   npm run bench:insert-format -- [--group 20000] [--inserts 10] [--runs 5] [--engines chdb,server]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprint } from '../domain/fingerprint.ts';
import { CHANNELS, type Order } from '../domain/order.ts';
import { DerivedFold } from '../storage/derived-fold.ts';
import { OrderRowBinaryWriter, OrderRowWriter } from '../storage/order-row-writer.ts';
import { ORDER_COLUMNS } from '../storage/order-rows.ts';
import { createChdbConnection } from '../storage/chdb/chdb-connection.ts';
import { median } from './stats.ts';
import type { SqlConnection } from '../storage/storage.ts';
import { openEngine, timed, type BenchEngine } from './two-engines.ts';

const { values } = parseArgs({
  options: {
    group: { type: 'string', default: '20000' },
    inserts: { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    engines: { type: 'string', default: 'chdb,server' },
  },
});
const GROUP = Number(values.group);
const INSERTS = Number(values.inserts);
const RUNS = Number(values.runs);
const COLS = ORDER_COLUMNS.join(', ');
const ENUM = `Enum8(${CHANNELS.map((c, i) => `'${c}' = ${i + 1}`).join(', ')})`;
const STRUCTURE = `id String, fp_hi UInt32, fp_lo UInt32, ts Int64, received_ms Int64, hundredths Int64, currency String, channel ${ENUM}, brand String, sku String, category String, region String`;
const TYPES = STRUCTURE.split(/, (?=[a-z_]+ )/).map((c) => c.slice(c.indexOf(' ') + 1));

interface Row { o: Order; hi: number; lo: number }

function orders(g: number): Row[] {
  return Array.from({ length: GROUP }, (_, i) => {
    const id = `ord-${g}-${i}-${(i * 2_654_435_761) % 1_000_000}`;
    const [hi, lo] = fingerprint(id);
    const o: Order = { id, ts: 1_750_000_000_000 + g * 100 - (i % 3000), hundredths: 100 + ((i * 37) % 90_000), currency: i % 4 === 0 ? 'USD' : 'EUR', channel: CHANNELS[i % 4]!, brand: `Brand ${i % 60}`, sku: `SKU-${(i * 7) % 40_000}`, category: `cat-${i % 12}`, region: `Region ${i % 31}` };
    return { o, hi, lo };
  });
}

/** A growable byte buffer with the binary writes RowBinary and Native need. */
class Bin {
  buf = Buffer.allocUnsafe(1 << 20);
  pos = 0;
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  str(s: string): void {
    this.room(10 + s.length * 3);
    // Ids, currencies and the fields here are ASCII, as the frame scanner proves them on the fast path.
    const n = this.buf.write(s, this.pos + 1, 'utf8');
    if (n < 0x80) {
      this.buf[this.pos] = n;
      this.pos += 1 + n;
    } else {
      this.buf.copyWithin(this.pos + 2, this.pos + 1, this.pos + 1 + n);
      this.buf[this.pos] = (n & 0x7f) | 0x80;
      this.buf[this.pos + 1] = n >> 7;
      this.pos += 2 + n;
    }
  }
  u32(n: number): void {
    this.room(4);
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4;
  }
  i64(n: number): void {
    this.room(8);
    this.buf.writeInt32LE(n % 4_294_967_296 | 0, this.pos);
    this.buf.writeInt32LE(Math.floor(n / 4_294_967_296), this.pos + 4);
    this.pos += 8;
  }
  i8(n: number): void {
    this.room(1);
    this.buf[this.pos++] = n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

const CHANNEL_CODE = new Map(CHANNELS.map((c, i) => [c, i + 1]));
const fold = (f: DerivedFold, r: Row, received: number) => f.add(r.o.ts, r.o.hundredths, r.o.currency, r.o.channel, r.o.brand, r.o.sku, r.o.region, received);

const ENCODE: Record<string, (rows: Row[], received: number) => Buffer> = {
  TabSeparated(rows, received) {
    const w = new OrderRowWriter();
    for (const r of rows) w.add(r.o, received, r.hi, r.lo);
    w.derived();
    return w.bytes();
  },
  // Gala's RowBinary writer since 3 December (it folds as it writes, as the TabSeparated one does).
  RowBinary(rows, received) {
    const w = new OrderRowBinaryWriter();
    for (const r of rows) w.add(r.o, received, r.hi, r.lo);
    w.derived();
    return w.bytes();
  },
  Native(rows, received) {
    const b = new Bin();
    const f = new DerivedFold();
    for (const r of rows) fold(f, r, received);
    f.rows();
    b.varint(ORDER_COLUMNS.length);
    b.varint(rows.length);
    const column: ((r: Row) => void)[] = [
      (r) => b.str(r.o.id), (r) => b.u32(r.hi), (r) => b.u32(r.lo), (r) => b.i64(r.o.ts), () => b.i64(received), (r) => b.i64(r.o.hundredths),
      (r) => b.str(r.o.currency), (r) => b.i8(CHANNEL_CODE.get(r.o.channel)!), (r) => b.str(r.o.brand), (r) => b.str(r.o.sku), (r) => b.str(r.o.category), (r) => b.str(r.o.region),
    ];
    ORDER_COLUMNS.forEach((name, c) => {
      b.str(name);
      b.str(TYPES[c]!);
      for (const r of rows) column[c]!(r);
    });
    return b.bytes();
  },
};

/** How each engine takes a format: route name -> insert of those bytes. */
function routes(e: BenchEngine, shm: string, api: SqlConnection | null): Record<string, (fmt: string, bytes: Buffer) => Promise<void>> {
  if (api !== null) {
    let n = 0;
    const written = (fmt: string, bytes: Buffer) => {
      const path = join(shm, `group-${++n}.${fmt}`);
      writeFileSync(path, bytes);
      return path;
    };
    return {
      api: async (fmt, bytes) => {
        if (fmt !== 'TabSeparated') throw new Error('text formats only');
        await api.insertTsv('gala_orders', ORDER_COLUMNS, bytes);
      },
      // Gala's route for TabSeparated (chdb-connection.ts); the binary formats the same way.
      infile: async (fmt, bytes) => {
        const path = written(fmt, bytes);
        await e.conn.command(`INSERT INTO gala_orders (${COLS}) FROM INFILE '${path}' SETTINGS async_insert = 0 FORMAT ${fmt}`);
        rmSync(path);
      },
      file: async (fmt, bytes) => {
        const path = written(fmt, bytes);
        await e.conn.command(`INSERT INTO gala_orders (${COLS}) SELECT * FROM file('${path}', '${fmt}', '${STRUCTURE.replace(/'/g, "\\'")}')`);
        rmSync(path);
      },
    };
  }
  return {
    http: async (fmt, bytes) => {
      const res = await fetch(`${e.url}/?query=${encodeURIComponent(`INSERT INTO gala_orders (${COLS}) FORMAT ${fmt}`)}`, { method: 'POST', body: bytes as unknown as Uint8Array<ArrayBuffer> });
      const text = await res.text();
      if (!res.ok) throw new Error(`${fmt}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    },
  };
}

async function bench(name: 'chdb' | 'server'): Promise<void> {
  const e = await openEngine(name);
  const shm = mkdtempSync('/dev/shm/gala-format-');
  // chDB's insert API through a second connection on the same directory: the store's takes the file route.
  const api = name === 'chdb' ? createChdbConnection(e.filesDir, { tmpfs: null }) : null;
  try {
    const r = routes(e, shm, api);
    const cases = Object.keys(r).flatMap((route) => Object.keys(ENCODE).filter((f) => route !== 'api' || f === 'TabSeparated').map((fmt) => ({ route, fmt })));
    const enc = new Map<string, number[]>();
    const ins = new Map<string, number[]>();
    const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
    const sizes = new Map<string, number>();
    let g = 0;
    let expected = 0;
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? cases : [...cases].reverse();
      for (let i = 0; i < INSERTS; i++) {
        const rows = orders(g++);
        for (const c of order) {
          const received = 1_750_000_000_000 + g;
          let bytes: Buffer = Buffer.alloc(0);
          push(enc, c.fmt, await timed(async () => { bytes = ENCODE[c.fmt]!(rows, received); }));
          sizes.set(c.fmt, bytes.length);
          push(ins, `${c.route} ${c.fmt}`, await timed(() => r[c.route]!(c.fmt, bytes)));
          expected += rows.length;
        }
      }
    }
    const stored = Number((await e.conn.queryTsv('SELECT count() FROM gala_orders')).trim());
    if (stored !== expected) throw new Error(`${name}: ${stored} rows stored, ${expected} inserted`);
    const base = median(ins.get(`${Object.keys(r)[0]} TabSeparated`)!);
    for (const c of cases) {
      const k = `${c.route} ${c.fmt}`;
      const m = median(ins.get(k)!);
      process.stdout.write(`${name} ${k}: insert ${m.toFixed(1)} ms (${(m / base).toFixed(2)} of ${Object.keys(r)[0]} TabSeparated), encode ${median(enc.get(c.fmt)!).toFixed(1)} ms, ${(sizes.get(c.fmt)! / 1024).toFixed(0)} KiB\n`);
    }
  } finally {
    rmSync(shm, { recursive: true, force: true });
    await api?.close();
    await e.close();
  }
}

process.stdout.write(`insert format: groups of ${GROUP} orders, ${RUNS} runs x ${INSERTS} inserts per format, alternating, medians per group\n`);
for (const name of values.engines.split(',')) await bench(name as 'chdb' | 'server');
