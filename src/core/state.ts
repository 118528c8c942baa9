/** The session's state machine: explicit transitions over one snapshot, and the one place that emits events. */
import type { DebugSink } from '../platform/types.js'
import { SessionExpiredError, type EndReason } from '../errors.js'
import type { Origin, SessionEvents, SessionState, Snapshot } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { checkListener } from './event-names.js'
import { SIGNED_OUT } from '../coordinator/protocol.js'

/**
 * What is in flight, each owned by one module and recorded here so that "may a request go
 * now?" is answered in one place: a local rotation (rotator), `reauthenticate` (rotator), a
 * bearer tab waiting for a peer's tokens or an asynchronous store read (sync).
 */
export type Flight = 'rotation' | 'ending' | 'joining'

/** What changed, for the parts that react (gate, scheduler, idle). */
export type Transition = 'entered' | 'ended' | 'flight' | 'disposed' | 'reauth'

/**
 * The session as the parts that only read it see it (gate, scheduler, policy, waits): what is
 * held and in flight, and its events, but no transition. Only the writers (rotator, sync and
 * the session's own wiring) hold the SessionMachine itself.
 */
export type SessionView = Pick<
  SessionMachine,
  | 'snapshot'
  | 'life'
  | 'disposed'
  | 'over'
  | 'notStarted'
  | 'whenStarted'
  | 'view'
  | 'flight'
  | 'pending'
  | 'managing'
  | 'leeway'
  | 'usable'
  | 'ready'
  | 'expiredInFlight'
  | 'refreshExpired'
  | 'remoteReauth'
  | 'rotatingElsewhere'
  | 'on'
  | 'watch'
>

/**
 * States: not started (signed-out, never active here) → active (login, or adopting another
 * tab's) → active (rotation, local or remote) → ended (signed-out after logout, expiry,
 * refusal, idle) → active again after a new login. "Not started" is a normal state that
 * waiters sit out (ready() before start()); "ended" is final for what waited on it. A
 * generation only grows. Each incarnation of an active session has its own `life` signal,
 * aborted when it ends, which cancels its refresh and wakes everything waiting on it.
 */
export class SessionMachine {
  readonly #events = new Emitter<SessionEvents>()
  readonly #watchers: Array<(transition: Transition, fresh: boolean) => void> = []
  readonly #now: () => number
  readonly #leeway: number | undefined
  #snap: Snapshot = SIGNED_OUT
  /** When the current snapshot arrived here. */
  #enteredAt = 0
  #life = new AbortController()
  #disposed = false
  /** An active snapshot has been held here at least once: signed-out since means ended, not "not started yet". */
  #started = false
  /** The refusal this tab just reported (the final `rotate-error`): why the session it ends was rejected. */
  #refusal: unknown = undefined
  /** How the last incarnation ended, for everything that learns of it later. */
  #ended: SessionExpiredError | undefined
  /** ready() and friends waiting for the first active snapshot. */
  readonly #starting = new Set<{ resolve: () => void; reject: (reason: unknown) => void }>()
  #remoteRotating = false
  /** Another tab runs reauthenticate(): waiting requests here do not time out meanwhile. */
  #remoteReauth = false
  readonly #flights: Record<Flight, Promise<void> | undefined> = { rotation: undefined, ending: undefined, joining: undefined }

  readonly #trace: DebugSink | undefined

  constructor(options: { now: () => number; leeway: number | undefined; trace?: DebugSink }) {
    this.#now = options.now
    this.#leeway = options.leeway
    this.#trace = options.trace
  }

  get snapshot(): Snapshot {
    return this.#snap
  }

  /** Aborted when this incarnation of the session ends (logout, expiry, dispose). */
  get life(): AbortSignal {
    return this.#life.signal
  }

  get disposed(): boolean {
    return this.#disposed
  }

  /** The error for a request that finds the session over: the one its end was reported with, cause included. */
  over(): SessionExpiredError {
    notInWorker: return this.#disposed ? new SessionExpiredError('disposed') : this.endedBy(this.#snap.reason ?? 'expired')
  }

  /** The error this incarnation's end was reported with when it ended for `reason`, else a plain one. */
  endedBy(reason: EndReason): SessionExpiredError {
    return this.#ended?.reason === reason ? this.#ended : new SessionExpiredError(reason)
  }

