/** When to wake: the timer policy (rotation point, backup timer, expiry), wake-up events and the retry backoff. */
import type { Clock, Timer } from '../utils/timers.js'
import { MAX_TIMEOUT } from '../utils/timers.js'
import type { ClockWatch } from './clock-watch.js'
import type { SessionMachine } from './state.js'

type WakeTarget = {
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

export type SchedulerOptions = {
  machine: SessionMachine
  clock: Clock
  now: () => number
  /** The wall clock was set: deadlines are in doubt, ask the server. */
  watch: ClockWatch
  rotation: 'timer' | 'request'
  rotateAt: number
  isLeader: () => boolean
  /** Idle long enough that keep-alive rotations should stop. */
  isIdle: () => boolean
  rotate: (generation: number) => Promise<void>
  end: (reason: 'expired') => Promise<void>
  /** The backoff after a failure ran out: waiting requests may try again. */
  onRetry: () => void
}

/**
 * Timers in a sleeping laptop or a throttled background tab fire late or not at all, so the
 * page's wake-up events (`visibilitychange`, `pageshow`, `online`, `focus`) also check whether
 * the deadline passed and run the overdue work at once.
 */
export class Scheduler {
  readonly #o: SchedulerOptions
  #at: number | undefined
  #timer: Timer | undefined
  #retry: Timer | undefined
  #failures = 0
  #disposed = false
  readonly #wake = () => {
    if (this.#o.watch.jumped() !== 0) this.#askServer()
    else if (this.#at !== undefined && this.#o.now() >= this.#at) this.#fire()
  }
  /** Each registration keeps its own undo, so disposal works even if the target changed. */
  readonly #unlisten: Array<() => void> = []

  constructor(options: SchedulerOptions) {
    this.#o = options
    const g = globalThis as unknown as Partial<WakeTarget> & { document?: Partial<WakeTarget> }
    const listen = (target: Partial<WakeTarget> | undefined, type: string) => {
      const { addEventListener: add, removeEventListener: remove } = target ?? {}
      if (typeof add !== 'function' || typeof remove !== 'function') return
      add.call(target, type, this.#wake)
      this.#unlisten.push(() => remove.call(target, type, this.#wake))
    }
    for (const type of ['pageshow', 'online', 'focus']) listen(g, type)
    listen(g.document, 'visibilitychange')
    options.machine.watch(transition => {
      if (transition === 'entered' || transition === 'ended') this.#schedule(this.#nextDue())
    })
  }

  /** When the timer should next look at the session. */
  #nextDue(): number | undefined {
    const s = this.#o.machine.snapshot
    if (s.status !== 'active' || s.accessExpiresAt === null || s.issuedAt === null) return undefined
    const { rotateAt } = this.#o
    const lifetime = s.accessExpiresAt - s.issuedAt
    let due: number
    if (this.#o.rotation === 'timer') {
      // The leader rotates at rotateAt; the others hold a backup timer halfway to expiry,
      // which only fires if the leader is gone or throttled (its rotation would have moved
      // the generation on and rescheduled them).
      const at = this.#o.isLeader() ? rotateAt : rotateAt + (1 - rotateAt) / 2
      due = s.issuedAt + lifetime * at
      // An RT that dies before the AT's rotation point must be used while it still works.
      if (s.refreshExpiresAt !== null) due = Math.min(due, s.issuedAt + (s.refreshExpiresAt - s.issuedAt) * at)
    } else {
      // Request mode rotates only on demand; the timer just notices that both tokens died.
      due = Math.max(s.accessExpiresAt, s.refreshExpiresAt ?? Number.POSITIVE_INFINITY)
    }
    if (s.refreshExpiresAt !== null) due = Math.min(due, Math.max(s.refreshExpiresAt, s.accessExpiresAt))
    return Number.isFinite(due) ? due : undefined
  }

  /** What is due: end a session whose tokens both died, or (timer mode, not idle) rotate. */
  #onDue(): void {
    const { machine } = this.#o
    if (machine.disposed || machine.snapshot.status !== 'active') return
    if (machine.refreshExpired() && !machine.usable()) {
      void this.#o.end('expired').catch(() => undefined)
      return
    }
    if (this.#o.rotation === 'timer' && !this.#o.isIdle()) {
      void this.#o.rotate(machine.snapshot.generation).catch(() => undefined)
    }
  }

  #schedule(at: number | undefined): void {
    if (this.#disposed) at = undefined
    this.#timer?.cancel()
    this.#timer = undefined
    this.#at = at
    if (at === undefined) {
      this.#retry?.cancel()
      this.#retry = undefined
      return
    }
    this.#arm()
  }

  #arm(): void {
    const at = this.#at
    if (at === undefined) return
    const delay = at - this.#o.now()
    // Long delays are clamped to setTimeout's limit and re-armed when it fires early.
    this.#timer = this.#o.clock.after(Math.min(delay, MAX_TIMEOUT), () => {
      this.#timer = undefined
      if (this.#at !== at) return
      // Set back, the clock would keep this rotation an hour away; set forward, both tokens
      // would look dead: either way the deadline is in doubt.
      if (this.#o.watch.jumped() !== 0) this.#askServer()
      else if (this.#o.now() >= at || delay <= 0) this.#fire()
      else this.#arm()
    })
  }

  /** The clock jumped: rotate now; the answer re-derives every deadline. */
  #askServer(): void {
    const { machine } = this.#o
    if (machine.disposed || machine.snapshot.status !== 'active') return
    void this.#o.rotate(machine.snapshot.generation).catch(() => undefined)
  }

  #fire(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#at = undefined
    this.#onDue()
  }

  /** A transient refresh failure: try again with exponential backoff and full jitter. Returns the delay. */
  failed(): number {
    if (this.#disposed) return 0
    this.#failures++
    const ceiling = Math.min(30_000, 500 * 2 ** this.#failures)
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    this.#retryIn(delay)
    return delay
  }

  /** The refresh budget is spent: the next attempt goes in `ms` (no backoff growth: nothing failed). */
  defer(ms: number): void {
    if (!this.#disposed) this.#retryIn(ms)
  }

  #retryIn(ms: number): void {
    this.#retry?.cancel()
    this.#retry = this.#o.clock.after(ms, () => {
      this.#retry = undefined
      this.#onDue()
      this.#o.onRetry()
    })
  }

  succeeded(): void {
    this.#failures = 0
    this.#retry?.cancel()
    this.#retry = undefined
  }

  /** A failure is being backed off: no new attempt until the retry timer fires. */
  backingOff(): boolean {
    return this.#retry !== undefined
  }

  dispose(): void {
    this.#disposed = true
    this.#schedule(undefined)
    for (const undo of this.#unlisten.splice(0)) undo()
  }
}
