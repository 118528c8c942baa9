/** The public types of the options createSession takes, and of the grants a login or refresh answers with. */
import type { DebugOption } from './trace/options.js'
import type { Coordinator } from './coordinator/types.js'
import type { Platform, StorageLike } from './platform/types.js'

export type { StorageLike } from './platform/types.js'

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
  | {
      /** The refresh endpoint, POSTed to (with credentials for the cookie transport). */
      url: string | URL
      /** The request's shape: `'folio'`, no body; `'json'`, `{ refreshToken }`; `'oauth2'`, an RFC 6749 §6 form. @default 'folio' */
      style?: RefreshStyle
      /** `'oauth2'` style: the form's `client_id` (public clients). @default none */
      clientId?: string
    }
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

/**
 * The timer functions every part of a session uses. The default looks up the platform's
 * `setTimeout`/`clearTimeout` at call time (so fake timers installed later apply); a test can
 * pass its own to replay a race step by step. In Node the session `unref`s what it does not
 * need to keep the process alive.
 */
export type Timers = {
  /** Runs `callback` after `ms`; returns a handle `clearTimeout` takes. */
  setTimeout(callback: () => void, ms: number): unknown
  /** Cancels what `setTimeout` returned. */
  clearTimeout(handle: unknown): void
}

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
  crossTab?:
    | boolean
    | {
        /** The shared name: every session given it (same origin) is one session. Needed with a function `scope`. */
        name: string
      }
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
   * aborts when that tab is disposed (closed) first, or loses the rotation worker it ran the
   * hook for: the hook should close its form, and another tab (or, after a worker loss, this
   * tab's own session) asks again. A login that comes anyway after a worker loss starts the
   * session in this tab where it still needs one; a bearer one is revoked where it does not.
   * Where another login came while the form was open (another tab's, or your own `start()`),
   * the session stays on that one, and a bearer grant of the form is revoked, never published.
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
   * The XHR facade (`install(…, { xhr })`) signs its requests the same way.
   * @default false
   * @example true   // or { alg: 'EdDSA' } where the platform has Ed25519
   */
  dpop?:
    | boolean
    | {
        /** The key's signing algorithm. @default 'ES256' */
        alg?: 'ES256' | 'ES384' | 'EdDSA' | 'Ed25519'
      }
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
  /** The most refresh calls within any span of one AT lifetime (at least 1 s). @default 3 */
  perLifetime?: number
  /** The most refresh calls within any minute. @default 6 */
  perMinute?: number
}