  /** Signed out without ever having been active here: the session has not started yet (it has not ended). */
  get notStarted(): boolean {
    notInWorker: return !this.#started && this.#snap.status !== 'active'
  }

  /**
   * Resolves at the first active snapshot (a login here or in another tab); rejects when
   * the session is disposed or `signal` aborts. Bounded by those two alone, on purpose: a page
   * may build its sockets long before the user logs in.
   */
  whenStarted(signal?: AbortSignal): Promise<void> {
    notInWorker: {
      if (!this.notStarted) return Promise.resolve()
      if (signal?.aborted) return Promise.reject(signal.reason)
      if (this.#disposed) return Promise.reject(new SessionExpiredError('disposed'))
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => settle(() => reject(signal!.reason))
        const waiter = {
          resolve: () => settle(resolve),
          reject: (reason: unknown) => settle(() => reject(reason)),
        }
        const settle = (done: () => void) => {
          this.#starting.delete(waiter)
          signal?.removeEventListener('abort', onAbort)
          done()
        }
        this.#starting.add(waiter)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  get view(): SessionState {
    const s = this.#snap
    return {
      status: s.status,
      rotating: this.#flights.rotation !== undefined || this.#remoteRotating,
      accessExpiresAt: s.accessExpiresAt,
      refreshExpiresAt: s.refreshExpiresAt,
      generation: s.generation,
    }
  }

  flight(kind: Flight): Promise<void> | undefined {
    return this.#flights[kind]
  }

  /** What a request must wait for before it may even look at the tokens: a login or a join. */
  pending(): Promise<void> | undefined {
    notInWorker: return this.#flights.ending ?? this.#flights.joining
  }

  /** Requests in scope are managed: the session is active, or being brought back or joined. */
  managing(): boolean {
    notInWorker: return !this.#disposed && (this.#snap.status === 'active' || this.pending() !== undefined)
  }

  leeway(): number {
    if (this.#leeway !== undefined) return this.#leeway
    const s = this.#snap
    const lifetime = (s.accessExpiresAt ?? 0) - (s.issuedAt ?? 0)
    return Math.min(5000, Math.max(0, lifetime * 0.1))
  }

  /** The AT can be sent now without risking a 401 for expiry. */
  usable(): boolean {
    const s = this.#snap
    // A generation marked `ending` has a dead RT behind it: its AT is not to be trusted either.
    return s.status === 'active' && s.ending === undefined && s.accessExpiresAt !== null && this.#now() < s.accessExpiresAt - this.leeway()
  }

  /** A managed request may go out at once: a usable AT and nothing in flight to wait for. */
  ready(): boolean {
    const f = this.#flights
    notInWorker: return f.rotation === undefined && f.ending === undefined && f.joining === undefined && this.usable()
  }

  /** The AT was valid when issued and ran out while its answer was on the way (sleep, a clock jump): not the server's fault. */
  expiredInFlight(): boolean {
    notInWorker: {
      const { accessExpiresAt, issuedAt } = this.#snap
      if (accessExpiresAt === null || issuedAt === null) return false
      const lifetime = accessExpiresAt - issuedAt
      return lifetime > 0 && this.#enteredAt - issuedAt >= lifetime - this.leeway()
    }
  }

  refreshExpired(): boolean {
    const { refreshExpiresAt } = this.#snap
    return refreshExpiresAt !== null && this.#now() >= refreshExpiresAt
  }

  // ---- transitions ----------------------------------------------------------------------

  /**
   * An active snapshot: a login (here or, adopted, in another tab), a rotation, or another
   * tab's rotation adopted. A login, or any active snapshot after signed-out, is a new
   * incarnation (`fresh`): a new life, and the idle clock starts over.
   */
  enter(snapshot: Snapshot, origin: Origin, how: 'login' | 'rotate' | 'adopt' | 'mark'): void {
    const wasActive = this.#snap.status === 'active'
    const rotated = how === 'rotate' || (how === 'adopt' && wasActive && snapshot.ending === undefined)
    // A disposed session may still commit a refresh it finished for the other tabs; no new life.
    if (this.#life.signal.aborted && !this.#disposed) this.#life = new AbortController()
    this.#snap = snapshot
    this.#enteredAt = this.#now()
    this.#remoteRotating = false
    this.#started = true
    // A mark (this RT is dead, a login is owed) follows a refusal: the end, if it comes, still reports it.
    if (how !== 'mark') this.#refusal = undefined
    this.#ended = undefined
    this.#notify('entered', how === 'login' || !wasActive)
    for (const waiter of [...this.#starting]) waiter.resolve()
    this.#emitChange()
    if (rotated) this.#events.emit('rotate', { state: this.view, origin })
  }

  /** A signed-out snapshot: this incarnation ends, waiting requests wake, `logout` fires. */
  end(snapshot: Snapshot, origin: Origin): void {
    const reason = snapshot.reason ?? 'user'
    const wasActive = this.#snap.status === 'active'
    this.#snap = snapshot
    if (!wasActive) return
    // A refusal here says why (status and the server's redacted words) on the waiting
    // requests' error and the logout event; another tab's refusal reaches this one as a reason only.
    const error = reason === 'rejected' && origin === 'local' ? this.#refusal : undefined
    this.#refusal = undefined
    const detail = error instanceof Error ? `: ${error.message.replace(/^rotor-auth: /, '')}` : ''
    this.#ended = new SessionExpiredError(reason, `rotor-auth: the session has ended (${reason}${detail})`, { cause: error })
    this.#life.abort(this.#ended)
    this.#remoteRotating = false
    this.#notify('ended')
    this.#trace?.('logout', { reason, origin, generation: snapshot.generation })
    this.#emitChange()
    this.#events.emit('logout', error === undefined ? { reason, origin } : { reason, origin, error })
  }

  /** Records `promise` as the flight of its kind until it settles. */
  track(kind: Flight, promise: Promise<void>): void {
    this.#flights[kind] = promise
    this.#notify('flight')
    if (kind === 'rotation') this.#emitChange()
    const settle = () => {
      if (this.#flights[kind] !== promise) return
      this.#flights[kind] = undefined
      this.#notify('flight')
      this.#emitChange()
    }
    promise.then(settle, settle)
  }

  get remoteReauth(): boolean {
    return this.#remoteReauth
  }

  /** Another tab started (true) or ended (false) a reauthenticate(): waiting requests start over. */
  setRemoteReauth(active: boolean): void {
    if (this.#remoteReauth === active) return
    this.#remoteReauth = active
    this.#notify('reauth')
  }

  /** Another tab said it is rotating, and its new state has not reached this one yet. */
  get rotatingElsewhere(): boolean {
    return this.#remoteRotating
  }

  /** Another tab says it is rotating (true) or done (false). */
  remoteRotating(on: boolean): void {
    if (this.#remoteRotating === on) return
    this.#remoteRotating = on
    this.#emitChange()
  }

  /**
   * Stops emitting and wakes every waiter. `finishing`: a refresh is on the wire whose answer
   * the other tabs may need (the server may have spent the RT); its life is left to it.
   */
  dispose(finishing: boolean): void {
    this.#disposed = true
    if (!finishing) this.#life.abort(new SessionExpiredError('disposed'))
    for (const waiter of [...this.#starting]) waiter.reject(new SessionExpiredError('disposed'))
    this.#notify('disposed')
    this.#events.emit('dispose', {})
    this.#events.clear()
  }

  /** A disposed session stops waiting for the refresh it was finishing for the other tabs. */
  abandon(): void {
    this.#life.abort(new SessionExpiredError('disposed'))
  }

  // ---- events -----------------------------------------------------------------------------

  on<K extends keyof SessionEvents>(event: K, listener: (payload: SessionEvents[K]) => void): () => void {
    checkListener(event, listener)
    return this.#events.on(event, listener)
  }

  /** Events that are not transitions (`rotate-error`, `idle-warning`) go out here too. */
  emit<K extends Exclude<keyof SessionEvents, 'change' | 'rotate' | 'logout'>>(event: K, payload: SessionEvents[K]): void {
    if (event === 'rotate-error' && !(payload as SessionEvents['rotate-error']).willRetry) this.#refusal = (payload as SessionEvents['rotate-error']).error
    if (!this.#disposed) this.#events.emit(event, payload)
  }

  /** Internal reactions to transitions; they run before the public events. */
  watch(watcher: (transition: Transition, fresh: boolean) => void): void {
    this.#watchers.push(watcher)
  }

  #notify(transition: Transition, fresh = false): void {
    for (const watcher of this.#watchers) watcher(transition, fresh)
  }

  #emitChange(): void {
    if (!this.#disposed) this.#events.emit('change', this.view)
  }
}
