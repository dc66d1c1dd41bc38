// Committed orders as columns of typed arrays: what the live totals need of each order, with no object per order.
import type { Channel } from './order.ts';

export const CHANNEL_CODE: Readonly<Record<Channel, number>> = { mobile: 0, desktop: 1, tv: 2, store: 3 };

export class OrderColumns {
  count = 0;
  ts: Float64Array;
  hundredths: Float64Array;
  /** Index into `currencies`. */
  currency: Uint8Array;
  /** Index into CHANNELS. */
  channel: Uint8Array;
  hi: Uint32Array;
  lo: Uint32Array;

  constructor(readonly currencies: readonly string[], capacity = 1024) {
    this.ts = new Float64Array(capacity);
    this.hundredths = new Float64Array(capacity);
    this.currency = new Uint8Array(capacity);
    this.channel = new Uint8Array(capacity);
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
  }

  push(ts: number, hundredths: number, currency: number, channel: number, hi: number, lo: number): void {
    if (this.count === this.ts.length) this.grow();
    const k = this.count++;
    this.ts[k] = ts;
    this.hundredths[k] = hundredths;
    this.currency[k] = currency;
    this.channel[k] = channel;
    this.hi[k] = hi;
    this.lo[k] = lo;
  }

  /** The rows for which keep(k) is true, as new columns. */
  filter(keep: (k: number) => boolean): OrderColumns {
    const out = new OrderColumns(this.currencies, Math.max(1, this.count));
    for (let k = 0; k < this.count; k++) if (keep(k)) out.push(this.ts[k]!, this.hundredths[k]!, this.currency[k]!, this.channel[k]!, this.hi[k]!, this.lo[k]!);
    return out;
  }

  private grow(): void {
    const cap = this.ts.length * 2;
    const grow = <T extends Float64Array | Uint8Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const next = make(cap);
      next.set(a);
      return next;
    };
    this.ts = grow(this.ts, (n) => new Float64Array(n));
    this.hundredths = grow(this.hundredths, (n) => new Float64Array(n));
    this.currency = grow(this.currency, (n) => new Uint8Array(n));
    this.channel = grow(this.channel, (n) => new Uint8Array(n));
    this.hi = grow(this.hi, (n) => new Uint32Array(n));
    this.lo = grow(this.lo, (n) => new Uint32Array(n));
  }
}
