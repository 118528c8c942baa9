/** Exponential backoff with jitter: one formula for every retry loop (refresh, reconnects, Redis polls). */

export type BackoffShape = {
  /** The first delay's ceiling, ms. */
  initial: number
  /** No delay's ceiling grows past this, ms. */
  max: number
}

/**
 * Delay before retry number `n` (from 1): a ceiling of `initial` doubling up to `max`, the
 * delay drawn from its upper half, so that it never shrinks much from one retry to the next
 * and many clients cut off at once do not come back in step. `full: true` draws from the
 * whole range instead (AWS's "full jitter": least load, less predictable).
 */
export function backoff(n: number, shape: BackoffShape, random: () => number, full = false): number {
  const ceiling = Math.min(shape.max, shape.initial * 2 ** Math.min(Math.max(0, n - 1), 30))
  return full ? random() * ceiling : ceiling / 2 + random() * (ceiling / 2)
}
