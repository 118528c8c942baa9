/**
 * `rotor-auth/testing`: a reference auth server with FOLIO mod-login/mod-authtoken
 * semantics (one pure model, a `node:http` face and an msw face) and `cookieFetch`, a fetch
 * with its own cookie jar for simulating browsers in Node.
 *
 * Every optional peer is loaded on first use, so the entry imports without any of them:
 * `msw` (2.x) by `server.handlers()`, `node:http` by `listen()`, `ws` (8.x) by
 * `createSocketFace()` (the WebSocket and server-sent-events face on the HTTP face's port),
 * `fetch-cookie` and `tough-cookie` by the first `cookieFetch()` call.
 */
export { createAuthServer } from './server.js'
export type { AuthServer } from './server.js'
export type { MswHandler } from './msw.js'
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
export { createMemoryCoordinator } from './memory-coordinator.js'
export type { MemoryCoordinator, MemoryCoordinatorOptions, MemoryMember } from './memory-coordinator.js'
