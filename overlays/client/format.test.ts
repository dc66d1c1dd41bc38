// Money on air: exact decimal parsing, western and Chinese (万/亿) grouping, the short second line.
import { describe, expect, it } from 'vitest';
import { currencySymbol, formatMoney, hundredthsToDecimal, parseHundredths, shortMoney } from './format.ts';

describe('parseHundredths / hundredthsToDecimal', () => {
  it('reads exact decimals into hundredths and back, beyond the range of a double', () => {
    expect(parseHundredths('0')).toBe(0n);
    expect(parseHundredths('1.5')).toBe(150n);
    expect(parseHundredths('1234.05')).toBe(123405n);
    expect(parseHundredths('-7.01')).toBe(-701n);
    const huge = '123456789012345678.99'; // 2^53 is about 9.0e15: a float would lose the cents
    expect(hundredthsToDecimal(parseHundredths(huge))).toBe(huge);
    expect(hundredthsToDecimal(5n)).toBe('0.05');
    expect(hundredthsToDecimal(-123405n)).toBe('-1234.05');
  });

  it('refuses what is not a decimal with at most two fraction digits, quoting it', () => {
    for (const bad of ['', '1.234', '1e3', ' 1', '1,000.00', 'abc', '.5', '1.']) expect(() => parseHundredths(bad)).toThrow(/amount: not a decimal/);
    expect(() => parseHundredths('1.234')).toThrow('"1.234"');
  });
});

describe('formatMoney', () => {
  it('groups thousands in the western style, always with two fraction digits', () => {
    expect(formatMoney(0n, 'USD', 'western')).toBe('$0.00');
    expect(formatMoney(99n, 'USD', 'western')).toBe('$0.99');
    expect(formatMoney(100000n, 'USD', 'western')).toBe('$1,000.00');
    expect(formatMoney(123456789012n, 'CNY', 'western')).toBe('¥1,234,567,890.12');
    expect(formatMoney(-123456n, 'EUR', 'western')).toBe('-€1,234.56');
  });

  it('groups by 万 and 亿 in the Chinese style, padding each group of four so the width never shrinks', () => {
    expect(formatMoney(999900n, 'CNY', 'chinese')).toBe('¥9999.00');
    expect(formatMoney(1000000n, 'CNY', 'chinese')).toBe('¥1万0000.00');
    expect(formatMoney(1234567n, 'CNY', 'chinese')).toBe('¥1万2345.67');
    expect(formatMoney(10000000000n, 'CNY', 'chinese')).toBe('¥1亿0000万0000.00');
    expect(formatMoney(123456789012n, 'CNY', 'chinese')).toBe('¥12亿3456万7890.12');
    // 2017's night: ¥168.2 billion.
    expect(formatMoney(16820000000000n, 'CNY', 'chinese')).toBe('¥1682亿0000万0000.00');
  });

  it('keeps the shape (digits as slots) growing only as the value grows', () => {
    const shapes: string[] = [];
    for (let h = 1n; h < 10n ** 16n; h *= 7n) {
      for (const numerals of ['western', 'chinese'] as const) {
        const shape = formatMoney(h, 'CNY', numerals).replace(/\d/g, '0');
        if (numerals === 'chinese') shapes.push(shape);
      }
    }
    for (let i = 1; i < shapes.length; i++) expect(shapes[i]!.length).toBeGreaterThanOrEqual(shapes[i - 1]!.length);
  });

  it('knows the show currencies and falls back to the ISO code', () => {
    expect(currencySymbol('HKD')).toBe('HK$');
    expect(currencySymbol('KRW')).toBe('₩');
    expect(formatMoney(100n, 'XYZ', 'western')).toBe('XYZ 1.00');
  });
});

describe('shortMoney', () => {
  it('reads 亿 / 万 in the Chinese style and bn / m in the western one', () => {
    expect(shortMoney(1682000000000n, 'chinese')).toBe('168.20亿');
    expect(shortMoney(345678900n, 'chinese')).toBe('345.7万');
    expect(shortMoney(999900n, 'chinese')).toBe('9999');
    expect(shortMoney(2500000000000n, 'western')).toBe('25.00 bn');
    expect(shortMoney(4560000000n, 'western')).toBe('45.6 m');
    expect(shortMoney(12345600n, 'western')).toBe('123,456');
  });
});
