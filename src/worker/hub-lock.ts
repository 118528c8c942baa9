/** The rotation worker's lock: one exclusive lock for the worker's session and the tabs, each tab's hold bounded by a lease it renews and by a longest hold. */
import { Mutex } from '../coordinator/realm.js'
import type { Platform, Timer } from '../platform/types.js'

/** Lock requests one port may have waiting; a tab's own code never has more than two. */
const MAX_QUEUED_LOCKS = 4

export type LockLimits = {
  /** A tab's lock lapses when it has not said `held` for this long (a tab that crashed holding it). */
  leaseMs: number
  /** The longest one lock is held, `held` or not: past it, the next in line gets it. */
  maxHoldMs: number
}

/**
 * The lock every member of the worker's session takes. Pages that fell back to their own
 * coordination take the same Web Lock: the worker and they never refresh at the same time
 * (with cookies, the browser's jar is then the truth). Without Web Locks, a mutex in the worker.
 */
export class HubLock {
  readonly #name: string
  readonly #locks: Platform['locks']
  readonly #mutex = new Mutex()

  constructor(name: string, locks: Platform['locks']) {
    this.#name = name
    this.#locks = locks
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    // Not `fn` itself: Web Locks call it with their Lock, which is no Lease.
    return this.#locks ? (this.#locks.request(`${this.#name}:rotate`, () => fn()) as Promise<T>) : this.#mutex.run(fn)
  }
}

type Hold = { release: () => void; lease: Timer | undefined }

/**
 * One tab's holds of the worker's lock, one after another: one port never holds or waits for
 * more than one lock at a time, nor queues more than a few, so whatever a page of the origin
 * says, a rotation waits at most one lease (or one longest hold) for it.
 */
export class TabLocks {
  readonly #lock: HubLock
  readonly #limits: LockLimits
  readonly #after: Platform['after']
  /** The tab still connected when its turn comes (a tab that left gets none). */
  readonly #connected: () => boolean
  /** Tells the tab it holds lock `id`. */
  readonly #granted: (id: number) => void
  readonly #holds = new Map<number, Hold>()
  #chain: Promise<void> = Promise.resolve()
  #queued = 0

  constructor(o: { lock: HubLock; limits: LockLimits; after: Platform['after']; connected: () => boolean; granted: (id: number) => void }) {
    this.#lock = o.lock
    this.#limits = o.limits
    this.#after = o.after
    this.#connected = o.connected
    this.#granted = o.granted
  }

  /** Lock `id` for this tab, after its previous one: bounded by the lease (renewed by `held`) and by `maxHoldMs` in all. */
  request(id: number): void {
    if (this.#holds.has(id) || this.#queued >= MAX_QUEUED_LOCKS) return
    this.#queued++
    const hold = () =>
      this.#lock
        .run(() => this.#hold(id))
        .finally(() => {
          this.#holds.get(id)?.lease?.cancel()
          this.#holds.delete(id)
          this.#queued--
        })
    this.#chain = this.#chain.then(hold, hold)
  }

  #hold(id: number): Promise<void> {
    return new Promise<void>(resolve => {
      if (!this.#connected()) return resolve()
      const hold: Hold = {
        release: () => {
          limit.cancel()
          hold.lease?.cancel()
          resolve()
        },
        lease: undefined,
      }
      const limit = this.#after(this.#limits.maxHoldMs, hold.release)
      hold.lease = this.#after(this.#limits.leaseMs, hold.release)
      this.#holds.set(id, hold)
      this.#granted(id)
    })
  }

  /** The tab still holds lock `id`: its lease starts again. */
  renew(id: number): void {
    const hold = this.#holds.get(id)
    if (!hold) return
    hold.lease?.cancel()
    hold.lease = this.#after(this.#limits.leaseMs, hold.release)
  }

  release(id: number): void {
    this.#holds.get(id)?.release()
  }

  /** The tab left: every lock it holds is let go at once. */
  releaseAll(): void {
    for (const { release } of this.#holds.values()) release()
    this.#holds.clear()
  }
}
