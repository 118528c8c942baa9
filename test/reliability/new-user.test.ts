/**
 * Nothing lost, tried as a new user would (issue 12): an app written from the README, against
 * the reference server over real HTTP. Each test failed on the code before its fix; the
 * comment above it says how.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createSession, RotationError, SessionExpiredError, type Session, type SessionOptions } from '../../src/index.js'
import { realmCount } from '../../src/coordinator/realm.js'
import { bearerLogin, bearerOptions, browserTabs, manualClock, record, startEnv, type Env } from '../helpers/index.js'

const AT = 60_000
const RT = 3_600_000
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: RT })
})
afterEach(async () => {
  vi.useRealTimers()
  await env.close()
})

/**
 * Three tabs of one browser sharing a name, on a server whose clock the test moves, logged in
 * from the first tab: cookie tabs share one jar, bearer tabs receive the pair by message.
 */
async function threeTabs(transport: 'cookie' | 'bearer', options: Partial<SessionOptions> = {}) {
  const clock = manualClock()
  await env.close()
  env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: RT, now: clock.now })
  const defaults = { rotation: 'request' as const, now: clock.now, ...options }
  const tabs: Session[] = []
  if (transport === 'cookie') {
    const browser = browserTabs(env, defaults)
    for (let i = 0; i < 3; i++) tabs.push(browser.open())
    await tabs[0]!.start(await browser.login())
  } else {
    const name = randomUUID()
    for (let i = 0; i < 3; i++) {
      const tab = createSession({ ...bearerOptions(env.url), ...defaults, crossTab: { name } })
      env.sessions.push(tab)
      tabs.push(tab)
    }
    await tabs[0]!.start(await bearerLogin(env.url))
  }
  await vi.waitFor(() => expect(tabs.every(t => t.state.status === 'active')).toBe(true))
  return { tabs, clock }
}

describe('1. install() under another wrapper', () => {
  const native = globalThis.fetch
  afterEach(() => {
    globalThis.fetch = native
  })

  // Before: after uninstall or dispose, the session's fetch fell back to globalThis.fetch,
  // which was the monitoring wrapper, which called Rotor's wrapper: RangeError (stack overflow).
  test('a monitoring wrapper over Rotor, then uninstall and dispose: every fetch still works, the monitor still sees it', async () => {
    const session = await env.bearer()
    const uninstall = session.install(globalThis, { xhr: false })
    const rotor = globalThis.fetch
    const monitored: string[] = []
    const monitor: typeof fetch = (input, init) => {
      monitored.push(String(input instanceof Request ? input.url : input))
      return rotor(input, init)
    }
    globalThis.fetch = monitor
    expect((await fetch(`${env.url}/api/a`)).status).toBe(200) // through the monitor, then Rotor
    uninstall()
    expect(globalThis.fetch).toBe(monitor) // not cut out of the chain
    expect((await fetch(`${env.url}/api/b`)).status).toBe(401) // Rotor passes through: no token any more
    expect((await session.fetch(`${env.url}/api/c`)).status).toBe(200) // the session itself still works
    session.dispose()
    expect((await fetch(`${env.url}/api/d`)).status).toBe(401)
    expect(monitored).toEqual([`${env.url}/api/a`, `${env.url}/api/b`, `${env.url}/api/d`])
    expect(env.server.stats).toMatchObject({ api200: 2, api401: 2 })
  })

  // Before: the second session's base fetch was the first one's wrapper; uninstalling the
  // first restored the native fetch under the second's feet, or looped.
  test('two sessions installed on one target, the first uninstalled: the second still authorises its requests', async () => {
    const first = await env.bearer()
    const second = await env.bearer()
    const off1 = first.install(globalThis, { xhr: false })
    second.install(globalThis, { xhr: false })
    off1()
    expect((await fetch(`${env.url}/api/x`)).status).toBe(200)
    second.dispose()
    expect((await fetch(`${env.url}/api/y`)).status).toBe(401)
    expect(env.server.stats).toMatchObject({ api200: 1, api401: 1 })
  })
})

