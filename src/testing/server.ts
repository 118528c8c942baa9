import { listenHttp, type FaceHooks } from './http.js'
import { AuthModel, resolveOptions } from './model.js'
import { mswHandlers, type MswHandler } from './msw.js'
import type {
  AuthLogEntry,
  AuthOutcome,
  AuthRequest,
  AuthServerOptions,
  AuthServerStats,
  Fault,
  FaultRoute,
  IssuedTokens,
  ListenOptions,
  ListeningAuthServer,
} from './types.js'

/** The reference auth server. See {@link createAuthServer}. */
export interface AuthServer {
  /** `http://127.0.0.1:PORT` + basePath of the running HTTP face; `undefined` before listen()/after close(). */
  readonly url: string | undefined
  /** The tenant FOLIO routes require in `X-Okapi-Tenant`. */
  readonly tenant: string
  /** Normalized basePath ('' or '/x'). */
  readonly basePath: string
  /** Normalized apiPrefix ('' or '/x'). */
  readonly apiPrefix: string
  readonly accessTokenTtl: number
  readonly refreshTokenTtl: number
  /** Live counters (the same object across resetStats()). */
  readonly stats: AuthServerStats
  /** Live log of every request the model saw (the same array across resetStats()). */
  readonly log: AuthLogEntry[]

  /**
   * Starts the `node:http` face on 127.0.0.1 and an ephemeral port. One at a time.
   * `options.static` serves files (a test page, a bundle) on the same origin as the routes.
   */
  listen(options?: ListenOptions): Promise<ListeningAuthServer>
  /**
   * Closes the HTTP face if it is running (like the `close` listen() returned) and lets every
   * hung request go (msw face: each then fails with `Response.error()`).
   */
  close(): Promise<void>
  /**
   * msw 2 handlers over the same model, for `setupServer(...await server.handlers())`. Async
   * because msw, an optional peer, is loaded only here; rejects with an Error naming it when
   * it is not installed.
   */
  handlers(origin?: string): Promise<MswHandler[]>
  /** The model itself: for other adapters (e.g. Playwright routes). Latency applies. */
  handle(request: AuthRequest): Promise<AuthOutcome>
  /** Mints a pair without HTTP, as a login would (new family). Default user: the first one. */
  issue(username?: string): Promise<IssuedTokens>
  /** The server clock: `now() + clockOffset`. */
  now(): number
  setClockOffset(ms: number): void
  setLatency(ms: number): void
  /** Every AT issued so far stops working; RTs keep working. */
  revokeAccessTokens(): void
  /** Forgets every token and family; new signing key; releases hung requests. */
  restart(): void
  /** Queues a fault for a route (see {@link Fault}). */
  fault(route: FaultRoute, fault?: Fault): void
  clearFaults(): void
  /** Faulted requests still queued for a route. */
  pendingFaults(route: FaultRoute): number
  /** Lets every hung request go (each is then dropped). */
  releaseHung(): void
  /** Zeroes the counters and empties the log. */
  resetStats(): void
  /** For other faces (the WebSocket face): the AT's jti, user and expiry (server clock) if it is valid now. */
  verifyAccessToken(token: string | undefined): Promise<{ jti: string; username: string; expiresAt: number } | undefined>
  /** Whether the AT `jti` still works (not expired, revoked, logged out, nor forgotten by restart()). */
  accessTokenAlive(jti: string): boolean
  /**
   * Lets another face (the WebSocket and SSE face, `createSocketFace`) take over upgrades and
   * streaming requests on the HTTP face's port, now and after every later listen(); each hook
   * returns false for paths it does not serve. Returns the undo.
   */
  attach(face: FaceHooks): () => void
}

/**
 * Creates a reference auth server with FOLIO mod-login/mod-authtoken semantics (see the
 * guide docs/guides/testing.md): FOLIO cookie routes (`/authn/login-with-expiry`,
 * `/bl-users/login-with-expiry`, `/authn/refresh`, `/authn/logout`), a bearer JSON variant
 * (`/bearer/*`), OAuth2 (`/oauth/token`, `/oauth/revoke`) and protected routes under
 * `<basePath><apiPrefix>`. Refresh tokens rotate; a reused RT is refused and revokes its
 * whole family.
 */
export function createAuthServer(options: AuthServerOptions = {}): AuthServer {
  const model = new AuthModel(resolveOptions(options))
  const opts = model.opts
  let running: ListeningAuthServer | undefined
  let starting: Promise<ListeningAuthServer> | undefined
  const faces = new Set<FaceHooks>()

  const handle = async (request: AuthRequest): Promise<AuthOutcome> => {
    const outcome = await model.handle(request)
    if (opts.latency > 0) await new Promise<void>(resolve => setTimeout(resolve, opts.latency))
    return outcome
  }

  const server: AuthServer = {
    get url() {
      return running?.url
    },
    tenant: opts.tenant,
    basePath: opts.basePath,
    apiPrefix: opts.apiPrefix,
    accessTokenTtl: opts.accessTokenTtl,
    refreshTokenTtl: opts.refreshTokenTtl,
    stats: model.stats,
    log: model.log,

    async listen(listenOptions) {
      if (running || starting) throw new Error('rotor-auth/testing: the HTTP face is already listening')
      starting = listenHttp(handle, opts.basePath, listenOptions, {
        upgrade: (req, socket, head) => [...faces].some(face => face.upgrade?.(req, socket, head) ?? false),
        request: (req, res) => [...faces].some(face => face.request?.(req, res) ?? false),
      })
      try {
        const started = await starting
        const face: ListeningAuthServer = {
          ...started,
          close: async () => {
            if (running === face) running = undefined
            await started.close()
          },
        }
        running = face
        return face
      } finally {
        starting = undefined
      }
    },
    async close() {
      model.releaseHung()
      await running?.close()
    },
    handlers(origin = 'http://auth.test') {
      return mswHandlers(handle, origin)
    },
    handle,
    issue: username => model.issue(username),
    now: () => model.serverNow(),
    setClockOffset: ms => model.setClockOffset(ms),
    setLatency(ms) {
      if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) throw new TypeError('setLatency: ms must be >= 0')
      opts.latency = ms
    },
    revokeAccessTokens: () => model.revokeAccessTokens(),
    restart: () => model.restart(),
    fault: (route, fault) => model.fault(route, fault),
    clearFaults: () => model.clearFaults(),
    pendingFaults: route => model.pendingFaults(route),
    releaseHung: () => model.releaseHung(),
    resetStats: () => model.resetStats(),
    verifyAccessToken: token => model.verifyAccess(token),
    accessTokenAlive: jti => model.accessAlive(jti),
    attach(face) {
      faces.add(face)
      return () => void faces.delete(face)
    },
  }
  return server
}
