import { clearTimer, MAX_TIMEOUT, setTimer, type TimerHandle } from '../utils/timers.js'

type WakeTarget = {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

/**
 * Wakes the session when a deadline is due (timer mode: the rotation point). Timers in a
 * sleeping laptop or a throttled background tab fire late or not at all, so the page's
 * wake-up events (`visibilitychange`, `pageshow`, `online`, `focus`) also check whether the
 * deadline passed and run the overdue work at once.
 */
export class Scheduler {
  readonly #now: () => number
  readonly #onDue: () => void
  #at: number | undefined
  #timer: TimerHandle | undefined
  #retry: TimerHandle | undefined
  #failures = 0
  #disposed = false
  readonly #wake = () => {
    if (this.#at !== undefined && this.#now() >= this.#at) this.#fire()
  }
  /** Each registration keeps its own undo, so disposal works even if the target changed. */
  readonly #unlisten: Array<() => void> = []

  constructor(options: { now: () => number; onDue: () => void }) {
    this.#now = options.now
    this.#onDue = options.onDue
    const g = globalThis as unknown as Partial<WakeTarget> & { document?: Partial<WakeTarget> }
    const listen = (target: Partial<WakeTarget> | undefined, type: string) => {
      const { addEventListener: add, removeEventListener: remove } = target ?? {}
      if (typeof add !== 'function' || typeof remove !== 'function') return
      add.call(target, type, this.#wake)
      this.#unlisten.push(() => remove.call(target, type, this.#wake))
    }
    for (const type of ['pageshow', 'online', 'focus']) listen(g, type)
    listen(g.document, 'visibilitychange')
  }

  /** The next deadline (local epoch ms), or undefined for none. Replaces the previous one. */
  schedule(at: number | undefined): void {
    if (this.#disposed) at = undefined
    clearTimer(this.#timer)
    this.#timer = undefined
    this.#at = at
    if (at === undefined) {
      clearTimer(this.#retry)
      this.#retry = undefined
      return
    }
    this.#arm()
  }

  #arm(): void {
    const at = this.#at
    if (at === undefined) return
    const delay = at - this.#now()
    // Long delays are clamped to setTimeout's limit and re-armed when it fires early.
    this.#timer = setTimer(() => {
      this.#timer = undefined
      if (this.#at !== at) return
      if (this.#now() >= at || delay <= 0) this.#fire()
      else this.#arm()
    }, Math.min(delay, MAX_TIMEOUT))
  }

  #fire(): void {
    clearTimer(this.#timer)
    this.#timer = undefined
    this.#at = undefined
    this.#onDue()
  }

  /** After a transient refresh failure: try again with exponential backoff and full jitter. */
  retryAfterFailure(): void {
    if (this.#disposed) return
    this.#failures++
    clearTimer(this.#retry)
    const ceiling = Math.min(30_000, 500 * 2 ** this.#failures)
    this.#retry = setTimer(() => {
      this.#retry = undefined
      this.#onDue()
    }, ceiling / 2 + Math.random() * (ceiling / 2))
  }

  resetFailures(): void {
    this.#failures = 0
    clearTimer(this.#retry)
    this.#retry = undefined
  }

  dispose(): void {
    this.#disposed = true
    this.schedule(undefined)
    for (const undo of this.#unlisten.splice(0)) undo()
  }
}
