/** rotor-auth: one rotating refresh token, many tabs, long jobs, and nothing lost. */
export { createSession } from './session.js'
export {
  MalformedGrantError,
  RefreshRefusedError,
  RotationError,
  RotorError,
  SessionExpiredError,
  type EndReason,
  type RotorErrorCode,
} from './errors.js'
export { parseMessage, parseSnapshot, SIGNED_OUT, supersedes } from './coordinator/protocol.js'
export type {
  Coordinator,
  Grant,
  IdleOptions,
  InstallOptions,
  InstallTarget,
  LogoutReason,
  Message,
  Origin,
  OutgoingMessage,
  RefreshContext,
  RefreshOption,
  RefreshStyle,
  RotateErrorEvent,
  ScopeOption,
  SessionEndingOptions,
  Session,
  SessionEvents,
  SessionOptions,
  SessionRequestInit,
  SessionState,
  Snapshot,
  StorageLike,
  Timers,
} from './types.js'
