import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { authFaces } from '../helpers/auth-faces.js'
import { cookieFetch, createAuthServer, type AuthServerOptions } from '../../src/testing/index.js'

const TENANT = { 'X-Okapi-Tenant': 'diku' }
const JSON_TENANT = { ...TENANT, 'Content-Type': 'application/json' }
const CREDS = { username: 'diku_admin', password: 'admin' }
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }

/** A fixed base clock the tests advance by hand (ms not a multiple of 1000 on purpose). */
function clock(start = 1_700_000_000_500) {
  const c = { t: start, now: () => c.t }
  return c
}

function cookieOf(res: Response, name: string): string | undefined {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';')
    const i = pair?.indexOf('=') ?? -1
    if (pair && i > 0 && pair.slice(0, i) === name) return pair.slice(i + 1)
  }
  return undefined
}

function setCookieLine(res: Response, name: string): string {
  const line = res.headers.getSetCookie().find(c => c.startsWith(name + '='))
  if (!line) throw new Error(`no Set-Cookie for ${name}`)
  return line
}

/** Settles within `ms`? ('pending' otherwise). */
async function state(p: Promise<unknown>, ms = 60): Promise<'fulfilled' | 'rejected' | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const r = await Promise.race([
    p.then(
      () => 'fulfilled' as const,
      () => 'rejected' as const,
    ),
    new Promise<'pending'>(resolve => {
      timer = setTimeout(() => resolve('pending'), ms)
    }),
  ])
  clearTimeout(timer)
  return r
}

