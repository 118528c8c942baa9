/** Re-authentication: when the RT is dead, the `reauthenticate` hook once under the lock (its login published, or revoked when the user logged out meanwhile), else the end everywhere. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { SessionExpiredError } from '../errors.js'
import type { Coordinator } from '../coordinator/types.js'
import type { DebugSink } from '../platform/types.js'
import type { Grant, Snapshot } from '../types.js'
import { assertUsable, tokensFrom } from './grant.js'
import type { SessionMachine } from './state.js'
import type { Sync } from './sync.js'

export type ReloginOptions = {
  machine: SessionMachine
  sync: Sync
  lock: Coordinator['lock']
  now: () => number
  transport: 'cookie' | 'bearer'
  reauthenticate: ((context: { signal: AbortSignal }) => Promise<Grant | Response | void>) | undefined
  /** Calls the logout endpoint with a login's tokens (cookies: the jar's), best effort: a login the session ended before it was published. */
  revoke?: ((tokens: Pick<Snapshot, 'accessToken' | 'refreshToken'>) => Promise<void>) | undefined
  /** Records a decision in the session's trace. */
  trace?: DebugSink
}

/** Whether `snapshot` is a session newer than `generation`, active and not marked (a login since). */
function loggedInSince(snapshot: Snapshot, generation: number): boolean {
  return snapshot.status === 'active' && snapshot.generation > generation && !snapshot.ending
}

export class Relogin {
  readonly #options: ReloginOptions
  /** Aborts the reauthenticate() running here (this tab is being disposed; the session ended: see endLocked). */
  #reauth: AbortController | undefined

  constructor(options: ReloginOptions) {
    this.#options = options
    // Bearer only: a cookie logout presents the jar's newest RT, whichever tab sends it.
    if (options.revoke && options.transport === 'bearer') this.#revokeUnnamed(options.revoke)
  }

