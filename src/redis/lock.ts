/** The Redis rotation lock: taken with SET NX PX and a fencing token, renewed while held, released by compare-and-delete, its holder handed a lease that says when the lock may have passed on. */
import type { Lease } from '../coordinator/types.js'
import type { Platform, Timer } from '../platform/types.js'
import { backoff, type BackoffShape } from '../utils/backoff.js'
import { Waiters } from '../utils/until.js'
import { RedisClosedError } from './errors.js'
import { ACQUIRE, EPOCH, HOLD, RELEASE, RELEASED, type RedisKeys } from './scripts.js'

/** Longest pause between two attempts at a taken lock; a release notice wakes waiters sooner. */
const MAX_POLL_MS = 250
/** The pause after a failed command (Redis unreachable): from 200 ms, doubling per failure up to 5 s. */
export const COMMAND_BACKOFF: BackoffShape = { initial: 200, max: 5_000 }
/**
 * The share of the lease a holder counts on, from the moment it sent the command that granted
 * or renewed it (monotonic time): Redis started the lease later than that, so the lock is
 * still ours while this share runs, whatever this process's pauses (GC, SIGSTOP) were.
 */
export const LEASE_TRUSTED = 0.8

/** Runs one of scripts.ts's scripts (node-redis's `eval` with the keys and arguments it takes). */
export type RunScript = (script: string, keys: string[], args: Array<string | number>) => Promise<unknown>

export type RedisLockOptions = {
  run: RunScript
  keys: RedisKeys
  /** The lease in ms (the `lease` option). */
  lease: number
  /** This member's id: the owner part of the lock's value. */
  id: string
  platform: Pick<Platform, 'after' | 'monotonic' | 'now' | 'random' | 'randomId'>
  /** Aborted by the coordinator's close(): waiters reject, a held lock is released. */
  signal: AbortSignal
}

/** One grant of the lock to this member: its value and fencing token, and how long it can vouch for it. */
export class Hold {
  readonly value: string
  readonly fence: number
  /** What the lock's function is handed: the rotator asks it right before it presents the RT. */
  readonly lease: Lease = { held: () => this.held() }
  readonly #clock: () => number
  /** Monotonic ms until which the lock is surely ours (see LEASE_TRUSTED). */
  #trustedUntil: number
  /** The last renewal found another owner's value in the lock. */
  #lost = false
  #released = false

  constructor(value: string, fence: number, trustedUntil: number, clock: () => number) {
    this.value = value
    this.fence = fence
    this.#trustedUntil = trustedUntil
    this.#clock = clock
  }

  /** Whether this member may still act on the lock: a refresh goes out only while this is true. */
  held(): boolean {
    return !this.#lost && !this.#released && this.#clock() < this.#trustedUntil
  }

  get released(): boolean {
    return this.#released
  }

  /** A renewal answered: the lock is ours (`until`: the monotonic ms it vouches for, counted from its sending), or another owner's. */
  renewed(ours: boolean, until: number): void {
    this.#lost = !ours
    if (ours) this.#trustedUntil = Math.max(this.#trustedUntil, until)
  }

  /** The lock is let go of: the lease says so from now on. */
  release(): void {
    this.#released = true
  }
}

/**
 * The lock of one name for one member. Its own calls queue (one attempt at a time per
 * member); waiters poll, woken early by the release notice the bus hears (`wake`). It also
 * keeps the data set's epoch: a member that finds it gone has watched Redis lose its data,
 * lock included, and starts the quiet period during which nobody takes the lock (scripts.ts).
 */
export class RedisLock {
  readonly #o: RedisLockOptions
  /** Monotonic where the runtime has it: a lease must not stretch when the wall clock is set back. */
  readonly #clock: () => number
  readonly #waiters: Waiters
  #epoch = ''
  #hold: Hold | undefined
  #renewal: Timer | undefined
  #renewing = false
  #queue: Promise<unknown> = Promise.resolve()
  #grants = 0

