// Exact money: amounts are integer hundredths of a currency unit; rates and totals are bigint; no floats.

/** Largest amount one order may carry, in hundredths (10,000,000.00). */
export const MAX_ORDER_HUNDREDTHS = 1_000_000_000;

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

export type AmountResult = { ok: true; hundredths: number } | { ok: false; error: string };

/**
 * Parses an order amount (string or JSON number) into integer hundredths.
 * Rules of the contract: decimal, greater than 0, at most 2 fraction digits, at most 10,000,000.
 */
export function parseAmount(value: unknown): AmountResult {
  if (typeof value === 'string') {
    const h = plainHundredths(value);
    if (h > 0 && h <= MAX_ORDER_HUNDREDTHS) return { ok: true, hundredths: h };
  }
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, error: 'amount: must be a finite decimal number' };
    if (value <= 0) return { ok: false, error: 'amount: must be greater than 0' };
    if (value > 10_000_000) return { ok: false, error: 'amount: at most 10000000' };
    text = String(value);
    // Tiny positive numbers print in exponent form (1e-7); they always carry too many fraction digits.
    if (text.includes('e')) return { ok: false, error: 'amount: at most 2 fraction digits' };
  } else {
    return { ok: false, error: 'amount: must be a decimal string or number' };
  }
  const m = DECIMAL.exec(text);
  if (m === null) return { ok: false, error: 'amount: must be a plain decimal such as "17.50"' };
  const [, sign, intPart = '', frac = ''] = m;
  if (frac.length > 2) return { ok: false, error: 'amount: at most 2 fraction digits' };
  const intDigits = intPart.replace(/^0+(?=\d)/, '');
  if (intDigits.length > 8) return { ok: false, error: 'amount: at most 10000000' };
  const hundredths = Number(intDigits) * 100 + (frac.length === 0 ? 0 : frac.length === 1 ? Number(frac) * 10 : Number(frac));
  if (sign === '-' || hundredths === 0) return { ok: false, error: 'amount: must be greater than 0' };
  if (hundredths > MAX_ORDER_HUNDREDTHS) return { ok: false, error: 'amount: at most 10000000' };
  return { ok: true, hundredths };
}

/**
 * The common shape "d{1,8}[.d{1,2}]" read without a regex; -1 for anything else, which the general
 * path then classifies (and words the error for).
 */
function plainHundredths(s: string): number {
  const n = s.length;
  let i = 0;
  let units = 0;
  for (; i < n && i < 9; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    units = units * 10 + c;
  }
  if (i === 0 || i > 8) return -1;
  if (i === n) return units * 100;
  if (s.charCodeAt(i) !== 46 /* . */ || n - i - 1 < 1 || n - i - 1 > 2) return -1;
  const d1 = s.charCodeAt(i + 1) - 48;
  if (d1 < 0 || d1 > 9) return -1;
  if (n - i - 1 === 1) return units * 100 + d1 * 10;
  const d2 = s.charCodeAt(i + 2) - 48;
  if (d2 < 0 || d2 > 9) return -1;
  return units * 100 + d1 * 10 + d2;
}

/** Formats integer hundredths as a decimal string with exactly 2 fraction digits ("1234.50"). */
export function formatHundredths(hundredths: bigint | number): string {
  const v = typeof hundredths === 'bigint' ? hundredths : BigInt(hundredths);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const units = abs / 100n;
  const cents = abs % 100n;
  return `${neg ? '-' : ''}${units}.${cents.toString().padStart(2, '0')}`;
}

/** The inverse of formatHundredths: "1234.50" -> 123450n; throws on anything else. */
export function parseHundredths(text: string): bigint {
  const m = /^(-?)(\d+)\.(\d{2})$/.exec(text);
  if (m === null) throw new Error(`amount "${text}": must be a decimal with exactly 2 fraction digits`);
  const v = BigInt(m[2]!) * 100n + BigInt(m[3]!);
  return m[1] === '-' ? -v : v;
}

/** An exact decimal rate: value = num / 10^scale. */
export interface Rate {
  readonly text: string;
  readonly num: bigint;
  readonly scaleDigits: number;
}

const RATE = /^(\d+)(?:\.(\d{1,18}))?$/;

/** Parses a conversion rate such as "7.1234"; throws with the rule broken. */
export function parseRate(text: string): Rate {
  const m = RATE.exec(text);
  if (m === null) throw new Error(`rate "${text}": must be a positive decimal with at most 18 fraction digits`);
  const [, i = '', f = ''] = m;
  const num = BigInt(i + f);
  if (num === 0n) throw new Error(`rate "${text}": must be greater than 0`);
  return { text, num, scaleDigits: f.length };
}

/** Integer division of a by b (b > 0) rounded half to even. */
export function divRoundHalfEven(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('divisor must be positive');
  const neg = a < 0n;
  const abs = neg ? -a : a;
  let q = abs / b;
  const r = abs % b;
  const twice = r * 2n;
  if (twice > b || (twice === b && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/** Converts a sum in hundredths of one currency to hundredths of the display currency, half-even. */
export function convertHundredths(sum: bigint, rate: Rate): bigint {
  return divRoundHalfEven(sum * rate.num, 10n ** BigInt(rate.scaleDigits));
}
