import { describe, expect, onTestFinished } from 'vitest'
import { SessionExpiredError } from '../../src/index.js'
import { manualClock, record, startEnv } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const RT = 3_600_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: RT })

describe('request mode (Q), cookie transport, over real HTTP', () => {
  test('a valid AT is sent at once, with cookies, and no refresh happens', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const response = await session.fetch(`${env.url}/api/items`)
    expect(response.status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 0, api200: 1, api401: 0 })
    expect(session.state).toMatchObject({ status: 'active', generation: 1, rotating: false })
  })

  test('1,000 concurrent requests behind an expired AT: one refresh, all 200', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    clock.advance(AT + 1)
    const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => session.fetch(`${env.url}/api/r/${i}`)))
    expect(responses.every(r => r.status === 200)).toBe(true)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api200: 1000, api401: 0 })
    expect(session.state.generation).toBe(2)
  })

  test('an AT within the leeway of expiry is rotated before the request', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    clock.advance(AT - 1000) // default leeway: min(5 s, 10% of 60 s) = 5 s
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(1)
  })

  test('a POST whose AT was revoked server-side is rotated and replayed once with its body', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const log = record(session)
    env.server.revokeAccessTokens()
    const response = await session.fetch(`${env.url}/api/records`, { method: 'POST', body: JSON.stringify({ id: 42 }) })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ method: 'POST', path: '/api/records', body: '{"id":42}' })
    expect(env.server.stats).toMatchObject({ api401: 1, api200: 1, refreshCalls: 1 })
    expect(log.of('rotate')).toHaveLength(1)
  })

  test('a Request object with a body is replayed intact', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    env.server.revokeAccessTokens()
    const request = new Request(`${env.url}/api/upload`, { method: 'PUT', body: 'payload-bytes' })
    const response = await session.fetch(request)
    expect(await response.json()).toMatchObject({ method: 'PUT', body: 'payload-bytes' })
    expect(env.server.stats).toMatchObject({ api401: 1, api200: 1 })
  })

  test('a 401 is replayed only once: a second 401 reaches the caller', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    env.server.fault('api', { status: 401, times: 2 })
    const response = await session.fetch(`${env.url}/api/x`)
    expect(response.status).toBe(401)
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(env.server.log.filter(e => e.route === 'api')).toHaveLength(2)
  })

  test('a streamed body cannot be replayed: the 401 is handed back, nothing sent twice', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    env.server.revokeAccessTokens()
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('x'))
        c.close()
      },
    })
    const response = await session.fetch(`${env.url}/api/x`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    expect(env.server.stats).toMatchObject({ api401: 1, refreshCalls: 0 })
  })

  test('concurrent 401s of one generation share one rotation; a superseded 401 replays without rotating', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    env.server.revokeAccessTokens()
    const responses = await Promise.all(Array.from({ length: 20 }, () => session.fetch(`${env.url}/api/x`)))
    expect(responses.map(r => r.status)).toEqual(Array(20).fill(200))
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(env.server.stats.reusedRefused).toBe(0)
  })

  test('two 503s from refresh: no logout, the waiting requests succeed', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const log = record(session)
    env.server.fault('refresh', { status: 503, times: 2 })
    clock.advance(AT + 1)
    const responses = await Promise.all([1, 2, 3].map(i => session.fetch(`${env.url}/api/${i}`)))
    expect(responses.map(r => r.status)).toEqual([200, 200, 200])
    expect(env.server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 1, reusedRefused: 0 })
    expect(log.of('logout')).toEqual([])
    expect(session.state.status).toBe('active')
  })

  test('422 from refresh: logout "rejected" and every waiting request rejects with SessionExpiredError', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const log = record(session)
    env.server.fault('refresh', { status: 422 })
    clock.advance(AT + 1)
    const results = await Promise.allSettled([1, 2, 3, 4].map(i => session.fetch(`${env.url}/api/${i}`)))
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const error = (r as PromiseRejectedResult).reason
      expect(error).toBeInstanceOf(SessionExpiredError)
      expect(error).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'rejected' })
    }
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: false }])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, api200: 0, api401: 0 })
    expect(session.state.status).toBe('signed-out')
  })

  test('both tokens expired: logout "expired", SessionExpiredError, no refresh sent', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const log = record(session)
    clock.advance(RT + 1)
    await expect(session.fetch(`${env.url}/api/x`)).rejects.toMatchObject({ reason: 'expired' })
    expect(env.server.stats.refreshCalls).toBe(0)
    expect(log.of('logout')).toEqual([{ reason: 'expired', origin: 'local' }])
  })

  test('server clock 2 h ahead: no 401 and no logout over many rotations', async () => {
    const clock = manualClock()
    const env = await startEnv({ now: clock.now, accessTokenTtl: AT, refreshTokenTtl: RT, clockOffset: 2 * 3600_000 })
    onTestFinished(() => env.close())
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const log = record(session)
    for (let i = 0; i < 20; i++) {
      clock.advance(AT / 2)
      expect((await session.fetch(`${env.url}/api/${i}`)).status).toBe(200)
    }
    expect(env.server.stats.api401).toBe(0)
    expect(env.server.stats.refreshCalls).toBe(10)
    expect(log.of('logout')).toEqual([])
  })

  test('server clock 2 h behind: the same', async () => {
    const clock = manualClock()
    const env = await startEnv({ now: clock.now, accessTokenTtl: AT, refreshTokenTtl: RT, clockOffset: -2 * 3600_000 })
    onTestFinished(() => env.close())
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    for (let i = 0; i < 20; i++) {
      clock.advance(AT / 2)
      expect((await session.fetch(`${env.url}/api/${i}`)).status).toBe(200)
    }
    expect(env.server.stats).toMatchObject({ api401: 0, refreshCalls: 10, reusedRefused: 0 })
  })
})
