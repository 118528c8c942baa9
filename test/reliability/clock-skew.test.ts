/**
 * Issue 26.1: a client clock 20 min ahead with no readable `Date` (a cross-origin answer
 * hides it), or a server answering `expires_in <= 0`: every AT arrives expired. Before, timer
 * mode refreshed in a hot loop (1,083–1,301 refreshes in 3 s; 675 for `expires_in: 0`) and
 * request mode let 48 through in 5 s of traffic. Now the offset comes from the JWT's `iat`
 * where there is one, is otherwise assumed (the AT taken to live a minute), a `clock-skew`
 * event says which, and the refresh budget bounds whatever is left.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import { perMinuteCap, DEFAULT_BUDGET } from '../../src/core/budget.js'
import { cookieFetch } from '../../src/testing/index.js'
import { ASSUMED_LIFETIME_MS } from '../../src/core/grant.js'
import { bearerOptions, CREDENTIALS, sleep, startEnv, TENANT_HEADERS, waitFor, type Env } from '../helpers/index.js'

const AHEAD = 20 * 60_000
const AT_TTL = 30_000

/** A fetch whose answers carry no `Date`, as a cross-origin answer looks to a page. */
function withoutDate(base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await base(input, init)
    const headers = new Headers(response.headers)
    headers.delete('date')
    // The same Response (its url and body), only its headers without Date.
    return Object.defineProperty(response, 'headers', { value: headers })
  }
}

/** The most refreshes `ms` of time allows one session when every AT looks dead on arrival. */
const budgetFor = (ms: number) => DEFAULT_BUDGET.perLifetime * Math.ceil(ms / 60_000) + 1

function skewLog(session: Session) {
  const skews: Array<{ offset: number; source: string }> = []
  session.on('clock-skew', e => skews.push(e))
  return skews
}

describe('clock ahead with no readable Date (26.1)', () => {
  let env: Env
  afterEach(async () => {
    await env.close()
  })
  const ahead = () => Date.now() + AHEAD

  test('cookie, timer mode: over 3 s the refreshes stay within the budget, requests succeed, clock-skew says "assumed"', async () => {
    env = await startEnv({ accessTokenTtl: AT_TTL })
    const jar = cookieFetch(withoutDate())
    const session = createSession({ scope: env.url, fetch: jar, headers: { 'X-Okapi-Tenant': 'diku' }, crossTab: false, now: ahead, rotation: 'timer' })
    env.sessions.push(session)
    const skews = skewLog(session)
    await session.start(await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS }))
    await sleep(3000)
    expect(env.server.stats.refreshCalls).toBeLessThanOrEqual(budgetFor(3000))
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(skews[0]).toMatchObject({ source: 'assumed' })
    // The estimate: the AT taken to live ASSUMED_LIFETIME_MS from receipt; the server's live
    // AT_TTL, so the offset is -AHEAD - (ASSUMED_LIFETIME_MS - AT_TTL).
    expect(Math.abs(skews[0]!.offset - (-AHEAD - ASSUMED_LIFETIME_MS + AT_TTL))).toBeLessThan(5_000)
    expect(env.server.stats).toMatchObject({ reusedRefused: 0, api401: 0 })
  })

  test('cookie, request mode: 3 s of traffic every 30 ms stays within the budget, every request 200', async () => {
    env = await startEnv({ accessTokenTtl: AT_TTL })
    const jar = cookieFetch(withoutDate())
    const session = createSession({ scope: env.url, fetch: jar, headers: { 'X-Okapi-Tenant': 'diku' }, crossTab: false, now: ahead, rotation: 'request' })
    env.sessions.push(session)
    await session.start(await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS }))
    const statuses: number[] = []
    const until = Date.now() + 3000
    while (Date.now() < until) {
      statuses.push((await session.fetch(`${env.url}/api/x`)).status)
      await sleep(30)
    }
    expect(statuses.every(s => s === 200)).toBe(true)
    expect(env.server.stats.refreshCalls).toBeLessThanOrEqual(budgetFor(3000))
  })

  test('bearer, timer mode: the JWT iat gives the offset (clock-skew "iat"); no refresh, no 401', async () => {
    env = await startEnv({ accessTokenTtl: AT_TTL })
    const session = createSession({ ...bearerOptions(env.url), fetch: withoutDate(), crossTab: false, now: ahead, rotation: 'timer' })
    env.sessions.push(session)
    const skews = skewLog(session)
    const login = await withoutDate()(`${env.url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })
    await session.start(login)
    await sleep(3000)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(skews[0]).toMatchObject({ source: 'iat' })
    expect(Math.abs(skews[0]!.offset + AHEAD)).toBeLessThan(2_000)
    expect(env.server.stats).toMatchObject({ refreshCalls: 0, api401: 0 })
  })

  test('a server answering expires_in: 0 (timer mode): refreshes within the budget over 3 s, requests go out', async () => {
    env = await startEnv({ accessTokenTtl: AT_TTL })
    let refreshes = 0
    const session = createSession({
      scope: `${env.url}/api`,
      transport: 'bearer',
      crossTab: false,
      rotation: 'timer',
      refresh: async ({ fetch: send, refreshToken }) => {
        refreshes++
        const answer = await send(`${env.url}/bearer/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) })
        const body = (await answer.json()) as { accessToken: string; refreshToken: string }
        return { accessToken: body.accessToken, refreshToken: body.refreshToken, expiresIn: 0, refreshExpiresIn: 3600 }
      },
    })
    env.sessions.push(session)
    const login = (await (await fetch(`${env.url}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })).json()) as {
      accessToken: string
      refreshToken: string
    }
    await session.start({ accessToken: login.accessToken, refreshToken: login.refreshToken, expiresIn: 0, refreshExpiresIn: 3600 })
    await sleep(3000)
    expect(refreshes).toBeLessThanOrEqual(budgetFor(3000))
    expect(env.server.stats.refreshCalls).toBe(refreshes)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.reusedRefused).toBe(0)
  })

  test('the minute cap for an AT that arrived expired is perMinute', () => {
    expect(perMinuteCap(DEFAULT_BUDGET, -AHEAD)).toBe(DEFAULT_BUDGET.perMinute)
    void waitFor
  })
})
