/**
 * The pure model of the reference auth server: token families, RT rotation with reuse
 * detection, faults, counters. No I/O and no timers: a request-ish object goes in, a
 * response (or a hang/drop directive) comes out. The faces (`http.ts`, `msw.ts`) only
 * translate.
 */
import { SignJWT, compactVerify, decodeJwt } from 'jose'
import type {
  AuthLogEntry,
  AuthOutcome,
  AuthRequest,
  AuthResponse,
  AuthServerOptions,
  AuthServerStats,
  Fault,
  FaultRoute,
  IssuedTokens,
  LogRoute,
  RouteVariant,
} from './types.js'

export const FAULT_ROUTES: readonly FaultRoute[] = ['refresh', 'login', 'logout', 'api', 'oauth']

/** The name of the cookie the reference server keeps the AT in (FOLIO's). */
export const ACCESS_COOKIE = 'folioAccessToken'
/** The name of the cookie the reference server keeps the RT in (FOLIO's), with `Path=<basePath>/authn`. */
export const REFRESH_COOKIE = 'folioRefreshToken'

export interface ResolvedOptions {
  accessTokenTtl: number
  refreshTokenTtl: number
  clockOffset: number
  now: () => number
  latency: number
  basePath: string
  apiPrefix: string
  users: Record<string, string>
  tenant: string
  cors: boolean
}

interface Family {
  id: string
  username: string
  userId: string
  revoked: boolean
}

interface TokenRecord {
  jti: string
  type: 'access' | 'refresh'
  family: Family
  /** ms, server clock */
  expiresAt: number
  /** RT: already used for a refresh */
  consumed: boolean
  /** AT: killed by revokeAccessTokens() */
  revoked: boolean
}

interface Minted {
  accessToken: string
  refreshToken: string
  accessExpiresAt: number
  refreshExpiresAt: number
}

interface QueuedFault {
  fault: Fault
  remaining: number
}

interface Ctx {
  method: string
  /** full path as received, without query */
  path: string
  query: string
  /** path below basePath ('/' at least) */
  rel: string
  headers: Headers
  body: string
  cookies: Map<string, string>
  now: number
}

interface Routed {
  route: LogRoute
  variant: RouteVariant
  faultRoutes: FaultRoute[]
  run: (ctx: Ctx, entry: LogDraft) => Promise<AuthResponse>
}

type LogDraft = Omit<AuthLogEntry, 'status'>

type RotateResult = { ok: true; pair: Minted } | { ok: false; reused: boolean; reason: string }

const decoder = new TextDecoder()

function randomId(): string {
  return globalThis.crypto.randomUUID()
}

function newSecret(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(32))
}

/** '/okapi/' → '/okapi', '/' → '', 'okapi' → '/okapi' */
export function normalizePrefix(p: string): string {
  let s = p.trim()
  if (s === '' || s === '/') return ''
  if (!s.startsWith('/')) s = '/' + s
  while (s.endsWith('/')) s = s.slice(0, -1)
  return s
}

function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '') return true
  return path === prefix || path.startsWith(prefix + '/')
}

export function resolveOptions(o: AuthServerOptions): ResolvedOptions {
  const num = (name: string, v: number | undefined, def: number, min = 0): number => {
    if (v === undefined) return def
    if (typeof v !== 'number' || Number.isNaN(v) || v < min) {
      throw new TypeError(`createAuthServer: option "${name}" must be a number >= ${min}`)
    }
    return v
  }
  if (o.now !== undefined && typeof o.now !== 'function') {
    throw new TypeError('createAuthServer: option "now" must be a function')
  }
  const clockOffset = o.clockOffset ?? 0
  if (typeof clockOffset !== 'number' || !Number.isFinite(clockOffset)) {
    throw new TypeError('createAuthServer: option "clockOffset" must be a finite number')
  }
  const users = o.users ?? { diku_admin: 'admin' }
  if (typeof users !== 'object' || users === null) {
    throw new TypeError('createAuthServer: option "users" must be an object')
  }
  const now = o.now
  return {
    accessTokenTtl: num('accessTokenTtl', o.accessTokenTtl, 60_000, 1),
    refreshTokenTtl: num('refreshTokenTtl', o.refreshTokenTtl, 3_600_000, 1),
    clockOffset,
    now: now ?? (() => Date.now()),
    latency: num('latency', o.latency, 0),
    basePath: normalizePrefix(o.basePath ?? ''),
    apiPrefix: normalizePrefix(o.apiPrefix ?? '/api'),
    users: { ...users },
    tenant: o.tenant ?? 'diku',
    cors: o.cors ?? true,
  }
}

