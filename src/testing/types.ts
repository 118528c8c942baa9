/**
 * Public types of `rotor-auth/testing`.
 *
 * The reference auth server is one pure model of the auth state ({@link AuthRequest} in,
 * {@link AuthOutcome} out) with two thin faces: a real `node:http` server and msw handlers.
 */

/** Options of {@link createAuthServer}. Every option is optional. */
export interface AuthServerOptions {
  /**
   * Access-token lifetime in ms.
   * @default 60_000
   */
  accessTokenTtl?: number
  /**
   * Refresh-token lifetime in ms. Every refresh issues a new RT with a full lifetime.
   * @default 3_600_000
   */
  refreshTokenTtl?: number
  /**
   * How far the server's clock is ahead of (positive) or behind (negative) the base clock,
   * in ms. The server clock is `now() + clockOffset`: expirations it issues, the checks it
   * makes and the `Date` header of every response use it. Change it later with
   * `server.setClockOffset(ms)`.
   * @default 0
   */
  clockOffset?: number
  /**
   * Base clock in epoch ms. Read at call time on every request, so vitest fake timers (or a
   * variable the test advances) work.
   * @default Date.now
   */
  now?: () => number
  /**
   * Delay in ms added before every response (after the request was processed).
   * With 0 no timer is ever scheduled. Change it later with `server.setLatency(ms)`.
   * @default 0
   */
  latency?: number
  /**
   * Path every route is mounted under, e.g. `'/okapi'` (no trailing slash needed).
   * The RT cookie gets `Path=<basePath>/authn`.
   * @default ''
   */
  basePath?: string
  /**
   * Prefix of the protected API routes, below `basePath`: any method on
   * `<basePath><apiPrefix>` and below needs a valid AT. `''` makes every path under
   * `basePath` that is not an auth route a protected route.
   * @default '/api'
   */
  apiPrefix?: string
  /**
   * Accepted credentials, username → password.
   * @default { diku_admin: 'admin' }
   */
  users?: Record<string, string>
  /**
   * The tenant the FOLIO routes require in the `X-Okapi-Tenant` header.
   * @default 'diku'
   */
  tenant?: string
  /**
   * Answer CORS: when a request carries `Origin`, reflect it with
   * `Access-Control-Allow-Credentials: true` and expose `Date` and `Retry-After`; answer
   * preflights (`OPTIONS` with `Access-Control-Request-Method`) with 204 without touching
   * the model. Meant for browser tests whose page is served from another port.
   * @default true
   */
  cors?: boolean
}

/** Which group of routes a fault applies to. */
export type FaultRoute = 'refresh' | 'login' | 'logout' | 'api' | 'oauth'

/**
 * A fault queued with `server.fault(route, fault)`. Faults queue up per route; the head of
 * the queue is consumed by the next matching request(s).
 *
 * Requests to `/oauth/token` and `/oauth/revoke` look at the `'oauth'` queue first, then at
 * the queue of their logical route (`'refresh'` for `grant_type=refresh_token`, `'login'`
 * for `grant_type=password`, `'logout'` for revoke).
 */
export interface Fault {
  /**
   * How many matching requests this fault applies to (`Infinity` for all of them).
   * @default 1
   */
  times?: number
  /**
   * Status of the faulted answer.
   * @default 503
   */
  status?: number
  /** Seconds; sets the `Retry-After` header. */
  retryAfter?: number
  /**
   * Raw body of the faulted answer (e.g. malformed JSON with status 201). Sent with
   * `Content-Type: application/json` unless `headers` says otherwise.
   * @default a short text/plain message
   */
  body?: string
  /** Extra headers of the faulted answer. */
  headers?: Record<string, string>
  /**
   * Never answer, until the HTTP face is closed, `server.restart()` or
   * `server.releaseHung()`; then the connection is dropped (msw face: `Response.error()`).
   */
  hang?: true
  /** Destroy the socket without answering (msw face: `Response.error()`, a fetch TypeError). */
  drop?: true
  /**
   * Send the status and headers (with `afterProcessing`: of the real answer, Set-Cookie
   * included), then destroy the connection before the body arrives: the client sees a 2xx
   * whose body fails (msw face: a body stream that errors).
   */
  cut?: true
  /**
   * Apply the request to the model first (e.g. consume the RT and issue a new pair), THEN
   * apply the fault: the "response lost" case.
   */
  afterProcessing?: true
}

