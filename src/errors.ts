/** Every error rotor-auth throws on purpose, each with a stable `code` to switch on. */

/**
 * Why a session ended. `disposed` is only ever carried by errors (a request still waiting
 * when `dispose()` was called); the `logout` event uses the other four.
 */
export type EndReason = 'expired' | 'rejected' | 'user' | 'idle' | 'disposed'

/** Why a session ended, as the `logout` event and the shared state say it. */
export type LogoutReason = Exclude<EndReason, 'disposed'>

/** The stable codes of rotor-auth's errors: `switch (error.code)` never breaks on a reworded message. */
export type RotorErrorCode =
  /** A managed request (or a wait: `ready()`, `accessToken()`) could not go because the session ended; `reason` says how. */
  | 'ERR_SESSION_EXPIRED'
  /** Refreshing kept failing transiently for longer than a waiting request may wait (`queueTimeout`); `cause` holds the last failure. */
  | 'ERR_ROTATION'
  /** The server definitively refused the refresh token (the final `rotate-error`, and the `logout` event's `error`): the session ends. */
  | 'ERR_REFRESH_REFUSED'
  /** A 2xx answer (login or refresh) carried nothing usable as a grant. */
  | 'ERR_MALFORMED_GRANT'
  /** The refresh endpoint answered something that is neither a grant nor a refusal (404, HTML, a redirect). */
  | 'ERR_REFRESH_ANSWER'
  /** A refresh attempt was answered 408, 429 or 5xx (transient; `name` is `HTTPError`); its class lives in the refresh chunk: test it with isRotorError and the code. */
  | 'ERR_REFRESH_HTTP'
  /** Another tab rotated and its tokens have not reached this one yet (transient). */
  | 'ERR_ROTATION_PENDING'
  /** The login answer handed to `start()` (or `loginToFolio`) was a failure. */
  | 'ERR_LOGIN_FAILED'
  /** A later `start()` was called before this one's grant was read, and it is the session: this one's pair was never used. */
  | 'ERR_LOGIN_SUPERSEDED'
  /** The session's own underlying fetch led back into the session. */
  | 'ERR_FETCH_LOOP'
  /** A bad option (a `TypeError`). */
  | 'ERR_INVALID_OPTION'
  /** A call the session cannot serve as made: wrong transport, wrong argument, unknown event (a `TypeError`). */
  | 'ERR_USAGE'
  /** What `start()` was given cannot start a session: not a grant, no AT for bearer, both tokens dead (a `TypeError`). */
  | 'ERR_BAD_GRANT'
  /**
   * With `dpop`, `start()` (or `reauthenticate`) was given a grant not bound to the session's key;
   * its class lives in the DPoP chunk, so test it with isRotorError and the code.
   */
  | 'ERR_DPOP_BINDING'
  /** The Redis coordinator read a stored state it cannot open or that went back in time (rotor-auth/redis). */
  | 'ERR_REDIS_STATE'
  /** The refresh budget is spent: the rotation waits for `retryIn` (the `refreshBudget` option). */
  | 'ERR_REFRESH_BUDGET'
  /**
   * The rotation worker (the `worker` option) cannot serve this tab, stopped answering, or did
   * not rotate in time; its class lives in the worker client's chunk, so test it with isRotorError and the code.
   */
  | 'ERR_WORKER'
  /** The lock holder's lease ran out (a paused process) or a later holder exists: it sent no refresh (transient). */
  | 'ERR_LEASE_LOST'
  /** The coordinator was closed (its session disposed) while the call waited. */
  | 'ERR_COORDINATOR_CLOSED'
  /** The Redis coordinator's write kept losing its compare-and-set to other writers (transient). */
  | 'ERR_REDIS_CONFLICT'
  /** A socket or event stream was closed: what it was waiting for is abandoned (rotor-auth/socket). */
  | 'ERR_CONNECTION_CLOSED'

/**
 * A registry-wide symbol, so that errors from the ESM and the CJS copy of the package (or two
 * bundled copies) are recognised alike: `instanceof` fails across copies, the brand does not.
 */
const BRAND = Symbol.for('rotor-auth.error')

/** The base of every rotor-auth error: `error instanceof RotorError` tells ours from the network's. */
export abstract class RotorError extends Error {
  abstract readonly code: RotorErrorCode
  /** @internal the cross-copy brand read by {@link isRotorError}. */
  get [BRAND](): true {
    return true
  }
}

/**
 * True for every error rotor-auth throws on purpose, whichever copy of the package (ESM, CJS,
 * another bundle) created it; each such error has a stable `code`. Prefer it to `instanceof`.
 */
export const isRotorError = (error: unknown): error is RotorError | RotorTypeError =>
  typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true

/**
 * A misuse the contract reports as a `TypeError` (a bad option, `accessToken()` with cookies,
 * a grant `start()` cannot use): still a `TypeError` for `instanceof TypeError`, and still
 * recognised by {@link isRotorError}, with a stable `code`.
 */
export class RotorTypeError extends TypeError {
  readonly code: Extract<RotorErrorCode, 'ERR_INVALID_OPTION' | 'ERR_USAGE' | 'ERR_BAD_GRANT' | 'ERR_LOGIN_FAILED'>
  override readonly name: string = 'TypeError'

