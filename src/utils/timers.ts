/** One timer provider for every part of a session: injectable, unref'd in Node unless asked to keep the process alive. */
import type { Timers } from '../types.js'

/** setTimeout's delay is a signed 32-bit int; a longer delay fires at once. */
export const MAX_TIMEOUT = 2 ** 31 - 1

/** An armed timer; `cancel()` is idempotent. */
export type Timer = { cancel(): void }

/** The platform's timers, looked up at call time so fake timers installed later still apply. */
export const platformTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: handle => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

export type Clock = {
  /**
   * Calls `fn` after `ms`. In Node the timer is unref'd unless `keepAlive`: an idle session
   * never keeps a job's process alive, a request waiting on it does.
   */
  after(ms: number, fn: () => void, keepAlive?: boolean): Timer
}

export function createClock(timers: Timers): Clock {
  return {
    after(ms, fn, keepAlive = false) {
      const handle = timers.setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMEOUT))
      if (!keepAlive) (handle as { unref?: () => void } | undefined)?.unref?.()
      return { cancel: () => timers.clearTimeout(handle) }
    },
  }
}
