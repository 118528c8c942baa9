import { describe, expect } from 'vitest'
import { createSession } from '../../src/index.js'
import { memoryStorage, record } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT })

describe('bearer transport', () => {
  test('sets Authorization on managed requests and rotates with the JSON style', async ({ env, clock }) => {
    const session = await env.bearer({ rotation: 'request', now: clock.now })
    expect((await session.fetch(`${env.url}/api/a`)).status).toBe(200)
    clock.advance(AT + 1)
    expect((await session.fetch(`${env.url}/api/b`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, api200: 2, api401: 0, reusedRefused: 0 })
    // The server saw the bearer refresh route, with an RT it had issued.
    expect(env.server.log.filter(e => e.route === 'refresh').map(e => [e.variant, e.status, e.reused])).toEqual([['bearer', 201, false]])
  })

  test('a caller’s own Authorization header on a managed request is replaced by the session’s', async ({ env, clock }) => {
    const session = await env.bearer({ rotation: 'request', now: clock.now })
    const response = await session.fetch(`${env.url}/api/a`, { headers: { Authorization: 'Bearer forged', 'x-extra': '1' } })
    expect(response.status).toBe(200)
    expect((await session.fetch(`${env.url}/api/b`, { headers: new Headers({ Authorization: 'Bearer forged' }) })).status).toBe(200)
    expect((await session.fetch(`${env.url}/api/c`, { headers: [['AUTHORIZATION', 'Bearer forged']] })).status).toBe(200)
    // 200 at the first attempt: a forged header that reached the server would have been a 401.
    expect(env.server.stats).toMatchObject({ api401: 0, refreshCalls: 0 })
  })

  test('requests outside scope carry no Authorization and are not queued', async ({ env, clock }) => {
    const seen: Array<string | null> = []
    const underlying: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
      seen.push(headers.get('authorization'))
      return fetch(input, init)
    }
    const session = await env.bearer({ rotation: 'request', now: clock.now, fetch: underlying })
    clock.advance(AT + 1) // expired: a managed request would rotate first
    await session.fetch(`${env.url}/apix/other`) // outside `${url}/api` at a segment boundary
    await session.fetch('http://127.0.0.1:1/elsewhere').catch(() => undefined)
    expect(seen).toEqual([null, null])
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('tokens are kept in memory only, unless persist: true', async ({ env, clock }) => {
    const storage = memoryStorage()
    await env.bearer({ rotation: 'request', now: clock.now, storage })
    expect([...storage.map.values()].join('')).toBe('')
    const persisted = memoryStorage()
    await env.bearer({ rotation: 'request', now: clock.now, storage: persisted, persist: true })
    expect([...persisted.map.values()].join('')).toContain('refreshToken')
  })

  test('OAuth2 style: form body with grant_type, refresh_token and client_id', async ({ env, clock }) => {
    const token = await fetch(`${env.url}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'diku_admin', password: 'admin', client_id: 'app' }),
    })
    expect(token.status).toBe(200)
    const session = createSession({
      scope: `${env.url}/api`,
      transport: 'bearer',
      rotation: 'request',
      refresh: { url: `${env.url}/oauth/token`, style: 'oauth2', clientId: 'app' },
      logout: false,
      crossTab: false,
      now: clock.now,
    })
    env.sessions.push(session)
    await session.start(token)
    clock.advance(AT + 1)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.log.filter(e => e.route === 'refresh' || e.route === 'oauth').map(e => e.status)).toEqual([200])
    expect(env.server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 0 })
  })

  test('OAuth2 invalid_grant is a definitive refusal: logout "rejected"', async ({ env, clock }) => {
    const token = await fetch(`${env.url}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'diku_admin', password: 'admin', client_id: 'app' }),
    })
    const session = createSession({
      scope: `${env.url}/api`,
      transport: 'bearer',
      rotation: 'request',
      crossTab: false,
      now: clock.now,
      logout: false,
      refresh: { url: `${env.url}/oauth/token`, style: 'oauth2', clientId: 'app' },
    })
    env.sessions.push(session)
    const log = record(session)
    await session.start(token)
    env.server.restart() // every token forgotten
    clock.advance(AT + 1)
    await expect(session.fetch(`${env.url}/api/x`)).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'rejected' })
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })

  test('a custom refresh function takes full control', async ({ env, clock }) => {
    const session = await env.bearer({
      rotation: 'request',
      now: clock.now,
      refresh: async ({ fetch, refreshToken }) =>
        fetch(`${env.url}/bearer/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) }),
    })
    clock.advance(AT + 1)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshGranted).toBe(1)
  })

  test('logout calls the server and revokes the family; signed out, requests pass through untouched', async ({ env, clock }) => {
    const session = await env.bearer({ rotation: 'request', now: clock.now })
    const log = record(session)
    await session.logout()
    expect(env.server.stats.logouts).toBe(1)
    expect(log.of('logout')).toEqual([{ reason: 'user', origin: 'local' }])
    expect(session.state).toMatchObject({ status: 'signed-out', accessExpiresAt: null })
    // Signed out, the session manages nothing: the request goes out untouched and the server says 401.
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(401)
  })

  test('start() with a bearer grant lacking the access token is a TypeError', async ({ env }) => {
    const session = createSession({ scope: env.url, transport: 'bearer', crossTab: false })
    env.sessions.push(session)
    await expect(session.start({ accessTokenExpiration: new Date(Date.now() + 1000) })).rejects.toThrow(TypeError)
  })
})