  constructor(code: RotorTypeError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  /** @internal the cross-copy brand read by {@link isRotorError}. */
  get [BRAND](): true {
    return true
  }
}

/**
 * A managed request could not be sent because the session ended (both tokens expired, the
 * refresh token was refused, the user or the idle timeout logged out, or the session was
 * disposed) while it waited.
 */
export class SessionExpiredError extends RotorError {
  readonly code = 'ERR_SESSION_EXPIRED' as const
  override readonly name = 'SessionExpiredError'
  readonly reason: EndReason

  constructor(reason: EndReason, message?: string, options?: { cause?: unknown }) {
    super(message ?? `rotor-auth: the session has ended (${reason})`, options)
    this.reason = reason
  }
}

/**
 * Refreshing the tokens kept failing transiently (network error, timeout, 5xx, 429) for
 * longer than a waiting request was allowed to wait (`queueTimeout`). `cause` holds the last
 * underlying failure.
 */
export class RotationError extends RotorError {
  readonly code = 'ERR_ROTATION' as const
  override readonly name = 'RotationError'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
  }
}

/**
 * The login answer handed to `start()` (or `loginToFolio`) was not a success; `status` is its
 * HTTP status. Still a `TypeError`, as it was before it had a code: what `start()` was given
 * cannot start a session.
 */
export class LoginFailedError extends RotorTypeError {
  override readonly name = 'LoginFailedError'
  readonly status: number

  constructor(status: number, message: string) {
    super('ERR_LOGIN_FAILED', message)
    this.status = status
  }
}

/**
 * The server definitively refused the refresh token; the `cause` of a final `rotate-error`.
 * `status` is the answer's (0: no refresh token was held, nothing was sent: transient while the
 * AT lives, as the rotation worker's tabs may still bring one); `body` a short excerpt of what the
 * server said (e.g. FOLIO's "Missing X-Okapi-Tenant header"), with anything token-like redacted.
 */
export class RefreshRefusedError extends RotorError {
  readonly code = 'ERR_REFRESH_REFUSED' as const
  override readonly name = 'RefreshRefusedError'
  readonly status: number
  readonly body: string

  constructor(status: number, body: string) {
    super(`rotor-auth: the refresh token was refused (HTTP ${status}${body ? `: ${body}` : ''})`)
    this.status = status
    this.body = body
  }
}

/**
 * The refresh endpoint answered neither a grant nor a refusal: a 404 or other non-2xx status,
 * an HTML page, a redirect. Transient (something in front of the auth server, or a wrong
 * `refresh` URL); `status` is the answer's.
 */
export class RefreshAnswerError extends RotorError {
  readonly code = 'ERR_REFRESH_ANSWER' as const
  override readonly name = 'RefreshAnswerError'
  readonly status: number

  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** Another tab rotated and its tokens have not reached this one yet: transient, the next attempt adopts them. */
export class RotationPendingError extends RotorError {
  readonly code = 'ERR_ROTATION_PENDING' as const
  override readonly name = 'RotationPendingError'
}

/**
 * The coordinator's lock ran out under this session before it presented the RT (the Redis
 * lease, outlived by a paused process): another member may hold it now, so no refresh was
 * sent. Transient: a `rotate-error` with `willRetry: true`, and the next attempt re-reads the
 * shared state under a fresh lock.
 */
export class LeaseLostError extends RotorError {
  readonly code = 'ERR_LEASE_LOST' as const
  override readonly name = 'LeaseLostError'

  constructor(message = 'rotor-auth: the lock ran out before the refresh token was presented; no refresh was sent') {
    super(message)
  }
}

/**
 * The session's underlying fetch called the session again (e.g. `fetch: (...a) => fetch(...a)`
 * or a cookie-jar fetch that reads `globalThis.fetch` after `install()`): the request would
 * loop forever without reaching the network, so it fails instead.
 */
export class FetchLoopError extends RotorError {
  readonly code = 'ERR_FETCH_LOOP' as const
  override readonly name = 'FetchLoopError'
}

/** An answer was 2xx but carried nothing usable as a grant; the tokens it may have set are unknown. */
export class MalformedGrantError extends RotorError {
  readonly code = 'ERR_MALFORMED_GRANT' as const
  override readonly name = 'MalformedGrantError'
}

/**
 * A rotation was asked for while the refresh budget (`refreshBudget`) was spent: no refresh
 * was sent. The `rotate-error` that carries it has `willRetry: true` and `retryIn`, when the
 * budget allows the next one; requests waiting meanwhile settle by `queueTimeout`.
 */
export class RefreshBudgetError extends RotorError {
  readonly code = 'ERR_REFRESH_BUDGET' as const
  override readonly name = 'RefreshBudgetError'
  /** ms until the budget allows the next refresh. */
  readonly retryIn: number

  constructor(retryIn: number) {
    super(`rotor-auth: the refresh budget is spent; the next refresh may go in ${Math.round(retryIn)} ms`)
    this.retryIn = retryIn
  }
}

/**
 * `start()` was called again before this call's grant was read (its Response body still on the
 * way) and the later call published its login first: the session is the later login, and this
 * one's pair was never stored, posted or used (`by: 'start'`). Or `logout()` was called before
 * this call's login was published: it never is, and it is revoked at the logout endpoint (`by: 'logout'`).
 */
export class LoginSupersededError extends RotorError {
  readonly code = 'ERR_LOGIN_SUPERSEDED' as const
  override readonly name = 'LoginSupersededError'

  /** What superseded this start(): a later `start()` whose grant was read first, or a `logout()` called after it. */
  readonly by: 'start' | 'logout'

  constructor(by: 'start' | 'logout' = 'start') {
    super(`rotor-auth: a later ${by}() won`)
    this.by = by
  }
}
