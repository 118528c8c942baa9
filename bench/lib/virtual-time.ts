/**
 * Simulated time for the tabs soak: one clock variable (passed as `now` to the server and to
 * every client) and a `setTimeout`/`clearTimeout` pair on globalThis that waits on that clock
 * instead of the wall clock, so a simulated hour of timer-driven rotations runs in seconds.
 * Only globalThis's pair is replaced (it is what Rotor and ky look up); Node's internals and
 * `setImmediate`, used here to let I/O and channel messages through, are untouched.
 */

type Pending = { at: number; seq: number; fn: () => void }

/** What `setTimeout` returns in Node, enough for `unref()` callers and `clearTimeout`. */
class VirtualTimeout {
  constructor(readonly id: number) {}
  unref(): this {
    return this
  }
  ref(): this {
    return this
  }
  hasRef(): boolean {
    return false
  }
  [Symbol.toPrimitive](): number {
    return this.id
  }
}

const turn = () => new Promise<void>(resolve => setImmediate(resolve))
const realSetTimeout = globalThis.setTimeout

export class VirtualClock {
  now: number
  readonly #timers = new Map<number, Pending>()
  #seq = 0
  readonly #busy: () => boolean

  /**
   * `busy` tells whether work that runs in real time is still in flight (the reference
   * server signs and verifies JWTs with WebCrypto, on libuv's thread pool): the clock does
   * not move until it is done, or a request would reach the server "later" than it was sent.
   */
  constructor(start: number, busy: () => boolean = () => false) {
    this.now = start
    this.#busy = busy
  }

  /** Replaces globalThis.setTimeout/clearTimeout; returns the undo. */
  install(): () => void {
    const g = globalThis as unknown as Record<'setTimeout' | 'clearTimeout', unknown>
    const real = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout }
    g.setTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const seq = ++this.#seq
      const delay = Number.isFinite(ms) && (ms as number) > 0 ? (ms as number) : 0
      this.#timers.set(seq, { at: this.now + delay, seq, fn: () => fn(...args) })
      return new VirtualTimeout(seq)
    }
    g.clearTimeout = (handle: unknown) => {
      if (handle instanceof VirtualTimeout) this.#timers.delete(handle.id)
      else if (typeof handle === 'number') this.#timers.delete(handle)
      else (real.clearTimeout as (h: unknown) => void)(handle)
    }
    return () => {
      g.setTimeout = real.setTimeout
      g.clearTimeout = real.clearTimeout
    }
  }

  /**
   * Lets everything that does not wait on a timer run to completion: promises, real-time
   * work in flight (see `busy`), BroadcastChannel messages. Done after three quiet turns.
   */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3;) {
      await turn()
      if (this.#busy()) {
        quiet = 0
        await new Promise(resolve => realSetTimeout(resolve, 0))
      } else {
        quiet++
      }
    }
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    // Whatever was started at the current instant runs at this instant.
    await this.settle()
    const end = this.now + ms
    for (;;) {
      let next: Pending | undefined
      for (const timer of this.#timers.values()) {
        if (timer.at <= end && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) next = timer
      }
      if (!next) break
      this.#timers.delete(next.seq)
      this.now = Math.max(this.now, next.at)
      next.fn()
      await this.settle()
    }
    this.now = end
    await this.settle()
  }
}