describe('2. a Node job whose refresh answers 503', () => {
  function runJob(script: string, args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', `${FIXTURES}${script}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', chunk => (out += chunk))
      child.stderr.on('data', chunk => (out += chunk))
      child.on('error', reject)
      child.on('exit', code => resolve({ code, out }))
    })
  }

  // Before: the session waited on unref'd timers only; Node saw nothing left to do and exited
  // with code 0 before the import's last batch was sent: silent data loss.
  test('a request waiting for a refresh keeps the process alive until it settles (the batch goes out)', async () => {
    await env.close()
    const lifetime = 1500
    env = await startEnv({ accessTokenTtl: lifetime, refreshTokenTtl: RT })
    env.server.fault('refresh', { status: 503, times: 3 })
    const { code, out } = await runJob('node-job-503.ts', [env.url, String(lifetime)])
    expect(out).toContain('batch sent: 200')
    expect(code).toBe(0)
    expect(env.server.stats).toMatchObject({ refreshCalls: 4, refreshGranted: 1, api200: 1 })
  }, 30_000)

  test('an idle session does not keep the process alive', async () => {
    const { code, out } = await runJob('node-idle-session.ts', [env.url])
    expect(out).toContain('started')
    expect(code).toBe(0)
  }, 30_000)
})

describe('3. two users in one Node process', () => {
  // Before: sessions of the same scope shared one state by default: Alice's next request went
  // out with Bob's token.
  test('two sessions of one scope with default options keep their own tokens', async () => {
    const alice = createSession(bearerOptions(env.url))
    const bob = createSession(bearerOptions(env.url))
    env.sessions.push(alice, bob)
    await alice.start(await bearerLogin(env.url))
    await bob.start(await bearerLogin(env.url))
    const [a, b] = await Promise.all([alice.accessToken(), bob.accessToken()])
    expect(a).not.toBe(b)
    expect([alice.state.generation, bob.state.generation]).toEqual([1, 1])
    // A third session of that scope joins neither of them.
    const third = createSession(bearerOptions(env.url))
    env.sessions.push(third)
    expect(third.state.status).toBe('signed-out')
    expect((await third.fetch(`${env.url}/api/x`)).status).toBe(401)
  })
})

