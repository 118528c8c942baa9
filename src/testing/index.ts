/**
 * `rotor-auth/testing`: a reference auth server with FOLIO mod-login/mod-authtoken
 * semantics (one pure model, a `node:http` face and an msw face) and `cookieFetch`, a fetch
 * with its own cookie jar for simulating browsers in Node.
 *
 * Needs the optional peer `msw` (2.x) to be installed, since `server.handlers()` builds msw
 * handlers. `node:http` is loaded only by `listen()`; `ws` (8.x) only by `createSocketFace()`,
 * the WebSocket and server-sent-events face on the HTTP face's port.
 */
export { createAuthServer } from './server.js'
export type { AuthServer } from './server.js'
export { cookieFetch } from './cookie-fetch.js'
export type { CookieFetch } from './cookie-fetch.js'
export { ACCESS_COOKIE, REFRESH_COOKIE } from './model.js'
export type {
  AuthLogEntry,
  AuthOutcome,
  AuthRequest,
  AuthResponse,
  AuthServerOptions,
  AuthServerStats,
  Fault,
  FaultRoute,
  IssuedTokens,
  ListenOptions,
  StaticFile,
  ListeningAuthServer,
  LogRoute,
  RouteVariant,
} from './types.js'
export { createSocketFace } from './ws.js'
export type { SocketFace, SocketFaceOptions, SocketFaceStats, SocketLogEntry } from './ws.js'