  /**
   * A login this tab holds, ended by a logout that named another login (its tab, frozen or
   * behind, logged out what it knew: sim seed 23085), is still live at the server: revoked here.
   * Every tab holding it calls, once each; the tab that logged out presented its own tokens.
   */
  #revokeUnnamed(revoke: NonNullable<ReloginOptions['revoke']>): void {
    const { machine } = this.#options
    let held: Snapshot | undefined
    machine.watch(transition => {
      const { snapshot } = machine
      if (transition === 'entered') held = snapshot
      if (transition !== 'ended') return
      if (held?.refreshToken !== undefined && snapshot.login?.id !== held.login?.id) void revoke(held)
      held = undefined
    })
  }

  /** Both tokens expired: reauthenticate once, or end. */
  endOrReauthenticate(reason: 'expired'): Promise<void> {
    const { machine } = this.#options
    const inFlight = machine.flight('ending')
    if (inFlight) return inFlight
    if (!this.#reauthenticate()) return this.#end(reason)
    const generation = machine.snapshot.generation
    return this.#options.lock(() => this.endLocked(reason, generation))
  }

  #reauthenticate() {
    // A disposed tab (finishing its last refresh) asks nobody to log in.
    return this.#options.machine.disposed ? undefined : this.#options.reauthenticate
  }

  /** This tab is being disposed: a reauthenticate() running here is told to stop, and handed over. */
  dispose(): void {
    if (this.#reauth && !this.#reauth.signal.aborted) this.#options.trace?.('reauthenticate-handover')
    this.#reauth?.abort(new SessionExpiredError('disposed'))
  }

  /** Whether a session newer than `generation` is active here (a login in another tab), once this tab caught up. */
  async #loggedInSince(generation: number): Promise<boolean> {
    await this.#options.sync.catchUp()
    return loggedInSince(this.#options.machine.snapshot, generation)
  }

  #end(reason: 'expired' | 'rejected'): Promise<never> {
    return Promise.resolve(this.#options.sync.publishEnd(reason)).then(() => Promise.reject(this.#options.machine.endedBy(reason)))
  }

  /**
   * The hook's login, unless the session ended while the hook ran (the user logged out: the
   * logout presented the old login's tokens, sim seed 12772): then the login is revoked, and
   * never published: a login published after the end would revive what the user ended.
   */
  async #adopt(result: Grant | Response, life: AbortSignal): Promise<void> {
    const { sync, now } = this.#options
    const tokens = await tokensFrom(result, now)
    if (!life.aborted) assertUsable(tokens, now(), this.#options.transport)
    if (!life.aborted && (await sync.publish(tokens, 'login', life))) return
    await this.#options.revoke?.(tokens)
    throw life.reason
  }

  /** Holding the lock: end in every tab, or let reauthenticate() bring a new session (a person may be typing a password; requests wait, and other tabs wait on the lock). */
  endLocked(reason: 'expired' | 'rejected', generation: number): Promise<void> {
    const { machine, sync } = this.#options
    const life = machine.life
    const reauthenticate = this.#reauthenticate()
    if (!reauthenticate) return this.#end(reason)
    const controller = (this.#reauth = new AbortController())
    const ending = (async () => {
      // A login completed in another tab (since `generation`) satisfies this one too.
      if (await this.#loggedInSince(generation)) return
      // The verdict goes to the store before the hook runs: a page closed mid-login runs no more
      // code, so the next lock holder would present the dead RT (sim seed 307). A login replaces it.
      await sync.markEnding(reason)
      let result: Grant | Response | void
      sync.reauthenticating(true)
      this.#options.trace?.('reauthenticate-called', { reason })
      const { signal } = controller
      // The session ended while the form was open (the user logged out, here or in another tab): the form is told to close, and requests settle.
      const close = () => controller.abort(life.reason)
      life.addEventListener('abort', close)
      const hook = reauthenticate({ signal })
      try {
        // Not only the hook: most login forms never read the signal, and the hand-over (under
        // this lock, which every other tab waits on) must not wait for one that never settles.
        // Bug zoo: the hook that ignores its signal holds the hand-over (and the lock) until it settles.
        if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('hook-ignores-signal')) result = await hook
        else result = await Promise.race([hook, new Promise<never>((_, reject) => signal.addEventListener('abort', reject))])
      } catch {
        result = undefined
      } finally {
        life.removeEventListener('abort', close)
      }
      // Ended (not disposed): the login the form made, now or when it answers after all, is revoked.
      if (life.aborted && !machine.disposed)
        void Promise.resolve(result ?? hook)
          .then(late => late && this.#adopt(late, life))
          .catch(() => undefined)
      if (signal.aborted) throw signal.reason
      if (result === undefined || result === null) throw new SessionExpiredError(reason)
      // A login came while the form was open (another tab's; a lost worker's form that answered
      // first, sim seed 93118): the session is on it. Published, this one would replace it, left
      // live and held by no tab; a bearer login is revoked instead (with cookies the jar's last is this one).
      // What this tab knows, not caught up: the store may hold the end this form answers (the worker's, sim seed 1302).
      if (this.#options.transport === 'bearer' && loggedInSince(machine.snapshot, generation)) return this.#options.revoke?.(await tokensFrom(result, this.#options.now))
      await this.#adopt(result, life)
    })().then(
      () => sync.reauthenticating(false),
      async (error: unknown) => {
        if (controller.signal.aborted && machine.disposed) {
          // Disposed mid-login: the job is handed to another tab (the verdict is in the store
          // since before the hook), unless a login or a logout came meanwhile. Not marked again:
          // waiting requests take each unusable generation for an expired AT, and give up after two.
          sync.reauthenticating(false, machine.snapshot.ending)
          throw new SessionExpiredError('disposed')
        }
        // The flag is withdrawn after the end is out: a peer holding the lock takes a login over once nobody says it is logging in.
        try {
          // A login made elsewhere while the hook ran (the user signed out and in again) is not this failed hook's to end.
          if (await this.#loggedInSince(generation)) return
          await sync.publishEnd(reason)
        } finally {
          sync.reauthenticating(false)
        }
        throw error instanceof SessionExpiredError ? error : new SessionExpiredError(reason, undefined, { cause: error })
      },
    )
    machine.track('ending', ending)
    return ending
  }
}
