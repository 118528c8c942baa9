/** Virtual time for unit tests: a wall clock and platform timers that move only when the test says so. */
import type { Timer } from '../../src/platform/types.js'

/**
 * `now` and `after` as the platform gives them (pass `{ now, after }` or `time.clock` to a
 * part); `advance(ms)` runs every timer that falls due, in order, with the clock at its time.
 */
export function virtualTime(start = 0) {
  let t = start
  const timers = new Set<{ at: number; fn: () => void }>()
  const after = (ms: number, fn: () => void): Timer => {
    const timer = { at: t + Math.max(0, ms), fn }
    timers.add(timer)
    return { cancel: () => void timers.delete(timer) }
  }
  return {
    now: () => t,
    after,
    clock: { after },
    /** Timers armed and not yet run or cancelled. */
    pending: () => timers.size,
    advance(ms: number) {
      const end = t + ms
      for (;;) {
        const next = [...timers].sort((a, b) => a.at - b.at)[0]
        if (next === undefined || next.at > end) break
        timers.delete(next)
        t = next.at
        next.fn()
      }
      t = end
    },
  }
}

/** A platform event source the test fires by hand, counting who listens. */
export function eventSource() {
  const listeners = new Map<string, Set<() => void>>()
  return {
    on(type: string, listener: () => void) {
      const set = listeners.get(type) ?? new Set()
      listeners.set(type, set)
      set.add(listener)
      return () => void set.delete(listener)
    },
    fire: (type: string) => [...(listeners.get(type) ?? [])].forEach(listener => listener()),
    count: () => [...listeners.values()].reduce((n, set) => n + set.size, 0),
  }
}