function toHeaders(h: AuthRequest['headers']): Headers {
  if (h instanceof Headers) return h
  const out = new Headers()
  // A Headers of another realm or a polyfill.
  const like = h as { forEach?: unknown; get?: unknown }
  if (typeof like.forEach === 'function' && typeof like.get === 'function') {
    ;(h as unknown as Headers).forEach((value, key) => out.append(key, value))
    return out
  }
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue
    if (typeof v === 'string') out.append(k, v)
    else for (const item of v) out.append(k, item)
  }
  return out
}

function parseCookieHeader(header: string | null): Map<string, string> {
  const out = new Map<string, string>()
  if (!header) return out
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i <= 0) continue
    const name = part.slice(0, i).trim()
    const value = part.slice(i + 1).trim()
    // The first one wins: user agents send the most specific path first.
    if (name && !out.has(name)) out.set(name, value)
  }
  return out
}

function bearerOf(headers: Headers): string | undefined {
  const auth = headers.get('authorization')
  if (!auth) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
  return m?.[1]
}

function jtiOf(token: string | undefined): string | undefined {
  if (!token) return undefined
  try {
    const jti = decodeJwt(token).jti
    return typeof jti === 'string' ? jti : undefined
  } catch {
    return undefined
  }
}

function res(status: number, body = '', headers: Array<[string, string]> = []): AuthResponse {
  return { status, headers, body }
}

function json(status: number, value: unknown, headers: Array<[string, string]> = []): AuthResponse {
  return res(status, JSON.stringify(value), [['Content-Type', 'application/json; charset=utf-8'], ...headers])
}

function text(status: number, message: string): AuthResponse {
  return res(status, message, [['Content-Type', 'text/plain; charset=utf-8']])
}

const OAUTH_HEADERS: Array<[string, string]> = [
  ['Cache-Control', 'no-store'],
  ['Pragma', 'no-cache'],
]

function oauthError(status: number, error: string, description: string): AuthResponse {
  const extra: Array<[string, string]> = [...OAUTH_HEADERS]
  if (status === 401) extra.push(['WWW-Authenticate', 'Basic realm="rotor-auth"'])
  return json(status, { error, error_description: description }, extra)
}

function emptyStats(): AuthServerStats {
  return {
    logins: 0,
    loginFailures: 0,
    refreshCalls: 0,
    refreshGranted: 0,
    refreshRefused: 0,
    reusedRefused: 0,
    api200: 0,
    api401: 0,
    logouts: 0,
    faults: 0,
  }
}

export class AuthModel {
  readonly opts: ResolvedOptions
  readonly stats: AuthServerStats = emptyStats()
  readonly log: AuthLogEntry[] = []

  private secret = newSecret()
  private tokens = new Map<string, TokenRecord>()
  private readonly userIds = new Map<string, string>()
  private readonly faults = new Map<FaultRoute, QueuedFault[]>()
  private hung = new Set<() => void>()

  constructor(opts: ResolvedOptions) {
    this.opts = opts
  }

  /** The server clock, epoch ms. */
  serverNow(): number {
    return this.opts.now() + this.opts.clockOffset
  }

  // ---------------------------------------------------------------- mutators

