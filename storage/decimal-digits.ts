// Decimal digits of non-negative integers written straight into a byte buffer, two digits per division: the hot
// path of the row writer and of the derived fold (no string per number).

/** "00" .. "99" as byte pairs. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i % 2 === 0 ? Math.floor(i / 2 / 10) : ((i - 1) / 2) % 10));

/**
 * Writes 0 <= n < 2^31 at `pos`, left-padded with zeros to `width` digits when width > 0, in 32-bit integer
 * arithmetic; returns the position after it.
 */
export function writeSmallDigits(b: Uint8Array, pos: number, n: number, width: number): number {
  let digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
  if (digits < width) digits = width;
  let p = pos + digits;
  let x = n;
  let left = digits;
  while (left >= 2) {
    const q = (x / 100) | 0;
    const r = (x - q * 100) * 2;
    b[--p] = PAIRS[r + 1]!;
    b[--p] = PAIRS[r]!;
    x = q;
    left -= 2;
  }
  if (left === 1) b[p - 1] = 48 + x;
  return pos + digits;
}

/** Writes a non-negative safe integer at `pos`; returns the position after it. */
export function writeUintDigits(b: Uint8Array, pos: number, n: number): number {
  if (n < 2_147_483_648) return writeSmallDigits(b, pos, n, 0);
  const high = Math.floor(n / 100_000_000);
  return writeSmallDigits(b, writeSmallDigits(b, pos, high, 0), n - high * 100_000_000, 8);
}
