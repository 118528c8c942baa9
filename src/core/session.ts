import { RotationError, SessionExpiredError } from '../errors.js'
import type { Grant, LogoutReason, Origin, SessionEvents, SessionOptions, SessionState } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { endpointKey, endpointPath, requestURL } from '../utils/scope.js'
import { clearTimer, setTimer, sleep, type TimerHandle } from '../utils/timers.js'
import { tokensFrom, type Tokens } from './grant.js'
import { IdleTracker } from './idle.js'
import { normalizeOptions, type Config } from './options.js'
import { callRefresh, isTransient } from './refresh.js'
import { Scheduler } from './scheduler.js'
import { createXhrClass, type Gate } from './xhr.js'
import { createShared, SIGNED_OUT, supersedes, type Message, type Shared, type Snapshot } from './shared.js'

export interface Session {
  /** Same signature as fetch; requests in scope are held, authorised, rotated and replayed. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
  /** Begin the session from the app's own login answer (a Response or a Grant). */
  start(grant: Grant | Response): Promise<void>
  /** Rotate now: single-flight, and once per generation across tabs. */
  rotate(): Promise<void>
  /** Best-effort server logout, then local and every tab. */
  logout(): Promise<void>
  /** Counts as user activity for the idle timeout. */
  keepAlive(): void
  /**
   * Keeps the session from idling out (in every tab) while `work` runs, e.g. a long upload
   * or import; timer rotations go on meanwhile. Returns `work`.
   */
  busy<T>(work: Promise<T>): Promise<T>
  readonly state: SessionState
  on<K extends keyof SessionEvents>(event: K, listener: (payload: SessionEvents[K]) => void): () => void
  /**
   * Patch `target.fetch` (and `target.XMLHttpRequest` where it exists) so every request
   * goes through the session. Idempotent; returns uninstall, which restores both.
   */
  install(target?: InstallTarget, options?: InstallOptions): () => void
  /** Release timers, the channel and listeners; waiting requests reject. */
  dispose(): void
}

export type InstallTarget = { fetch: typeof fetch; XMLHttpRequest?: typeof XMLHttpRequest }
export type InstallOptions = {
  /** @default true */
  fetch?: boolean
  /** @default true where `target.XMLHttpRequest` exists */
  xhr?: boolean
}

/** Thrown inside a rotation when the RT was refused: the session must end (outside the lock). */
class Refused {
  constructor(readonly error: unknown) {}
}

/** How long a joining bearer tab waits for a peer to hand it the tokens. */
const JOIN_WAIT_MS = 300

/** Body types fetch can send twice; a stream is consumed by the first attempt. */
function replayableBody(body: BodyInit | null | undefined): boolean {
  return body === undefined || body === null || !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
}

class RotorSession implements Session {
  readonly #cfg: Config
  readonly #events = new Emitter<SessionEvents>()
  readonly #shared: Shared
  readonly #scheduler: Scheduler
  readonly #idle: IdleTracker | undefined
  /** The refresh and logout endpoints (endpointKey), never held nor authorised. */
  readonly #endpoints: Set<string>
  readonly #endpointPaths: Set<string>
  #snap: Snapshot = SIGNED_OUT
  /** The local in-flight rotation: everyone who needs one joins it. */
  #rotation: Promise<void> | undefined
  /** A generation another tab is rotating from, while it does. */
  #remoteRotating: number | undefined
  #remoteTimer: TimerHandle | undefined
  /** reauthenticate() in flight: managed requests hold until it settles. */
  #ending: Promise<void> | undefined
  /** A bearer tab that joined a running session and is waiting for a peer's tokens. */
  #joining: Promise<void> | undefined
  /** Aborted when this incarnation of the session ends: cancels refreshes, wakes waiters. */
  #life = new AbortController()
  readonly #waiters = new Set<(reason: unknown) => void>()
  #installed: { target: InstallTarget; original: typeof fetch; uninstall: () => void } | undefined
  #disposed = false

