/**
 * Why a session ended. `disposed` is only ever carried by errors (a request still waiting
 * when `dispose()` was called); the `logout` event uses the other four.
 */
export type EndReason = 'expired' | 'rejected' | 'user' | 'idle' | 'disposed'

/**
 * A managed request could not be sent because the session ended (both tokens expired, the
 * refresh token was refused, the user or the idle timeout logged out, or the session was
 * disposed) while it waited.
 */
export class SessionExpiredError extends Error {
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
 * longer than a waiting request was allowed to wait (`queueTimeout`), or the refresh
 * answer could not be understood. `cause` holds the last underlying failure.
 */
export class RotationError extends Error {
  readonly code = 'ERR_ROTATION' as const
  override readonly name = 'RotationError'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
  }
}

/** Thrown inside the refresh call when the server definitively refused the refresh token. */
export class RefreshRefusedError extends Error {
  readonly code = 'ERR_REFRESH_REFUSED' as const
  override readonly name = 'RefreshRefusedError'
  readonly status: number

  constructor(status: number, detail: string) {
    super(`rotor-auth: the refresh token was refused (HTTP ${status}${detail ? `: ${detail}` : ''})`)
    this.status = status
  }
}
