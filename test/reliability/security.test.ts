/**
 * Security (issue 5, contract §7 "Nothing leaks"): no credentials outside `scope` (also after
 * a redirect), bearer tokens kept out of storage unless asked, and what a forged — well-formed
 * but foreign — channel message can and cannot do. Observed outcomes: docs/reliability.md.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, vi } from 'vitest'
import { createSession, SessionExpiredError, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'
import { cookieFetch, type CookieFetch } from '../../src/testing/index.js'
import { bearerLogin, browserTabs, manualClock, memoryStorage, record, startEnv, waitFor, type Env } from '../helpers/index.js'
import { settle } from './helpers.js'
import { pairSession, serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT })

type Seen = { path: string; headers: IncomingHttpHeaders }

/** A plain node:http server that records what reached it and answers from `routes`. */
async function recorder(routes: (path: string, origin: string) => { status: number; location?: string } = () => ({ status: 200 })) {
  const seen: Seen[] = []
  let origin = ''
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '/', headers: req.headers })
    const { status, location } = routes(req.url ?? '/', origin)
    res.writeHead(status, location ? { location } : { 'content-type': 'text/plain' })
    res.end(status === 200 ? 'ok' : '')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    seen,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** What the underlying fetch was handed: the exact arguments, and the headers they carry. */
function spyFetch(base: typeof fetch = fetch) {
  const calls: Array<{ url: string; init: RequestInit | undefined; authorization: string | null; credentials: RequestCredentials | undefined }> = []
  const spy: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
    calls.push({ url, init, authorization: headers.get('authorization'), credentials: init?.credentials ?? (input instanceof Request ? input.credentials : undefined) })
    return base(input, init)
  }
  return { spy, calls }
}

