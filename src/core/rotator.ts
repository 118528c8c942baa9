/** Rotation: one refresh at a time under the coordinator's lock, once per generation everywhere, and `reauthenticate` once. */
import { LeaseLostError, RefreshBudgetError, RotationPendingError, SessionExpiredError } from '../errors.js'
import type { Coordinator, Grant } from '../types.js'
import { assertUsable, tokensFrom, type Tokens } from './grant.js'
import type { RefreshBudget } from './budget.js'
import type { RefreshCall } from './refresh.js'
import type { SessionMachine } from './state.js'
import type { Sync } from './sync.js'

/** How long a lock holder waits for the tokens of a generation another tab already published. */
const TOKENS_IN_FLIGHT_MS = 1000
/** How long a lock holder listens for other tabs' newer state before it refreshes (see Sync.probe). */
const PROBE_MS = 60

export type RotatorOptions = {
  machine: SessionMachine
  sync: Sync
  lock: Coordinator['lock']
  now: () => number
  transport: 'cookie' | 'bearer'
  /** The refresh call, with everything but the per-call parts bound. */
  refresh: (call: Pick<RefreshCall, 'refreshToken' | 'signal' | 'onRetry' | 'onSlow'>) => Promise<Tokens>
  isTransient: (error: unknown) => boolean
  /** Ask the other tabs before refreshing: bearer tokens shared by message only, peers present. */
  probeFirst: () => boolean
  /**
   * Cookie transport: how long a refresh recorded in the shared state by a tab that is gone
   * (reloaded mid-refresh) may still complete; 0 where nothing can complete without its tab.
   */
  inFlightLimitMs: number
  reauthenticate: ((context: { signal: AbortSignal }) => Promise<Grant | Response | void>) | undefined
  /** Every refresh call passes it, whatever asked for the rotation. */
  budget: RefreshBudget
  /**
   * A transient failure: returns when the next attempt goes (ms); success resets it.
   * `deferred`: the budget is spent, the next attempt goes in `ms`.
   */
  backoff: { failed(error: unknown): number; succeeded(): void; stalled(error: unknown): void; deferred(error: unknown, ms: number): void }
}

export class Rotator {
  readonly #o: RotatorOptions
  /** Consecutive failed attempts since the last success, for `rotate-error`'s `attempt`. */
  #failures = 0
  /** A newer generation the store announced whose tokens no tab answered with (see #rotateLocked). */
  #unclaimed: number | undefined
  /** Aborts the reauthenticate() running here (this tab is being disposed). */
  #reauth: AbortController | undefined

  constructor(options: RotatorOptions) {
    this.#o = options
  }

  /** Single-flight: every caller joins the rotation in flight. */
  rotateFrom(generation: number): Promise<void> {
    const { machine } = this.#o
    const inFlight = machine.flight('rotation')
    if (inFlight) return inFlight
    const rotation = this.#rotateLocked(generation)
    machine.track('rotation', rotation)
    return rotation
  }