describe.each(authFaces())('$name face', face => {
  beforeAll(() => face.beforeAll())
  afterAll(() => face.afterAll())
  afterEach(() => face.unmount())

  const mount = (options?: AuthServerOptions) => face.mount(options)

  // ------------------------------------------------------------------ helpers bound to a url
  const folio = (url: string, f: typeof fetch = fetch) => ({
    login: (creds: object = CREDS, headers: Record<string, string> = JSON_TENANT) =>
      f(`${url}/authn/login-with-expiry`, { method: 'POST', headers, body: JSON.stringify(creds) }),
    refresh: (headers: Record<string, string> = TENANT) => f(`${url}/authn/refresh`, { method: 'POST', headers }),
    logout: (headers: Record<string, string> = TENANT) => f(`${url}/authn/logout`, { method: 'POST', headers }),
    api: (path = '/api/things', init?: RequestInit) => f(`${url}${path}`, init),
  })
  const refreshWith = (url: string, rt: string) => fetch(`${url}/authn/refresh`, { method: 'POST', headers: { ...TENANT, Cookie: `folioRefreshToken=${rt}` } })
  const apiWith = (url: string, at: string, path = '/api/things') => fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${at}` } })
  const oauth = (url: string, params: Record<string, string>) => fetch(`${url}/oauth/token`, { method: 'POST', headers: FORM, body: new URLSearchParams(params).toString() })
  const bearer = (url: string, route: 'login' | 'refresh' | 'logout', body: object, headers: Record<string, string> = {}) =>
    fetch(`${url}/bearer/${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })

  // ------------------------------------------------------------------ FOLIO cookie variant
  describe('FOLIO cookie variant', () => {
    it('login answers 201 with ISO expirations and two HttpOnly cookies', async () => {
      const c = clock()
      const { url } = await mount({ now: c.now, basePath: '/okapi' })
      const res = await folio(url).login()
      expect(res.status).toBe(201)
      expect(await res.json()).toEqual({
        accessTokenExpiration: new Date(c.t + 60_000).toISOString(),
        refreshTokenExpiration: new Date(c.t + 3_600_000).toISOString(),
      })
      expect(setCookieLine(res, 'folioAccessToken')).toMatch(/^folioAccessToken=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; Path=\/; Max-Age=60; SameSite=Lax$/)
      expect(setCookieLine(res, 'folioRefreshToken')).toMatch(/^folioRefreshToken=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; Path=\/okapi\/authn; Max-Age=3600; SameSite=Lax$/)
    })

    it('tokens are HS256 JWTs with the documented claims, iat and exp to the millisecond (exp is the enforced deadline)', async () => {
      const c = clock(1_700_000_000_999)
      const { url } = await mount({ now: c.now, accessTokenTtl: 1_500 })
      const res = await folio(url).login()
      const at = decodeJwt(cookieOf(res, 'folioAccessToken')!)
      const rt = decodeJwt(cookieOf(res, 'folioRefreshToken')!)
      expect(at).toMatchObject({ sub: 'diku_admin', tenant: 'diku', type: 'access' })
      expect(rt).toMatchObject({ sub: 'diku_admin', tenant: 'diku', type: 'refresh' })
      expect(at.exp).toBe((c.t + 1_500) / 1000)
      expect(at.iat).toBe(c.t / 1000)
      expect(typeof at.jti).toBe('string')
      expect(at.jti).not.toBe(rt.jti)
      expect(at.user_id).toBe(rt.user_id)
      expect(at.family).toBe(rt.family)
      expect(setCookieLine(res, 'folioAccessToken')).toContain('Max-Age=2;')
    })

    it('bl-users login answers the user, permissions and tokenExpiration', async () => {
      const c = clock()
      const { url } = await mount({ now: c.now })
      const res = await fetch(`${url}/bl-users/login-with-expiry`, {
        method: 'POST',
        headers: JSON_TENANT,
        body: JSON.stringify(CREDS),
      })
      expect(res.status).toBe(201)
      const body = await res.json()
      expect(body).toEqual({
        user: { username: 'diku_admin', id: expect.any(String) },
        permissions: { permissions: [] },
        tokenExpiration: {
          accessTokenExpiration: new Date(c.t + 60_000).toISOString(),
          refreshTokenExpiration: new Date(c.t + 3_600_000).toISOString(),
        },
      })
      expect(res.headers.getSetCookie()).toHaveLength(2)
      expect(decodeJwt(cookieOf(res, 'folioAccessToken')!).user_id).toBe(body.user.id)
    })

    it('bad credentials → 422 (both login routes), stats count no login', async () => {
      const { url, server } = await mount({ users: { alice: 's3cret' } })
      expect((await folio(url).login({ username: 'alice', password: 'nope' })).status).toBe(422)
      expect((await folio(url).login({ username: 'bob', password: 's3cret' })).status).toBe(422)
      expect((await folio(url).login({ username: 'alice' })).status).toBe(422)
      const bl = await fetch(`${url}/bl-users/login-with-expiry`, {
        method: 'POST',
        headers: JSON_TENANT,
        body: JSON.stringify({ username: 'alice', password: 'x' }),
      })
      expect(bl.status).toBe(422)
      expect(bl.headers.getSetCookie()).toEqual([])
      expect((await folio(url).login({ username: 'alice', password: 's3cret' })).status).toBe(201)
      expect(server.stats.logins).toBe(1)
      expect(server.stats.loginFailures).toBe(4)
    })

    it('X-Okapi-Tenant is required on login, refresh and logout (missing or wrong → 400)', async () => {
      const { url, server } = await mount({ tenant: 'fs09000000' })
      const f = cookieFetch()
      const api = folio(url, f)
      const ok = { 'X-Okapi-Tenant': 'fs09000000' }
      expect((await api.login(CREDS, { 'Content-Type': 'application/json' })).status).toBe(400)
      expect((await api.login(CREDS, { ...JSON_TENANT })).status).toBe(400)
      expect((await api.login(CREDS, { ...ok, 'Content-Type': 'application/json' })).status).toBe(201)
      expect((await api.refresh({})).status).toBe(400)
      expect((await api.refresh(TENANT)).status).toBe(400)
      expect((await api.logout({})).status).toBe(400)
      expect((await api.logout(TENANT)).status).toBe(400)
      // none of those touched the session
      expect((await api.refresh(ok)).status).toBe(201)
      expect((await api.api()).status).toBe(200)
      expect((await api.logout(ok)).status).toBe(204)
      expect(server.stats.refreshCalls).toBe(3)
      expect(server.stats.refreshGranted).toBe(1)
    })

    it('a browser (cookieFetch) logs in, calls the API, rotates and logs out', async () => {
      const { url, server } = await mount({ basePath: '/okapi' })
      const f = cookieFetch()
      const api = folio(url, f)
      expect((await api.api()).status).toBe(401)
      expect((await api.login()).status).toBe(201)

      const res = await api.api('/api/things?limit=1', { method: 'PUT', body: 'hello' })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({
        method: 'PUT',
        path: '/okapi/api/things',
        query: '?limit=1',
        body: 'hello',
        user: 'diku_admin',
        via: 'cookie',
      })

      // The RT cookie goes only to <basePath>/authn.
      const origin = new URL(url).origin
      expect(await f.cookieString(`${url}/api/things`)).toMatch(/^folioAccessToken=[^;]+$/)
      expect(await f.cookieString(`${url}/authn/refresh`)).toMatch(/folioRefreshToken=.+; folioAccessToken=/)
      expect(await f.cookieString(`${origin}/authn/refresh`)).not.toContain('folioRefreshToken')
      expect(await f.cookieString(`${url}/authnx`)).not.toContain('folioRefreshToken')

      const before = await f.cookieString(`${url}/authn/refresh`)
      const r = await api.refresh()
      expect(r.status).toBe(201)
      expect(await r.json()).toEqual({ accessTokenExpiration: expect.any(String), refreshTokenExpiration: expect.any(String) })
      expect(await f.cookieString(`${url}/authn/refresh`)).not.toBe(before)
      expect((await api.api()).status).toBe(200)

      // Max-Age=0 clears both cookies.
      const out = await api.logout()
      expect(out.status).toBe(204)
      expect(setCookieLine(out, 'folioAccessToken')).toContain('Max-Age=0')
      expect(setCookieLine(out, 'folioRefreshToken')).toContain('Path=/okapi/authn; Max-Age=0')
      expect(await f.cookieString(`${url}/authn/refresh`)).toBe('')
      expect((await api.api()).status).toBe(401)
      expect(server.stats).toMatchObject({ logins: 1, refreshGranted: 1, api200: 2, api401: 2, logouts: 1 })
    })

    it('two cookieFetch browsers have separate jars', async () => {
      const { url } = await mount()
      const a = cookieFetch()
      const b = cookieFetch()
      expect((await folio(url, a).login()).status).toBe(201)
      expect((await folio(url, a).api()).status).toBe(200)
      expect((await folio(url, b).api()).status).toBe(401)
      expect(await b.cookieString(`${url}/authn/refresh`)).toBe('')
      await a.clear()
      expect((await folio(url, a).api()).status).toBe(401)
    })

    it('refresh without a cookie or with garbage → 401, not counted as reuse', async () => {
      const { url, server } = await mount()
      expect((await folio(url).refresh()).status).toBe(401)
      expect((await refreshWith(url, 'not-a-jwt')).status).toBe(401)
      // a well-formed JWT signed with another key
      const foreign = await createAuthServer().issue()
      expect((await refreshWith(url, foreign.refreshToken)).status).toBe(401)
      expect(server.stats).toMatchObject({ refreshCalls: 3, refreshRefused: 3, reusedRefused: 0, refreshGranted: 0 })
    })
  })

  // ------------------------------------------------------------------ rotation + reuse
  describe('RT rotation and reuse detection', () => {
    it('a refreshed RT presented again is refused, revokes the family, and counts as reuse', async () => {
      const { url, server } = await mount()
      const login = await folio(url).login()
      const at0 = cookieOf(login, 'folioAccessToken')!
      const rt0 = cookieOf(login, 'folioRefreshToken')!

      const r1 = await refreshWith(url, rt0)
      expect(r1.status).toBe(201)
      const at1 = cookieOf(r1, 'folioAccessToken')!
      const rt1 = cookieOf(r1, 'folioRefreshToken')!
      expect(decodeJwt(rt1).family).toBe(decodeJwt(rt0).family)
      expect((await apiWith(url, at1)).status).toBe(200)
      expect((await apiWith(url, at0)).status).toBe(200) // a rotation alone does not kill older ATs

      const again = await refreshWith(url, rt0)
      expect(again.status).toBe(401)
      expect(again.headers.getSetCookie()).toEqual([])
      expect(server.stats.reusedRefused).toBe(1)

      // the whole family is dead: the child pair and the older AT
      expect((await apiWith(url, at1)).status).toBe(401)
      expect((await apiWith(url, at0)).status).toBe(401)
      expect((await refreshWith(url, rt1)).status).toBe(401)
      expect(server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 1, refreshRefused: 2, reusedRefused: 1 })

      // a consumed RT of a revoked family still counts as reuse
      expect((await refreshWith(url, rt0)).status).toBe(401)
      expect(server.stats.reusedRefused).toBe(2)

      const refreshLog = server.log.filter(e => e.route === 'refresh')
      expect(refreshLog.map(e => [e.status, e.rt, e.reused])).toEqual([
        [201, decodeJwt(rt0).jti, false],
        [401, decodeJwt(rt0).jti, true],
        [401, decodeJwt(rt1).jti, false],
        [401, decodeJwt(rt0).jti, true],
      ])
    })

    it('other families are not affected by a reuse', async () => {
      const { url } = await mount()
      const a = await folio(url).login()
      const b = await folio(url).login()
      const rtA = cookieOf(a, 'folioRefreshToken')!
      expect((await refreshWith(url, rtA)).status).toBe(201)
      expect((await refreshWith(url, rtA)).status).toBe(401)
      expect((await apiWith(url, cookieOf(b, 'folioAccessToken')!)).status).toBe(200)
      expect((await refreshWith(url, cookieOf(b, 'folioRefreshToken')!)).status).toBe(201)
    })

    it('two concurrent refreshes with one RT: exactly one wins, the other is a reuse', async () => {
      const { url, server } = await mount()
      const rt = cookieOf(await folio(url).login(), 'folioRefreshToken')!
      const [a, b] = await Promise.all([refreshWith(url, rt), refreshWith(url, rt)])
      expect([a.status, b.status].sort()).toEqual([201, 401])
      expect(server.stats.reusedRefused).toBe(1)
      const winner = a.status === 201 ? a : b
      expect((await apiWith(url, cookieOf(winner, 'folioAccessToken')!)).status).toBe(401)
    })

    it('logout kills the family: AT 401 afterwards, RT refused (not as reuse)', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      const login = await folio(url, f).login()
      const at = cookieOf(login, 'folioAccessToken')!
      const rt = cookieOf(login, 'folioRefreshToken')!
      expect((await folio(url, f).logout()).status).toBe(204)
      expect((await apiWith(url, at)).status).toBe(401)
      expect((await refreshWith(url, rt)).status).toBe(401)
      expect(server.stats).toMatchObject({ logouts: 1, reusedRefused: 0, refreshRefused: 1 })
    })

    it('logout with only the AT cookie (other path) also revokes the family', async () => {
      const { url } = await mount({ basePath: '/okapi' })
      const login = await folio(url).login()
      const at = cookieOf(login, 'folioAccessToken')!
      const rt = cookieOf(login, 'folioRefreshToken')!
      const out = await fetch(`${url}/authn/logout`, { method: 'POST', headers: { ...TENANT, Cookie: `folioAccessToken=${at}` } })
      expect(out.status).toBe(204)
      expect((await refreshWith(url, rt)).status).toBe(401)
    })
  })

  // ------------------------------------------------------------------ clocks
  describe('expiry and clocks', () => {
    it('expired AT → 401 (ms precise); RT still refreshes; expired RT → refused, not reuse', async () => {
      const c = clock()
      const { url, server } = await mount({ now: c.now, accessTokenTtl: 10_000, refreshTokenTtl: 30_000 })
      const login = await folio(url).login()
      const at = cookieOf(login, 'folioAccessToken')!
      const rt = cookieOf(login, 'folioRefreshToken')!
      const start = c.t
      c.t = start + 9_999
      expect((await apiWith(url, at)).status).toBe(200)
      c.t = start + 10_000
      expect((await apiWith(url, at)).status).toBe(401)

      const r = await refreshWith(url, rt)
      expect(r.status).toBe(201)
      expect(await r.json()).toEqual({
        accessTokenExpiration: new Date(c.t + 10_000).toISOString(),
        refreshTokenExpiration: new Date(c.t + 30_000).toISOString(),
      })
      const rt1 = cookieOf(r, 'folioRefreshToken')!
      c.t += 30_000
      expect((await refreshWith(url, rt1)).status).toBe(401)
      expect(server.stats).toMatchObject({ api200: 1, api401: 1, refreshGranted: 1, refreshRefused: 1, reusedRefused: 0 })
    })

    it('clock offset shows in the Date header, ISO expirations and JWT claims', async () => {
      const c = clock()
      const offset = 3 * 3_600_000 + 1_234
      const { url, server } = await mount({ now: c.now, clockOffset: offset })
      const res = await folio(url).login()
      const serverNow = c.t + offset
      expect(res.headers.get('date')).toBe(new Date(serverNow).toUTCString())
      expect(await res.json()).toEqual({
        accessTokenExpiration: new Date(serverNow + 60_000).toISOString(),
        refreshTokenExpiration: new Date(serverNow + 3_600_000).toISOString(),
      })
      expect(decodeJwt(cookieOf(res, 'folioAccessToken')!).exp).toBe((serverNow + 60_000) / 1000)
      expect(server.now()).toBe(serverNow)

      // the server clock jumps: the AT is expired by its clock
      const at = cookieOf(res, 'folioAccessToken')!
      server.setClockOffset(offset + 60_000)
      const api = await apiWith(url, at)
      expect(api.status).toBe(401)
      expect(api.headers.get('date')).toBe(new Date(c.t + offset + 60_000).toUTCString())
      server.setClockOffset(-5 * 60_000)
      expect((await apiWith(url, at)).status).toBe(200)
    })

    it('every response carries the server Date, 404s and faults included', async () => {
      const c = clock()
      const { url, server } = await mount({ now: c.now, clockOffset: -86_400_000 })
      const expected = new Date(c.t - 86_400_000).toUTCString()
      expect((await fetch(`${url}/nope`)).headers.get('date')).toBe(expected)
      server.fault('api', { status: 500 })
      expect((await fetch(`${url}/api/x`)).headers.get('date')).toBe(expected)
      expect((await fetch(`${url}/api/x`)).headers.get('date')).toBe(expected)
    })
  })

  // ------------------------------------------------------------------ faults
  describe('faults', () => {
    it('status + Retry-After, for `times` requests, then normal service', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      expect((await folio(url, f).login()).status).toBe(201)
      server.fault('refresh', { status: 503, retryAfter: 7, times: 2 })
      for (let i = 0; i < 2; i++) {
        const r = await folio(url, f).refresh()
        expect(r.status).toBe(503)
        expect(r.headers.get('retry-after')).toBe('7')
        expect(r.headers.getSetCookie()).toEqual([])
      }
      expect(server.pendingFaults('refresh')).toBe(0)
      expect((await folio(url, f).refresh()).status).toBe(201)
      expect(server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 1, refreshRefused: 0, faults: 2 })
      expect(server.log.filter(e => e.route === 'refresh').map(e => [e.status, e.fault])).toEqual([
        [503, 'status'],
        [503, 'status'],
        [201, undefined],
      ])
    })

    it('faults queue up per route and are consumed in order', async () => {
      const { url, server } = await mount()
      server.fault('api', { status: 500 })
      server.fault('api', { status: 502, times: 2 })
      server.fault('login', { status: 429, retryAfter: 1 })
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/api/x`)).status)
      expect(statuses).toEqual([500, 502, 502, 401])
      expect((await folio(url).login()).status).toBe(429)
      expect((await folio(url).login()).status).toBe(201)
      server.fault('logout', { status: 500, times: Infinity })
      expect((await folio(url).logout()).status).toBe(500)
      expect((await folio(url).logout()).status).toBe(500)
      server.clearFaults()
      expect((await folio(url).logout()).status).toBe(204)
    })

    it('malformed body with status 201', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      await folio(url, f).login()
      server.fault('refresh', { status: 201, body: '{"accessTokenExpiration": "20' })
      const r = await folio(url, f).refresh()
      expect(r.status).toBe(201)
      expect(r.headers.get('content-type')).toContain('application/json')
      await expect(r.json()).rejects.toThrow(SyntaxError)
      // the RT was not consumed: the next refresh works
      expect((await folio(url, f).refresh()).status).toBe(201)
      expect(server.stats.reusedRefused).toBe(0)
    })

    it('drop → fetch TypeError, the request is not processed', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      await folio(url, f).login()
      server.fault('refresh', { drop: true })
      await expect(folio(url, f).refresh()).rejects.toThrow(TypeError)
      expect((await folio(url, f).refresh()).status).toBe(201)
      server.fault('api', { drop: true })
      await expect(folio(url, f).api()).rejects.toThrow(TypeError)
      expect(server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 1, api200: 0, api401: 0 })
      expect(server.log.filter(e => e.fault === 'drop').map(e => e.status)).toEqual([0, 0])
    })

    it('afterProcessing: the RT is consumed, the answer is lost, the next refresh is a reuse', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      await folio(url, f).login()
      server.fault('refresh', { afterProcessing: true, drop: true })
      await expect(folio(url, f).refresh()).rejects.toThrow(TypeError)
      expect(server.stats.refreshGranted).toBe(1)
      // the browser still holds the old RT
      const r = await folio(url, f).refresh()
      expect(r.status).toBe(401)
      expect(server.stats.reusedRefused).toBe(1)
      expect((await folio(url, f).api()).status).toBe(401)
    })

    it('afterProcessing with a status: processed, then answered with the fault', async () => {
      const { url, server } = await mount()
      const rt = cookieOf(await folio(url).login(), 'folioRefreshToken')!
      server.fault('refresh', { afterProcessing: true, status: 504 })
      const r = await refreshWith(url, rt)
      expect(r.status).toBe(504)
      expect(r.headers.getSetCookie()).toEqual([])
      expect((await refreshWith(url, rt)).status).toBe(401)
      expect(server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 1, refreshCalls: 2 })
    })

    it('hang: nothing settles until the face gives up, then the fetch fails', async () => {
      const { url, server, abort } = await mount()
      const f = cookieFetch()
      await folio(url, f).login()
      server.fault('refresh', { hang: true })
      const hung = folio(url, f).refresh()
      hung.catch(() => {})
      expect(await state(hung)).toBe('pending')
      // other requests are still served meanwhile
      expect((await folio(url, f).api()).status).toBe(200)
      expect(await state(hung, 10)).toBe('pending')
      await abort()
      await expect(hung).rejects.toThrow(TypeError)
      expect(server.stats.refreshCalls).toBe(1)
      expect(server.stats.refreshGranted).toBe(0)
    })

    it('hang is released by restart() and releaseHung()', async () => {
      const { url, server } = await mount()
      server.fault('api', { hang: true, times: 2 })
      const a = fetch(`${url}/api/a`)
      a.catch(() => {})
      expect(await state(a)).toBe('pending')
      server.releaseHung()
      await expect(a).rejects.toThrow(TypeError)
      const b = fetch(`${url}/api/b`)
      b.catch(() => {})
      expect(await state(b)).toBe('pending')
      server.restart()
      await expect(b).rejects.toThrow(TypeError)
    })

    it('oauth faults apply to /oauth/*, "refresh" faults to oauth refresh grants too', async () => {
      const { url, server } = await mount()
      server.fault('oauth', { status: 500 })
      expect((await oauth(url, { grant_type: 'password', ...CREDS, client_id: 'c' })).status).toBe(500)
      const login = await oauth(url, { grant_type: 'password', ...CREDS, client_id: 'c' })
      const { refresh_token } = await login.json()
      server.fault('refresh', { status: 502 })
      expect((await oauth(url, { grant_type: 'refresh_token', refresh_token, client_id: 'c' })).status).toBe(502)
      expect((await oauth(url, { grant_type: 'refresh_token', refresh_token, client_id: 'c' })).status).toBe(200)
      expect(server.stats.refreshCalls).toBe(2)
    })

    it('rejects unknown fault routes', async () => {
      const { server } = await mount()
      expect(() => server.fault('nope' as never, {})).toThrow(TypeError)
    })
  })

  // ------------------------------------------------------------------ revocation / restart
  describe('revokeAccessTokens and restart', () => {
    it('revokeAccessTokens: every AT so far stops working, RTs still work', async () => {
      const { url, server } = await mount()
      const f = cookieFetch()
      await folio(url, f).login()
      const other = await server.issue()
      expect((await folio(url, f).api()).status).toBe(200)
      server.revokeAccessTokens()
      expect((await folio(url, f).api()).status).toBe(401)
      expect((await apiWith(url, other.accessToken)).status).toBe(401)
      expect((await folio(url, f).refresh()).status).toBe(201)
      expect((await folio(url, f).api()).status).toBe(200)
    })

    it('restart forgets every token (refused, not reuse) and uses a new key', async () => {
      const { url, server } = await mount()
      const login = await folio(url).login()
      const at = cookieOf(login, 'folioAccessToken')!
      const rt = cookieOf(login, 'folioRefreshToken')!
      expect((await refreshWith(url, rt)).status).toBe(201)
      server.restart()
      expect((await apiWith(url, at)).status).toBe(401)
      expect((await refreshWith(url, rt)).status).toBe(401)
      expect(server.stats.reusedRefused).toBe(0)
      const again = await folio(url).login()
      expect(again.status).toBe(201)
      expect((await apiWith(url, cookieOf(again, 'folioAccessToken')!)).status).toBe(200)
    })
  })

  // ------------------------------------------------------------------ OAuth2
  describe('OAuth2 variant', () => {
    it('password and refresh_token grants, no-store, rotation', async () => {
      const { url, server } = await mount({ accessTokenTtl: 90_500, refreshTokenTtl: 7_200_000 })
      const res = await oauth(url, { grant_type: 'password', ...CREDS, client_id: 'stripes' })
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('no-store')
      const grant = await res.json()
      expect(grant).toEqual({
        access_token: expect.any(String),
        refresh_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 90,
        refresh_expires_in: 7200,
      })
      expect((await apiWith(url, grant.access_token)).status).toBe(200)
      const r = await oauth(url, { grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_id: 'stripes' })
      expect(r.status).toBe(200)
      expect(r.headers.get('cache-control')).toBe('no-store')
      const next = await r.json()
      expect(next.refresh_token).not.toBe(grant.refresh_token)
      expect(server.stats).toMatchObject({ logins: 1, refreshCalls: 1, refreshGranted: 1 })
    })

    it('client_id may come from HTTP Basic auth', async () => {
      const { url } = await mount()
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { ...FORM, Authorization: `Basic ${btoa('stripes:')}` },
        body: new URLSearchParams({ grant_type: 'password', ...CREDS }).toString(),
      })
      expect(res.status).toBe(200)
    })

    it('error bodies: invalid_grant, invalid_request, invalid_client, unsupported_grant_type', async () => {
      const { url, server } = await mount()
      const expectError = async (p: Promise<Response>, status: number, error: string) => {
        const r = await p
        expect(r.status).toBe(status)
        expect(r.headers.get('cache-control')).toBe('no-store')
        expect(await r.json()).toMatchObject({ error })
      }
      await expectError(oauth(url, { grant_type: 'password', username: 'diku_admin', password: 'x', client_id: 'c' }), 400, 'invalid_grant')
      await expectError(oauth(url, { grant_type: 'password', username: 'diku_admin', client_id: 'c' }), 400, 'invalid_request')
      await expectError(oauth(url, { grant_type: 'refresh_token', client_id: 'c' }), 400, 'invalid_request')
      await expectError(oauth(url, { client_id: 'c' }), 400, 'invalid_request')
      await expectError(oauth(url, { grant_type: 'password', ...CREDS }), 401, 'invalid_client')
      await expectError(oauth(url, { grant_type: 'client_credentials', client_id: 'c' }), 400, 'unsupported_grant_type')
      await expectError(oauth(url, { grant_type: 'refresh_token', refresh_token: 'garbage', client_id: 'c' }), 400, 'invalid_grant')
      expect(server.stats).toMatchObject({ refreshCalls: 2, refreshRefused: 2, reusedRefused: 0 })
    })

    it('a reused RT → invalid_grant and the family is revoked', async () => {
      const { url, server } = await mount()
      const grant = await (await oauth(url, { grant_type: 'password', ...CREDS, client_id: 'c' })).json()
      const child = await (await oauth(url, { grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_id: 'c' })).json()
      const reuse = await oauth(url, { grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_id: 'c' })
      expect(reuse.status).toBe(400)
      expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
      expect(server.stats.reusedRefused).toBe(1)
      expect((await apiWith(url, child.access_token)).status).toBe(401)
      const r = await oauth(url, { grant_type: 'refresh_token', refresh_token: child.refresh_token, client_id: 'c' })
      expect(r.status).toBe(400)
    })

    it('revoke → 200 and the family is revoked', async () => {
      const { url, server } = await mount()
      const grant = await (await oauth(url, { grant_type: 'password', ...CREDS, client_id: 'c' })).json()
      const res = await fetch(`${url}/oauth/revoke`, {
        method: 'POST',
        headers: FORM,
        body: new URLSearchParams({ token: grant.refresh_token }).toString(),
      })
      expect(res.status).toBe(200)
      expect((await apiWith(url, grant.access_token)).status).toBe(401)
      expect((await oauth(url, { grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_id: 'c' })).status).toBe(400)
      expect(server.stats.logouts).toBe(1)
      // unknown tokens are fine too (RFC 7009)
      const unknown = await fetch(`${url}/oauth/revoke`, { method: 'POST', headers: FORM, body: 'token=zzz' })
      expect(unknown.status).toBe(200)
    })
  })

  // ------------------------------------------------------------------ bearer JSON
  describe('bearer JSON variant', () => {
    it('login, refresh (rotating), reuse revokes, logout with RT or AT', async () => {
      const { url, server } = await mount()
      const login = await bearer(url, 'login', CREDS)
      expect(login.status).toBe(201)
      const pair = await login.json()
      expect(Object.keys(pair).sort()).toEqual(['accessToken', 'refreshToken'])
      expect(decodeJwt(pair.accessToken)).toMatchObject({ type: 'access', sub: 'diku_admin', tenant: 'diku' })
      expect((await apiWith(url, pair.accessToken)).status).toBe(200)
      const body = await (await apiWith(url, pair.accessToken)).json()
      expect(body.via).toBe('bearer')

      const r = await bearer(url, 'refresh', { refreshToken: pair.refreshToken })
      expect(r.status).toBe(201)
      const next = await r.json()
      expect((await bearer(url, 'refresh', { refreshToken: pair.refreshToken })).status).toBe(401)
      expect(server.stats.reusedRefused).toBe(1)
      expect((await apiWith(url, next.accessToken)).status).toBe(401)

      const p2 = await (await bearer(url, 'login', CREDS)).json()
      expect((await bearer(url, 'logout', { refreshToken: p2.refreshToken })).status).toBe(204)
      expect((await apiWith(url, p2.accessToken)).status).toBe(401)

      const p3 = await (await bearer(url, 'login', CREDS)).json()
      expect((await bearer(url, 'logout', {}, { Authorization: `Bearer ${p3.accessToken}` })).status).toBe(204)
      expect((await bearer(url, 'refresh', { refreshToken: p3.refreshToken })).status).toBe(401)
      expect(server.stats.logouts).toBe(2)
    })

    it('errors: 422 bad credentials, 401 missing/invalid tokens', async () => {
      const { url } = await mount()
      expect((await bearer(url, 'login', { username: 'diku_admin', password: 'no' })).status).toBe(422)
      expect((await bearer(url, 'refresh', {})).status).toBe(401)
      expect((await bearer(url, 'refresh', { refreshToken: 'x.y.z' })).status).toBe(401)
      expect((await bearer(url, 'logout', {})).status).toBe(401)
    })

    it('an AT is not an RT and vice versa', async () => {
      const { url } = await mount()
      const pair = await (await bearer(url, 'login', CREDS)).json()
      expect((await bearer(url, 'refresh', { refreshToken: pair.accessToken })).status).toBe(401)
      expect((await apiWith(url, pair.refreshToken)).status).toBe(401)
    })
  })

  // ------------------------------------------------------------------ routing, issue, stats
  describe('routing, issue(), stats and log', () => {
    it('basePath and apiPrefix mount the routes; segment boundaries; 404; 405', async () => {
      const { url, server } = await mount({ basePath: '/okapi/', apiPrefix: 'data' })
      expect(url).toMatch(/\/okapi$/)
      const { accessToken } = await server.issue()
      expect((await apiWith(url, accessToken, '/data')).status).toBe(200)
      expect((await apiWith(url, accessToken, '/data/x/y')).status).toBe(200)
      expect((await apiWith(url, accessToken, '/datax')).status).toBe(404)
      expect((await apiWith(url, accessToken, '/api/x')).status).toBe(404)
      const origin = new URL(url).origin
      expect((await fetch(`${origin}/authn/login-with-expiry`, { method: 'POST', headers: JSON_TENANT, body: JSON.stringify(CREDS) })).status).toBe(404)
      expect((await fetch(`${url}/authn/refresh`)).status).toBe(405)
      for (const method of ['GET', 'POST', 'DELETE', 'PATCH']) {
        const r = await fetch(`${url}/data/m`, { method, headers: { Authorization: `Bearer ${accessToken}` }, ...(method === 'GET' ? {} : { body: 'b' }) })
        expect(await r.json()).toMatchObject({ method, path: '/okapi/data/m', body: method === 'GET' ? '' : 'b' })
      }
    })

    it('issue() mints a usable pair in the same family model', async () => {
      const c = clock()
      const { url, server } = await mount({ now: c.now, clockOffset: 5_000, users: { alice: 'a', bob: 'b' } })
      const pair = await server.issue('bob')
      expect(pair.accessTokenExpiration).toBe(new Date(c.t + 5_000 + 60_000).toISOString())
      expect(pair.refreshTokenExpiration).toBe(new Date(c.t + 5_000 + 3_600_000).toISOString())
      expect(await (await apiWith(url, pair.accessToken)).json()).toMatchObject({ user: 'bob' })
      const r = await bearer(url, 'refresh', { refreshToken: pair.refreshToken })
      expect(r.status).toBe(201)
      expect((await refreshWith(url, pair.refreshToken)).status).toBe(401)
      expect(server.stats.reusedRefused).toBe(1)
      expect(decodeJwt((await server.issue()).accessToken).sub).toBe('alice')
    })

    it('stats and log count everything; resetStats zeroes them in place', async () => {
      const c = clock()
      const { url, server } = await mount({ now: c.now })
      const f = cookieFetch()
      await folio(url, f).login()
      await folio(url, f).api()
      await folio(url, f).refresh()
      await fetch(`${url}/api/x`)
      await folio(url, f).logout()
      await fetch(`${url}/elsewhere`)
      const stats = server.stats
      expect(stats).toEqual({
        logins: 1,
        loginFailures: 0,
        refreshCalls: 1,
        refreshGranted: 1,
        refreshRefused: 0,
        reusedRefused: 0,
        api200: 1,
        api401: 1,
        logouts: 1,
        faults: 0,
      })
      expect(server.log.map(e => [e.route, e.variant, e.status])).toEqual([
        ['login', 'folio', 201],
        ['api', 'api', 200],
        ['refresh', 'folio', 201],
        ['api', 'api', 401],
        ['logout', 'folio', 204],
        ['unknown', 'none', 404],
      ])
      expect(server.log.every(e => e.at === c.t)).toBe(true)
      const log = server.log
      server.resetStats()
      expect(stats.logins).toBe(0)
      expect(server.stats).toBe(stats)
      expect(log).toHaveLength(0)
    })

    it('latency delays every response', async () => {
      const { url } = await mount({ latency: 40 })
      const t0 = performance.now()
      expect((await fetch(`${url}/api/x`)).status).toBe(401)
      expect(performance.now() - t0).toBeGreaterThanOrEqual(35)
    })

    it('CORS: reflects Origin with credentials and answers preflights', async () => {
      const { url, server } = await mount()
      const pre = await fetch(`${url}/authn/refresh`, {
        method: 'OPTIONS',
        headers: { Origin: 'http://app.test', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-okapi-tenant' },
      })
      expect(pre.status).toBe(204)
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.test')
      expect(pre.headers.get('access-control-allow-credentials')).toBe('true')
      expect(pre.headers.get('access-control-allow-headers')).toBe('x-okapi-tenant')
      const res = await fetch(`${url}/api/x`, { headers: { Origin: 'http://app.test' } })
      expect(res.headers.get('access-control-allow-origin')).toBe('http://app.test')
      expect(res.headers.get('access-control-expose-headers')).toContain('Date')
      expect(server.stats.refreshCalls).toBe(0)
    })

    it('validates options', async () => {
      await expect(face.mount({ accessTokenTtl: -1 })).rejects.toThrow(/accessTokenTtl/)
      await expect(face.mount({ latency: Number.NaN })).rejects.toThrow(TypeError)
    })
  })
})
