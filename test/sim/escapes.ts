/** Real-time escapes: calls from src/ (or ky under it) to the runtime's timers or Math.random during a run, counted and put on virtual time. */
import type { Timer } from '../../src/platform/types.js'

type Patched = { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout; random: () => number }
/** Where the run's virtual time is: the scheduler. */
export type VirtualClock = { after(ms: number, label: string, run: () => void): Timer; random: { next(): number } }

/** The first frame of the stack in src/ or in ky (which src/ drives), or undefined for anyone else (vitest, node). */
function escapedFrom(): string | undefined {
  const stack = new Error().stack?.split('\n') ?? []
  const frame = stack.find(line => (line.includes('/src/') && !line.includes('/test/')) || line.includes('/node_modules/ky/'))
  return frame?.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/\)$/, '')
}

/** A timer handle that looks enough like Node's for the callers (unref, ref, hasRef). */
class VirtualHandle {
  readonly timer: Timer
  constructor(timer: Timer) {
    this.timer = timer
  }
  unref(): this {
    return this
  }
  ref(): this {
    return this
  }
  hasRef(): boolean {
    return false
  }
}

/**
 * While installed, each `setTimeout` from src/ or ky is counted by place and scheduled on the
 * run's virtual clock (so a retry delay does not wait in real time, and the run still
 * replays), and `Math.random` draws from the run's PRNG and is counted. Every one is a part not
 * yet on the platform: the simulator reports them.
 */
export class Escapes {
  readonly seen = new Map<string, number>()
  #saved: Patched | undefined

  install(clock: VirtualClock): void {
    const saved: Patched = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, random: Math.random }
    this.#saved = saved
    const count = (what: string): boolean => {
      const where = escapedFrom()
      if (where) this.seen.set(`${what} ${where}`, (this.seen.get(`${what} ${where}`) ?? 0) + 1)
      return where !== undefined
    }
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      if (!count('setTimeout')) return saved.setTimeout(fn, ms, ...args)
      return new VirtualHandle(clock.after(ms ?? 0, 'escaped timer', () => fn(...args)))
    }) as typeof setTimeout
    globalThis.clearTimeout = ((handle: unknown) => {
      if (handle instanceof VirtualHandle) handle.timer.cancel()
      else saved.clearTimeout(handle as Parameters<typeof clearTimeout>[0])
    }) as typeof clearTimeout
    Math.random = () => (count('Math.random'), clock.random.next())
  }

  uninstall(): void {
    if (!this.#saved) return
    globalThis.setTimeout = this.#saved.setTimeout
    globalThis.clearTimeout = this.#saved.clearTimeout
    Math.random = this.#saved.random
    this.#saved = undefined
  }
}
