/** The request gate: may a managed request go now? If not, it is parked, with a deadline, and released when it may or the session ends. */
import { RotationError, SessionExpiredError } from '../errors.js'
import type { Clock, Timer } from '../utils/timers.js'
import type { Failure } from './policy.js'
import type { SessionView } from './state.js'

export type WaitOptions = {
  /** The request carried the AT of this generation and was refused: it needs a newer one. */
  stale?: number
  /** Aborting it rejects the wait at once with the signal's reason. */
  signal?: AbortSignal | null | undefined
}

/**
 * Sends a released request (`request`: what the caller handed to wait()) and settles its
 * caller's promise with the outcome. One function for all requests, the request a plain
 * record: a closure per request, with the context it captures, was ~115 bytes of every waiter.
 */
export type Go<T, R> = (request: R, resolve: (value: T | PromiseLike<T>) => void, reject: (reason: unknown) => void) => void

/**
 * One waiting request. It is held by the thousand when a rotation is in flight, so it holds
 * only what the release needs: ~0.4 KB with its promise and request (`npm run bench` checks ≤ 0.5 KB).
 */
type Waiter = {
  resolve: (value: unknown) => void
  reject: (reason: unknown) => void
  /** What runs once the request may go; it settles the caller's promise itself. */
  go: Go<unknown, unknown> | undefined
  /** The request `go` sends. */
  request: unknown
  stale: number | undefined
  /** The generation it last saw a rotation start from. */
  from: number
  /** Rotations that delivered an AT already expired on arrival. */
  rounds: number
  since: number
  deadline: number
  /** Only a request with a signal has one (most have none: one field, not two, for them). */
  abort: { signal: AbortSignal; listener: () => void } | undefined
}

export type GateOptions = {
  view: SessionView
  clock: Clock
  now: () => number
  queueTimeout: number
  /**
   * Some waiter needs an AT newer than the one held and nothing is in flight: the policy
   * rotates, ends, or waits (backing off); whatever it does, its settlement is a transition.
   */
  needRotation: () => void
  /** The last failed (or stalled) refresh, on the session's clock: a deadline it passed is a RotationError. */
  lastFailure: () => Failure | undefined
}

/**
 * Waiting requests are parked in one set and released in one pass whenever the session
 * changes (a rotation settles, a login or logout, another tab's state): no loop, promise or
 * timer per request. One timer watches the earliest deadline; while anyone waits it keeps a
 * Node process alive, so a job never exits with work still queued.
 */
export class Gate {
  readonly #options: GateOptions
  readonly #waiters = new Set<Waiter>()
  #timer: Timer | undefined
  #timerAt = Number.POSITIVE_INFINITY
  /** The rotation in flight and the generation held when it started (see #stillBehind). */
  #rotation: { flight: Promise<void>; from: number } | undefined
  /** Released waiters whose `go` runs in the next microtask, in release order. */
  #going: Waiter[] = []
  /**
   * Every time the gate keeps (deadlines, `since`, the last failure) is counted from here:
   * a Date.now()-sized number is no small integer, and each such field of a waiter would be
   * a boxed number of its own (32 bytes per waiting request).
   */
  readonly #epoch: number

  constructor(options: GateOptions) {
    this.#options = options
    this.#epoch = options.now()
    options.view.watch(transition => {
      // Note where a rotation starts before anything it brings arrives (see #stillBehind).
      if (transition === 'flight') this.#stillBehind()
      // Another tab's login started or ended: waiting for it is no failure, the wait starts over.
      if (transition === 'reauth') this.#extend()
      this.pump()
    })
  }

  /** The hot path: a usable AT and nothing in flight. */
  ready(): boolean {
    return this.#options.view.ready()
  }

  get waiting(): number {
    return this.#waiters.size
  }