describe('4. aborted requests', () => {
  // Before: an aborted request kept waiting until the rotation ended (or queueTimeout), and
  // an already-aborted one still started a refresh.

  /** A cookie session in request mode whose AT has just expired (the test moves the clock). */
  async function expiredSession(options: Partial<SessionOptions> = {}): Promise<Session> {
    const clock = manualClock()
    await env.close()
    env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: RT, now: clock.now })
    const { session } = await env.browser({ rotation: 'request', now: clock.now, ...options })
    clock.advance(AT + 1)
    return session
  }

  test('abort while waiting behind a hung refresh: rejects at once with the signal reason and leaves the queue', async () => {
    const session = await expiredSession({ refreshTimeout: 60_000 })
    env.server.fault('refresh', { hang: true })
    const controller = new AbortController()
    const waiting = session.fetch(`${env.url}/api/x`, { signal: controller.signal })
    await vi.waitFor(() => expect(env.server.stats.refreshCalls).toBe(1))
    const reason = new Error('user navigated away')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(env.server.stats.api200 + env.server.stats.api401).toBe(0)
    env.server.releaseHung?.()
  })

  test('an already-aborted signal with an expired AT: rejects at once and starts no refresh', async () => {
    const session = await expiredSession()
    const signal = AbortSignal.abort(new Error('gone'))
    await expect(session.fetch(`${env.url}/api/x`, { signal })).rejects.toThrow('gone')
    await expect(session.fetch(new Request(`${env.url}/api/y`, { signal }))).rejects.toThrow('gone')
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('AbortSignal.timeout() while waiting: a TimeoutError, not a RotationError after queueTimeout', async () => {
    const session = await expiredSession({ refreshTimeout: 60_000 })
    env.server.fault('refresh', { hang: true })
    const error = await session.fetch(`${env.url}/api/x`, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(RotationError)
    expect((error as Error).name).toBe('TimeoutError')
    env.server.releaseHung?.()
  })
})

describe('5. stream bodies are never replayed', () => {
  // Before: a Node Readable or async-iterable body answered 401 was replayed with an empty
  // body (the server answered 200 to nothing) or failed with "disturbed or locked".
  test.each([
    ['a Node Readable', () => Readable.from([Buffer.from('row 1\n'), Buffer.from('row 2\n')]) as unknown as BodyInit],
    [
      'an async iterable',
      () =>
        (async function* () {
          yield new TextEncoder().encode('row 1\n')
        })() as unknown as BodyInit,
    ],
    ['a web ReadableStream', () => new Blob(['row 1\n']).stream() as BodyInit],
  ])('%s body answered 401: the caller gets the 401, the server saw one request', async (_name, body) => {
    const session = await env.bearer()
    env.server.revokeAccessTokens()
    const response = await session.fetch(`${env.url}/api/upload`, { method: 'POST', body: body(), duplex: 'half' } as RequestInit)
    expect(response.status).toBe(401)
    expect(env.server.log.filter(e => e.path === '/api/upload')).toHaveLength(1)
  })

  test('a replayable body (string) answered 401 is replayed once, body included', async () => {
    const session = await env.bearer()
    env.server.revokeAccessTokens()
    const response = await session.fetch(`${env.url}/api/upload`, { method: 'POST', body: 'row 1' })
    expect(response.status).toBe(200)
    expect(env.server.log.filter(e => e.path === '/api/upload').map(e => e.status)).toEqual([401, 200])
  })
})

describe('8. dead grants', () => {
  // Before: start() accepted it, and the session logged out "expired" milliseconds later.
  test.each([
    ['negative expires_in', { access_token: 'a.b.c', refresh_token: 'r', expires_in: -10, refresh_expires_in: -5 }],
    ['past dates', { accessTokenExpiration: '2001-01-01T00:00:00Z', refreshTokenExpiration: '2001-01-02T00:00:00Z' }],
  ])('%s: start() rejects naming the problem, the session stays signed out', async (_name, grant) => {
    const session = createSession({ ...bearerOptions(env.url), transport: 'cookie' })
    env.sessions.push(session)
    const log = record(session)
    await expect(session.start(grant as never)).rejects.toThrow(/both already expired/)
    expect(session.state.status).toBe('signed-out')
    expect(log.events).toEqual([])
  })
})

describe('9. nothing left behind per session name', () => {
  // Before: disposing the last session of a name left its shared entry (~250–290 B each).
  test('100 names opened and disposed: no realm entry left', async () => {
    const before = realmCount()
    for (let i = 0; i < 100; i++) {
      const name = randomUUID()
      const a = createSession({ ...bearerOptions(env.url), crossTab: { name } })
      const b = createSession({ ...bearerOptions(env.url), crossTab: { name } })
      expect(realmCount()).toBe(before + 1)
      a.dispose()
      b.dispose()
    }
    expect(realmCount()).toBe(before)
  })
})

describe('10. a refused RT is never presented by the next tab', () => {
  // Before: the session's end was written to the shared state after the rotation lock was
  // released; the next tab waiting on the lock read "active" and presented the same RT.
  test.each(['cookie', 'bearer'] as const)('%s: three tabs need a rotation, the server refuses the RT: one refresh call, every tab logs out', async transport => {
    const { tabs, clock } = await threeTabs(transport)
    env.server.fault('refresh', { status: 401, times: 5 })
    clock.advance(AT + 1)
    const results = await Promise.allSettled(tabs.map(t => t.rotate()))
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SessionExpiredError)
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(tabs.map(t => t.state.status)).toEqual(['signed-out', 'signed-out', 'signed-out'])
  })
})

