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

export type SessionEvents = {
  change: SessionState
  rotate: { state: SessionState; origin: Origin }
  'rotate-error': { error: unknown; willRetry: boolean }
  logout: { reason: LogoutReason; origin: Origin }
  'idle-warning': { logoutAt: number }
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
  /** ms before the timeout at which `idle-warning` fires. */
  warning?: number
  /** DOM events on `window` that count as activity. */
  activityEvents?: string[]
}

/** Minimal Storage, so tests and non-browser hosts can pass their own. */
export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

export type SessionOptions = {
  /** Which requests the session manages; every other request passes through untouched. */
  scope: ScopeOption
  /** @default 'timer' */
  rotation?: 'timer' | 'request'
  /** @default 'cookie' */
  transport?: 'cookie' | 'bearer'
  /** @default `<scope>/authn/refresh`, style 'folio' */
  refresh?: RefreshOption
  /** @default `<scope>/authn/logout` */
  logout?: string | URL | false
  /** Extra headers for refresh and logout calls, e.g. `{ 'X-Okapi-Tenant': 'diku' }`. */
  headers?: HeadersInit
  /** @default 0.8 */
  rotateAt?: number
  /** @default true where a BroadcastChannel exists */
  crossTab?: boolean | { name: string }
  reauthenticate?: () => Promise<Grant | Response | void>
  /** @default false */
  idle?: IdleOptions | false
  /** @default globalThis.fetch, looked up at call time */
  fetch?: typeof fetch
  /** @default Date.now */
  now?: () => number
  /**
   * A managed request whose AT expires within this many ms is held for a rotation first.
   * @default min(5000, 10% of the AT lifetime)
   */
  leeway?: number
  /**
   * How long a managed request may wait for a rotation that keeps failing transiently
   * before it rejects with `RotationError`.
   * @default 30000
   */
  queueTimeout?: number
  /**
   * Timeout of one refresh HTTP attempt (ky `timeout`).
   * @default 10000
   */
  refreshTimeout?: number
  /**
   * Retries of a refresh call on network errors, 408/429/5xx (ky `retry.limit`), with
   * exponential backoff, full jitter and `Retry-After`.
   * @default 2
   */
  refreshRetries?: number
  /**
   * Where to keep the session across reloads. The cookie transport persists expirations
   * only (the tokens live in HttpOnly cookies); the bearer transport keeps its tokens in
   * memory unless `persist: true`.
   * @default true for 'cookie', false for 'bearer'
   */
  persist?: boolean
  /** @default globalThis.localStorage where it exists */
  storage?: StorageLike
}
