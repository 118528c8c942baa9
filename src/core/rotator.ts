/** Rotation: one refresh at a time under the coordinator's lock, once per generation everywhere, and `reauthenticate` once. */
import { SessionExpiredError } from '../errors.js'
import type { Coordinator, Grant } from '../types.js'
import { tokensFrom, type Tokens } from './grant.js'
import type { RefreshCall } from './refresh.js'
import type { SessionMachine } from './state.js'
import type { Sync } from './sync.js'

/** Thrown inside a rotation when the RT was refused: the session must end (outside the lock). */
class Refused {
  constructor(readonly error: unknown) {}
}

export type RotatorOptions = {
  machine: SessionMachine
  sync: Sync
  lock: Coordinator['lock']
  now: () => number
  /** The refresh call, with everything but the per-call parts bound. */
  refresh: (call: Pick<RefreshCall, 'refreshToken' | 'signal' | 'onRetry'>) => Promise<Tokens>
  isTransient: (error: unknown) => boolean
  reauthenticate: (() => Promise<Grant | Response | void>) | undefined
  /** A transient failure: returns when the next attempt goes (ms); success resets it. */
  backoff: { failed(error: unknown): number; succeeded(): void }
}

export class Rotator {
  readonly #o: RotatorOptions
  /** Consecutive failed attempts since the last success, for `rotate-error`'s `attempt`. */
  #failures = 0

  constructor(options: RotatorOptions) {
    this.#o = options
  }

  /** Single-flight: every caller joins the rotation in flight. */
  rotateFrom(generation: number): Promise<void> {
    const { machine } = this.#o
    const inFlight = machine.flight('rotation')
    if (inFlight) return inFlight
    const rotation = this.#rotateLocked(generation).catch(async (error: unknown) => {
      if (!(error instanceof Refused)) throw error
      // The RT was refused and no other tab had rotated: the session ends, or
      // reauthenticate() brings a new one (outside the lock: it may show a login form).
      await this.endOrReauthenticate('rejected')
    })
    machine.track('rotation', rotation)
    return rotation
  }

  async #rotateLocked(generation: number): Promise<void> {
    const { machine, sync } = this.#o
    const life = machine.life
    await this.#o.lock(async () => {
      // Another tab may have rotated while we waited for the lock: adopt, do not refresh.
      // A second refresh with the same RT makes a rotating-RT server revoke the family.
      await sync.catchUp()
      if (life.aborted) throw life.reason
      const snap = machine.snapshot
      if (snap.status !== 'active') throw new SessionExpiredError(snap.reason ?? 'expired')
      if (snap.generation > generation) return
      sync.rotating(snap.generation)
      let tokens: Tokens
      try {
        tokens = await this.#o.refresh({
          refreshToken: snap.refreshToken,
          signal: life,
          onRetry: (error, retryIn) => this.#report(error, true, retryIn),
        })
      } catch (error) {
        sync.rotated(snap.generation, false)
        if (life.aborted) throw life.reason
        if (!this.#o.isTransient(error)) {
          // "RT already used" may only mean another tab rotated first: check before ending.
          await sync.catchUp()
          if (machine.snapshot.generation > generation) return
          this.#report(error, false)
          throw new Refused(error)
        }
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
    })
  }

  #report(error: unknown, willRetry: boolean, retryIn?: number): void {
    const event = { error, willRetry, attempt: ++this.#failures, ...(retryIn === undefined ? {} : { retryIn: Math.round(retryIn) }) }
    this.#o.machine.emit('rotate-error', event)
  }

  /** Both tokens expired, or the RT was refused: reauthenticate once, or end. */
  endOrReauthenticate(reason: 'expired' | 'rejected'): Promise<void> {
    const { machine, sync, now } = this.#o
    // A disposed tab (finishing its last refresh) asks nobody to log in.
    const reauthenticate = machine.disposed ? undefined : this.#o.reauthenticate
    if (!reauthenticate) {
      void sync.publishEnd(reason)
      return Promise.reject(new SessionExpiredError(reason))
    }
    const inFlight = machine.flight('ending')
    if (inFlight) return inFlight
    const generation = machine.snapshot.generation
    const ending = this.#o
      .lock(async () => {
        // A login completed in another tab satisfies this one too.
        await sync.catchUp()
        if (machine.snapshot.status === 'active' && machine.snapshot.generation > generation) return
        let result: Grant | Response | void
        try {
          result = await reauthenticate()
        } catch {
          result = undefined
        }
        if (result === undefined || result === null) throw new SessionExpiredError(reason)
        await sync.publish(await tokensFrom(result, now), 'login')
      })
      .catch((error: unknown) => {
        void sync.publishEnd(reason)
        throw error instanceof SessionExpiredError ? error : new SessionExpiredError(reason, undefined, { cause: error })
      })
    machine.track('ending', ending)
    return ending
  }
}
