/** Repeating a call on the platform's timers (kept apart from timers.ts so the code that repeats does not pull in the platform's defaults). */
import type { Platform, Timer } from '../platform/types.js'

/** Calls `fn` every `ms` on `after` (each call armed after the previous one ran) until the returned timer is cancelled. */
export function every(after: Platform['after'], ms: number, fn: () => void): Timer {
  let timer = after(ms, tick)
  let cancelled = false
  function tick(): void {
    fn()
    if (!cancelled) timer = after(ms, tick)
  }
  return {
    cancel() {
      cancelled = true
      timer.cancel()
    },
  }
}
