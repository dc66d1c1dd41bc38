// The show config: display currency, exact conversion rates and milestones, parsed once with named errors.
import { parseRate, type Rate } from './money.ts';
import { parseRundown, RundownError, type Rundown } from './rundown.ts';
import { parseLooks, parseTheme, type ShowLook, type ShowTheme } from './show-graphics.ts';

export type { ShowLook, ShowTheme };

export interface Milestone {
  id: string;
  label: string;
  /** Threshold in hundredths of the display currency. */
  hundredths: bigint;
}

export interface ShowConfig {
  name: string;
  /** ISO 4217 code the totals are displayed in. */
  currency: string;
  /** Currency code -> rate into the display currency (the display currency itself is 1). */
  rates: ReadonlyMap<string, Rate>;
  /** When the show starts (epoch ms); null means "when the process starts". */
  startsAt: number | null;
  /** When the show ends (epoch ms): figures turn `final` once a reconciliation after it agrees; null: never. */
  endsAt: number | null;
  milestones: Milestone[];
  /** The control room's acts and cues (domain/rundown.ts). */
  rundown: Rundown;
  /** Overlays' colours, fonts and logo (keys not given fall back to the overlays' defaults). */
  theme: ShowTheme;
  /** The see-now-buy-now looks, in running order (the product card pages through them). */
  looks: ShowLook[];
  /** Raw sections later features read (products, rundown); kept as given. */
  extra: Record<string, unknown>;
}

const CODE = /^[A-Z]{3}$/;
const THRESHOLD = /^(\d+)(?:\.(\d{1,2}))?$/;

export class ShowConfigError extends Error {
  override name = 'ShowConfigError';
}

function fail(path: string, rule: string, value: unknown): never {
  throw new ShowConfigError(`show config ${path}: ${rule} (got ${JSON.stringify(value)})`);
}

/** Parses a show config object (from JSON); every error names the key, the value and the rule. */
export function parseShowConfig(raw: unknown): ShowConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('(root)', 'must be an object', raw);
  const o = raw as Record<string, unknown>;
  const name = o.name ?? 'Gala';
  if (typeof name !== 'string' || name.length === 0) fail('name', 'must be a non-empty string', name);
  const currency = o.currency;
  if (typeof currency !== 'string' || !CODE.test(currency)) fail('currency', 'must be an ISO 4217 code like "CNY"', currency);
  const ratesRaw = o.rates ?? {};
  if (typeof ratesRaw !== 'object' || ratesRaw === null || Array.isArray(ratesRaw)) fail('rates', 'must be an object of code -> decimal string', ratesRaw);
  const rates = new Map<string, Rate>();
  rates.set(currency, parseRate('1'));
  for (const [code, value] of Object.entries(ratesRaw as Record<string, unknown>)) {
    if (!CODE.test(code)) fail(`rates.${code}`, 'key must be an ISO 4217 code', code);
    if (typeof value !== 'string') fail(`rates.${code}`, 'must be a decimal string such as "7.12" (strings keep rates exact)', value);
    try {
      rates.set(code, parseRate(value));
    } catch (e) {
      fail(`rates.${code}`, (e as Error).message, value);
    }
  }
  let startsAt: number | null = null;
  if (o.startsAt !== undefined && o.startsAt !== null) {
    const t = typeof o.startsAt === 'string' ? Date.parse(o.startsAt) : Number.NaN;
    if (Number.isNaN(t)) fail('startsAt', 'must be an ISO 8601 instant', o.startsAt);
    startsAt = t;
  }
  let endsAt: number | null = null;
  if (o.endsAt !== undefined && o.endsAt !== null) {
    const t = typeof o.endsAt === 'string' ? Date.parse(o.endsAt) : Number.NaN;
    if (Number.isNaN(t)) fail('endsAt', 'must be an ISO 8601 instant', o.endsAt);
    if (startsAt !== null && t <= startsAt) fail('endsAt', 'must be after startsAt', o.endsAt);
    endsAt = t;
  }
  const milestonesRaw = o.milestones ?? [];
  if (!Array.isArray(milestonesRaw)) fail('milestones', 'must be an array', milestonesRaw);
  const milestones: Milestone[] = milestonesRaw.map((m: unknown, i: number) => {
    if (typeof m !== 'object' || m === null) fail(`milestones[${i}]`, 'must be an object', m);
    const mm = m as Record<string, unknown>;
    const threshold = mm.threshold;
    if (typeof threshold !== 'string') fail(`milestones[${i}].threshold`, 'must be a decimal string', threshold);
    const t = THRESHOLD.exec(threshold);
    if (t === null) fail(`milestones[${i}].threshold`, 'must be a decimal with at most 2 fraction digits', threshold);
    const hundredths = BigInt(t[1] ?? '0') * 100n + BigInt((t[2] ?? '').padEnd(2, '0'));
    const label = mm.label ?? threshold;
    if (typeof label !== 'string') fail(`milestones[${i}].label`, 'must be a string', label);
    const id = mm.id ?? `m${i + 1}`;
    if (typeof id !== 'string') fail(`milestones[${i}].id`, 'must be a string', id);
    return { id, label, hundredths };
  });
  const theme = parseTheme(o.theme, fail);
  const looks = parseLooks(o.products, fail);
  const { name: _n, currency: _c, rates: _r, startsAt: _s, endsAt: _e, milestones: _m, theme: _t, products: _p, ...extra } = o;
  return { name, currency, rates, startsAt, endsAt, milestones, rundown: parseShowRundown(o.rundown), theme, looks, extra };
}

function parseShowRundown(raw: unknown): Rundown {
  try {
    return parseRundown(raw);
  } catch (e) {
    if (e instanceof RundownError) throw new ShowConfigError(`show config ${e.message}`);
    throw e;
  }
}
