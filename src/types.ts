/** The public types of rotor-auth: options, session, events, grants and the coordinator interface. */
import type { Platform } from './platform/types.js'
import type { TraceEntry, TraceExport } from './trace/recorder.js'
import type { DebugOption } from './trace/options.js'
import type { Coordinator } from './coordinator/types.js'
import type { EndReason } from './errors.js'

/**
 * What a login or refresh answer carries, in camelCase. Every field is optional: the cookie
 * transport only ever sees expirations, the bearer transport needs the tokens themselves.
 *
 * Expirations may be ISO-8601 strings, epoch milliseconds or `Date`s on the *server's*
 * clock (they are corrected with the answer's `Date` header), or lifetimes in seconds
 * (`expiresIn`, `refreshExpiresIn`), which are measured from the moment of receipt.
 */
export type Grant = {
  accessToken?: string
  refreshToken?: string
  accessTokenExpiration?: string | number | Date
  refreshTokenExpiration?: string | number | Date
  /** AT lifetime in seconds (OAuth2 `expires_in`). */
  expiresIn?: number
  /** RT lifetime in seconds (`refresh_expires_in`). */
  refreshExpiresIn?: number
  /** OAuth2 `token_type`. With `dpop`, a grant whose type is not `DPoP` is refused (`ERR_DPOP_BINDING`). */
  tokenType?: string
}

export type SessionState = {
  status: 'signed-out' | 'active'
  /** A rotation is in flight in this tab or, with `crossTab`, in another one. */
  rotating: boolean
  /** Epoch ms on the local clock, or null when signed out / unknown. */
  accessExpiresAt: number | null
  /** Epoch ms on the local clock; null when signed out or the RT expiry is not known (opaque RT). */
  refreshExpiresAt: number | null
  /** +1 per successful rotation (and per login), shared by all tabs. */
  generation: number
}

export type LogoutReason = Exclude<EndReason, 'disposed'>
export type Origin = 'local' | 'remote'

export type RotateErrorEvent = {
  error: unknown
  /** true while another attempt will follow; false exactly once, when the session gives up (the RT was refused). */
  willRetry: boolean
  /** 1-based count of consecutive failed attempts since the last success. */
  attempt: number
  /** ms until the next attempt, when one is scheduled. */
  retryIn?: number
}

export type SessionEvents = {
  change: SessionState
  rotate: { state: SessionState; origin: Origin }
  'rotate-error': RotateErrorEvent
  /**
   * The session ended. `error`: with reason `'rejected'`, in the tab whose refresh was refused,
   * the `RefreshRefusedError` (HTTP `status`, and `body`: the server's words, token-redacted).
   */
  logout: { reason: LogoutReason; origin: Origin; error?: unknown }
  'idle-warning': { logoutAt: number }
  /**
   * Persistent storage refused a write (full, disabled): the session goes on in memory and on
   * the channel. The stored state was removed (`cleared`) so that a reload starts signed out
   * instead of resuming a spent RT or a logged-out session; if even that failed, it is stale.
   */
  'storage-error': { error: unknown; cleared: boolean }
  /** dispose() was called: the last event; sockets and streams built on the session close with it. */
  dispose: Record<never, never>
  /** Activity in any tab after an `idle-warning`: the warning is over; `logoutAt` is the new deadline. */
  'idle-resume': { logoutAt: number }
  /** `sessionEnding.warning` ms before the RT expires (epoch ms, local clock), once per expiry, in every tab. */
  'session-ending': { endsAt: number }
  /**
   * The `worker` option was given but this tab's session runs without the rotation worker:
   * it could not start (no SharedWorker, a CSP forbidding it, the script not served, no answer,
   * another version of the app holding it) or stopped answering. `reason` says which. The
   * session goes on with the page's own coordinator; nothing waiting is lost.
   */
  'worker-fallback': { reason: string }
  /**
   * A grant's absolute expirations were put on the local clock with an offset (server clock
   * minus local, ms): measured from the answer's `Date` header (`date`) or, where a
   * cross-origin answer hides it, from the JWT's `iat` (`iat`); or `assumed`: the AT arrived
   * already expired and nothing readable told the offset (or the server said `expires_in <= 0`),
   * so the AT is taken to live 60 s from receipt and the RT keeps its spacing from the AT.
   */
  'clock-skew': { offset: number; source: 'date' | 'iat' | 'assumed' }
  /** One decision the session took (see `session.trace()` and the `debug` option); never a token, cookie or body. */
  trace: TraceEntry
}

