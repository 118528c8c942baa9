/** Abort signals on the platform's timers: a timeout as AbortSignal.timeout gives, testable on virtual time. */
import type { Platform } from '../platform/types.js'

/**
 * An AbortSignal that aborts after `ms` with a `TimeoutError` DOMException, as
 * `AbortSignal.timeout(ms)` does, but on the platform's (injectable) timers. `cancel()` drops
 * the timer once the work is done.
 */
export function timeoutSignal(after: Platform['after'], ms: number): { signal: AbortSignal; cancel(): void } {
  const controller = new AbortController()
  const timer = after(ms, () => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')))
  return { signal: controller.signal, cancel: () => timer.cancel() }
}
