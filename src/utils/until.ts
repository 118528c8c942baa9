/** Waiting for a condition with a deadline: "resolve when this holds, or after ms", woken by whoever changes the condition. */
import type { Platform } from '../platform/types.js'

/**
 * A set of conditions waiting to be re-checked. Whoever changes what they look at (a message
 * heard, a claim dropped) calls `wake()`; each waiter checks its own condition and leaves when
 * it holds or its time ran out.
 */
export class Waiters {
  readonly #checks = new Set<() => void>()
  readonly #after: Platform['after']

  constructor(after: Platform['after']) {
    this.#after = after
  }

  /** Re-checks every waiting condition. */
  wake(): void {
    for (const check of [...this.#checks]) check()
  }

  /**
   * Resolves true when `condition()` holds (checked now and at every `wake()`), false after
   * `ms`. The timer is unref'd: what waits here never keeps a Node process alive by itself.
   */
  until(condition: () => boolean, ms: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true)
    return new Promise(resolve => {
      const finish = (met: boolean) => {
        timer.cancel()
        this.#checks.delete(check)
        resolve(met)
      }
      const check = () => void (condition() && finish(true))
      const timer = this.#after(ms, () => finish(false))
      this.#checks.add(check)
    })
  }

  /** Waits `ms`, or less when woken. */
  nap(ms: number): Promise<void> {
    notInWorker: {
      let woken = false
      const wake = () => (woken = true)
      // Any wake() ends the nap: added before the condition's own check, so that one wake() sets
      // the flag and then finds it set (checks run in the order added).
      this.#checks.add(wake)
      return this.until(() => woken, ms).then(() => void this.#checks.delete(wake))
    }
  }
}

/** Resolves after `ms` on the platform's timers (unref'd). */
export function sleep(after: Platform['after'], ms: number): Promise<void> {
  return new Promise(resolve => after(ms, resolve))
}
