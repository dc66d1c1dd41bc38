import { describe, expect, it } from 'vitest';
import { convertHundredths, divRoundHalfEven, formatHundredths, parseAmount, parseRate } from './money.ts';

describe('parseAmount', () => {
  it('accepts strings and numbers with up to 2 fraction digits', () => {
    expect(parseAmount('17.5')).toEqual({ ok: true, hundredths: 1750 });
    expect(parseAmount('0.01')).toEqual({ ok: true, hundredths: 1 });
    expect(parseAmount(17.99)).toEqual({ ok: true, hundredths: 1799 });
    expect(parseAmount('10000000')).toEqual({ ok: true, hundredths: 1_000_000_000 });
  });
  it('names the rule each bad amount breaks', () => {
    expect(parseAmount('1.234')).toEqual({ ok: false, error: 'amount: at most 2 fraction digits' });
    expect(parseAmount(0.1 + 0.2)).toEqual({ ok: false, error: 'amount: at most 2 fraction digits' });
    expect(parseAmount(1e-7)).toEqual({ ok: false, error: 'amount: at most 2 fraction digits' });
    expect(parseAmount('0')).toEqual({ ok: false, error: 'amount: must be greater than 0' });
    expect(parseAmount('-3')).toEqual({ ok: false, error: 'amount: must be greater than 0' });
    expect(parseAmount(-3)).toEqual({ ok: false, error: 'amount: must be greater than 0' });
    expect(parseAmount('10000000.01')).toEqual({ ok: false, error: 'amount: at most 10000000' });
    expect(parseAmount(1e21)).toEqual({ ok: false, error: 'amount: at most 10000000' });
    expect(parseAmount('1e3')).toMatchObject({ ok: false });
    expect(parseAmount('')).toMatchObject({ ok: false });
    expect(parseAmount(null)).toMatchObject({ ok: false, error: 'amount: must be a decimal string or number' });
    expect(parseAmount(Number.NaN)).toMatchObject({ ok: false });
  });
});

describe('exact conversion', () => {
  it('rounds half to even', () => {
    expect(divRoundHalfEven(25n, 10n)).toBe(2n);
    expect(divRoundHalfEven(35n, 10n)).toBe(4n);
    expect(divRoundHalfEven(26n, 10n)).toBe(3n);
    expect(divRoundHalfEven(-25n, 10n)).toBe(-2n);
  });
  it('converts a currency sum with a decimal rate', () => {
    // 100.05 USD at 7.1 = 710.355 CNY -> 710.36 (the 5 rounds to even 6)
    expect(convertHundredths(10005n, parseRate('7.1'))).toBe(71036n);
    // 0.05 at 0.5 = 0.025 -> 0.02 (half to even)
    expect(convertHundredths(5n, parseRate('0.5'))).toBe(2n);
    expect(formatHundredths(123456789n)).toBe('1234567.89');
    expect(formatHundredths(5)).toBe('0.05');
  });
  it('refuses malformed rates', () => {
    expect(() => parseRate('abc')).toThrow(/rate "abc"/);
    expect(() => parseRate('0')).toThrow(/greater than 0/);
  });
});