describe('no credentials outside scope', () => {
  /** `other`: another origin that records what reaches it. */
  const test = serverTest({ accessTokenTtl: AT }).extend<{ other: Awaited<ReturnType<typeof recorder>> }>({
    // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern: none
    other: async ({}, use) => {
      const other = await recorder()
      try {
        await use(other)
      } finally {
        await other.close()
      }
    },
  })

  test.for(['bearer', 'cookie'] as const)(
    '%s: requests outside scope reach the fetch untouched (same init object, no Authorization, no credentials), even with an expired AT',
    async (transport, { env, clock, other }) => {
      const { spy, calls } = spyFetch(transport === 'cookie' ? cookieFetch() : fetch)
      let session: Session
      if (transport === 'bearer') {
        session = await env.bearer({ rotation: 'request', now: clock.now, fetch: spy })
      } else {
        const jar = spy
        const login = await jar(`${env.url}/authn/login-with-expiry`, {
          method: 'POST',
          headers: { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
        })
        session = createSession({
          scope: `${env.url}/api`,
          refresh: `${env.url}/authn/refresh`,
          fetch: spy,
          crossTab: false,
          now: clock.now,
          rotation: 'request',
          headers: { 'X-Okapi-Tenant': 'diku' },
        })
        env.sessions.push(session)
        await session.start(login)
        calls.length = 0
      }
      clock.advance(AT + 1) // a managed request would now be held for a rotation
      const outside = [
        `${env.url}/apix/other`, // same origin, not at a segment boundary
        `${env.url}/public/page`, // same origin, other path
        `${other.origin}/api/x`, // other origin, same path
        `${env.url.replace('127.0.0.1', 'localhost')}/api/x`, // same port, other host
      ]
      for (const url of outside) {
        const init: RequestInit = { headers: { 'x-app': '1' } }
        await session.fetch(url, init).catch(() => undefined)
        const call = calls.at(-1)!
        expect(call.url).toBe(url)
        expect(call.init).toBe(init) // the caller's own object, nothing added
        expect(call.authorization).toBeNull()
        expect(call.credentials).toBeUndefined()
      }
      expect(other.seen.map(s => s.headers.authorization)).toEqual([undefined])
      expect(env.server.stats.refreshCalls).toBe(0)
    },
  )

  test('bearer: a managed request answered 302 to another origin — the Authorization header does not follow', async ({ env, clock, other }) => {
    const front = await recorder((path, _origin) => (path.startsWith('/api/hop') ? { status: 302, location: `${other.origin}/landing` } : { status: 200 }))
    try {
      const pair = await env.server.issue()
      const session = pairSession(env, { scope: `${front.origin}/api`, now: clock.now })
      await session.start(pair)
      const response = await session.fetch(`${front.origin}/api/hop`)
      expect(response.status).toBe(200)
      expect(response.redirected).toBe(true)
      expect(response.url).toBe(`${other.origin}/landing`)
      // The in-scope hop carried the bearer token; the other origin never saw it.
      expect(front.seen.map(s => s.headers.authorization)).toEqual([`Bearer ${pair.accessToken}`])
      expect(other.seen).toHaveLength(1)
      expect(other.seen[0]!.headers.authorization).toBeUndefined()
      expect(JSON.stringify(other.seen[0]!.headers)).not.toContain(pair.accessToken)
    } finally {
      await front.close()
    }
  })

  test('known limit: a same-origin redirect to a path OUTSIDE scope keeps the Authorization header (the platform follows it)', async ({ env, clock }) => {
    const front = await recorder((path, origin) => (path.startsWith('/api/hop') ? { status: 302, location: `${origin}/public/landing` } : { status: 200 }))
    try {
      const pair = await env.server.issue()
      const session = pairSession(env, { scope: `${front.origin}/api`, now: clock.now })
      await session.start(pair)
      await session.fetch(`${front.origin}/api/hop`)
      expect(front.seen.map(s => [s.path, s.headers.authorization])).toEqual([
        ['/api/hop', `Bearer ${pair.accessToken}`],
        ['/public/landing', `Bearer ${pair.accessToken}`], // outside scope, same origin
      ])
      // What an app can do about it: redirect: 'manual' (or 'error') on that request.
      front.seen.length = 0
      const manual = await session.fetch(`${front.origin}/api/hop`, { redirect: 'manual' })
      expect(manual.status).toBe(302)
      expect(front.seen.map(s => s.path)).toEqual(['/api/hop'])
    } finally {
      await front.close()
    }
  })

  test('observation: cookieFetch (the testing jar) as a bearer session’s fetch forwards Authorization to another PORT of the same host on redirect', async ({
    env,
    clock,
    other,
  }) => {
    // fetch-cookie follows redirects itself and strips Authorization only when the host
    // changes (isDomainOrSubdomain ignores the port); browsers and Node's fetch compare origins.
    const front = await recorder(path => (path.startsWith('/api/hop') ? { status: 302, location: `${other.origin}/landing` } : { status: 200 }))
    try {
      const pair = await env.server.issue()
      const session = pairSession(env, { scope: `${front.origin}/api`, now: clock.now, fetch: cookieFetch() })
      await session.start(pair)
      await session.fetch(`${front.origin}/api/hop`)
      expect(other.seen.map(s => s.headers.authorization)).toEqual([`Bearer ${pair.accessToken}`])
    } finally {
      await front.close()
    }
  })
})

describe('bearer tokens and storage', () => {
  /** Every token string the server handed out to this session so far. */
  function tokensSeen(calls: Array<{ body: string }>) {
    const found = new Set<string>()
    for (const { body } of calls) for (const m of body.matchAll(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g)) found.add(m[0])
    return [...found]
  }

  function tracingFetch() {
    const answers: Array<{ body: string }> = []
    const f: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      answers.push({ body: await response.clone().text() })
      return response
    }
    return { f, answers }
  }

  test.for([
    ['crossTab: false', false as const],
    ['crossTab on a channel', true as const],
  ])('persist not set (%s): no token in storage after start, rotations, a 401 replay and logout', async ([_, shared], { env, clock }) => {
    const storage = memoryStorage()
    const { f, answers } = tracingFetch()
    const login = await bearerLogin(env.url)
    answers.push({ body: await login.clone().text() })
    const session = pairSession(env, { now: clock.now, storage, fetch: f, logout: `${env.url}/bearer/logout`, crossTab: shared ? { name: randomUUID() } : false })
    const snapshots: string[] = []
    const check = () => snapshots.push(storage.dump())
    await session.start(login)
    check()
    for (let i = 0; i < 2; i++) {
      clock.advance(AT + 1)
      expect((await session.fetch(`${env.url}/api/${i}`)).status).toBe(200)
      check()
    }
    env.server.revokeAccessTokens()
    expect((await session.fetch(`${env.url}/api/replayed`)).status).toBe(200)
    check()
    await session.logout()
    check()
    const tokens = tokensSeen(answers)
    expect(tokens.length).toBeGreaterThanOrEqual(8) // login + 3 rotations, 2 tokens each
    expect(env.server.stats).toMatchObject({ refreshGranted: 3, logouts: 1 })
    for (const dump of snapshots) {
      for (const token of tokens) expect(dump).not.toContain(token)
      expect(dump).not.toMatch(/eyJ|accessToken|refreshToken/)
    }
  })

  test('persist: true writes the tokens (as asked), and logout removes them', async ({ env, clock }) => {
    const storage = memoryStorage()
    const session = pairSession(env, { now: clock.now, storage, persist: true, logout: `${env.url}/bearer/logout` })
    await session.start(await bearerLogin(env.url))
    expect(storage.dump()).toMatch(/"accessToken":"eyJ/)
    expect(storage.dump()).toMatch(/"refreshToken":"eyJ/)
    await session.logout()
    expect(storage.dump()).not.toMatch(/eyJ|accessToken|refreshToken/)
    expect(storage.dump()).toContain('"status":"signed-out"')
  })

  test('cookie transport: storage holds expirations only (Rotor never sees the tokens)', async ({ env, clock }) => {
    const storage = memoryStorage()
    const { session, fetch: jar } = await env.browser({ rotation: 'request', now: clock.now, storage })
    clock.advance(AT + 1)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    const cookies = await (jar as CookieFetch).cookieString(`${env.url}/authn/refresh`)
    const values = cookies.split('; ').map(c => c.split('=')[1]!)
    expect(values).toHaveLength(2)
    for (const v of values) expect(storage.dump()).not.toContain(v)
    expect(storage.dump()).not.toMatch(/eyJ/)
    expect(storage.dump()).toMatch(/"accessExpiresAt":\d+/)
  })
})

describe('forged channel messages (well-formed, from a foreign id)', () => {
  let clock: ReturnType<typeof manualClock>
  let env: Env
  let rogue: BroadcastChannel
  beforeEach(async () => {
    clock = manualClock()
    env = await startEnv({ now: clock.now, accessTokenTtl: AT })
  })
  afterEach(async () => {
    rogue?.close()
    await env.close()
  })

  /** Bearer tabs, and the rogue on their channel. */
  function bearerTabs(extra: Partial<SessionOptions> = {}) {
    const b = browserTabs(env, { transport: 'bearer', rotation: 'request', now: clock.now, ...extra })
    rogue = new BroadcastChannel(b.channelName)
    return b
  }

  const forged = (snapshot: Record<string, unknown>) => ({ rotor: 1, type: 'state', from: 'attacker', snapshot })

  test('a forged logout (signed-out, higher generation) ends the session in every tab — locally only: the server session stays valid', async () => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    const tab = b.open()
    await tab.start(await b.login())
    const other = b.open()
    const logs = [record(tab), record(other)]
    rogue = new BroadcastChannel(b.channelName)
    env.server.fault('refresh', { hang: true })
    clock.advance(AT + 1)
    const waiting = settle(other.fetch(`${env.url}/api/waiting`))
    await vi.waitFor(() => expect(env.server.stats.refreshCalls).toBe(1))
    rogue.postMessage(forged({ generation: 1000, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' }))
    const result = await waiting
    expect((result as { error: unknown }).error).toBeInstanceOf(SessionExpiredError)
    await vi.waitFor(() => expect([tab.state.status, other.state.status]).toEqual(['signed-out', 'signed-out']))
    expect(logs.map(l => l.of('logout'))).toEqual([[{ reason: 'user', origin: 'remote' }], [{ reason: 'user', origin: 'remote' }]])
    expect(tab.state.generation).toBe(1000)
    // Nobody told the server: no logout call, the family is alive, its cookies still work.
    env.server.releaseHung()
    expect(env.server.stats.logouts).toBe(0)
    clock.advance(-AT - 1)
    expect((await b.jar(`${env.url}/api/direct`)).status).toBe(200)
  })

  /** A fetch that records the Authorization header and body of every call. */
  function wire() {
    const sent: Array<{ path: string; authorization: string | null; body: string }> = []
    const f: typeof fetch = async (input, init) => {
      const request = new Request(input, init)
      sent.push({ path: new URL(request.url).pathname, authorization: request.headers.get('authorization'), body: await request.clone().text() })
      return fetch(request)
    }
    return { f, sent }
  }

  test('a forged state with tokens the server never issued, while active: adopted, and the forged AT/RT ARE sent to the server (then refused → logout "rejected")', async () => {
    const { f, sent } = wire()
    const { open } = bearerTabs({ fetch: f })
    const tab = open()
    const log = record(tab)
    await tab.start(await bearerLogin(env.url))
    const now = clock.now()
    rogue.postMessage(
      forged({ generation: 50, status: 'active', issuedAt: now, accessExpiresAt: now + AT, refreshExpiresAt: null, accessToken: 'forged-at', refreshToken: 'forged-rt' }),
    )
    await vi.waitFor(() => expect(tab.state.generation).toBe(50))
    expect(tab.state.status).toBe('active')
    const result = await settle(tab.fetch(`${env.url}/api/x`))
    expect(sent.map(c => [c.path, c.authorization, c.body])).toEqual([
      ['/api/x', 'Bearer forged-at', ''],
      ['/bearer/refresh', null, '{"refreshToken":"forged-rt"}'],
    ])
    expect(result.ok).toBe(false)
    expect((result as { error: unknown }).error).toMatchObject({ reason: 'rejected' })
    expect(env.server.stats).toMatchObject({ api401: 1, api200: 0, refreshCalls: 1, refreshRefused: 1, reusedRefused: 0 })
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })

  test('a forged state revives a LOGGED-OUT session: it manages requests again and sends the forged AT to the server', async () => {
    const { f, sent } = wire()
    const { open } = bearerTabs({ fetch: f })
    const tab = open()
    await tab.start(await bearerLogin(env.url))
    await tab.logout()
    expect(tab.state.status).toBe('signed-out')
    const log = record(tab)
    sent.length = 0
    const now = clock.now()
    rogue.postMessage(
      forged({ generation: 100, status: 'active', issuedAt: now, accessExpiresAt: now + AT, refreshExpiresAt: null, accessToken: 'forged-at', refreshToken: 'forged-rt' }),
    )
    await vi.waitFor(() => expect(tab.state.status).toBe('active'))
    expect(tab.state.generation).toBe(100)
    const result = await settle(tab.fetch(`${env.url}/api/after-logout`))
    expect(sent.map(c => [c.path, c.authorization, c.body])).toEqual([
      ['/api/after-logout', 'Bearer forged-at', ''],
      ['/bearer/refresh', null, '{"refreshToken":"forged-rt"}'],
    ])
    expect((result as { error: unknown }).error).toMatchObject({ reason: 'rejected' })
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })

  test('a forged "hello" makes a bearer tab broadcast its live AT and RT to whoever listens on the channel', async () => {
    const { open } = bearerTabs()
    const tab = open()
    const login = await bearerLogin(env.url)
    const { accessToken, refreshToken } = await login.clone().json()
    await tab.start(login)
    const heard: unknown[] = []
    rogue.onmessage = e => heard.push(e.data)
    rogue.postMessage({ rotor: 1, type: 'hello', from: 'attacker' })
    await vi.waitFor(() => expect(heard.length).toBeGreaterThan(0))
    expect(heard[0]).toMatchObject({ type: 'state', snapshot: { status: 'active', accessToken, refreshToken } })
  })

  test('a forged "rotating" message flags state.rotating until the next state; requests and rotations go on', async () => {
    const { open } = bearerTabs()
    const tab = open()
    await tab.start(await bearerLogin(env.url))
    // (Of the generation held: one far ahead is refused outright, see generations.test.ts.)
    rogue.postMessage({ rotor: 1, type: 'rotating', from: 'attacker', generation: tab.state.generation })
    await vi.waitFor(() => expect(tab.state.rotating).toBe(true))
    clock.advance(AT + 1)
    expect((await tab.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshGranted: 1, api401: 0 })
    // Any newer state clears the flag, this tab's own rotation included (it also expires
    // after the longest a refresh call may take, 10 s by default: longer than this wait).
    await waitFor(() => expect(tab.state.rotating).toBe(false), { timeout: 2_000 })
  })
})
