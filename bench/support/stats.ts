/**
 * Small statistics and formatting helpers shared by the scenarios.
 */

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] ?? 0;
    sy += ys[i] ?? 0;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    num += dx * ((ys[i] ?? 0) - my);
    den += dx * dx;
  }
  return den === 0 ? NaN : num / den;
}

/** 12,345 style, rounded. */
export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : 'n/a';
}

/** A Markdown table. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: string,
): string {
  const rule = align ?? headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ');
  return [`| ${headers.join(' | ')} |`, `| ${rule} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** "met" or how far off, for a goal where bigger is better (`atLeast`) or smaller is better. */
export function verdict(value: number, goal: number, direction: 'atLeast' | 'atMost', unit = ''): string {
  if (!Number.isFinite(value)) return 'not measured';
  const met = direction === 'atLeast' ? value >= goal : value <= goal;
  if (met) return 'met';
  const off = direction === 'atLeast' ? goal - value : value - goal;
  return `not met (${off.toFixed(unit === '' ? 2 : 0)}${unit} ${direction === 'atLeast' ? 'short' : 'over'})`;
}