describe('11. answers that are not grants', () => {
  // Before: the body of a 2xx that failed to arrive was "transient": the retry presented the
  // RT the server had just consumed, and the server revoked the family.
  test('bearer: the refresh answer is cut off after its headers: the spent RT is never presented again', async () => {
    const session = await env.bearer()
    const log = record(session)
    env.server.fault('refresh', { cut: true, afterProcessing: true })
    await session.rotate().catch(() => undefined)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0 })
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: false, error: { name: 'MalformedGrantError' } }])
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_MALFORMED_GRANT' }) }])
  })

  // Before: a proxy's HTML maintenance page (200) was read as a malformed grant: with bearer
  // tokens, a logout.
  test.each(['cookie', 'bearer'] as const)('%s: a 200 HTML page from a proxy is transient: retried, then the real answer', async transport => {
    const session = transport === 'cookie' ? (await env.browser()).session : await env.bearer()
    const log = record(session)
    env.server.fault('refresh', { status: 200, body: '<html><body>Down for maintenance</body></html>', headers: { 'Content-Type': 'text/html' } })
    await expect(session.rotate()).rejects.toThrow(/text\/html, not a grant/)
    // The session's own retry (after its backoff) gets the real answer.
    await vi.waitFor(() => expect(session.state.generation).toBe(2), { timeout: 5_000 })
    expect(log.of('rotate-error')).toMatchObject([{ willRetry: true, attempt: 1 }])
    expect(log.of('logout')).toEqual([])
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 1, reusedRefused: 0 })
    expect(session.state).toMatchObject({ status: 'active', generation: 2 })
  })
})

describe('12. a slow refresh answer', () => {
  // Before: an answer later than refreshTimeout was abandoned, and the next refresh (this tab
  // or another) presented the same RT: the server revoked the family, every tab logged out.
  test.each(['cookie', 'bearer'] as const)('%s: answered after 2.5× refreshTimeout: reported, adopted, one refresh, three tabs on it', async transport => {
    const { tabs, clock } = await threeTabs(transport, { refreshTimeout: 100 })
    const logs = tabs.map(record)
    env.server.setLatency(250)
    clock.advance(AT + 1)
    const responses = await Promise.all(tabs.map((t, i) => t.fetch(`${env.url}/api/${i}`)))
    expect(responses.map(r => r.status)).toEqual([200, 200, 200])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api401: 0 })
    // The tab that rotated said it went quiet, then got the answer.
    const errors = logs.flatMap(l => l.of('rotate-error'))
    expect(errors).toMatchObject([{ willRetry: true, error: { name: 'TimeoutError' } }])
    expect(logs.flatMap(l => l.of('logout'))).toEqual([])
  })
})

describe('13. dispose() while reauthenticate() is pending', () => {
  // Before: the other tabs kept rotating: true, got RotationError every queueTimeout, and
  // never re-authenticated or logged out.
  test('the hook is aborted, another tab takes the job over, the others wait (past queueTimeout) and then go out', async () => {
    const name = randomUUID()
    let closedForm = false
    const takeovers: number[] = []
    const tabs: Session[] = []
    for (let i = 0; i < 3; i++) {
      const tab = createSession({
        ...bearerOptions(env.url),
        crossTab: { name },
        rotation: 'request',
        queueTimeout: 300,
        reauthenticate:
          i === 0
            ? ({ signal }) =>
                new Promise((_resolve, reject) =>
                  signal.addEventListener('abort', () => {
                    closedForm = true
                    reject(signal.reason)
                  }),
                )
            : async () => {
                takeovers.push(i)
                return bearerLogin(env.url)
              },
      })
      env.sessions.push(tab)
      tabs.push(tab)
    }
    await tabs[0]!.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(tabs.every(t => t.state.status === 'active')).toBe(true))
    env.server.restart() // every token forgotten: the next refresh is refused
    const first = tabs[0]!.fetch(`${env.url}/api/0`).catch((e: unknown) => e)
    await vi.waitFor(() => expect(env.server.stats.refreshCalls).toBe(1))
    let settled = 0
    const others = tabs.slice(1).map((t, i) => t.fetch(`${env.url}/api/${i + 1}`).finally(() => settled++))
    await new Promise(resolve => setTimeout(resolve, 900)) // three queueTimeouts: still waiting, not RotationError
    expect(settled).toBe(0)
    tabs[0]!.dispose()
    expect(closedForm).toBe(true)
    expect(await first).toBeInstanceOf(SessionExpiredError)
    expect((await Promise.all(others)).map(r => r.status)).toEqual([200, 200])
    expect(takeovers).toHaveLength(1)
    // Nobody presented the dead RT again: the one refused refresh is all the server saw.
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0, logins: 2 })
  })
})

