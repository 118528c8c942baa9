/** One simulated tab: its virtual platform (the browser's clock, timers that stop while frozen, page events) and the real session on it. */
import { createSession } from '../../src/index.js'
import type { Platform, Timer } from '../../src/platform/types.js'
import type { Session, SessionOptions } from '../../src/types.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'

export const EPOCH = 1_900_000_000_000

/**
 * A page of the origin. Its wall clock is the browser's (the scheduler's plus the origin's
 * offset, which clock jumps move); its monotonic clock never jumps. While frozen, its timers and the messages sent to
 * it wait, as a browser's do, and run on resume.
 */
export class Tab {
  readonly id: string
  readonly session: Session
  frozen = false
  /** When the page last resumed from a freeze (virtual ms): a frozen holder keeps its locks, as a browser's does. */
  resumedAt = 0
  disposed = false
  /** The app disposed this page's session while the page lives on (an SPA unmounting it, world.ts `unmount`): no more user actions in it, its hook's form still settles. */
  unmounted = false
  #ids = 0
  readonly #waiting: Array<() => void> = []
  readonly #listeners = new Map<string, Set<() => void>>()
  readonly #scheduler: Scheduler

  constructor(id: string, scheduler: Scheduler, origin: Origin, options: SessionOptions & { locks: boolean }) {
    this.id = id
    this.#scheduler = scheduler
    const { locks, ...sessionOptions } = options
    // Pieces a world adds (the rotation worker's, shared-worker.ts) go over the tab's own.
    this.session = createSession({ ...sessionOptions, platform: { ...this.#platform(origin, locks, options.storage ?? origin.storage), ...sessionOptions.platform } })
  }

  #platform(origin: Origin, locks: boolean, storage: Platform['storage']): Partial<Platform> {
    const scheduler = this.#scheduler
    return {
      // Tabs of one browser share its system clock: one offset for the origin.
      now: () => origin.now(),
      monotonic: () => scheduler.now,
      after: (ms, fn): Timer => scheduler.after(ms, `timer ${this.id}`, () => this.run(fn)),
      random: () => scheduler.random.next(),
      randomId: () => `${this.id}.${++this.#ids}`,
      on: (type, listener) => {
        const set = this.#listeners.get(type) ?? new Set()
        this.#listeners.set(type, set)
        set.add(listener)
        return () => void set.delete(listener)
      },
      channel: origin.channel(this.id, fn => this.run(fn)),
      locks: locks ? origin.locks(this.id, fn => this.run(fn)) : undefined,
      // Without Web Locks tabs elect a leader: the package's election runs on real timers and channels, the model's on the scheduler.
      election: origin.elections.of(this.id, fn => this.run(fn)),
      realms: new Map(),
      storage,
      location: () => ({ href: 'https://app.sim/', base: 'https://app.sim/', origin: 'https://app.sim' }),
      browsing: true,
    }
  }

  /** Runs `fn` now, or on resume when the tab is frozen; never after the tab closed. */
  run(fn: () => void): void {
    if (this.disposed) return
    if (this.frozen) this.#waiting.push(fn)
    else fn()
  }

  /** Fires a page event at the session's listeners. */
  fire(type: string): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener()
  }

  freeze(): void {
    this.fire('freeze')
    this.frozen = true
  }

  resume(): void {
    // A page that is gone stays gone: a resume scheduled before it crashed wakes nothing.
    if (this.disposed) return
    this.frozen = false
    this.resumedAt = this.#scheduler.now
    this.fire('resume')
    for (const fn of this.#waiting.splice(0)) fn()
    this.fire('visibilitychange')
  }

  /** Closed without a goodbye: nothing of the session runs again, and the origin forgets the tab. */
  crash(origin: Origin): void {
    this.disposed = true
    this.frozen = false
    this.#waiting.length = 0
    origin.closeTab(this.id)
  }

  dispose(): void {
    if (this.disposed) return
    this.session.dispose()
    this.disposed = true
    this.#waiting.length = 0
  }
}
