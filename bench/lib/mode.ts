/** `npm run bench -- --quick`: fewer paired runs and smaller sweeps, for a check in under a minute. */
export const QUICK = process.argv.includes('--quick')

/** The median (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** "median (min–max)" with two decimals, for ratios. */
export function spread(values: readonly number[], digits = 2): string {
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`
}