/** Counters kept by the server. Reset with `server.resetStats()`. */
export interface AuthServerStats {
  /** Successful logins (any variant). */
  logins: number
  /** Refused logins (bad credentials, missing fields, tenant). */
  loginFailures: number
  /** Every request that reached a refresh route of any variant, faulted ones included. */
  refreshCalls: number
  /** Refreshes that issued a new pair (counted even if a fault then lost the answer). */
  refreshGranted: number
  /** Refreshes the model refused, reused RTs included. */
  refreshRefused: number
  /** Refreshes refused because the RT had already been consumed (the family was revoked). */
  reusedRefused: number
  /** Protected API requests answered 200 by the model. */
  api200: number
  /** Protected API requests answered 401. */
  api401: number
  /** Successful logouts / revocations. */
  logouts: number
  /** Faults applied (each request a fault touched counts once). */
  faults: number
}

/** Logical route of a request, as recorded in the log. */
export type LogRoute = 'login' | 'refresh' | 'logout' | 'api' | 'oauth' | 'unknown'

/** The route family a request used. */
export type RouteVariant = 'folio' | 'bl-users' | 'bearer' | 'oauth2' | 'api' | 'none'

/** One entry of `server.log`: every request the model saw (CORS preflights excepted). */
export interface AuthLogEntry {
  /** Server clock (ms) when the request was processed. */
  at: number
  route: LogRoute
  variant: RouteVariant
  method: string
  path: string
  /** Status answered; 0 when the request was dropped or hung. */
  status: number
  /** jti of the RT presented (refresh and logout routes), when it could be decoded. */
  rt?: string
  /** Refresh only: whether the RT presented had already been consumed. */
  reused?: boolean
  /** Kind of fault applied to this request, if any. */
  fault?: 'status' | 'hang' | 'drop' | 'cut'
}

/** A token pair minted by `server.issue()`; expirations are ISO-8601 on the server clock. */
export interface IssuedTokens {
  accessToken: string
  refreshToken: string
  accessTokenExpiration: string
  refreshTokenExpiration: string
}

/** A request as the model sees it. */
export interface AuthRequest {
  method: string
  /** Path and optional query, e.g. `/okapi/api/x?y=1` (a full URL is accepted too). */
  path: string
  headers: Headers | Record<string, string | readonly string[] | undefined>
  /** Request body as text ('' if none). */
  body: string
}

/** A response of the model. `headers` may repeat names (several `Set-Cookie`). */
export interface AuthResponse {
  status: number
  headers: Array<[string, string]>
  body: string
}

/** What a face must do with a request. */
export type AuthOutcome =
  | { type: 'response'; response: AuthResponse }
  /** Answer nothing until `released` settles, then drop the connection. */
  | { type: 'hang'; released: Promise<void> }
  /** Destroy the connection without answering. */
  | { type: 'drop' }
  /** Send the status and headers of `response`, then destroy the connection before its body. */
  | { type: 'cut'; response: AuthResponse }

/** A file the HTTP face serves as is (see {@link ListenOptions.static}). */
export interface StaticFile {
  /** `Content-Type` of the answer, e.g. `'text/html'` (`; charset=utf-8` is added to text types). */
  type: string
  body: string | Uint8Array
}

/** Options of `server.listen()`. */
export interface ListenOptions {
  /** The port to listen on. @default 0 (an ephemeral port) */
  port?: number
  /** The address to listen on. @default '127.0.0.1' */
  host?: string
  /**
   * Files served on the same origin as the auth routes, keyed by absolute path (not under
   * `basePath`), e.g. `{ '/tab.html': { type: 'text/html', body } }`: a browser test's page
   * then uses the cookie transport without CORS. A `GET` or `HEAD` whose path (query
   * ignored) is a key is answered 200 with `Cache-Control: no-store`, needs no auth and never
   * reaches the model (no counters, no log entry, no faults, no latency).
   */
  static?: Record<string, StaticFile>
}

/** A running HTTP face. */
export interface ListeningAuthServer {
  /** `http://127.0.0.1:PORT` + basePath, no trailing slash. */
  url: string
  /** `http://127.0.0.1:PORT`. */
  origin: string
  port: number
  /**
   * Resolves once the server is closed and every socket (hung requests and keep-alive
   * sockets included) has been destroyed. Idempotent.
   */
  close(): Promise<void>
}
