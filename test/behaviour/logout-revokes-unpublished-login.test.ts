/** A login the user's logout did not present (a hook's login not yet published, another tab's newer login, a start() still reading its grant, a login a late rotation answer would have buried) is revoked at the server, never left live. */
import { randomUUID } from 'node:crypto'
import { describe, expect, vi } from 'vitest'
import { createSession, SessionExpiredError, type Grant, type Session } from '../../src/index.js'
import { createMemoryCoordinator } from '../../src/testing/index.js'
import type { Message } from '../../src/types.js'
import { bearerLogin, bearerOptions, CREDENTIALS, TENANT_HEADERS } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const test = serverTest({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 }, 'real')

/** A login made straight at the server, its tokens in hand (what a login form's hook returns). */
async function login(url: string): Promise<Grant & { accessToken: string }> {
  const response = await bearerLogin(url)
  expect(response.status).toBe(201)
  return (await response.json()) as Grant & { accessToken: string }
}

/** What the API answers `accessToken` now: 401 once its login was revoked (or forgotten). */
const apiStatus = async (url: string, accessToken: string) => (await fetch(`${url}/api/check`, { headers: { authorization: `Bearer ${accessToken}` } })).status

describe('a logout revokes the login it could not present', () => {
  /** One tab whose refresh is refused (the server restarted): its reauthenticate() form opens and waits for `answer`. */
  async function formOpen(url: string, onLogout: () => void) {
    let answer: ((grant: Grant) => void) | undefined
    let closed = false
    const tab: Session = createSession({
      ...bearerOptions(url),
      crossTab: false,
      rotation: 'request',
      // A form that ignores its signal (the worst kind), but says whether it was told to close.
      reauthenticate: ({ signal }) => (signal.addEventListener('abort', () => (closed = true)), new Promise<Grant>(resolve => (answer = resolve))),
    })
    tab.on('logout', onLogout)
    return { tab, answered: () => answer, closed: () => closed }
  }

  test('the login form answered, the user logged out before the session published it (sim seed 12772)', async ({ env }) => {
    let logouts = 0
    const { tab, answered } = await formOpen(env.url, () => logouts++)
    env.sessions.push(tab)
    await tab.start(await bearerLogin(env.url))
    env.server.restart()
    const request = tab.fetch(`${env.url}/api/0`).catch((e: unknown) => e)
    await vi.waitFor(() => expect(answered()).toBeDefined())
    const grant = await login(env.url)
    expect(await apiStatus(env.url, grant.accessToken)).toBe(200)
    // The same task: the answer is in, the session has not yet taken it (a busy page's queued click).
    answered()!(grant)
    const out = tab.logout()
    await out
    await request
    // Before: the logout presented the forgotten login's tokens, and the form's login was then published: the session came back.
    await vi.waitFor(async () => expect(await apiStatus(env.url, grant.accessToken)).toBe(401))
    expect(tab.state.status).toBe('signed-out')
    expect(logouts).toBe(1)
  })

  test('the user logged out while the form was open, then the form answered', async ({ env }) => {
    const { tab, answered, closed } = await formOpen(env.url, () => undefined)
    env.sessions.push(tab)
    await tab.start(await bearerLogin(env.url))
    env.server.restart()
    const request = tab.fetch(`${env.url}/api/0`).catch((e: unknown) => e)
    await vi.waitFor(() => expect(answered()).toBeDefined())
    await tab.logout()
    expect(closed()).toBe(true)
    // Before: the request waited for the form, open for good after the logout.
    expect(await request).toBeInstanceOf(SessionExpiredError)
    const grant = await login(env.url)
    answered()!(grant)
    await vi.waitFor(async () => expect(await apiStatus(env.url, grant.accessToken)).toBe(401))
    expect(tab.state.status).toBe('signed-out')
  })

  test("a tab that missed another tab's newer login logs out what it knew: the tab holding the newer login revokes it (sim seed 23085)", async ({ env }) => {
    const shared = createMemoryCoordinator()
    const name = randomUUID()
    // `stale` hears nothing while `deaf` (a frozen page, a busy main thread).
    let deaf = false
    const member = shared.join()
    const staleCoordinator = {
      ...member,
      subscribe: (listener: (message: Message) => void) => member.subscribe(message => void (!deaf && listener(message))),
    }
    const fresh = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: shared.join() })
    const stale = createSession({ ...bearerOptions(env.url), crossTab: { name }, coordinator: staleCoordinator })
    env.sessions.push(fresh, stale)
    await fresh.start(await bearerLogin(env.url))
    await vi.waitFor(() => expect(stale.state.status).toBe('active'))
    deaf = true
    const newer = await login(env.url)
    await fresh.start(newer)
    expect(fresh.state.status).toBe('active')
    await stale.logout()
    await vi.waitFor(() => expect(fresh.state.status).toBe('signed-out'))
    // Before: the stale tab's logout revoked the first login only; the newer one stayed live at the server.
    await vi.waitFor(async () => expect(await apiStatus(env.url, newer.accessToken)).toBe(401))
    expect(env.server.stats.logouts).toBe(2)
  })

  test('bearer: a login came while the form was open, then the form answered: its login is revoked, the session stays on the first (sim seed 93118)', async ({ env }) => {
    const { tab, answered } = await formOpen(env.url, () => undefined)
    env.sessions.push(tab)
    await tab.start(await bearerLogin(env.url))
    env.server.restart()
    const request = tab.fetch(`${env.url}/api/0`)
    await vi.waitFor(() => expect(answered()).toBeDefined())
    // The user signed in meanwhile (another tab's form; in 93118, the form of a worker the tab had lost).
    const first = await login(env.url)
    await tab.start(first)
    const late = await login(env.url)
    answered()!(late)
    expect((await request).status).toBe(200)
    // Before: the form's login replaced the first, which stayed live, held by no tab, missed by the logout below.
    await vi.waitFor(async () => expect(await apiStatus(env.url, late.accessToken)).toBe(401))
    expect(await tab.accessToken()).toBe(first.accessToken)
    expect((await tab.fetch(`${env.url}/api/1`)).status).toBe(200)
    await tab.logout()
    await vi.waitFor(async () => expect(await apiStatus(env.url, first.accessToken)).toBe(401))
    expect(tab.state.status).toBe('signed-out')
  })

  test('start() still reading its grant when the user logged out: the login is refused and revoked (sim seed 484692)', async ({ env }) => {
    const tab = createSession({ ...bearerOptions(env.url), crossTab: false })
    env.sessions.push(tab)
    await tab.start(await bearerLogin(env.url))
    const grant = await login(env.url)
    // The login's answer, its body still on its way (a slow network) when the user clicks "log out".
    let deliver: (() => void) | undefined
    const body = new ReadableStream<Uint8Array>({
      start: controller => void (deliver = () => (controller.enqueue(new TextEncoder().encode(JSON.stringify(grant))), controller.close())),
    })
    const starting = tab.start(new Response(body, { status: 201, headers: { 'content-type': 'application/json' } })).catch((e: unknown) => e)
    const out = tab.logout()
    deliver!()
    await out
    // Before: the logout revoked the first login, then the second was published: the session came back, its login live.
    expect(await starting).toMatchObject({ name: 'LoginSupersededError', code: 'ERR_LOGIN_SUPERSEDED', by: 'logout' })
    expect(tab.state.status).toBe('signed-out')
    await vi.waitFor(async () => expect(await apiStatus(env.url, grant.accessToken)).toBe(401))
    expect(env.server.stats.logouts).toBe(2)
  })

  test('cookie: start() still reading its grant when the user logged out of no session: the login is refused and its cookie revoked', async ({ env }) => {
    const { session: tab, fetch: jar } = await env.browser()
    await tab.logout()
    // The login's answer is in (its cookies in the jar), its body not yet read, when the user clicks "log out" again.
    const answer = await jar(`${env.url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
    expect(answer.status).toBe(201)
    const starting = tab.start(answer).catch((e: unknown) => e)
    await tab.logout()
    expect(await starting).toMatchObject({ name: 'LoginSupersededError', by: 'logout' })
    expect(tab.state.status).toBe('signed-out')
    // Before: nothing asked the server: the login lived on in the jar, with no session to end it.
    await vi.waitFor(() => expect(env.server.stats.logouts).toBe(2))
    expect((await jar(`${env.url}/api/check`, { headers: { 'X-Okapi-Tenant': 'diku' } })).status).toBe(401)
  })

  test.for(['cookie', 'bearer'] as const)(
    '%s: a second logout() while the first is on its way resolves once the server revoked the login (sim seed 12306)',
    async (transport, { env }) => {
      const tab = await env.session(transport)
      env.server.setLatency(100)
      const first = tab.logout()
      // A frozen page's queued clicks, or two buttons: both run as the page wakes.
      await tab.logout()
      // Before: the second resolved at once (the session had ended locally), the login still live at the server.
      expect(env.server.stats.logouts).toBe(1)
      await first
    },
  )

  // With the default coordinator a bearer 2xx marks the RT spent before its body (sim seed 630): that mark must not land on the newer login.
  test.for(['a shared coordinator', 'the default coordinator'] as const)(
    "%s: a rotation answered after another tab's login: that login stays the session, the late pair is revoked (sim seed 425704)",
    async (kind, { env }) => {
      const shared = createMemoryCoordinator()
      const tabOptions = () => ({ ...bearerOptions(env.url), crossTab: { name }, ...(kind === 'a shared coordinator' ? { coordinator: shared.join() } : {}) })
      const name = randomUUID()
      // Holds `rotating`'s refresh answers (the server has rotated) until released.
      let release: () => void = () => undefined
      const hold = new Promise<void>(resolve => (release = resolve))
      const held: typeof fetch = async (input, init) => {
        const response = await fetch(input, init)
        if (String(input).endsWith('/bearer/refresh')) await hold
        return response
      }
      const rotating = createSession({ ...tabOptions(), fetch: held })
      const other = createSession(tabOptions())
      env.sessions.push(rotating, other)
      await rotating.start(await bearerLogin(env.url))
      await vi.waitFor(() => expect(other.state.status).toBe('active'))
      const rotation = rotating.rotate().catch((e: unknown) => e)
      await vi.waitFor(() => expect(env.server.stats.refreshGranted).toBe(1))
      // The user logs in again in the other tab while the answer is on its way.
      const newer = await login(env.url)
      await other.start(newer)
      await vi.waitFor(() => expect(rotating.state.generation).toBe(other.state.generation))
      release()
      await rotation
      // Before: the late answer was published under the newer login's name; the newer login stayed live, held by no tab, and a logout missed it.
      await vi.waitFor(() => expect(env.server.stats.logouts).toBe(1))
      expect([rotating.state.status, other.state.status]).toEqual(['active', 'active'])
      const [a, b] = await Promise.all([rotating.fetch(`${env.url}/api/a`), other.fetch(`${env.url}/api/b`)])
      expect([a.status, b.status]).toEqual([200, 200])
      // The newer login rotates as any login does (a mark of the late answer's spent RT on it ended the session, with no refresh).
      await other.rotate()
      expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 2, reusedRefused: 0 })
      await vi.waitFor(() => expect(rotating.state.generation).toBe(other.state.generation))
      await other.logout()
      await vi.waitFor(async () => expect(await apiStatus(env.url, newer.accessToken)).toBe(401))
      expect(rotating.state.status).toBe('signed-out')
      expect(env.server.stats).toMatchObject({ refreshCalls: 2, reusedRefused: 0, logouts: 2 })
    },
  )
})