export type RefreshContext = {
  /** The underlying fetch (never the session's own). */
  fetch: typeof fetch
  /** The refresh token, bearer transport only. */
  refreshToken: string | undefined
  /** Aborted when the session logs out or is disposed. */
  signal: AbortSignal
  /** The `headers` option. */
  headers: Headers
}

export type RefreshStyle = 'folio' | 'json' | 'oauth2'

export type RefreshOption =
  | string
  | URL
  | { url: string | URL; style?: RefreshStyle; clientId?: string }
  | ((ctx: RefreshContext) => Promise<Response | Grant>)

export type ScopeOption = string | URL | Array<string | URL> | ((url: URL) => boolean)

export type IdleOptions = {
  /** ms without user activity in any tab after which every tab logs out. */
  timeout: number
  /**
   * ms before the timeout at which `idle-warning` fires.
   * @default 0 (no warning)
   */
  warning?: number
  /**
   * DOM events on `window` that count as activity.
   * @default ['pointerdown', 'keydown', 'wheel', 'touchstart', 'visibilitychange']
   */
  activityEvents?: string[]
}

export type SessionEndingOptions = {
  /** ms before the RT expires at which `session-ending` fires (in every tab). */
  warning: number
}

/** `session.fetch` takes fetch's init, and one flag of its own. */
export type SessionRequestInit = RequestInit & {
  /**
   * Send this request untouched: no waiting for a rotation, no credentials or `Authorization`
   * added, no replay after a 401 (stripes-core's `rtrIgnore`). The header `X-Rotor-Ignore`
   * (any value; it is removed before sending) does the same, for XHR and `Request` objects.
   */
  rtrIgnore?: boolean
}

/** Minimal Storage, so tests and non-browser hosts can pass their own. */
export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

/**
 * The timer functions every part of a session uses. The default looks up the platform's
 * `setTimeout`/`clearTimeout` at call time (so fake timers installed later apply); a test can
 * pass its own to replay a race step by step. In Node the session `unref`s what it does not
 * need to keep the process alive.
 */
