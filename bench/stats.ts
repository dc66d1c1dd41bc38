// Percentiles of measured samples, shared by the benches.

/** The p-th percentile (nearest rank, on a sorted copy); NaN for no samples. p = 100 is the maximum. */
export function pct(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export const median = (xs: readonly number[]): number => pct(xs, 50);
