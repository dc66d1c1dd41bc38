// The order and batch wire format of the ingest contract, parsed from `unknown` once at the edge.
import { parseAmount } from './money.ts';

export const CHANNELS = ['mobile', 'desktop', 'tv', 'store'] as const;
export type Channel = (typeof CHANNELS)[number];

export const MAX_ORDERS_PER_BATCH = 10_000;
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
// Years 2000 to 2100: a paid-at instant outside them is a client bug, not a sale.
const MIN_TS = 946_684_800_000;
const MAX_TS = 4_102_444_800_000;

/** A validated order; the amount is in hundredths of its currency. */
export interface Order {
  id: string;
  ts: number;
  hundredths: number;
  currency: string;
  channel: Channel;
  brand: string;
  sku: string;
  category: string;
  region: string;
}

export type OrderResult = { ok: true; order: Order } | { ok: false; id: string | null; error: string };

function optionalText(o: Record<string, unknown>, field: string): string | { error: string } {
  const v = o[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') return { error: `${field}: must be a string` };
  if (v.length > 64) return { error: `${field}: at most 64 characters` };
  return v;
}

/** Validates one order against the contract; `knownCurrency` says whether the show's rate table has a code. */
export function parseOrder(raw: unknown, knownCurrency: (code: string) => boolean): OrderResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, error: 'order: must be a JSON object' };
  }
  const o = raw as Record<string, unknown>;
  const id = o.id;
  if (typeof id !== 'string') return { ok: false, id: null, error: 'id: must be a string' };
  if (!ID.test(id)) return { ok: false, id: id.slice(0, 64), error: 'id: 1 to 64 of A-Z a-z 0-9 . _ : -' };
  const ts = o.ts;
  if (typeof ts !== 'number' || !Number.isInteger(ts)) return { ok: false, id, error: 'ts: must be an integer (epoch milliseconds)' };
  if (ts < MIN_TS || ts > MAX_TS) return { ok: false, id, error: 'ts: epoch milliseconds between 2000-01-01 and 2100-01-01' };
  const amount = parseAmount(o.amount);
  if (!amount.ok) return { ok: false, id, error: amount.error };
  const currency = o.currency;
  if (typeof currency !== 'string') return { ok: false, id, error: 'currency: must be a string' };
  if (!knownCurrency(currency)) return { ok: false, id, error: `currency: "${currency.slice(0, 16)}" is not in the show's rate table` };
  const channel = o.channel;
  if (channel !== 'mobile' && channel !== 'desktop' && channel !== 'tv' && channel !== 'store') {
    return { ok: false, id, error: 'channel: one of mobile, desktop, tv, store' };
  }
  const brand = optionalText(o, 'brand');
  if (typeof brand !== 'string') return { ok: false, id, error: brand.error };
  const sku = optionalText(o, 'sku');
  if (typeof sku !== 'string') return { ok: false, id, error: sku.error };
  const category = optionalText(o, 'category');
  if (typeof category !== 'string') return { ok: false, id, error: category.error };
  const region = optionalText(o, 'region');
  if (typeof region !== 'string') return { ok: false, id, error: region.error };
  return { ok: true, order: { id, ts, hundredths: amount.hundredths, currency, channel, brand, sku, category, region } };
}

/** A batch frame whose envelope is valid; its orders are still raw. */
export interface RawBatch {
  batch: string;
  orders: unknown[];
}

export type BatchResult = { ok: true; value: RawBatch } | { ok: false; batch: string | null; error: string };

/** Parses the envelope of a batch frame (text already decoded). Orders are validated one by one later. */
export function parseBatchFrame(text: string): BatchResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, batch: null, error: 'frame: not valid JSON' };
  }
  return parseBatchValue(raw);
}

export function parseBatchValue(raw: unknown): BatchResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, batch: null, error: 'frame: must be a JSON object {"batch": ..., "orders": [...]}' };
  }
  const o = raw as Record<string, unknown>;
  const b = o.batch;
  if (typeof b !== 'string' || b.length < 1 || b.length > 64) {
    return { ok: false, batch: null, error: 'batch: must be a string of 1 to 64 characters' };
  }
  const orders = o.orders;
  if (!Array.isArray(orders)) return { ok: false, batch: b, error: 'orders: must be an array' };
  if (orders.length < 1) return { ok: false, batch: b, error: 'orders: at least 1 order' };
  if (orders.length > MAX_ORDERS_PER_BATCH) {
    return { ok: false, batch: b, error: `orders: at most ${MAX_ORDERS_PER_BATCH} orders per batch (got ${orders.length})` };
  }
  return { ok: true, value: { batch: b, orders } };
}

/** The ack of one batch, as the contract spells it. */
export interface Ack {
  batch: string;
  accepted: number;
  duplicates: number;
  rejected: { index: number; id: string | null; error: string }[];
}

/** The answer to a frame that could not be taken: malformed, or the server unable to commit. */
export interface FrameError {
  batch: string | null;
  error: string;
  retryAfterMs?: number;
}
