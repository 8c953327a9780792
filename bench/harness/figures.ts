/** Numbers into figures, and figures into text: rounding, percentiles, summaries, and the forms they take in tables and SVG. */

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The p-th percentile (0..100) of ascending `sorted`, nearest-rank (as the relay's mixer reports its ticks); 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Median, min and max of some values, rounded to 0.1. */
export interface Summary {
  n: number;
  median: number | null;
  min: number | null;
  max: number | null;
}

/** Median, min and max (rounded to 0.1 ms); nulls for no values (nulls and non-finite values are left out). */
export function summarize(values: readonly (number | null | undefined)[]): Summary {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: null, min: null, max: null };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { n: v.length, median: round(median), min: round(v[0]!), max: round(v[v.length - 1]!) };
}

/** "123.4" or "–". */
export function fmt(x: number | null | undefined, digits = 0): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** Cores as a percentage of one core: 0.253 → "25.3%". */
export function pct(cores: number): string {
  return `${round(cores * 100)}%`;
}

/** Text made safe as the content of an SVG (XML) element. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