  /**
   * Resolves when a managed request may go (with an AT newer than `stale` when given);
   * rejects with SessionExpiredError when the session ends, RotationError when refresh kept
   * failing for `queueTimeout`, or the signal's reason when it aborts.
   *
   * With `go`, the promise is settled by `go` itself once the request may go: one promise
   * per waiting request instead of a wait promise plus a `.then()` chained on it (~90 bytes
   * less each, for as long as it waits), and on release no promise adopting another (each
   * adoption is one more promise, reaction and microtask per request: at 100,000 released
   * at once, all alive until the network answers, that garbage is most of the release's
   * cost). `go` runs in a microtask after the pass that released it, never inside it: a
   * fetch that calls back into the session cannot reenter it.
   */
  wait(options?: WaitOptions): Promise<void>
  wait<T, R>(options: WaitOptions, go: Go<T, R>, request: R): Promise<T>
  wait(options: WaitOptions = {}, go?: Go<unknown, unknown>, request?: unknown): Promise<unknown> {
    const { view, queueTimeout } = this.#options
    const signal = options.signal ?? undefined
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (view.disposed) return Promise.reject(new SessionExpiredError('disposed'))
    return new Promise<unknown>((resolve, reject) => {
      const at = this.#now()
      const waiter: Waiter = {
        resolve,
        reject,
        go,
        request,
        stale: options.stale,
        from: options.stale ?? view.snapshot.generation,
        rounds: 0,
        since: at,
        deadline: at + queueTimeout,
        abort: undefined,
      }
      if (signal) {
        const listener = () => this.#settle(waiter, signal.reason)
        waiter.abort = { signal, listener }
        signal.addEventListener('abort', listener, { once: true })
      }
      this.#waiters.add(waiter)
      this.#pass(waiter)
    })
  }

