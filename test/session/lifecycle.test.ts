import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession, SessionExpiredError } from '../../src/index.js'
import { answeredFetch, countChannels, countTimers, CREDENTIALS, drain, memoryStorage, record, TENANT_HEADERS, waitFor } from '../helpers/index.js'
import { cookieFetch } from '../../src/testing/index.js'
import { serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT })

describe('session lifecycle', () => {
  test('cookie transport: managed requests go with credentials "include", others untouched', async ({ env, clock }) => {
    const seen: Array<[string, RequestCredentials | undefined]> = []
    const jar = cookieFetch()
    const spy: typeof fetch = (input, init) => {
      seen.push([String(input instanceof Request ? input.url : input), init?.credentials])
      return jar(input, init)
    }
    const login = await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
    const session = createSession({
      scope: `${env.url}/api`,
      refresh: `${env.url}/authn/refresh`,
      fetch: spy,
      crossTab: false,
      now: clock.now,
      headers: { 'X-Okapi-Tenant': 'diku' },
    })
    env.sessions.push(session)
    await session.start(login)
    await session.fetch(`${env.url}/api/x`)
    await session.fetch(`${env.url}/public/y`)
    expect(seen).toEqual([
      [`${env.url}/api/x`, 'include'],
      [`${env.url}/public/y`, undefined],
    ])
  })

  test('install() patches fetch idempotently, never nests, and uninstall restores it', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const target = { fetch: globalThis.fetch }
    const original = target.fetch
    const uninstall = session.install(target)
    const patched = target.fetch
    expect(patched).not.toBe(original)
    expect(session.install(target)).toBe(uninstall)
    expect(target.fetch).toBe(patched)
    clock.advance(AT + 1)
    // Through the patched fetch: held for the rotation, then sent.
    expect((await target.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(1)
    uninstall()
    expect(target.fetch).toBe(original)
  })

  test('install() leaves XMLHttpRequest alone unless given the facade of rotor-auth/xhr; anything else for `xhr` is a TypeError', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    class FakeXhr {}
    const target = { fetch: globalThis.fetch, XMLHttpRequest: FakeXhr as unknown as typeof XMLHttpRequest }
    const plain = session.install(target)
    expect(target.XMLHttpRequest).toBe(FakeXhr)
    plain()
    for (const bad of [true, 'yes', {}]) {
      expect(() => session.install(target, { xhr: bad as never })).toThrow(/option `xhr` must be the facade of 'rotor-auth\/xhr'/)
      expect(target.fetch, 'nothing patched after a refused option').toBe(globalThis.fetch)
    }
    const { xhr } = await import('../../src/xhr.js')
    const withXhr = session.install(target, { xhr })
    expect(target.XMLHttpRequest).not.toBe(FakeXhr)
    withXhr()
    expect(target.XMLHttpRequest).toBe(FakeXhr)
  })

  test('install() on globalThis: the session’s own calls use the original fetch (no recursion)', async ({ env, clock }) => {
    const original = globalThis.fetch
    const session = await env.bearer({ rotation: 'request', now: clock.now })
    const uninstall = session.install()
    try {
      clock.advance(AT + 1)
      expect((await fetch(`${env.url}/api/x`)).status).toBe(200)
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, api200: 1 })
    } finally {
      uninstall()
    }
    expect(globalThis.fetch).toBe(original)
  })

  test.for([
    ['refresh', '/authn/refresh', 201],
    ['logout', '/authn/logout', 204],
  ] as const)('the %s endpoint is never held behind a rotation', async ([route, path, status], { env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    env.server.fault('refresh', { hang: true })
    clock.advance(AT + 1)
    // A managed request finds the AT expired and waits behind a rotation whose refresh hangs.
    const held = session.fetch(`${env.url}/api/x`).catch(error => error)
    await waitFor(() => env.server.stats.refreshCalls === 1 && session.state.rotating)
    // In scope, but it is the session's own endpoint: it goes straight out, past the rotation.
    const response = await session.fetch(`${env.url}${path}`, { method: 'POST', headers: { 'X-Okapi-Tenant': 'diku' } })
    expect(response.status).toBe(status)
    expect(env.server.log.map(e => [e.route, e.status])).toEqual([
      ['login', 201],
      ['refresh', 0],
      [route, status],
    ])
    expect(session.state.rotating).toBe(true) // still held: nothing was sent behind the rotation
    session.dispose()
    expect(await held).toMatchObject({ reason: 'disposed' })
  })

  test('a reload resumes the cookie session from storage without rotating', async ({ env, clock }) => {
    const storage = memoryStorage()
    const { fetch: jar } = await env.browser({ rotation: 'request', now: clock.now, storage })
    const reloaded = createSession({ scope: env.url, fetch: jar, crossTab: false, now: clock.now, storage, rotation: 'request' })
    env.sessions.push(reloaded)
    expect(reloaded.state).toMatchObject({ status: 'active', generation: 1 })
    expect((await reloaded.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('a rotation answer that arrives after logout never revives the session', async ({ env, clock }) => {
    let network!: ReturnType<typeof answeredFetch>
    const { session } = await env.browser({ rotation: 'request', now: clock.now }, jar => (network = answeredFetch(jar)).fetch)
    const log = record(session)
    env.server.setLatency(100)
    clock.advance(AT + 1)
    const pending = session.fetch(`${env.url}/api/x`)
    // The server has granted the refresh; its answer is 100 ms away.
    await waitFor(() => env.server.stats.refreshGranted === 1)
    expect(session.state.rotating).toBe(true)
    env.server.setLatency(0)
    const rejected = expect(pending).rejects.toBeInstanceOf(SessionExpiredError)
    await session.logout()
    await rejected
    // Every call the session made has been answered (or aborted) and handled.
    await network.settled()
    expect(env.server.log.map(e => e.route)).toEqual(['login', 'refresh', 'logout'])
    expect(session.state.status).toBe('signed-out')
    expect(log.of('rotate')).toEqual([])
    expect(log.of('logout')).toEqual([{ reason: 'user', origin: 'local' }])
  })

  test('dispose() rejects waiting requests and leaves no timer or channel behind', async ({ env, clock }) => {
    // Installed before the session exists: they count what it constructs, whenever it does.
    const channels = countChannels()
    const timers = countTimers()
    try {
      const { session } = await env.browser({ crossTab: { name: `dispose-${randomUUID()}` } })
      env.server.fault('refresh', { hang: true })
      clock.advance(AT + 1)
      const pending = session.fetch(`${env.url}/api/x`)
      await waitFor(() => env.server.stats.refreshCalls === 1) // the rotation is on the wire
      session.dispose()
      await expect(pending).rejects.toMatchObject({ reason: 'disposed' })
      // A disposed session manages nothing: the request goes out untouched (expired AT → 401).
      expect((await session.fetch(`${env.url}/api/x`)).status).toBe(401)
      await expect(session.rotate()).rejects.toThrow(/after dispose/)
      // Something to count: a session that opened nothing would pass the check below vacuously.
      expect(channels.opened).toBeGreaterThan(0)
      expect(timers.created).toBeGreaterThan(0)
      // Every channel it opened is closed; every timer it set has fired or been cleared.
      await waitFor(() => expect({ openChannels: channels.opened - channels.closed, pendingTimers: timers.pending() }).toEqual({ openChannels: 0, pendingTimers: [] }))
    } finally {
      channels.restore()
      timers.restore()
    }
  })

  test('on() returns its unsubscribe; change events follow the state', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    const states: number[] = []
    const off = session.on('change', s => states.push(s.generation))
    await session.rotate()
    off()
    await session.rotate()
    expect(states.at(-1)).toBe(2)
    expect(session.state.generation).toBe(3)
    expect(env.server.stats.refreshGranted).toBe(2)
  })

  test('rotate() is single-flight', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    await Promise.all([session.rotate(), session.rotate(), session.rotate()])
    expect(env.server.stats.refreshCalls).toBe(1)
  })

  test('a throwing listener does not break the session', async ({ env, clock }) => {
    const { session } = await env.browser({ rotation: 'request', now: clock.now })
    session.on('rotate', () => {
      throw new Error('listener bug')
    })
    const heard: number[] = []
    session.on('rotate', ({ state }) => heard.push(state.generation))
    const uncaught: unknown[] = []
    const onError = (e: unknown) => uncaught.push(e)
    process.on('uncaughtException', onError)
    try {
      await session.rotate() // explicit
      clock.advance(AT + 1)
      expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200) // behind an expired AT
      // Not swallowed: reported as uncaught, as a browser reports a throwing event listener.
      await waitFor(() => uncaught.length >= 2)
    } finally {
      process.off('uncaughtException', onError)
    }
    // The listener's own error, once per rotation, and nothing else: the session's flow did not throw.
    expect(uncaught).toEqual([new Error('listener bug'), new Error('listener bug')])
    // The next listener still ran each time, and the session went on rotating and serving.
    expect(heard).toEqual([2, 3])
    expect(session.state).toMatchObject({ status: 'active', generation: 3 })
    expect(env.server.stats).toMatchObject({ refreshGranted: 2, api200: 1, api401: 0 })
  })

  test('the underlying fetch is always called unbound (a browser fetch throws "Illegal invocation" otherwise)', async ({ env, clock }) => {
    // Like window.fetch: refuses any `this` but the global object or undefined.
    const strict = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      if (this !== undefined && this !== globalThis) throw new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation")
      return fetch(input, init)
    } as typeof fetch
    const session = await env.bearer({ rotation: 'request', now: clock.now, fetch: strict })
    await session.rotate()
    const custom = await env.bearer({
      rotation: 'request',
      now: clock.now,
      fetch: strict,
      refresh: ({ fetch: send, refreshToken }) =>
        send(`${env.url}/bearer/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) }),
    })
    await custom.rotate()
    clock.advance(AT + 1)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshGranted: 3, reusedRefused: 0 })
  })

  test('a login that completes after dispose() does not make the session listen to the page again', async ({ env, clock }) => {
    const target = new EventTarget()
    const live = new Set<string>()
    const g = globalThis as unknown as Record<string, unknown>
    g['addEventListener'] = (type: string, fn: EventListener) => {
      live.add(type)
      target.addEventListener(type, fn)
    }
    g['removeEventListener'] = (type: string, fn: EventListener) => {
      live.delete(type)
      target.removeEventListener(type, fn)
    }
    try {
      let finishLogin!: (r: Response) => void
      const { session, fetch: jar } = await env.browser({
        rotation: 'request',
        now: clock.now,
        idle: { timeout: 600_000 },
        reauthenticate: () => new Promise<Response>(resolve => (finishLogin = resolve)),
      })
      expect(live.has('keydown')).toBe(true)
      clock.advance(3_600_000 + 1) // both tokens dead: reauthenticate() is called and waits
      const pending = session.fetch(`${env.url}/api/x`).catch(e => e)
      await vi.waitFor(() => expect(finishLogin).toBeDefined())
      session.dispose()
      expect(await pending).toMatchObject({ reason: 'disposed' })
      // The answer is read to the end first, so that once it is handed over everything the
      // session could do with it happens in memory, within the next turns of the event loop.
      const login = await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
      finishLogin(new Response(await login.arrayBuffer(), { status: login.status, headers: login.headers }))
      await drain()
      expect([...live]).toEqual([])
    } finally {
      delete g['addEventListener']
      delete g['removeEventListener']
    }
  })
})