  constructor(options: RedisLockOptions) {
    this.#o = options
    const { monotonic, now } = options.platform
    this.#clock = monotonic ?? now
    this.#waiters = new Waiters(options.platform.after)
    options.signal.addEventListener('abort', () => this.#close(), { once: true })
  }

  /** The grant this member holds now, if any. */
  get hold(): Hold | undefined {
    return this.#hold
  }

  /** Runs `fn` holding the lock, handing it the lease; this member's calls run one after the other. */
  run<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    if (this.#o.signal.aborted) return Promise.reject(new RedisClosedError('rotor-auth/redis: lock() after close()'))
    const run = this.#queue.then(() => this.#locked(fn))
    this.#queue = run.catch(() => undefined)
    return run
  }

  /** The lock was released (its notice arrived on the bus): waiters try again now. */
  wake(): void {
    this.#waiters.wake()
  }

  /**
   * Marks the data set and learns its epoch. Called at creation, and after a reconnect: a member
   * that knew an epoch and finds none starts the quiet period.
   */
  async markDataSet(): Promise<void> {
    const { run, keys, lease, platform } = this.#o
    const known = this.#epoch
    const epoch = await run(EPOCH, [keys.epoch, keys.quiet], [known, platform.randomId(), lease])
    // An epoch learned meanwhile (by an acquisition) is newer than this answer.
    if (typeof epoch === 'string' && this.#epoch === known) this.#epoch = epoch
  }

  /**
   * Renews `hold`'s lease and reads the state in one step (the holder reads right before it
   * refreshes); learns whether the lock is still ours. Returns the stored state, raw.
   */
  async renewReading(hold: Hold): Promise<unknown> {
    const { run, keys, lease } = this.#o
    const sent = this.#clock()
    const reply = (await run(HOLD, [keys.lock, keys.fence, keys.state, keys.epoch], [hold.value, lease, hold.fence, this.#epoch])) as [unknown, unknown]
    hold.renewed(reply[1] === 1, sent + lease * LEASE_TRUSTED)
    return reply[0]
  }

  /** Renews the held lease now, if any (after a reconnect: take a vanished lock back at once). */
  async renew(): Promise<void> {
    const hold = this.#hold
    if (!hold || this.#renewing) return
    this.#renewing = true
    try {
      await this.renewReading(hold)
    } catch {
      // Redis unreachable: node-redis queues the next attempt until it reconnects.
    } finally {
      this.#renewing = false
    }
  }

  async #locked<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const hold = await this.#acquire()
    if (this.#o.signal.aborted) {
      this.#release(hold)
      throw new RedisClosedError('rotor-auth/redis: coordinator closed while waiting for the lock')
    }
    this.#hold = hold
    this.#renewEvery(hold, this.#o.lease / 3)
    try {
      return await fn(hold.lease)
    } finally {
      this.#renewal?.cancel()
      this.#renewal = undefined
      if (this.#hold === hold) this.#hold = undefined
      this.#release(hold)
    }
  }

  async #acquire(): Promise<Hold> {
    const { run, keys, lease, platform, signal } = this.#o
    const owner = `${this.#o.id}:${++this.#grants}`
    for (let failures = 0; ;) {
      if (signal.aborted) throw new RedisClosedError('rotor-auth/redis: coordinator closed while waiting for the lock')
      const sent = this.#clock()
      let reply: [number, number, unknown] | undefined
      try {
        reply = (await run(ACQUIRE, [keys.lock, keys.fence, keys.epoch, keys.quiet], [owner, lease, this.#epoch, platform.randomId()])) as [number, number, unknown]
      } catch {
        reply = undefined
      }
      if (!reply) {
        await this.#waiters.nap(backoff(++failures, COMMAND_BACKOFF, platform.random))
        continue
      }
      const [fence, wait, epoch] = reply
      if (typeof epoch === 'string') this.#epoch = epoch
      if (fence > 0) return new Hold(`${owner}:${fence}`, fence, sent + lease * LEASE_TRUSTED, this.#clock)
      failures = 0
      // Until the lease (or the quiet period) runs out, at most MAX_POLL_MS; drawn from the
      // upper half of that, so the waiters of several processes do not all retry in step.
      const pause = Math.min(Math.max(wait, 5), MAX_POLL_MS)
      await this.#waiters.nap(backoff(1, { initial: pause, max: pause }, platform.random))
    }
  }

  /** Re-armed each time, not an interval: a renewal every `ms` while `hold` is this member's. */
  #renewEvery(hold: Hold, ms: number): void {
    this.#renewal = this.#o.platform.after(ms, () => {
      if (this.#hold !== hold) return
      this.#renewEvery(hold, ms)
      void this.renew()
    })
  }

  /**
   * Not awaited: the caller's result does not wait for Redis. Commands on one connection run in
   * order, so this member's next attempt comes after the release anyway.
   */
  #release(hold: Hold): void {
    if (hold.released) return
    hold.release()
    const { run, keys } = this.#o
    void run(RELEASE, [keys.lock, keys.channel], [hold.value, RELEASED]).catch(() => undefined)
  }

  #close(): void {
    this.#renewal?.cancel()
    this.#renewal = undefined
    const hold = this.#hold
    this.#hold = undefined
    if (hold) this.#release(hold)
    this.#waiters.wake()
  }
}