  /** The session's clock, counted from #epoch. */
  #now(): number {
    return this.#options.now() - this.#epoch
  }

  /** Looks at every waiter once: release, reject, or make sure a rotation is coming. */
  pump(): void {
    this.#pass(undefined)
  }

  /**
   * A pass over every waiter, or over `newcomer` alone. Every change of the session pumps the
   * gate, so between changes the waiters already parked keep their verdict: a new request
   * needs only its own look. (A full pass per new request made a burst of n requests cost
   * n² steps: 100,000 took half a minute to queue.)
   */
  #pass(newcomer: Waiter | undefined): void {
    if (this.#waiters.size === 0) return this.#disarm()
    const { view } = this.#options
    if (view.disposed) return this.#rejectAll(new SessionExpiredError('disposed'))
    if (view.pending()) {
      // reauthenticate() may be a person typing a password: that wait does not count
      // against queueTimeout. Logout and dispose still wake the waiters. A join does count:
      // a store that does not answer (Redis down) must not hold requests forever.
      if (!newcomer && view.flight('ending')) this.#extend()
      return this.#arm(newcomer)
    }
    const snap = view.snapshot
    if (snap.status !== 'active') return this.#rejectAll(view.over())
    if (view.remoteReauth && !newcomer) this.#extend()
    if (this.#stillBehind()) return this.#arm(newcomer)
    const usable = view.usable()
    let needRotation = false
    if (newcomer) {
      if (this.#mayGo(newcomer, snap.generation, usable)) this.#settle(newcomer)
      else needRotation = true
    } else {
      const released: Waiter[] = []
      for (const w of this.#waiters) {
        if (this.#mayGo(w, snap.generation, usable)) released.push(w)
        else needRotation = true
      }
      // A rotation usually releases everyone: one clear() instead of a delete each (a Set
      // emptied one entry at a time rehashes as it shrinks).
      if (!needRotation) this.#waiters.clear()
      for (const w of released) this.#settle(w, undefined, needRotation)
    }
    if (needRotation) this.#options.needRotation()
    this.#arm(newcomer)
  }

  /**
   * A rotation of this tab is in flight and nothing newer than where it started has arrived.
   * Once another tab's newer tokens are here (this tab's rotation may still wait for the lock
   * only to find them), waiters go at once instead of behind that lock: the rotation will adopt,
   * not refresh. Only the gate's own bookkeeping: the machine reports the flight, not its origin.
   */
  #stillBehind(): boolean {
    const { view } = this.#options
    const flight = view.flight('rotation')
    if (flight === undefined) return false
    if (this.#rotation?.flight !== flight) this.#rotation = { flight, from: view.snapshot.generation }
    return view.snapshot.generation <= this.#rotation.from
  }

  /** Whether a waiter may go now; false means it needs a (further) rotation first. */
  #mayGo(w: Waiter, generation: number, usable: boolean): boolean {
    const fresh = w.stale === undefined || generation > w.stale
    if (fresh && usable) return true
    if (!fresh || generation <= w.from) return false
    // A rotation this request waited for delivered an AT already expired: rotate once
    // more. When time passed while the answer was on its way (sleep, a clock jump), as
    // often as that happens; otherwise not forever: a server whose tokens always arrive
    // expired would be hammered, so after two such generations the request goes out as it is.
    if (!this.#options.view.expiredInFlight() && ++w.rounds >= 2) return true
    w.from = generation
    return false
  }

  /** Deadlines start over from now: a login (here or in another tab) is not a failure. */
  #extend(): void {
    const deadline = this.#now() + this.#options.queueTimeout
    for (const w of this.#waiters) w.deadline = Math.max(w.deadline, deadline)
  }

  /** Takes `w` out of the gate and settles it; `parked` false when the caller already took it out. */
  #settle(w: Waiter, reason?: unknown, parked = true): void {
    if (parked && !this.#waiters.delete(w)) return
    if (w.abort) w.abort.signal.removeEventListener('abort', w.abort.listener)
    if (reason !== undefined) w.reject(reason)
    else if (w.go === undefined) w.resolve(undefined)
    // One microtask for everyone released in this pass, not a promise each.
    else if (this.#going.push(w) === 1) queueMicrotask(() => this.#send())
  }

  #send(): void {
    const going = this.#going
    this.#going = []
    for (const w of going) {
      try {
        w.go!(w.request, w.resolve, w.reject)
      } catch (error) {
        w.reject(error)
      }
    }
  }

  #rejectAll(reason: unknown): void {
    for (const w of [...this.#waiters]) this.#settle(w, reason)
    this.#disarm()
  }

  /**
   * One timer for the earliest deadline of all waiters. With a newcomer, only its deadline is
   * new: the timer already watches the others' (it is armed whenever anyone waits).
   */
  #arm(newcomer?: Waiter): void {
    if (this.#waiters.size === 0) return this.#disarm()
    let earliest = Number.POSITIVE_INFINITY
    if (newcomer && this.#timer) earliest = this.#waiters.has(newcomer) ? newcomer.deadline : earliest
    else for (const w of this.#waiters) if (w.deadline < earliest) earliest = w.deadline
    if (this.#timer && earliest >= this.#timerAt) return
    this.#timer?.cancel()
    this.#timerAt = earliest
    this.#timer = this.#options.clock.after(earliest - this.#now(), () => this.#expire(), true)
  }

  #disarm(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }

  /**
   * Deadlines passed: a request that waited `queueTimeout` on a refresh that failed, or is
   * still on the wire, fails with RotationError. Time spent asleep, or waiting for a refresh
   * that then succeeded, is no reason to fail it: the wait starts over.
   */
  #expire(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    this.pump()
    const { view, queueTimeout } = this.#options
    const at = this.#now()
    const inFlight = view.flight('rotation') !== undefined
    const joining = view.flight('joining') && !view.flight('ending')
    const failure = this.#options.lastFailure()
    const failedAt = failure === undefined ? Number.NEGATIVE_INFINITY : failure.at - this.#epoch
    for (const w of [...this.#waiters]) {
      if (w.deadline > at) continue
      if (joining || (!view.pending() && !view.remoteReauth && (inFlight || failedAt >= w.since))) {
        this.#settle(
          w,
          new RotationError(`rotor-auth: no usable access token within queueTimeout (${queueTimeout} ms): ${joining ? 'could not join' : 'refresh kept failing'}`, {
            cause: failure?.error,
          }),
        )
      } else {
        w.deadline = at + queueTimeout
      }
    }
    this.#arm()
  }
}
