// The benches' orders: a fixed set of `batch` orders whose ids carry a frame number, so frame n's order i is
// `bn-<n, 12 digits>-<i, 5 digits>`, every other field the same in every frame. A whole frame is one template patched
// in place (a buffer copy and a few thousand byte writes, no JSON built per frame), so a long soak needs no gigabytes
// of pre-built frames; a client that regroups orders (by owner) takes each order's text instead.
import { convertHundredths, formatHundredths } from '../domain/money.ts';
import type { ShowConfig } from '../domain/show.ts';

export interface OrderFrames {
  /** Frame n as one batch, its id `f-<n, 12 digits>`. */
  frame(n: number): Buffer;
  /** Minor units of one frame per currency, in the order of the show's rate table. */
  readonly frameCents: readonly number[];
  /** Exact display GMV of per-currency minor-unit sums (in the order of the show's rate table). */
  gmvOf(perCurrency: readonly number[]): string;
  /** Exact display GMV of `frames` whole frames. */
  gmv(frames: number): string;
  /** The id of frame n's order i. */
  id(n: number, i: number): string;
  /** Order i's text with this id. */
  order(id: string, i: number): string;
  /** Order i's currency (index into the show's rate table) and amount in minor units. */
  readonly currency: readonly number[];
  readonly cents: readonly number[];
}

export function createOrderFrames(batch: number, show: ShowConfig): OrderFrames {
  const currencies = [...show.rates.keys()];
  const weights = [['CNY', 80], ['USD', 8], ['EUR', 4], ['HKD', 4], ['JPY', 4]] as const;
  const channels = ['mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'mobile', 'desktop', 'tv', 'store'];
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296;
  const ts = Date.now();
  const rest: string[] = [];
  const currency: number[] = [];
  const cents: number[] = [];
  for (let i = 0; i < batch; i++) {
    let r = rnd() * 100;
    let cur: string = 'CNY';
    for (const [c, w] of weights) if ((r -= w) < 0) { cur = c; break; }
    const units = 1 + Math.floor(rnd() * 300);
    const c = Math.floor(rnd() * 100);
    const k = currencies.indexOf(cur);
    if (k < 0) throw new Error(`bench: the show has no rate for ${cur}`);
    currency.push(k);
    cents.push(units * 100 + c);
    rest.push(`,"ts":${ts + i},"amount":"${units}.${String(c).padStart(2, '0')}","currency":"${cur}","channel":"${channels[Math.floor(rnd() * channels.length)]}","brand":"brand-${Math.floor(rnd() * 2000)}","sku":"sku-${Math.floor(rnd() * 20000)}","category":"apparel","region":"Zhejiang"}`);
  }
  const frameCents = currencies.map((_, k) => cents.reduce((s, v, i) => (currency[i] === k ? s + v : s), 0));
  const template = Buffer.from(`{"batch":"f-000000000000","orders":[${rest.map((r, i) => `{"id":"bn-000000000000-${String(i).padStart(5, '0')}"${r}`).join(',')}]}`);
  const offsets: number[] = [template.indexOf('f-000000000000') + 2];
  for (let at = template.indexOf('"bn-'); at >= 0; at = template.indexOf('"bn-', at + 1)) offsets.push(at + 4);
  const digits = (n: number) => String(n).padStart(12, '0');
  const display = (perCurrency: readonly bigint[]) => {
    let t = 0n;
    perCurrency.forEach((h, k) => (t += convertHundredths(h, show.rates.get(currencies[k]!)!)));
    return formatHundredths(t);
  };
  return {
    frame(n) {
      const b = Buffer.from(template);
      const d = digits(n);
      for (const off of offsets) b.write(d, off, 'latin1');
      return b;
    },
    frameCents,
    gmvOf: (perCurrency) => display(perCurrency.map((c) => BigInt(c))),
    gmv: (frames) => display(frameCents.map((c) => BigInt(c) * BigInt(frames))),
    id: (n, i) => `bn-${digits(n)}-${String(i).padStart(5, '0')}`,
    order: (id, i) => `{"id":"${id}"${rest[i]}`,
    currency,
    cents,
  };
}