export type Timers = {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

// The coordinator's types live beside it; they are public and re-exported from here.
export type { Coordinator, LockOptions, Message, OutgoingMessage, Snapshot } from './coordinator/types.js'

export type SessionOptions = {
  /**
   * Which requests the session manages: a URL matches the same origin and a path prefix at a
   * segment boundary; an array, any of its entries; a function, whatever it accepts. Every
   * other request passes through untouched (no waiting, no credentials, no `Authorization`).
   * @example 'https://folio.example.org/okapi'
   */
  scope: ScopeOption
  /**
   * `'timer'`: rotate at `rotateAt` of the AT lifetime, so an idle session stays alive.
   * `'request'`: rotate when a managed request finds the AT expired or within `leeway` of it.
   * @default 'timer'
   * @example 'request'
   */
  rotation?: 'timer' | 'request'
  /**
   * `'cookie'`: tokens in HttpOnly cookies, managed requests go with credentials.
   * `'bearer'`: the session holds the tokens and sets `Authorization: Bearer <AT>`.
   * @default 'cookie'
   * @example 'bearer'
   */
  transport?: 'cookie' | 'bearer'
  /**
   * How to rotate: a URL to POST (`style` 'folio': no body; 'json': `{ refreshToken }`;
   * 'oauth2': RFC 6749 §6 form), or a function that takes full control.
   * @default `<scope>/authn/refresh`, style 'folio'
   * @example { url: 'https://auth.example.com/oauth/token', style: 'oauth2', clientId: 'my-app' }
   */
  refresh?: RefreshOption
  /**
   * Endpoint `logout()` calls (it revokes the RT family), or false.
   * @default `<scope>/authn/logout`
   * @example false
   */
  logout?: string | URL | false
  /**
   * Extra headers for refresh and logout calls.
   * @default none
   * @example { 'X-Okapi-Tenant': 'diku' }
   */
  headers?: HeadersInit
  /**
   * Timer mode: fraction of the AT lifetime at which to rotate.
   * @default 0.8
   * @example 0.5
   */
  rotateAt?: number
  /**
   * Share state, rotation, logout and idle with every session of the same name (tabs,
   * workers, sessions of one Node process). `{ name }` picks the name.
   * @default true where BroadcastChannel exists (name derived from `scope`)
   * @example { name: 'folio' }
   */
  crossTab?: boolean | { name: string }
  /**
   * What sessions of one name share, replacing the default (BroadcastChannel + Web Locks, or
   * in-process in Node). See `Coordinator` for the guarantees it must give.
   * @default the platform's
   * @example myWorkerCoordinator   // one object per session; dispose() closes it
   */
  coordinator?: Coordinator
  /**
   * The rotation worker's script (`rotor-auth/worker`, served from this origin): one
   * SharedWorker owns the rotation timer, the refresh call and the shared state for every tab
   * of this session's name, so a busy or throttled page never delays a rotation, and with the
   * bearer transport the RT never enters a page after the first rotation (tabs get the AT over
   * their own port; no token crosses a BroadcastChannel). Where it cannot run, the session
   * uses the page's own coordination and emits `worker-fallback`. Needs `refresh` as a URL
   * (a function cannot reach the worker) and a browser (crossTab).
   * @default none: tabs coordinate among themselves
   * @example new URL('rotor-auth/worker', import.meta.url)   // or '/rotor-worker.js' after `npx rotor-auth init public`
   */
  worker?: string | URL | false
  /**
   * Called once across all tabs when the session would end (both tokens expired, or the RT
   * refused), e.g. to show a login form. Waiting requests hold until it settles, however
   * long (`queueTimeout` does not apply); a grant or login Response resumes them, anything
   * else (or a throw) logs out. Every tab waits for it, not only the one running it. `signal`
   * aborts when that tab is disposed (closed) first: the hook should close its form, and
   * another tab takes the job over.
   * @default none: the session ends
   * @example () => showLoginDialog()   // resolves with the login Response
   */
  reauthenticate?: (context: { signal: AbortSignal }) => Promise<Grant | Response | void>
  /**
   * Log out after `timeout` ms without activity in any tab; `idle-warning` fires `warning` ms before.
   * @default false
   * @example { timeout: 4 * 3600_000, warning: 60_000 }
   */
  idle?: IdleOptions | false
  /**
   * Warn before the RT itself expires (a session the server will not extend, e.g. FOLIO's
   * fixed-length sessions): `session-ending` `{ endsAt }` fires `warning` ms before, in every
   * tab, re-armed in every tab when a rotation moves the expiry; at `endsAt` every tab logs
   * out with reason `'expired'` (or `reauthenticate` runs), even while the AT still works.
   * @default false
   * @example { warning: 60_000 }
   */
  sessionEnding?: SessionEndingOptions | false
  /**
   * The underlying fetch. It must not lead back into the session (`(...a) => fetch(...a)`
   * after `install()`): such a request rejects with `FetchLoopError` (`ERR_FETCH_LOOP`).
   * @default globalThis.fetch, looked up at call time (or the fetch `install()` wrapped)
   * @example cookieFetch()   // rotor-auth/testing: a fetch with its own cookie jar
   */
  fetch?: typeof fetch
  /** Clock, for tests. @default Date.now @example () => fakeNow */
  now?: () => number
  /** Timers, for tests. @default the platform's, looked up at call time @example { setTimeout: fake.set, clearTimeout: fake.clear } */
  timers?: Timers
  /**
   * Any piece of the runtime the session runs on, replaced: clocks, timers, events, channels,
   * locks, storage, the page's address, fetch (tests and simulations; see `Platform`). `now`
   * and `timers` above win over the runtime's, and this option's pieces over both.
   * @default the runtime's own (src/platform/defaults.ts)
   * @example { random: seeded.next, channel: sim.channel, locks: sim.locks }
   */
  platform?: Partial<Platform>
  /**
   * Where each decision goes as the session takes it (lock asked and granted, rotation started,
   * answered or adopted, requests parked and replayed, budget reached, logout…): `true` logs to
   * `console` (routine decisions at `debug`, the rest at `info`/`warn`), a function receives
   * each entry, a logger object gets each at its level. Entries never carry a token, a cookie or
   * a body. `session.trace()` keeps the last `traceSize` whatever this says.
   * @default false
   * @example { debug: entry => myLogger.debug(entry) }
   */
  debug?: DebugOption
  /**
   * How many decisions `session.trace()` keeps (a ring: the oldest goes first); 0 keeps none.
   * @default 500
   * @example 2000
   */
  traceSize?: number
  /**
   * A managed request whose AT expires within this many ms is held for a rotation first.
   * @default min(5000, 10% of the AT lifetime)
   * @example 2000
   */
  leeway?: number
  /**
   * How long a managed request may wait for a rotation that keeps failing transiently
   * before it rejects with `RotationError` (time spent waiting for `reauthenticate` does not count).
   * @default 30000
   * @example 5000
   */
  queueTimeout?: number
  /**
   * After this long without an answer a refresh attempt is reported (`rotate-error`); it is
   * still awaited, under the lock, up to 3× as long (a second refresh could reuse the RT).
   * @default 10000
   * @example 5000
   */
  refreshTimeout?: number
  /**
   * Retries inside one refresh call on network errors, 408/429/5xx, with exponential
   * backoff, full jitter and `Retry-After`.
   * @default 2
   * @example 0
   */
  refreshRetries?: number
  /**
   * Keep the session across reloads in `storage`. The cookie transport persists expirations
   * only (the tokens live in HttpOnly cookies); the bearer transport keeps its tokens in
   * memory unless `persist: true`.
   * @default true for 'cookie', false for 'bearer'
   * @example true
   */
  persist?: boolean
  /** Where `persist` writes. @default globalThis.localStorage where it exists @example sessionStorage */
  storage?: StorageLike
  /**
   * DPoP (RFC 9449), bearer transport only: every managed request, refresh and logout carries
   * a proof signed with a non-extractable key of this session's name (shared by its tabs
   * through IndexedDB), and `Authorization: DPoP <AT>`; stolen tokens are useless without the
   * key. The login must be bound too: make the token request with `session.dpopFetch`. Loaded
   * on demand. With `worker`, the worker signs its refreshes and logout with the same key.
   * Not with the XHR facade (yet).
   * @default false
   * @example true   // or { alg: 'EdDSA' } where the platform has Ed25519
   */
  dpop?: boolean | { alg?: 'ES256' | 'ES384' | 'EdDSA' | 'Ed25519' }
  /**
   * The most refresh calls this session makes, whatever asks for them (timer, 401, `ready()`,
   * `authFailed`, another tab, a socket, a clock jump): `perLifetime` within any span of one
   * AT lifetime (at least 1 s), and `perMinute` within any minute (raised to `perLifetime` per
   * lifetime for ATs living under 30 s; an AT that arrived expired, or of unknown lifetime,
   * gets `perMinute`). A call that failed transiently counts per minute only. Past it no
   * refresh is sent: `rotate-error` carries a
   * `RefreshBudgetError` with `willRetry: true` and `retryIn`, and the rotation goes when the
   * budget allows. Whole numbers >= 1.
   * @default { perLifetime: 3, perMinute: 6 }
   * @example { perLifetime: 2, perMinute: 4 }
   */
  refreshBudget?: RefreshBudgetOptions
}

/** See `SessionOptions.refreshBudget`. */
export type RefreshBudgetOptions = {
  /** @default 3 */
  perLifetime?: number
  /** @default 6 */
  perMinute?: number
}

export type InstallTarget = { fetch: typeof fetch; XMLHttpRequest?: typeof XMLHttpRequest }
/** The XMLHttpRequest facade of `rotor-auth/xhr` (opaque: pass it to `install`). */
export type XhrFacade = { readonly __rotorXhrFacade: true }

export type InstallOptions = {
  /** @default true */
  fetch?: boolean
  /**
   * The XMLHttpRequest facade, `import { xhr } from 'rotor-auth/xhr'`, to patch
   * `target.XMLHttpRequest` too; omitted or `false`: XHR is left alone.
   */
  xhr?: XhrFacade | false
}

/** What the waiting primitives (`ready`, `accessToken`, `authFailed`) take. */
export type WaitSignal = {
  /** Aborting it stops the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined
}

export interface Session {
  /** Same signature as fetch; requests in scope are held, authorised, rotated and replayed. */
  fetch(input: RequestInfo | URL, init?: SessionRequestInit): Promise<Response>
  /** Begin the session from the app's own login answer (a Response or a Grant). */
  start(grant: Grant | Response): Promise<void>
  /** Rotate now: single-flight, and once per generation across tabs. */
  rotate(): Promise<void>
  /**
   * Resolves when a managed request could go now (a usable AT, no rotation in flight),
   * rotating first if needed and waiting for `reauthenticate`; rejects with
   * `SessionExpiredError` when the session is over. For sockets and streams. `signal` stops
   * waiting (rejecting with its reason): a socket closed meanwhile leaves nothing queued.
   * A session that has not started yet is not over: this waits for `start()` (here or in
   * another tab), bounded only by `signal` and `dispose()`.
   */
  ready(options?: WaitSignal): Promise<void>
  /**
   * Bearer transport: the AT once `ready()` (so it too waits for a session that has not
   * started). The cookie transport rejects with a TypeError (code `ERR_USAGE`).
   */
  accessToken(options?: WaitSignal): Promise<string>
  /**
   * A connection reports that the AT of `generation` was refused (e.g. a 4401 close): the
   * session rotates once unless a newer generation exists, then resolves as `ready()` does.
   */
  authFailed(generation: number, options?: WaitSignal): Promise<void>
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
  /**
   * The warnings being given now, for a UI that mounts after their events (a tab reloaded
   * inside the warning window): `idle` is the idle logout's deadline while `idle-warning`
   * holds, `ending` the `endsAt` of the `session-ending` warning given; null otherwise.
   */
  readonly warnings: { idle: number | null; ending: number | null }
  /** Returns its own unsubscribe. An unknown event or a non-function listener is a TypeError (`ERR_USAGE`) here. */
  on<K extends keyof SessionEvents>(event: K, listener: (payload: SessionEvents[K]) => void): () => void
  /**
   * Patch `target.fetch` (and `target.XMLHttpRequest` where it exists) so every request
   * goes through the session. Idempotent; returns uninstall. Uninstall restores what was
   * there when nothing wrapped the session's functions since; otherwise they become
   * pass-throughs, so a wrapper installed later (monitoring, another session) keeps working.
   */
  install(target?: InstallTarget, options?: InstallOptions): () => void
  /** Release timers, the channel and listeners; waiting requests reject. */
  dispose(): void
  /**
   * The session's last decisions (`traceSize`), as one JSON-serialisable document for a bug
   * report. `{ tabs: true }`: merged with what the session's other tabs (or processes) hold,
   * asked over the coordinator (tabs that do not answer within `timeout`, 500 ms, are left out).
   */
  trace(): TraceExport
  trace(options: { tabs: true; timeout?: number }): Promise<TraceExport>
  /**
   * With `dpop`: a DPoP proof (the `DPoP` header's value) for `method` and `url`, signed with
   * the session's key, with the nonce that origin last gave (or `nonce`), and `ath` when
   * `accessToken` is given. Without `dpop` it rejects with a TypeError.
   */
  dpopProof(method: string, url: string | URL, options?: { accessToken?: string; nonce?: string }): Promise<string>
  /**
   * With `dpop`: fetch with a proof from the session's key, for the app's own login (the
   * token request whose answer goes to `start()`); a `use_dpop_nonce` refusal is retried once
   * with the server's nonce. Not the session's managed fetch: no waiting, no AT added.
   */
  dpopFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
}