  async #rotateLocked(generation: number): Promise<void> {
    const { machine, sync } = this.#o
    const life = machine.life
    await this.#o.lock(async lease => {
      // Another tab may have rotated while we waited for the lock: adopt, do not refresh.
      // A second refresh with the same RT makes a rotating-RT server revoke the family.
      const unseen = await sync.catchUp()
      if (life.aborted) throw life.reason
      const snap = machine.snapshot
      if (snap.status !== 'active') throw new SessionExpiredError(snap.reason ?? 'expired')
      if (snap.generation > generation) return
      if (unseen) {
        // Another tab rotated and its tokens (bearer: by message only) have not arrived: ask
        // for them (this tab may have missed the message: frozen, or joined late) and wait;
        // refreshing now would present the RT that tab just spent.
        await sync.probe(TOKENS_IN_FLIGHT_MS)
        if (machine.snapshot.generation > generation) return
        // Asked twice, a probe apart and after a backoff, and no live tab holds it: its tokens
        // exist nowhere (a forged write, or a tab that died mid-rotation). Waiting would wedge
        // rotation until reload: refresh ourselves (within the budget) instead.
        if (this.#unclaimed !== unseen.generation) {
          this.#unclaimed = unseen.generation
          throw new RotationPendingError('rotor-auth: another tab rotated and its tokens have not reached this one yet')
        }
      }
      // The tab that held the lock before us said it was rotating. It posted its new state
      // just before it released the lock, but a browser delivers the lock and the message by
      // different paths (and localStorage across tabs lags too): the lock may come first.
      // Refreshing now would be a needless rotation with cookies, and present the RT that tab
      // just spent with bearer tokens. (No tab said so: no wait.)
      await sync.awaitElsewhere(generation, TOKENS_IN_FLIGHT_MS)
      if (this.#o.probeFirst()) await sync.probe(PROBE_MS)
      if (machine.snapshot.generation > generation) return
      // A tab that owed a re-authentication went away before it finished: take it over.
      if (snap.ending) return this.#endLocked(snap.ending, generation)
      // A tab reloaded (or closed) while its refresh was on the wire: that refresh goes on
      // (keepalive) and its answer stores the new RT cookie. Presenting the cookie before then
      // presents the RT the server just spent.
      const recorded = snap.rotatingSince
      const wait = recorded === undefined ? 0 : recorded + this.#o.inFlightLimitMs - this.#o.now()
      if (wait > 0) {
        await sync.awaitNewer(snap.generation, wait)
        await sync.catchUp()
        if (machine.snapshot.generation > generation) return
      }
      // The one place every refresh passes: past the budget nothing is sent, whoever asked.
      const lifetime = snap.accessExpiresAt === null || snap.issuedAt === null ? undefined : snap.accessExpiresAt - snap.issuedAt
      const budgetWait = this.#o.budget.wait(lifetime)
      if (budgetWait > 0) {
        const error = new RefreshBudgetError(budgetWait)
        this.#o.backoff.deferred(error, budgetWait)
        this.#report(error, true, budgetWait)
        throw error
      }
      const unspent = this.#o.budget.spend()
      sync.rotating(snap.generation)
      if (this.#o.inFlightLimitMs > 0) await sync.markRotating(this.#o.now())
      let tokens: Tokens
      try {
        // A lock that can run out (Redis) may have passed to another member while this one was
        // paused: presenting the RT now could spend it twice, which revokes the family.
        if (lease && !lease.held()) throw new LeaseLostError('rotor-auth: the rotation lock was lost; not refreshing')
        tokens = await this.#o.refresh({
          refreshToken: snap.refreshToken,
          signal: life,
          onRetry: (error, retryIn) => this.#report(error, true, retryIn),
          // Still awaited, under the lock: no second refresh while this one is outstanding.
          onSlow: error => {
            this.#o.backoff.stalled(error)
            this.#report(error, true)
          },
        })
      } catch (error) {
        sync.rotated(snap.generation, false)
        if (this.#o.inFlightLimitMs > 0) await sync.markRotating(undefined)
        if (life.aborted) throw life.reason
        if (!this.#o.isTransient(error)) {
          // "RT already used" may only mean another tab rotated first: check before ending.
          await sync.catchUp()
          if (machine.snapshot.generation > generation) return
          this.#report(error, false)
          // The verdict is recorded before the lock is released: the next tab in line must
          // read "ended" (or the new login), never "active" and present the refused RT again.
          return this.#endLocked('rejected', generation)
        }
        unspent()
        this.#report(error, true, this.#o.backoff.failed(error))
        throw error
      }
      // A late answer never revives a session that ended while it was in flight, here or in
      // another tab whose logout message may not have arrived yet (the store has it).
      if (life.aborted) throw life.reason
      await sync.catchUp()
      if (machine.snapshot.status !== 'active') throw new SessionExpiredError(machine.snapshot.reason ?? 'expired')
      this.#failures = 0
      this.#o.backoff.succeeded()
      await sync.publish(tokens, 'rotate')
      // Where tabs share no lock, only the leader may run this; the others wait for its state.
    }, { refresh: true })
  }

  #report(error: unknown, willRetry: boolean, retryIn?: number): void {
    const event = { error, willRetry, attempt: ++this.#failures, ...(retryIn === undefined ? {} : { retryIn: Math.round(retryIn) }) }
    this.#o.machine.emit('rotate-error', event)
  }

  /** Both tokens expired: reauthenticate once, or end. */
  endOrReauthenticate(reason: 'expired'): Promise<void> {
    const { machine } = this.#o
    const inFlight = machine.flight('ending')
    if (inFlight) return inFlight
    if (!this.#reauthenticate()) return this.#end(reason)
    const generation = machine.snapshot.generation
    return this.#o.lock(() => this.#endLocked(reason, generation))
  }

  #reauthenticate() {
    // A disposed tab (finishing its last refresh) asks nobody to log in.
    return this.#o.machine.disposed ? undefined : this.#o.reauthenticate
  }

  /** This tab is being disposed: a reauthenticate() running here is told to stop, and handed over. */
  dispose(): void {
    this.#reauth?.abort(new SessionExpiredError('disposed'))
  }

  #end(reason: 'expired' | 'rejected'): Promise<never> {
    return Promise.resolve(this.#o.sync.publishEnd(reason)).then(() => Promise.reject(this.#o.machine.endedBy(reason)))
  }

  /**
   * Holding the lock: end in every tab, or let reauthenticate() bring a new session (a
   * person may be typing a password; requests wait, and other tabs wait on the lock).
   */
  #endLocked(reason: 'expired' | 'rejected', generation: number): Promise<void> {
    const { machine, sync, now } = this.#o
    const reauthenticate = this.#reauthenticate()
    if (!reauthenticate) return this.#end(reason)
    const controller = (this.#reauth = new AbortController())
    const ending = (async () => {
      // A login completed in another tab (since `generation`) satisfies this one too.
      await sync.catchUp()
      if (machine.snapshot.status === 'active' && machine.snapshot.generation > generation && !machine.snapshot.ending) return
      let result: Grant | Response | void
      sync.reauthenticating(true)
      const { signal } = controller
      try {
        // Not only the hook: most login forms never read the signal, and the hand-over (under
        // this lock, which every other tab waits on) must not wait for one that never settles.
        result = await Promise.race([reauthenticate({ signal }), new Promise<never>((_, reject) => signal.addEventListener('abort', reject))])
      } catch {
        result = undefined
      }
      if (controller.signal.aborted) throw controller.signal.reason
      if (result === undefined || result === null) throw new SessionExpiredError(reason)
      const tokens = await tokensFrom(result, now)
      assertUsable(tokens, now(), this.#o.transport)
      await sync.publish(tokens, 'login')
    })().then(
      () => sync.reauthenticating(false),
      async (error: unknown) => {
        if (controller.signal.aborted) {
          // Disposed mid-login: the job is handed to another tab, with the verdict recorded
          // (under the lock still) so that nobody presents the dead RT meanwhile.
          await sync.markEnding(reason)
          sync.reauthenticating(false, reason)
          throw new SessionExpiredError('disposed')
        }
        sync.reauthenticating(false)
        await sync.publishEnd(reason)
        throw error instanceof SessionExpiredError ? error : new SessionExpiredError(reason, undefined, { cause: error })
      },
    )
    machine.track('ending', ending)
    return ending
  }
}
