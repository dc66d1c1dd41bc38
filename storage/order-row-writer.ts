// Writes orders-table rows straight into one growable Buffer: no per-row strings, no join, no copy on the way to
// the engine. The hot path of ingest. Two formats: TabSeparated (OrderRowWriter; encodeOrderRow is its readable
// twin) and RowBinary (OrderRowBinaryWriter: numbers as little-endian bytes, strings length-prefixed and unescaped),
// which both engines parse in less time and which costs the event loop no decimal digits (docs/benchmarks.md).
import type { Channel, Order } from '../domain/order.ts';
import { writeUintDigits } from './decimal-digits.ts';
import { DerivedFold, type DerivedRows } from './derived-fold.ts';
import { escapeTsv } from './order-rows.ts';

const TAB = 9;
const NL = 10;
/** Bytes one row can take at most: 64-char fields of up to 3 UTF-8 bytes, numbers, separators. */
const MAX_ROW_BYTES = 64 + 5 * 64 * 3 + 6 * 20 + 32 + 64;

/** The formats an orders insert can carry (SqlConnection.insertRows). */
export type RowFormat = 'TabSeparated' | 'RowBinary';

/** What group commit and the benches write rows through, whatever the format. */
export interface RowWriter {
  readonly format: RowFormat;
  readonly count: number;
  readonly byteLength: number;
  add(o: Order, receivedMs: number, hi: number, lo: number): void;
  addScanned(src: Uint8Array, idStart: number, idEnd: number, hi: number, lo: number, ts: number, receivedMs: number, hundredths: number, currency: string, channel: string, text: Int32Array, textAt: number): void;
  bytes(): Buffer;
  derived(): DerivedRows | null;
  release(): Buffer;
}

/** A writer of `format` (a buffer handed back by an earlier writer's `release`, or how many bytes to start with). */
export function createRowWriter(format: RowFormat, initial: Buffer | number = 256 * 1024): RowWriter {
  return format === 'RowBinary' ? new OrderRowBinaryWriter(initial) : new OrderRowWriter(initial);
}

/** The buffer, its fold and their hand-over: what both formats' writers share. */
abstract class BufferedRows {
  protected buf: Buffer;
  protected pos = 0;
  count = 0;
  /** The rollup rows of what is written, folded as it is written (the rows are in hand now). */
  protected readonly fold = new DerivedFold();

  /** A buffer to write into (one handed back by `release` of an earlier writer), or how many bytes to start with. */
  constructor(initial: Buffer | number = 256 * 1024) {
    this.buf = typeof initial === 'number' ? Buffer.allocUnsafe(initial) : initial;
  }

  /** Hands the buffer over for another writer; this one must not be used again. */
  release(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    return b;
  }

  get byteLength(): number {
    return this.pos;
  }

  /** The derived tables' rows of everything written so far (see derived-fold.ts); null when nothing was. */
  derived(): DerivedRows | null {
    return this.fold.rows();
  }

  /** The rows written so far (a view, valid until the next add). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  protected grow(): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, MAX_ROW_BYTES * 4));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

export class OrderRowWriter extends BufferedRows implements RowWriter {
  readonly format = 'TabSeparated';
  /** Last large integer written and its digits: a batch shares one received instant, and many orders a ts. */
  private cachedValues = [Number.NaN, Number.NaN];
  private cachedDigits = [new Uint8Array(20), new Uint8Array(20)];
  private cachedLengths = [0, 0];

  add(o: Order, receivedMs: number, hi: number, lo: number): void {
    if (this.pos + MAX_ROW_BYTES > this.buf.length) this.grow();
    this.ascii(o.id);
    this.tab();
    this.int(hi);
    this.tab();
    this.int(lo);
    this.tab();
    this.cachedInt(o.ts, 0);
    this.tab();
    this.cachedInt(receivedMs, 1);
    this.tab();
    this.int(o.hundredths);
    this.tab();
    this.text(o.currency);
    this.tab();
    this.ascii(o.channel);
    this.tab();
    this.text(o.brand);
    this.tab();
    this.text(o.sku);
    this.tab();
    this.text(o.category);
    this.tab();
    this.text(o.region);
    this.buf[this.pos++] = NL;
    this.count++;
    this.fold.add(o.ts, o.hundredths, o.currency, o.channel, o.brand, o.sku, o.region, receivedMs);
  }

  /**
   * One row from a scanned frame: id and text fields are copied as bytes from `src` (the scanner proved them
   * ASCII with nothing to escape); `text` holds [start, end) pairs for brand, sku, category, region, -1 if absent.
   */
  addScanned(src: Uint8Array, idStart: number, idEnd: number, hi: number, lo: number, ts: number, receivedMs: number, hundredths: number, currency: string, channel: string, text: Int32Array, textAt: number): void {
    if (this.pos + MAX_ROW_BYTES > this.buf.length) this.grow();
    this.copy(src, idStart, idEnd);
    this.tab();
    this.int(hi);
    this.tab();
    this.int(lo);
    this.tab();
    this.cachedInt(ts, 0);
    this.tab();
    this.cachedInt(receivedMs, 1);
    this.tab();
    this.int(hundredths);
    this.tab();
    this.ascii(currency);
    this.tab();
    this.ascii(channel);
    for (let f = 0; f < 4; f++) {
      this.tab();
      const s = text[textAt + 2 * f]!;
      if (s >= 0) this.copy(src, s, text[textAt + 2 * f + 1]!);
    }
    this.buf[this.pos++] = NL;
    this.count++;
    // The key fields go to the fold as bytes of the frame: it interns them without a string per order.
    this.fold.addScanned(ts, hundredths, currency, channel, src, text, textAt, receivedMs);
  }