  constructor(options: SessionOptions) {
    this.#cfg = normalizeOptions(options)
    const endpoints = [this.#cfg.refreshURL, this.#cfg.logoutURL].filter(url => url !== undefined)
    this.#endpoints = new Set(endpoints.map(endpointKey))
    this.#endpointPaths = new Set(endpoints.map(endpointPath))
    this.#shared = createShared({
      name: this.#cfg.channelName,
      storage: this.#cfg.storage,
      storageKey: this.#cfg.channelName ?? 'rotor-auth',
      persistTokens: this.#cfg.persistTokens,
    })
    this.#shared.onMessage(message => this.#onMessage(message))
    this.#scheduler = new Scheduler({
      now: this.#cfg.now,
      onDue: () => this.#onTimer(),
    })
    this.#idle = this.#cfg.idle && new IdleTracker(this.#cfg.idle, {
      now: this.#cfg.now,
      onWarning: logoutAt => this.#events.emit('idle-warning', { logoutAt }),
      // Every tab's idle timer runs out at about the same moment: under the lock, with the
      // shared state re-read, only the first one calls the server; the rest adopt its logout.
      onTimeout: () =>
        void this.#shared
          .lock(async () => {
            this.#adoptShared()
            await this.#logout('idle')
          })
          .catch(() => undefined),
      broadcast: at => this.#shared.post({ type: 'activity', at }),
    })
    this.#join()
  }

  // ---- public API -------------------------------------------------------------------

  get state(): SessionState {
    const s = this.#snap
    return {
      status: s.status,
      rotating: this.#rotation !== undefined || this.#remoteRotating !== undefined,
      accessExpiresAt: s.accessExpiresAt,
      refreshExpiresAt: s.refreshExpiresAt,
      generation: s.generation,
    }
  }

  on<K extends keyof SessionEvents>(event: K, listener: (payload: SessionEvents[K]) => void): () => void {
    return this.#events.on(event, listener)
  }

  readonly fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = requestURL(input)
    if (url === undefined || !this.#manages(url)) return this.#baseFetch()(input, init)
    // Hot path: a usable AT and nothing in flight → straight to the network, no extra await.
    if (this.#ready()) return this.#send(input, init, true)
    return this.#waitThenSend(input, init)
  }

  async start(grant: Grant | Response): Promise<void> {
    this.#assertAlive('start')
    const tokens = await tokensFrom(grant, this.#cfg.now)
    if (this.#cfg.transport === 'bearer' && tokens.accessToken === undefined) {
      throw new TypeError("rotor-auth: start() with transport 'bearer' needs a grant that carries the access token")
    }
    this.#activate(tokens, 'start')
  }

  async rotate(): Promise<void> {
    this.#assertAlive('rotate')
    if (this.#snap.status !== 'active') return Promise.reject(new SessionExpiredError(this.#snap.reason ?? 'expired'))
    return this.#rotateFrom(this.#snap.generation)
  }

  async logout(): Promise<void> {
    this.#assertAlive('logout')
    await this.#logout('user')
  }

  /** Best-effort server logout (it revokes the RT family), then the local end in every tab. */
  async #logout(reason: 'user' | 'idle'): Promise<void> {
    if (this.#snap.status !== 'active') return
    const snapshot = this.#snap
    // End everywhere first: the shared state says signed-out before the server is asked, so
    // no other tab can take the lock meanwhile and present an RT our aborted refresh spent.
    this.#endSession(reason, 'local')
    const url = this.#cfg.logoutURL
    if (url) {
      const headers = new Headers(this.#cfg.headers)
      if (this.#cfg.transport === 'bearer' && snapshot.accessToken) headers.set('authorization', `Bearer ${snapshot.accessToken}`)
      const init: RequestInit = { method: 'POST', headers, signal: AbortSignal.timeout(this.#cfg.refreshTimeout) }
      if (this.#cfg.transport === 'cookie') init.credentials = 'include'
      else if (snapshot.refreshToken) {
        headers.set('content-type', 'application/json')
        init.body = JSON.stringify({ refreshToken: snapshot.refreshToken })
      }
      try {
        const response = await this.#baseFetch()(url, init)
        await response.body?.cancel()
      } catch {
        // Best effort: the session has ended locally whatever the server says.
      }
    }
  }

  keepAlive(): void {
    this.#idle?.activity()
  }

  busy<T>(work: Promise<T>): Promise<T> {
    const release = this.#idle?.hold()
    if (release) void Promise.resolve(work).then(release, release)
    return work
  }

  install(target: InstallTarget = globalThis, options: InstallOptions = {}): () => void {
    this.#assertAlive('install')
    if (this.#installed) {
      if (this.#installed.target === target) return this.#installed.uninstall
      this.#installed.uninstall()
    }
    const original = target.fetch
    const wrapper = options.fetch === false ? undefined : (input: RequestInfo | URL, init?: RequestInit) => this.fetch(input, init)
    const OriginalXhr = options.xhr === false ? undefined : target.XMLHttpRequest
    const Xhr = OriginalXhr && createXhrClass(OriginalXhr, this.#gate(), () => (globalThis as { location?: { href: string } }).location?.href)
    const uninstall = () => {
      if (wrapper && target.fetch === wrapper) target.fetch = original
      if (Xhr && target.XMLHttpRequest === Xhr) target.XMLHttpRequest = OriginalXhr
      if (this.#installed?.target === target) this.#installed = undefined
    }
    this.#installed = { target, original, uninstall }
    if (wrapper) target.fetch = wrapper
    if (Xhr) target.XMLHttpRequest = Xhr
    return uninstall
  }

  /** The request gate the XHR facade goes through: the same rules as `fetch`. */
  #gate(): Gate {
    return {
      manages: url => this.#manages(url),
      ready: () => this.#ready(),
      wait: () => this.#waitUntilUsable(),
      recover: generation => this.#waitUntilUsable(generation),
      generation: () => this.#snap.generation,
      authorization: () => (this.#cfg.transport === 'bearer' ? this.#bearer() : undefined),
      cookies: () => this.#cfg.transport === 'cookie',
    }
  }

  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    // Waiting requests end now; a refresh already on the wire is not aborted: the server may
    // have spent the RT, and only its answer, published to the other tabs, keeps them from
    // presenting that RT again. It is bounded by refreshTimeout; the channel closes after it.
    const reason = new SessionExpiredError('disposed')
    this.#wakeWaiters(reason)
    this.#scheduler.dispose()
    this.#idle?.dispose()
    clearTimer(this.#remoteTimer)
    this.#installed?.uninstall()
    const rotation = this.#shared.hasPeers() ? this.#rotation : undefined
    if (rotation) {
      void rotation.catch(() => undefined).finally(() => this.#shared.close())
    } else {
      this.#abortLife(reason)
      this.#shared.close()
    }
    this.#events.clear()
  }

  // ---- requests ---------------------------------------------------------------------

  #baseFetch(): typeof fetch {
    // Looked up at call time: a fetch patched after createSession (msw, tests) applies.
    return this.#cfg.fetch ?? this.#installed?.original ?? globalThis.fetch
  }

  #manages(url: URL): boolean {
    if (this.#disposed) return false
    if (this.#snap.status !== 'active' && this.#ending === undefined && this.#joining === undefined) return false
    if (!this.#cfg.scope(url)) return false
    // The refresh and logout calls must never wait for a rotation (it would wait for itself).
    // The path first: it rules out nearly every request without reading url.origin again.
    const path = endpointPath(url)
    return !this.#endpointPaths.has(path) || !this.#endpoints.has(url.origin + path)
  }

  #leeway(): number {
    const s = this.#snap
    if (this.#cfg.leeway !== undefined) return this.#cfg.leeway
    const lifetime = (s.accessExpiresAt ?? 0) - (s.issuedAt ?? 0)
    return Math.min(5000, Math.max(0, lifetime * 0.1))
  }

  /** A managed request may go out at once: a usable AT and nothing in flight to wait for. */
  #ready(): boolean {
    return this.#rotation === undefined && this.#ending === undefined && this.#joining === undefined && this.#usable()
  }

  /** The AT can be sent now without risking a 401 for expiry. */
  #usable(): boolean {
    const s = this.#snap
    return s.status === 'active' && s.accessExpiresAt !== null && this.#cfg.now() < s.accessExpiresAt - this.#leeway()
  }

  #refreshExpired(): boolean {
    const { refreshExpiresAt } = this.#snap
    return refreshExpiresAt !== null && this.#cfg.now() >= refreshExpiresAt
  }

  #bearer(): string {
    return `Bearer ${this.#snap.accessToken ?? ''}`
  }

  #authorize(input: RequestInfo | URL, init: RequestInit | undefined): RequestInit {
    if (this.#cfg.transport === 'cookie') return { ...init, credentials: 'include' }
    const authorization = this.#bearer()
    const given = init?.headers
    if (!(input instanceof Request) && (given === undefined || (typeof given === 'object' && given.constructor === Object))) {
      // Plain object: cheaper than a Headers. Any casing of a caller's own Authorization goes,
      // or fetch would join the two values into one header.
      const headers: Record<string, string> = {}
      for (const name in given) if (name.toLowerCase() !== 'authorization') headers[name] = (given as Record<string, string>)[name]!
      headers['authorization'] = authorization
      return { ...init, headers }
    }
    const headers = new Headers(given ?? (input instanceof Request ? input.headers : undefined))
    headers.set('authorization', authorization)
    return { ...init, headers }
  }

  #send(input: RequestInfo | URL, init: RequestInit | undefined, mayReplay: boolean): Promise<Response> {
    const generation = this.#snap.generation
    let replayInput = input
    let canReplay = mayReplay && replayableBody(init?.body)
    if (canReplay && input instanceof Request && input.body !== null && init?.body === undefined) {
      // The first attempt consumes the Request's body stream; keep a copy for the replay.
      try {
        replayInput = input.clone()
      } catch {
        canReplay = false
      }
    }
    const sent = this.#baseFetch()(input, this.#authorize(input, init))
    if (!canReplay) return sent
    return sent.then(response => (response.status === 401 ? this.#replay(response, replayInput, init, generation) : response))
  }

  /**
   * A 401 on a managed request: rotate unless a newer generation already superseded the
   * token it carried, then send it once more. Never a second replay.
   */
  async #replay(first: Response, input: RequestInfo | URL, init: RequestInit | undefined, generation: number): Promise<Response> {
    if (this.#snap.status !== 'active') return first
    void first.body?.cancel().catch(() => undefined)
    await this.#waitUntilUsable(generation)
    return this.#send(input, init, false)
  }

  async #waitThenSend(input: RequestInfo | URL, init: RequestInit | undefined): Promise<Response> {
    await this.#waitUntilUsable()
    return this.#send(input, init, true)
  }

  /**
   * Holds a managed request until the session has a usable AT (newer than `staleGeneration`
   * when given), rotating as needed. Settles on every path: resolves, or rejects with
   * SessionExpiredError (the session ended) or RotationError (refresh kept failing past the
   * deadline).
   */
  async #waitUntilUsable(staleGeneration?: number): Promise<void> {
    let deadline = this.#cfg.now() + this.#cfg.queueTimeout
    let lastError: unknown
    let rounds = 0
    for (;;) {
      if (this.#disposed) throw new SessionExpiredError('disposed')
      const pending = this.#ending ?? this.#joining
      if (pending) {
        // reauthenticate() may be a person typing a password: requests wait for it to settle
        // (a join settles within JOIN_WAIT_MS). Logout and dispose still wake them.
        await this.#withDeadline(pending, Number.POSITIVE_INFINITY, lastError).catch(() => undefined)
        continue
      }
      if (this.#snap.status !== 'active') throw new SessionExpiredError(this.#snap.reason ?? 'expired')
      const stale = staleGeneration !== undefined && this.#snap.generation <= staleGeneration
      if (!stale && this.#rotation === undefined && this.#usable()) return
      // Only failures use up the queue timeout: time spent asleep, or waiting for a refresh
      // that then succeeded, is no reason to fail the request.
      if (this.#cfg.now() >= deadline) {
        if (lastError !== undefined) throw this.#timeoutError(lastError)
        deadline = this.#cfg.now() + this.#cfg.queueTimeout
      }
      if (this.#rotation === undefined && this.#refreshExpired() && !this.#usable()) {
        // Both tokens are dead: refreshing is pointless. Reauthenticate (the next round waits
        // for it, wakeable) or end (the next round throws).
        void this.#endOrReauthenticate('expired').catch(() => undefined)
        continue
      }
      try {
        // A stale token (a 401's) needs a newer generation than the one it carried; an
        // expired one, a newer generation than the current.
        const from = stale ? staleGeneration : this.#snap.generation
        await this.#withDeadline(this.#rotation ?? this.#rotateFrom(from), deadline, lastError)
        // A grant can arrive already expired (the machine slept while it was on its way):
        // rotate once more then. Not forever: a server whose tokens always arrive expired
        // would be hammered; after two fresh generations the request goes out as it is.
        if (this.#snap.status === 'active' && this.#snap.generation > from && (this.#usable() || ++rounds >= 2)) return
      } catch (error) {
        if (error instanceof SessionExpiredError || error instanceof RotationError) throw error
        lastError = error
        // Transient: ky already backed off inside the call; pause a little before the next
        // round so a server that fails instantly is not hammered.
        await this.#withDeadline(sleep(Math.min(1000, Math.max(0, deadline - this.#cfg.now()))), deadline, lastError).catch(() => undefined)
      }
    }
  }

  #timeoutError(cause: unknown): RotationError {
    return new RotationError(
      `rotor-auth: no usable access token within queueTimeout (${this.#cfg.queueTimeout} ms): refresh kept failing`,
      { cause },
    )
  }

  /** Waits for `promise`, but not past `deadline` nor past the end of this session. */
  #withDeadline(promise: Promise<void>, deadline: number, lastError: unknown): Promise<void> {
    const life = this.#life
    return new Promise<void>((resolve, reject) => {
      // One set of waiters instead of an abort listener each: thousands may queue.
      const wake = (reason: unknown) => finish(() => reject(reason))
      const timer = Number.isFinite(deadline) ? setTimer(() => finish(() => reject(this.#timeoutError(lastError))), deadline - this.#cfg.now()) : undefined
      const finish = (settle: () => void) => {
        clearTimer(timer)
        this.#waiters.delete(wake)
        settle()
      }
      // Handlers first: an already-ended session must not leave `promise` unhandled.
      promise.then(
        () => finish(resolve),
        error => finish(() => reject(error)),
      )
      if (life.signal.aborted) return wake(life.signal.reason)
      this.#waiters.add(wake)
    })
  }

  /** Ends this incarnation's life: the refresh in flight aborts and every waiter wakes. */
  #abortLife(reason: SessionExpiredError): void {
    this.#life.abort(reason)
    this.#wakeWaiters(reason)
  }

  #wakeWaiters(reason: SessionExpiredError): void {
    for (const wake of [...this.#waiters]) wake(reason)
  }

  // ---- rotation -----------------------------------------------------------------------

  /** Single-flight: every caller joins the rotation in flight. */
  #rotateFrom(generation: number): Promise<void> {
    if (this.#rotation) return this.#rotation
    const rotation = this.#rotateLocked(generation)
      .catch(async (error: unknown) => {
        if (!(error instanceof Refused)) throw error
        // The RT was refused and no other tab had rotated: the session ends, or
        // reauthenticate() brings a new one (outside the lock: it may show a login form).
        await this.#endOrReauthenticate('rejected')
      })
      .finally(() => {
        if (this.#rotation === rotation) this.#rotation = undefined
        this.#emitChange()
      })
    this.#rotation = rotation
    this.#emitChange()
    return rotation
  }

  async #rotateLocked(generation: number): Promise<void> {
    const life = this.#life
    await this.#shared.lock(async () => {
      // Another tab may have rotated while we waited for the lock: adopt, do not refresh.
      // A second refresh with the same RT makes a rotating-RT server revoke the family.
      this.#adoptShared()
      if (life.signal.aborted) throw life.signal.reason
      if (this.#snap.status !== 'active') throw new SessionExpiredError(this.#snap.reason ?? 'expired')
      if (this.#snap.generation > generation) return
      this.#shared.post({ type: 'rotating', generation: this.#snap.generation })
      let tokens: Tokens
      try {
        tokens = await callRefresh({
          spec: this.#cfg.refresh,
          fetch: this.#baseFetch(),
          headers: this.#cfg.headers,
          credentials: this.#cfg.transport === 'cookie' ? 'include' : undefined,
          refreshToken: this.#snap.refreshToken,
          signal: life.signal,
          now: this.#cfg.now,
          timeout: this.#cfg.refreshTimeout,
          retries: this.#cfg.refreshRetries,
        })
      } catch (error) {
        this.#shared.post({ type: 'rotated', generation: this.#snap.generation, ok: false })
        if (life.signal.aborted) throw life.signal.reason
        if (!isTransient(error, this.#cfg.transport)) {
          // "RT already used" may only mean another tab rotated first: check before ending.
          this.#adoptShared()
          if (this.#snap.generation > generation) return
          this.#events.emit('rotate-error', { error, willRetry: false })
          throw new Refused(error)
        }
        this.#events.emit('rotate-error', { error, willRetry: true })
        this.#scheduler.retryAfterFailure()
        throw error
      }
      // A late answer never revives a session that ended while it was in flight, here or in
      // another tab whose logout message may not have arrived yet (the shared state has it).
      if (life.signal.aborted) throw life.signal.reason
      this.#adoptShared()
      if (this.#snap.status !== 'active') throw new SessionExpiredError(this.#snap.reason ?? 'expired')
      this.#scheduler.resetFailures()
      this.#commit(tokens, 'rotate')
    })
  }

  /** Both tokens expired, or the RT was refused: reauthenticate once, or end. */
  #endOrReauthenticate(reason: 'expired' | 'rejected'): Promise<void> {
    // A disposed tab (finishing its last refresh) asks nobody to log in.
    const reauthenticate = this.#disposed ? undefined : this.#cfg.reauthenticate
    if (!reauthenticate) {
      this.#endSession(reason, 'local')
      return Promise.reject(new SessionExpiredError(reason))
    }
    if (this.#ending) return this.#ending
    const generation = this.#snap.generation
    const ending = this.#shared
      .lock(async () => {
        // A login completed in another tab satisfies this one too.
        this.#adoptShared()
        if (this.#snap.status === 'active' && this.#snap.generation > generation) return
        let result: Grant | Response | void
        try {
          result = await reauthenticate()
        } catch {
          result = undefined
        }
        if (result === undefined || result === null) throw new SessionExpiredError(reason)
        this.#activate(await tokensFrom(result, this.#cfg.now), 'start')
      })
      .catch((error: unknown) => {
        this.#endSession(reason, 'local')
        throw error instanceof SessionExpiredError ? error : new SessionExpiredError(reason, undefined, { cause: error })
      })
      .finally(() => {
        if (this.#ending === ending) this.#ending = undefined
      })
    this.#ending = ending
    return ending
  }

  #onTimer(): void {
    if (this.#disposed || this.#snap.status !== 'active') return
    if (this.#refreshExpired() && !this.#usable()) {
      void this.#endOrReauthenticate('expired').catch(() => undefined)
      return
    }
    if (this.#cfg.rotation === 'timer' && (this.#idle?.isIdle() ?? false) === false) {
      void this.#rotateFrom(this.#snap.generation).catch(() => undefined)
    }
  }

  // ---- state --------------------------------------------------------------------------

  /** A login (start/reauthenticate) or another tab's login: a new incarnation of the session. */
  #activate(tokens: Tokens, kind: 'start'): void {
    if (this.#life.signal.aborted) this.#life = new AbortController()
    this.#commit(tokens, kind)
    this.#idle?.start()
  }

  /** Applies new tokens from this tab and tells every other tab. */
  #commit(tokens: Tokens, kind: 'start' | 'rotate'): void {
    const base = this.#shared.read()
    const generation = Math.max(this.#snap.generation, base?.generation ?? 0) + 1
    const snapshot: Snapshot = {
      generation,
      status: 'active',
      issuedAt: tokens.issuedAt,
      accessExpiresAt: tokens.accessExpiresAt,
      refreshExpiresAt: tokens.refreshExpiresAt,
    }
    if (tokens.accessToken !== undefined) snapshot.accessToken = tokens.accessToken
    // An RT-less refresh answer (some OAuth2 servers) keeps the RT we had.
    const refreshToken = tokens.refreshToken ?? (kind === 'rotate' ? this.#snap.refreshToken : undefined)
    if (refreshToken !== undefined) snapshot.refreshToken = refreshToken
    this.#shared.write(snapshot)
    this.#shared.post({ type: 'state', snapshot })
    this.#apply(snapshot, 'local', kind === 'rotate')
  }

  #apply(snapshot: Snapshot, origin: Origin, rotated: boolean): void {
    this.#snap = snapshot
    this.#clearRemoteRotating()
    this.#scheduler.schedule(this.#nextDue())
    this.#emitChange()
    if (rotated) this.#events.emit('rotate', { state: this.state, origin })
  }

  /** When the timer should next look at the session. */
  #nextDue(): number | undefined {
    const s = this.#snap
    if (s.status !== 'active' || s.accessExpiresAt === null || s.issuedAt === null) return undefined
    const lifetime = s.accessExpiresAt - s.issuedAt
    let due: number
    if (this.#cfg.rotation === 'timer') {
      // The primary tab rotates at rotateAt; the others hold a backup timer halfway to
      // expiry, which only fires if the primary is gone or throttled (its rotation would
      // have moved the generation on and rescheduled them).
      const at = this.#shared.isPrimary() ? this.#cfg.rotateAt : this.#cfg.rotateAt + (1 - this.#cfg.rotateAt) / 2
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

  #clearRemoteRotating(): void {
    this.#remoteRotating = undefined
    clearTimer(this.#remoteTimer)
    this.#remoteTimer = undefined
  }

  #emitChange(): void {
    if (!this.#disposed) this.#events.emit('change', this.state)
  }

  /** Ends this incarnation: local state, waiting requests, and (when local) every tab. */
  #endSession(reason: LogoutReason, origin: Origin, remote?: Snapshot): void {
    if (this.#snap.status !== 'active' && !remote) return
    if (this.#snap.status !== 'active' && remote) {
      this.#snap = remote
      return
    }
    this.#abortLife(new SessionExpiredError(reason))
    // Above every generation known anywhere, so no tab can take this logout for old news.
    const generation = Math.max(this.#snap.generation, this.#shared.read()?.generation ?? 0) + 1
    const snapshot: Snapshot = remote ?? { ...SIGNED_OUT, generation, reason }
    if (origin === 'local') {
      this.#shared.write(snapshot)
      this.#shared.post({ type: 'state', snapshot })
    }
    this.#snap = snapshot
    this.#clearRemoteRotating()
    this.#scheduler.schedule(undefined)
    this.#idle?.stop()
    this.#emitChange()
    this.#events.emit('logout', { reason, origin })
  }

  // ---- other tabs -------------------------------------------------------------------

  /** Adopts whatever newer state the shared store holds (another tab's rotation or logout). */
  #adoptShared(): void {
    const shared = this.#shared.read()
    if (shared) this.#adopt(shared)
  }

  #adopt(snapshot: Snapshot): void {
    if (!supersedes(snapshot, this.#snap)) return
    if (snapshot.status === 'signed-out') {
      this.#endSession(snapshot.reason ?? 'user', 'remote', snapshot)
      return
    }
    // The bearer transport cannot use a snapshot without tokens (one read back from storage
    // when tokens are not persisted): wait for a peer's message instead.
    if (this.#cfg.transport === 'bearer' && snapshot.accessToken === undefined) return
    const wasActive = this.#snap.status === 'active'
    if (!wasActive) {
      if (this.#life.signal.aborted) this.#life = new AbortController()
      this.#idle?.start()
    }
    this.#apply(snapshot, 'remote', wasActive)
  }

  #onMessage(message: Message): void {
    if (this.#disposed) return
    switch (message.type) {
      case 'state':
        this.#adopt(message.snapshot)
        return
      case 'rotating':
        if (message.generation >= this.#snap.generation) {
          this.#remoteRotating = message.generation
          // A tab closed mid-rotation never says it is done: the flag cannot outlive the
          // longest a refresh call may take.
          clearTimer(this.#remoteTimer)
          this.#remoteTimer = setTimer(() => {
            this.#clearRemoteRotating()
            this.#emitChange()
          }, this.#cfg.refreshTimeout * (this.#cfg.refreshRetries + 1) + 1000)
          this.#emitChange()
        }
        return
      case 'rotated':
        this.#clearRemoteRotating()
        this.#emitChange()
        return
      case 'hello':
        if (this.#snap.status === 'active') this.#shared.post({ type: 'state', snapshot: this.#snap })
        return
      case 'activity':
        this.#idle?.remoteActivity(message.at)
        return
    }
  }

  /** A new tab joins the running session without rotating. */
  #join(): void {
    const shared = this.#shared.read()
    if (shared && shared.status === 'active' && !(shared.refreshExpiresAt !== null && this.#cfg.now() >= shared.refreshExpiresAt)) {
      this.#adopt(shared)
    } else if (shared) {
      // Keep the generation counter monotonic across a logout and the next login.
      this.#snap = { ...SIGNED_OUT, generation: shared.generation }
    }
    if (this.#snap.status === 'active' || this.#cfg.channelName === undefined) return
    if (this.#cfg.transport === 'bearer' && shared?.status === 'active') {
      // Tokens are not in storage: ask the peers, and hold requests briefly for the answer.
      const joined = new Promise<void>(resolve => {
        const off = this.#events.on('change', state => {
          if (state.status === 'active') done()
        })
        const timer = setTimer(() => done(), JOIN_WAIT_MS)
        const done = () => {
          off()
          clearTimer(timer)
          if (this.#joining === joined) this.#joining = undefined
          resolve()
        }
      })
      this.#joining = joined
    }
    this.#shared.post({ type: 'hello' })
  }

  #assertAlive(method: string): void {
    if (this.#disposed) throw new Error(`rotor-auth: session.${method}() called after dispose()`)
  }
}

export function createSession(options: SessionOptions): Session {
  return new RotorSession(options)
}
