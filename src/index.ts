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
  LockOptions,
  LogoutReason,
  Message,
  Origin,
  OutgoingMessage,
  RefreshContext,
  RefreshOption,
  RefreshStyle,
  RotateErrorEvent,
  ScopeOption,
  Session,
  SessionEvents,
  SessionOptions,
  SessionState,
  Snapshot,
  StorageLike,
  Timers,
  WaitSignal,
  XhrFacade,
} from './types.js'