  private copy(src: Uint8Array, s: number, e: number): void {
    const b = this.buf;
    let p = this.pos;
    for (let j = s; j < e; j++) b[p++] = src[j]!;
    this.pos = p;
  }

  private tab(): void {
    this.buf[this.pos++] = TAB;
  }

  /** Text known to need no escaping and to be ASCII (ids and channels are validated so). */
  private ascii(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Free text: the ASCII fast path byte by byte; anything else through escaping and UTF-8. */
  private text(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80 || c === 92 /* \ */ || c < 32 || c === 127) {
        this.pos = p + b.write(escapeTsv(s.slice(i)), p, 'utf8');
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** Writes n through cache slot `slot`: a repeat of the slot's last value is a copy of its digits. */
  private cachedInt(n: number, slot: number): void {
    const digits = this.cachedDigits[slot]!;
    if (this.cachedValues[slot] !== n) {
      const at = this.pos;
      this.int(n);
      const len = this.pos - at;
      for (let j = 0; j < len; j++) digits[j] = this.buf[at + j]!;
      this.cachedValues[slot] = n;
      this.cachedLengths[slot] = len;
      return;
    }
    const b = this.buf;
    let p = this.pos;
    const len = this.cachedLengths[slot]!;
    for (let j = 0; j < len; j++) b[p++] = digits[j]!;
    this.pos = p;
  }

  /** A non-negative safe integer in decimal; 32-bit integer arithmetic wherever the value allows. */
  private int(n: number): void {
    this.pos = writeUintDigits(this.buf, this.pos, n);
  }
}

/** The channel column's Enum8 values (schema.ts), as RowBinary carries them: one byte. */
const CHANNEL_ENUM8: Readonly<Record<Channel, number>> = { mobile: 1, desktop: 2, tv: 3, store: 4 };
const TWO_32 = 4_294_967_296;

/**
 * RowBinary rows in ORDER_COLUMNS order: String as a varint length and its bytes, UInt32 and Int64 little-endian,
 * Enum8 as one byte. Text is written as it is, never escaped; a frame's text fields are copied as bytes.
 */
export class OrderRowBinaryWriter extends BufferedRows implements RowWriter {
  readonly format = 'RowBinary';
  // MAX_ROW_BYTES holds here too: no escapes, 8 bytes per number, a length of 1-2 bytes per string.

  add(o: Order, receivedMs: number, hi: number, lo: number): void {
    if (this.pos + MAX_ROW_BYTES > this.buf.length) this.grow();
    this.text(o.id);
    this.u32(hi);
    this.u32(lo);
    this.i64(o.ts);
    this.i64(receivedMs);
    this.i64(o.hundredths);
    this.text(o.currency);
    this.buf[this.pos++] = CHANNEL_ENUM8[o.channel];
    this.text(o.brand);
    this.text(o.sku);
    this.text(o.category);
    this.text(o.region);
    this.count++;
    this.fold.add(o.ts, o.hundredths, o.currency, o.channel, o.brand, o.sku, o.region, receivedMs);
  }

  /** As OrderRowWriter.addScanned: the scanner proved the id and text fields ASCII with nothing escaped in the frame. */
  addScanned(src: Uint8Array, idStart: number, idEnd: number, hi: number, lo: number, ts: number, receivedMs: number, hundredths: number, currency: string, channel: string, text: Int32Array, textAt: number): void {
    if (this.pos + MAX_ROW_BYTES > this.buf.length) this.grow();
    this.copy(src, idStart, idEnd);
    this.u32(hi);
    this.u32(lo);
    this.i64(ts);
    this.i64(receivedMs);
    this.i64(hundredths);
    this.ascii(currency);
    this.buf[this.pos++] = CHANNEL_ENUM8[channel as Channel];
    for (let f = 0; f < 4; f++) {
      const s = text[textAt + 2 * f]!;
      if (s >= 0) this.copy(src, s, text[textAt + 2 * f + 1]!);
      else this.buf[this.pos++] = 0;
    }
    this.count++;
    this.fold.addScanned(ts, hundredths, currency, channel, src, text, textAt, receivedMs);
  }

  /** The varint length of e - s, then the bytes. */
  private copy(src: Uint8Array, s: number, e: number): void {
    const b = this.buf;
    let p = this.varint(e - s);
    for (let j = s; j < e; j++) b[p++] = src[j]!;
    this.pos = p;
  }

  /** Writes n as a varint at pos; returns the position after it (lengths here are under 2^14). */
  private varint(n: number): number {
    const b = this.buf;
    let p = this.pos;
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    return p;
  }

  /** Text known to be ASCII under 128 characters (currency codes, validated so). */
  private ascii(s: string): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = s.length;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any text: byte by byte while it is ASCII and short, else measured and written as UTF-8. */
  private text(s: string): void {
    const b = this.buf;
    if (s.length < 0x80) {
      let p = this.pos + 1;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === s.length) {
        b[this.pos] = s.length;
        this.pos = p;
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    const p = this.varint(n);
    this.pos = p + b.write(s, p, 'utf8');
  }

  private u32(n: number): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = n;
    b[p++] = n >>> 8;
    b[p++] = n >>> 16;
    b[p++] = n >>> 24;
    this.pos = p;
  }

  /** A safe integer as Int64, little-endian: low 32 bits, then the high (two's complement for a negative n). */
  private i64(n: number): void {
    const lo = n >>> 0;
    const hi = Math.floor(n / TWO_32) | 0;
    const b = this.buf;
    let p = this.pos;
    b[p++] = lo;
    b[p++] = lo >>> 8;
    b[p++] = lo >>> 16;
    b[p++] = lo >>> 24;
    b[p++] = hi;
    b[p++] = hi >>> 8;
    b[p++] = hi >>> 16;
    b[p++] = hi >>> 24;
    this.pos = p;
  }
}