  setClockOffset(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new TypeError('setClockOffset: ms must be a finite number')
    }
    this.opts.clockOffset = ms
  }

  revokeAccessTokens(): void {
    for (const rec of this.tokens.values()) if (rec.type === 'access') rec.revoked = true
  }

  restart(): void {
    this.secret = newSecret()
    this.tokens = new Map()
    this.releaseHung()
  }

  releaseHung(): void {
    const waiting = this.hung
    this.hung = new Set()
    for (const release of waiting) release()
  }

  fault(route: FaultRoute, fault: Fault = {}): void {
    if (!FAULT_ROUTES.includes(route)) {
      throw new TypeError(`fault: route must be one of ${FAULT_ROUTES.join(', ')}`)
    }
    const times = fault.times ?? 1
    if (typeof times !== 'number' || Number.isNaN(times) || times < 1) {
      throw new TypeError('fault: times must be a number >= 1')
    }
    const queue = this.faults.get(route) ?? []
    queue.push({ fault: { ...fault }, remaining: times })
    this.faults.set(route, queue)
  }

  clearFaults(): void {
    this.faults.clear()
  }

  /** Number of faulted requests still queued for a route (Infinity if one is endless). */
  pendingFaults(route: FaultRoute): number {
    return (this.faults.get(route) ?? []).reduce((n, q) => n + q.remaining, 0)
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats())
    this.log.length = 0
  }

  async issue(username?: string): Promise<IssuedTokens> {
    const name = username ?? Object.keys(this.opts.users)[0] ?? 'diku_admin'
    const pair = await this.mint(this.newFamily(name), this.serverNow())
    return this.issued(pair)
  }

  /** For other faces (the WebSocket face): what a valid AT says, or undefined when it is not valid now. */
  async verifyAccess(token: string | undefined): Promise<{ jti: string; username: string; expiresAt: number } | undefined> {
    const rec = await this.checkAccess(token, this.serverNow())
    return rec && { jti: rec.jti, username: rec.family.username, expiresAt: rec.expiresAt }
  }

  /** Whether the AT `jti` still works: not expired, revoked, logged out nor forgotten by a restart. */
  accessAlive(jti: string): boolean {
    const rec = this.tokens.get(jti)
    return rec !== undefined && rec.type === 'access' && !rec.revoked && !rec.family.revoked && this.serverNow() < rec.expiresAt
  }

  // ---------------------------------------------------------------- tokens

  private userIdOf(username: string): string {
    let id = this.userIds.get(username)
    if (!id) {
      id = randomId()
      this.userIds.set(username, id)
    }
    return id
  }

  private newFamily(username: string): Family {
    return { id: randomId(), username, userId: this.userIdOf(username), revoked: false }
  }

  private issued(pair: Minted): IssuedTokens {
    return {
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      accessTokenExpiration: new Date(pair.accessExpiresAt).toISOString(),
      refreshTokenExpiration: new Date(pair.refreshExpiresAt).toISOString(),
    }
  }

  /**
   * Mints an AT/RT pair in `family`. Records are registered synchronously (before any await)
   * with the key and map of this moment, so a restart() in between leaves them dead.
   */
  private async mint(family: Family, now: number): Promise<Minted> {
    const secret = this.secret
    const tokens = this.tokens
    const accessExpiresAt = now + this.opts.accessTokenTtl
    const refreshExpiresAt = now + this.opts.refreshTokenTtl
    const at: TokenRecord = {
      jti: randomId(),
      type: 'access',
      family,
      expiresAt: accessExpiresAt,
      consumed: false,
      revoked: false,
    }
    const rt: TokenRecord = {
      jti: randomId(),
      type: 'refresh',
      family,
      expiresAt: refreshExpiresAt,
      consumed: false,
      revoked: false,
    }
    tokens.set(at.jti, at)
    tokens.set(rt.jti, rt)
    const sign = (rec: TokenRecord) =>
      new SignJWT({ user_id: family.userId, tenant: this.opts.tenant, type: rec.type, family: family.id })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(family.username)
        .setIssuedAt(Math.floor(now / 1000))
        // FLOOR of the ms expiry: a client reading `exp` never thinks the token lives longer
        // than the server does.
        .setExpirationTime(Math.floor(rec.expiresAt / 1000))
        .setJti(rec.jti)
        .sign(secret)
    const [accessToken, refreshToken] = await Promise.all([sign(at), sign(rt)])
    return { accessToken, refreshToken, accessExpiresAt, refreshExpiresAt }
  }

  /** Signature check + record lookup. Expiry/revocation are checked by the callers. */
  private async lookup(token: string | undefined): Promise<TokenRecord | undefined> {
    if (!token) return undefined
    const secret = this.secret
    const tokens = this.tokens
    try {
      const { payload } = await compactVerify(token, secret, { algorithms: ['HS256'] })
      const claims = JSON.parse(decoder.decode(payload)) as { jti?: unknown }
      if (typeof claims.jti !== 'string') return undefined
      // A restart() while verifying makes the token unknown.
      if (tokens !== this.tokens) return undefined
      return tokens.get(claims.jti)
    } catch {
      return undefined
    }
  }

  private async checkAccess(token: string | undefined, now: number): Promise<TokenRecord | undefined> {
    const rec = await this.lookup(token)
    if (!rec || rec.type !== 'access' || rec.revoked || rec.family.revoked) return undefined
    if (now >= rec.expiresAt) return undefined
    return rec
  }

  /** The core rule: consume the RT, issue a new pair; a consumed RT revokes its family. */
  private async rotate(token: string | undefined, now: number): Promise<RotateResult> {
    const rec = await this.lookup(token)
    // Everything below up to `consumed = true` runs synchronously: two concurrent refreshes
    // with the same RT cannot both pass.
    if (!rec) return { ok: false, reused: false, reason: 'Invalid or unknown refresh token' }
    if (rec.type !== 'refresh') return { ok: false, reused: false, reason: 'Not a refresh token' }
    if (rec.consumed) {
      rec.family.revoked = true
      return { ok: false, reused: true, reason: 'Refresh token reused: token family revoked' }
    }
    if (rec.family.revoked) return { ok: false, reused: false, reason: 'Refresh token revoked' }
    if (now >= rec.expiresAt) return { ok: false, reused: false, reason: 'Refresh token expired' }
    rec.consumed = true
    return { ok: true, pair: await this.mint(rec.family, now) }
  }

  private checkCredentials(username: unknown, password: unknown): string | undefined {
    if (typeof username !== 'string' || typeof password !== 'string') return undefined
    if (!Object.prototype.hasOwnProperty.call(this.opts.users, username)) return undefined
    return this.opts.users[username] === password ? username : undefined
  }

  // ---------------------------------------------------------------- cookies

  private maxAge(ttl: number): number {
    // Rounded up: the cookie never disappears while the server would still accept the token.
    return Math.max(1, Math.ceil(ttl / 1000))
  }

  private setCookies(pair: Minted): Array<[string, string]> {
    return [
      ['Set-Cookie', `${ACCESS_COOKIE}=${pair.accessToken}; HttpOnly; Path=/; Max-Age=${this.maxAge(this.opts.accessTokenTtl)}; SameSite=Lax`],
      ['Set-Cookie', `${REFRESH_COOKIE}=${pair.refreshToken}; HttpOnly; Path=${this.opts.basePath}/authn; Max-Age=${this.maxAge(this.opts.refreshTokenTtl)}; SameSite=Lax`],
    ]
  }

  private clearCookies(): Array<[string, string]> {
    const gone = 'Expires=Thu, 01 Jan 1970 00:00:00 GMT'
    return [
      ['Set-Cookie', `${ACCESS_COOKIE}=; HttpOnly; Path=/; Max-Age=0; ${gone}; SameSite=Lax`],
      ['Set-Cookie', `${REFRESH_COOKIE}=; HttpOnly; Path=${this.opts.basePath}/authn; Max-Age=0; ${gone}; SameSite=Lax`],
    ]
  }

  private expirations(pair: Minted) {
    return {
      accessTokenExpiration: new Date(pair.accessExpiresAt).toISOString(),
      refreshTokenExpiration: new Date(pair.refreshExpiresAt).toISOString(),
    }
  }

  // ---------------------------------------------------------------- routing

  private route(method: string, rel: string, body: string): Routed | undefined {
    const post = (r: Omit<Routed, 'run'> & { run: Routed['run'] }): Routed => ({
      ...r,
      run:
        method === 'POST'
          ? r.run
          : async () =>
              res(405, 'Method Not Allowed', [
                ['Allow', 'POST'],
                ['Content-Type', 'text/plain; charset=utf-8'],
              ]),
    })
    switch (rel) {
      case '/authn/login-with-expiry':
        return post({ route: 'login', variant: 'folio', faultRoutes: ['login'], run: c => this.folioLogin(c, false) })
      case '/bl-users/login-with-expiry':
        return post({ route: 'login', variant: 'bl-users', faultRoutes: ['login'], run: c => this.folioLogin(c, true) })
      case '/authn/refresh':
        return post({ route: 'refresh', variant: 'folio', faultRoutes: ['refresh'], run: (c, e) => this.folioRefresh(c, e) })
      case '/authn/logout':
        return post({ route: 'logout', variant: 'folio', faultRoutes: ['logout'], run: (c, e) => this.folioLogout(c, e) })
      case '/bearer/login':
        return post({ route: 'login', variant: 'bearer', faultRoutes: ['login'], run: c => this.bearerLogin(c) })
      case '/bearer/refresh':
        return post({ route: 'refresh', variant: 'bearer', faultRoutes: ['refresh'], run: (c, e) => this.bearerRefresh(c, e) })
      case '/bearer/logout':
        return post({ route: 'logout', variant: 'bearer', faultRoutes: ['logout'], run: (c, e) => this.bearerLogout(c, e) })
      case '/oauth/token': {
        const grant = method === 'POST' ? new URLSearchParams(body).get('grant_type') : null
        const route: LogRoute = grant === 'refresh_token' ? 'refresh' : grant === 'password' ? 'login' : 'oauth'
        const faultRoutes: FaultRoute[] = route === 'oauth' ? ['oauth'] : ['oauth', route]
        return post({ route, variant: 'oauth2', faultRoutes, run: (c, e) => this.oauthToken(c, e) })
      }
      case '/oauth/revoke':
        return post({ route: 'logout', variant: 'oauth2', faultRoutes: ['oauth', 'logout'], run: (c, e) => this.oauthRevoke(c, e) })
    }
    if (underPrefix(rel, this.opts.apiPrefix)) {
      return { route: 'api', variant: 'api', faultRoutes: ['api'], run: c => this.api(c) }
    }
    return undefined
  }

  private takeFault(routes: FaultRoute[]): Fault | undefined {
    for (const r of routes) {
      const queue = this.faults.get(r)
      const head = queue?.[0]
      if (!queue || !head) continue
      head.remaining -= 1
      if (head.remaining <= 0) queue.shift()
      return head.fault
    }
    return undefined
  }

  private hang(): Promise<void> {
    return new Promise<void>(resolve => this.hung.add(resolve))
  }

  private faultOutcome(fault: Fault, processed?: AuthResponse): AuthOutcome {
    if (fault.drop) return { type: 'drop' }
    if (fault.cut) return { type: 'cut', response: processed ?? res(fault.status ?? 200, '{"cut":true}', [['Content-Type', 'application/json; charset=utf-8']]) }
    if (fault.hang) return { type: 'hang', released: this.hang() }
    const status = fault.status ?? 503
    const headers: Array<[string, string]> = []
    let body: string
    if (fault.body !== undefined) {
      body = fault.body
      headers.push(['Content-Type', 'application/json; charset=utf-8'])
    } else {
      body = `Fault injected by rotor-auth/testing (status ${status})`
      headers.push(['Content-Type', 'text/plain; charset=utf-8'])
    }
    if (fault.retryAfter !== undefined) headers.push(['Retry-After', String(fault.retryAfter)])
    for (const [k, v] of Object.entries(fault.headers ?? {})) {
      const i = headers.findIndex(([name]) => name.toLowerCase() === k.toLowerCase())
      if (i >= 0) headers.splice(i, 1)
      headers.push([k, v])
    }
    return { type: 'response', response: res(status, body, headers) }
  }

  private decorate(outcome: AuthOutcome, ctx: { headers: Headers; now: number }): AuthOutcome {
    if (outcome.type !== 'response' && outcome.type !== 'cut') return outcome
    const headers = outcome.response.headers.filter(([k]) => k.toLowerCase() !== 'date')
    headers.push(['Date', new Date(ctx.now).toUTCString()])
    headers.push(...this.corsHeaders(ctx.headers))
    return { ...outcome, response: { ...outcome.response, headers } }
  }

  private corsHeaders(headers: Headers): Array<[string, string]> {
    const origin = headers.get('origin')
    if (!this.opts.cors || !origin) return []
    return [
      ['Access-Control-Allow-Origin', origin],
      ['Access-Control-Allow-Credentials', 'true'],
      ['Access-Control-Expose-Headers', 'Date, Retry-After'],
      ['Vary', 'Origin'],
    ]
  }

  /** Processes one request. */
  async handle(request: AuthRequest): Promise<AuthOutcome> {
    const now = this.serverNow()
    const headers = toHeaders(request.headers)
    const method = request.method.toUpperCase()
    let raw = request.path
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
      const u = new URL(raw)
      raw = u.pathname + u.search
    }
    const q = raw.indexOf('?')
    const path = q >= 0 ? raw.slice(0, q) : raw
    const query = q >= 0 ? raw.slice(q) : ''

    // CORS preflight: answered without touching the model.
    if (this.opts.cors && method === 'OPTIONS' && headers.has('access-control-request-method') && headers.has('origin')) {
      const pre: AuthResponse = res(204, '', [
        ['Access-Control-Allow-Methods', headers.get('access-control-request-method') ?? 'POST'],
        ['Access-Control-Allow-Headers', headers.get('access-control-request-headers') ?? ''],
        ['Access-Control-Max-Age', '600'],
      ])
      return this.decorate({ type: 'response', response: pre }, { headers, now })
    }

    const { basePath } = this.opts
    const routed = underPrefix(path, basePath) ? this.route(method, path.slice(basePath.length) || '/', request.body) : undefined
    const draft: LogDraft = { at: now, route: routed?.route ?? 'unknown', variant: routed?.variant ?? 'none', method, path }
    if (!routed) {
      this.log.push({ ...draft, status: 404 })
      return this.decorate({ type: 'response', response: text(404, 'Not Found') }, { headers, now })
    }
    if (routed.route === 'refresh') this.stats.refreshCalls += 1

    const ctx: Ctx = {
      method,
      path,
      query,
      rel: path.slice(basePath.length) || '/',
      headers,
      body: request.body,
      cookies: parseCookieHeader(headers.get('cookie')),
      now,
    }
    const fault = this.takeFault(routed.faultRoutes)
    if (fault) this.stats.faults += 1
    let outcome: AuthOutcome
    if (fault && !fault.afterProcessing) {
      outcome = this.faultOutcome(fault)
    } else {
      let response: AuthResponse
      try {
        response = await routed.run(ctx, draft)
      } catch (error) {
        response = text(500, `rotor-auth/testing: internal error: ${String(error)}`)
      }
      outcome = fault ? this.faultOutcome(fault, response) : { type: 'response', response }
    }
    const entry: AuthLogEntry = {
      ...draft,
      status: outcome.type === 'response' || outcome.type === 'cut' ? outcome.response.status : 0,
    }
    if (fault) entry.fault = fault.drop ? 'drop' : fault.hang ? 'hang' : fault.cut ? 'cut' : 'status'
    this.log.push(entry)
    return this.decorate(outcome, { headers, now })
  }

  // ---------------------------------------------------------------- FOLIO

  private tenantError(ctx: Ctx): AuthResponse | undefined {
    const tenant = ctx.headers.get('x-okapi-tenant')
    if (tenant === null || tenant === '') return text(400, 'Missing X-Okapi-Tenant header')
    if (tenant !== this.opts.tenant) return text(400, `No such tenant ${tenant}`)
    return undefined
  }

  private parseJson(body: string): Record<string, unknown> | undefined {
    try {
      const v: unknown = JSON.parse(body)
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }

  private credentialsError(): AuthResponse {
    return json(422, { errors: [{ message: 'Invalid credentials', code: 'credentials.incorrect', type: 'error' }] })
  }

  private async folioLogin(ctx: Ctx, blUsers: boolean): Promise<AuthResponse> {
    const bad = this.tenantError(ctx)
    if (bad) {
      this.stats.loginFailures += 1
      return bad
    }
    const body = this.parseJson(ctx.body)
    if (!body) {
      this.stats.loginFailures += 1
      return text(400, 'Request body must be a JSON object')
    }
    const username = this.checkCredentials(body.username, body.password)
    if (!username) {
      this.stats.loginFailures += 1
      return this.credentialsError()
    }
    const family = this.newFamily(username)
    const pair = await this.mint(family, ctx.now)
    this.stats.logins += 1
    const exp = this.expirations(pair)
    const payload = blUsers
      ? {
          user: { username, id: family.userId },
          permissions: { permissions: [] },
          tokenExpiration: exp,
        }
      : exp
    return json(201, payload, this.setCookies(pair))
  }

  private async folioRefresh(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const bad = this.tenantError(ctx)
    if (bad) {
      this.stats.refreshRefused += 1
      return bad
    }
    const result = await this.refreshWith(ctx.cookies.get(REFRESH_COOKIE) || undefined, 'cookie', ctx, entry)
    if (!result.ok) return text(401, result.reason)
    return json(201, this.expirations(result.pair), this.setCookies(result.pair))
  }

  /** One refresh, as every variant does it: log the RT presented, rotate, count the outcome. */
  private async refreshWith(token: string | null | undefined, where: string, ctx: Ctx, entry: LogDraft): Promise<RotateResult> {
    const jti = jtiOf(token ?? undefined)
    if (jti) entry.rt = jti
    entry.reused = false
    if (!token) {
      this.stats.refreshRefused += 1
      return { ok: false, reused: false, reason: `Missing refresh token (${where})` }
    }
    const result = await this.rotate(token, ctx.now)
    if (result.ok) {
      this.stats.refreshGranted += 1
    } else {
      entry.reused = result.reused
      this.stats.refreshRefused += 1
      if (result.reused) this.stats.reusedRefused += 1
    }
    return result
  }

  private async folioLogout(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const bad = this.tenantError(ctx)
    if (bad) return bad
    const rtToken = ctx.cookies.get(REFRESH_COOKIE) || undefined
    const jti = jtiOf(rtToken)
    if (jti) entry.rt = jti
    const rec = (await this.lookup(rtToken)) ?? (await this.lookup(ctx.cookies.get(ACCESS_COOKIE) || undefined)) ?? (await this.lookup(bearerOf(ctx.headers)))
    if (rec) rec.family.revoked = true
    this.stats.logouts += 1
    return res(204, '', this.clearCookies())
  }

  // ---------------------------------------------------------------- bearer JSON

  private async bearerLogin(ctx: Ctx): Promise<AuthResponse> {
    const body = this.parseJson(ctx.body)
    if (!body) {
      this.stats.loginFailures += 1
      return text(400, 'Request body must be a JSON object')
    }
    const username = this.checkCredentials(body.username, body.password)
    if (!username) {
      this.stats.loginFailures += 1
      return this.credentialsError()
    }
    const pair = await this.mint(this.newFamily(username), ctx.now)
    this.stats.logins += 1
    return json(201, { accessToken: pair.accessToken, refreshToken: pair.refreshToken })
  }

  private async bearerRefresh(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const body = this.parseJson(ctx.body)
    const token = typeof body?.refreshToken === 'string' && body.refreshToken ? body.refreshToken : undefined
    const result = await this.refreshWith(token, 'refreshToken', ctx, entry)
    if (!result.ok) return text(401, result.reason)
    return json(201, { accessToken: result.pair.accessToken, refreshToken: result.pair.refreshToken })
  }

  private async bearerLogout(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const body = this.parseJson(ctx.body)
    const rtToken = typeof body?.refreshToken === 'string' && body.refreshToken ? body.refreshToken : undefined
    const jti = jtiOf(rtToken)
    if (jti) entry.rt = jti
    const rec = (await this.lookup(rtToken)) ?? (await this.lookup(bearerOf(ctx.headers)))
    if (!rec) return text(401, 'Missing or invalid token')
    rec.family.revoked = true
    this.stats.logouts += 1
    return res(204)
  }

  // ---------------------------------------------------------------- OAuth2

  private clientId(ctx: Ctx, form: URLSearchParams): string | undefined {
    const fromBody = form.get('client_id')
    if (fromBody) return fromBody
    const auth = ctx.headers.get('authorization')
    const m = auth ? /^Basic\s+(\S+)$/i.exec(auth) : null
    if (!m?.[1]) return undefined
    try {
      const decoded = decoder.decode(Uint8Array.from(atob(m[1]), c => c.charCodeAt(0)))
      const id = decoded.split(':')[0]
      return id ? decodeURIComponent(id) : undefined
    } catch {
      return undefined
    }
  }

  private async oauthToken(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const form = new URLSearchParams(ctx.body)
    const grant = form.get('grant_type')
    const isRefresh = grant === 'refresh_token'
    const refuse = (r: AuthResponse): AuthResponse => {
      if (isRefresh) this.stats.refreshRefused += 1
      else if (grant === 'password') this.stats.loginFailures += 1
      return r
    }
    if (isRefresh) {
      const jti = jtiOf(form.get('refresh_token') ?? undefined)
      if (jti) entry.rt = jti
      entry.reused = false
    }
    if (!grant) return refuse(oauthError(400, 'invalid_request', 'Missing grant_type'))
    if (grant !== 'password' && grant !== 'refresh_token') {
      return refuse(oauthError(400, 'unsupported_grant_type', `Unsupported grant_type ${grant}`))
    }
    if (!this.clientId(ctx, form)) return refuse(oauthError(401, 'invalid_client', 'Missing client_id'))

    if (grant === 'password') {
      const username = form.get('username')
      const password = form.get('password')
      if (!username || password === null) {
        return refuse(oauthError(400, 'invalid_request', 'Missing username or password'))
      }
      const user = this.checkCredentials(username, password)
      if (!user) return refuse(oauthError(400, 'invalid_grant', 'Invalid user credentials'))
      const pair = await this.mint(this.newFamily(user), ctx.now)
      this.stats.logins += 1
      return this.oauthGrant(pair)
    }

    const token = form.get('refresh_token')
    if (!token) return refuse(oauthError(400, 'invalid_request', 'Missing refresh_token'))
    const result = await this.refreshWith(token, 'refresh_token', ctx, entry)
    if (!result.ok) return oauthError(400, 'invalid_grant', result.reason)
    return this.oauthGrant(result.pair)
  }

  private oauthGrant(pair: Minted): AuthResponse {
    return json(
      200,
      {
        access_token: pair.accessToken,
        refresh_token: pair.refreshToken,
        token_type: 'Bearer',
        // Floored like `exp`: never longer than the server's own lifetime.
        expires_in: Math.floor(this.opts.accessTokenTtl / 1000),
        refresh_expires_in: Math.floor(this.opts.refreshTokenTtl / 1000),
      },
      OAUTH_HEADERS,
    )
  }

  private async oauthRevoke(ctx: Ctx, entry: LogDraft): Promise<AuthResponse> {
    const form = new URLSearchParams(ctx.body)
    const token = form.get('token') || bearerOf(ctx.headers)
    if (!token) return oauthError(400, 'invalid_request', 'Missing token')
    const jti = jtiOf(token)
    if (jti) entry.rt = jti
    // RFC 7009 §2.2: 200 whether or not the token was valid.
    const rec = await this.lookup(token)
    if (rec) rec.family.revoked = true
    this.stats.logouts += 1
    return res(200, '', OAUTH_HEADERS)
  }

  // ---------------------------------------------------------------- API

  private async api(ctx: Ctx): Promise<AuthResponse> {
    const bearer = bearerOf(ctx.headers)
    const token = bearer ?? (ctx.cookies.get(ACCESS_COOKIE) || undefined)
    const rec = await this.checkAccess(token, ctx.now)
    if (!rec) {
      this.stats.api401 += 1
      return text(401, token ? 'Invalid or expired access token' : 'Missing access token')
    }
    this.stats.api200 += 1
    return json(200, {
      method: ctx.method,
      path: ctx.path,
      query: ctx.query,
      body: ctx.body,
      user: rec.family.username,
      via: bearer ? 'bearer' : 'cookie',
    })
  }
}
