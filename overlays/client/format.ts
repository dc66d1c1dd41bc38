// Money on air: exact decimal strings <-> bigint hundredths, grouping in the western or the Chinese (万/亿) style.

export function parseHundredths(s: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  if (m === null) throw new Error(`amount: not a decimal with at most 2 fraction digits: "${s}"`);
  const v = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -v : v;
}

export function hundredthsToDecimal(h: bigint): string {
  const neg = h < 0n;
  const a = neg ? -h : h;
  return `${neg ? '-' : ''}${a / 100n}.${(a % 100n).toString().padStart(2, '0')}`;
}

const SYMBOLS: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€', GBP: '£', JPY: '¥', KRW: '₩', HKD: 'HK$', SGD: 'S$' };

export function currencySymbol(code: string): string {
  return SYMBOLS[code] ?? `${code} `;
}

export type Numerals = 'western' | 'chinese';

/**
 * "¥1,234,567,890.12" (western) or "¥12亿3456万7890.12" (chinese: groups of four under 万 and 亿, the way the
 * 11.11 screens read). Always two fraction digits, so the width only grows with the value.
 */
export function formatMoney(h: bigint, currency: string, numerals: Numerals): string {
  const neg = h < 0n;
  const a = neg ? -h : h;
  const units = a / 100n;
  const cents = (a % 100n).toString().padStart(2, '0');
  let int: string;
  if (numerals === 'chinese') {
    const yi = units / 100_000_000n;
    const wan = (units / 10_000n) % 10_000n;
    const rest = units % 10_000n;
    if (yi > 0n) int = `${yi}亿${wan.toString().padStart(4, '0')}万${rest.toString().padStart(4, '0')}`;
    else if (wan > 0n) int = `${wan}万${rest.toString().padStart(4, '0')}`;
    else int = rest.toString();
  } else {
    int = units.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }
  return `${neg ? '-' : ''}${currencySymbol(currency)}${int}.${cents}`;
}

/** A short reading for a second line: "12.35亿" / "3,456.8万" (chinese) or "1.23 bn" / "45.6 m" (western). */
export function shortMoney(h: bigint, numerals: Numerals): string {
  const units = Number(h / 100n);
  if (numerals === 'chinese') {
    if (units >= 1e8) return `${(units / 1e8).toFixed(2)}亿`;
    if (units >= 1e4) return `${(units / 1e4).toFixed(1)}万`;
    return units.toFixed(0);
  }
  if (units >= 1e9) return `${(units / 1e9).toFixed(2)} bn`;
  if (units >= 1e6) return `${(units / 1e6).toFixed(1)} m`;
  return units.toLocaleString('en-US');
}
