/** Every error rotor-auth throws on purpose, each with a stable `code` to switch on. */

/**
 * Why a session ended. `disposed` is only ever carried by errors (a request still waiting
 * when `dispose()` was called); the `logout` event uses the other four.
 */
export type EndReason = 'expired' | 'rejected' | 'user' | 'idle' | 'disposed'

/** The stable codes of rotor-auth's errors: `switch (error.code)` never breaks on a reworded message. */
export type RotorErrorCode =
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_ROTATION'
  | 'ERR_REFRESH_REFUSED'
  | 'ERR_MALFORMED_GRANT'
  | 'ERR_REFRESH_BUDGET'

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
export const isRotorError = (error: unknown): error is RotorError =>
  typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true

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

/** The server definitively refused the refresh token; the `cause` of a final `rotate-error`. */
export class RefreshRefusedError extends RotorError {
  readonly code = 'ERR_REFRESH_REFUSED' as const
  override readonly name = 'RefreshRefusedError'
  readonly status: number

  constructor(status: number, detail: string) {
    super(`rotor-auth: the refresh token was refused (HTTP ${status}${detail ? `: ${detail}` : ''})`)
    this.status = status
  }
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
