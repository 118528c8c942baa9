export { createSession, type InstallOptions, type InstallTarget, type Session } from './core/session.js'
export { SessionExpiredError, RotationError, RefreshRefusedError, type EndReason } from './errors.js'
export { MalformedGrantError } from './core/grant.js'
export type {
  Grant,
  IdleOptions,
  LogoutReason,
  Origin,
  RefreshContext,
  RefreshOption,
  RefreshStyle,
  ScopeOption,
  SessionEvents,
  SessionOptions,
  SessionState,
  StorageLike,
} from './types.js'