describe('14. the wall clock is set while a session runs', () => {
  // The server keeps real time; only the client's Date.now moves (as when a user or NTP sets
  // the clock). The session's `now` is the platform's, so it watches for jumps.
  const realNow = () => performance.timeOrigin + performance.now()
  let offset = 0
  async function jumpyEnv(accessTokenTtl: number, refreshTokenTtl: number) {
    await env.close()
    env = await startEnv({ accessTokenTtl, refreshTokenTtl, now: realNow })
    offset = 0
    vi.spyOn(Date, 'now').mockImplementation(() => Math.round(realNow() + offset))
  }
  afterEach(() => {
    vi.restoreAllMocks()
  })

  // Before: the rotation timer fired on time, read the wall clock an hour behind the deadline
  // and re-armed for an hour later; the RT died on the server and the next request logged the
  // session out ('rejected').
  test.each(['cookie', 'bearer'] as const)(
    '%s, timer mode: set back by an hour, rotation goes on (the server keeps the RT alive)',
    async transport => {
      await jumpyEnv(1_000, 2_500)
      const session = transport === 'cookie' ? (await env.browser({ rotation: 'timer' })).session : await env.bearer({ rotation: 'timer' })
      const log = record(session)
      offset = -3_600_000
      await new Promise(resolve => setTimeout(resolve, 3_500))
      const response = await session.fetch(`${env.url}/api/after-the-jump`)
      expect(response.status).toBe(200)
      expect(log.of('logout')).toEqual([])
      // Past the first RT's whole life (2.5 s), so the session lives only if it kept rotating.
      // (No assertion on 401s: with 1 s ATs on a loaded machine a late timer lets one expire in
      // flight, which the replay absorbs; before the fix the session was logged out instead.)
      expect(env.server.stats.refreshGranted).toBeGreaterThanOrEqual(2)
      expect(env.server.stats).toMatchObject({ reusedRefused: 0, refreshRefused: 0 })
    },
    15_000,
  )

  // Before: both tokens looked expired by two hours; the session logged out 'expired' without
  // asking the server, whose RT was good for another hour.
  test('bearer: set forward by two hours, the next request asks the server instead of logging out', async () => {
    await jumpyEnv(60_000, 3_600_000)
    const session = await env.bearer({ rotation: 'request' })
    const log = record(session)
    offset = 2 * 3_600_000
    const response = await session.fetch(`${env.url}/api/after-the-jump`)
    expect(response.status).toBe(200)
    expect(log.of('logout')).toEqual([])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1, reusedRefused: 0, api401: 0 })
    // The new deadlines are on the clock as it is now: the next request goes without a refresh.
    expect((await session.fetch(`${env.url}/api/again`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(1)
  })

  test('bearer: set forward, and the server refuses the RT: the session ends after asking (rejected)', async () => {
    await jumpyEnv(60_000, 3_600_000)
    const session = await env.bearer({ rotation: 'request' })
    const log = record(session)
    offset = 2 * 3_600_000
    env.server.fault('refresh', { status: 401 })
    await expect(session.fetch(`${env.url}/api/refused`)).rejects.toBeInstanceOf(SessionExpiredError)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 0, reusedRefused: 0 })
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })
})
