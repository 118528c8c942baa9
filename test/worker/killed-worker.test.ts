/**
 * Tabs whose rotation worker the browser killed, against the real hub (MessageChannel ports in
 * Node) and the reference server on 127.0.0.1: what the server sees once the worker's run, and
 * the RT it held, is gone. The simulator's worker worlds found each case (docs/simulation.md).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createSession, type Session, type SessionOptions } from '../../src/index.js'
import type { SharedWorkerLike } from '../../src/platform/types.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { normalizeOptions } from '../../src/core/options.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import { Tabs } from '../../src/worker/hub-tabs.js'
import { hubPort } from '../helpers/hub-port.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'
import { workerConfig } from '../../src/worker/tab.js'
import { bearerLogin, bearerOptions, CREDENTIALS, TENANT_HEADERS } from '../helpers/session-env.js'
import { cookieFetch } from '../../src/testing/cookie-fetch.js'
import { defaultPlatform } from '../../src/platform/defaults.js'

/**
 * The origin's SharedWorker: one run of the real hub while alive; `kill()` ends it as a browser
 * does (nothing of it runs or answers again), and the next connect starts a new run.
 */
function killableWorker(fetch?: typeof globalThis.fetch) {
  const ports: MessagePort[] = []
  let run: { hub: Hub; alive: boolean } | undefined
  const sharedWorker = (): SharedWorkerLike => {
    // With cookies, the hub fetches with the pages' jar, as a browser's worker does.
    const current = (run ??= { hub: createHub('killed-worker-test', {}, fetch && { ...defaultPlatform(), fetch: () => fetch }), alive: true })
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    // A dead run hears nothing and says nothing.
    const toHub = port1.postMessage.bind(port1)
    port1.postMessage = (data: unknown) => void (current.alive && toHub(data))
    const toTab = port2.postMessage.bind(port2)
    port2.postMessage = (data: unknown) => void (current.alive && toTab(data))
    current.hub.connect(port2 as never)
    return { port: port1, addEventListener: () => undefined }
  }
  return {
    sharedWorker,
    /** The running hub's own session (the worker's), if a run is on. */
    session: () => run?.hub.session,
    kill: () => {
      if (run) run.alive = false
      run?.hub.session?.dispose()
      run = undefined
    },
    close: () => ports.forEach(port => port.close()),
  }
}

describe('a tab whose rotation worker was killed', () => {
  let server: AuthServer
  let url = ''
  let closeServer: () => Promise<void>
  let worker: ReturnType<typeof killableWorker>
  const sessions: Session[] = []

  beforeEach(async () => {
    server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    ;({ url, close: closeServer } = await server.listen())
    worker = killableWorker()
  })

  afterEach(async () => {
    for (const session of sessions.splice(0)) session.dispose()
    worker.close()
    await closeServer()
  })

  /** What the server answers a refresh with `refreshToken` (401: that login is ended). */
  const refreshStatus = async (refreshToken: string) =>
    (await fetch(`${url}/bearer/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) })).status

  function tab(options: Partial<SessionOptions> = {}): Session {
    const session = createSession({
      ...bearerOptions(url),
      crossTab: { name: 'app' },
      worker: `${url}/rotor-worker.js`,
      rotation: 'request',
      refreshTimeout: 1_000,
      platform: { sharedWorker: worker.sharedWorker },
      ...options,
    } as SessionOptions)
    sessions.push(session)
    return session
  }

  it('logout() right after the kill: the tab calls the logout endpoint itself, and its login is refused afterwards (sim seed 793)', async () => {
    const a = tab()
    const login = (await (await bearerLogin(url)).json()) as { refreshToken: string }
    await a.start(login)
    await vi.waitFor(() => expect(worker.session()?.state.status).toBe('active'))
    worker.kill()
    // The worker would have called the server with the RT it holds; killed, it never does.
    await a.logout()
    expect(a.state.status).toBe('signed-out')
    expect(server.stats.logouts).toBe(1)
    // The login's RT (this tab's own, and the dead worker's) is dead on the server.
    expect(await refreshStatus(login.refreshToken)).toBe(401)
  }, 15_000)

  it("a tab joining with a newer state the page remembers (a logout made after falling back) tells the run's other tabs too (sim --worker --extended seed 101361)", () => {
    const hub = createHub('remembered-test')
    const [first, second] = [hubPort(hub), hubPort(hub)]
    try {
      const config = workerConfig(
        normalizeOptions({
          scope: `${url}/api`,
          transport: 'cookie',
          refresh: { url: `${url}/authn/refresh`, style: 'folio' },
          crossTab: { name: 'app' },
          worker: `${url}/rotor-worker.js`,
          rotation: 'request',
        } as SessionOptions),
      )
      const now = Date.now()
      first.say({
        w: 'hello',
        id: 1,
        version: PROTOCOL_VERSION,
        config,
        stored: { generation: 8, status: 'active', issuedAt: now, accessExpiresAt: now + 60_000, refreshExpiresAt: null },
        reauthenticates: false,
      })
      const logout = { generation: 10, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' }
      second.say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: logout, reauthenticates: false })
      // The first tab is told as a session is told of news (a `state` message), not only the store's copy.
      expect(first.received).toContainEqual({ w: 'message', message: expect.objectContaining({ type: 'state', snapshot: logout }) })
      expect(hub.session?.state.status).toBe('signed-out')
    } finally {
      hub.session?.dispose()
    }
  })

  it("logout() at a run whose own session ended meanwhile (its AT expired without an RT): the run presents the tab's AT, and that login ends at the server (sim seed 104407)", async () => {
    const hub = createHub('ended-run-test')
    const { received, say } = hubPort(hub)
    try {
      const config = workerConfig(
        normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request' } as SessionOptions),
      )
      const ended = { generation: 15, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'rejected' }
      say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: ended, reauthenticates: false })
      const login = (await (await bearerLogin(url)).json()) as { accessToken: string }
      expect(await server.verifyAccessToken(login.accessToken)).toBeDefined()
      say({ w: 'logout', id: 2 })
      await vi.waitFor(() => expect(received).toContainEqual({ w: 'done', id: 2 }))
      // Nothing held, nothing sent: the run has no session, the tab named no token.
      expect(server.stats.logouts).toBe(0)
      say({ w: 'logout', id: 3, accessToken: login.accessToken })
      await vi.waitFor(() => expect(received).toContainEqual({ w: 'done', id: 3 }))
      expect(server.stats.logouts).toBe(1)
      expect(await server.verifyAccessToken(login.accessToken)).toBeUndefined()
    } finally {
      hub.session?.dispose()
    }
  })

  it('cookies: logout() at a run whose own session ended meanwhile calls the logout endpoint with the jar, and the login it holds ends at the server', async () => {
    // The browser's jar, which the worker's fetch sends as the pages' does.
    const jar = cookieFetch()
    const login = await jar(`${url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
    expect(login.status).toBe(201)
    const refresh = () => jar(`${url}/authn/refresh`, { method: 'POST', headers: TENANT_HEADERS })
    const hub = createHub('ended-cookie-run-test', {}, { ...defaultPlatform(), fetch: () => jar })
    const { received, say } = hubPort(hub)
    try {
      const config = workerConfig(
        normalizeOptions({ scope: url, headers: { 'X-Okapi-Tenant': 'diku' }, crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js` } as SessionOptions),
      )
      const ended = { generation: 15, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'rejected' }
      say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: ended, reauthenticates: false })
      // The jar's login lives (a refresh rotates it) until the logout.
      expect((await refresh()).status).toBe(201)
      const before = server.log.filter(e => e.route === 'logout').length
      say({ w: 'logout', id: 2 })
      await vi.waitFor(() => expect(received).toContainEqual({ w: 'done', id: 2 }))
      expect(server.log.filter(e => e.route === 'logout').length).toBe(before + 1)
      expect((await refresh()).status).toBe(401)
    } finally {
      hub.session?.dispose()
    }
  })

  it("a new run started from a page's memory (no token) takes the AT of a tab whose RT the killed run took along, and no RT-less state once it holds an RT (sim seed 189)", () => {
    const hub = createHub('memory-test')
    const { received, say } = hubPort(hub)
    const state = (generation: number, tokens: { accessToken?: string; refreshToken?: string } = {}) => ({
      generation,
      status: 'active',
      issuedAt: Date.now(),
      accessExpiresAt: Date.now() + 60_000,
      refreshExpiresAt: null,
      ...tokens,
    })
    const stored = () => received.filter(m => m['w'] === 'store').map(m => (m['snapshot'] as { generation: number }).generation)
    try {
      const config = workerConfig(
        normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request' } as SessionOptions),
      )
      // The page's storage keeps the state without tokens: a new run starts from that.
      say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: state(9), reauthenticates: false })
      expect(received).toContainEqual(expect.objectContaining({ w: 'welcome', id: 1 }))
      // A token-less state (another page's memory) is no news once the run has started.
      say({ w: 'write', id: 2, snapshot: state(10) })
      // The tab that fell back brings its AT, one above (link.ts reconcile): the run holds no RT to keep.
      say({ w: 'write', id: 3, snapshot: state(10, { accessToken: 'at-10' }) })
      expect(stored()).toEqual([10])
      expect(received.filter(m => m['w'] === 'store').at(-1)).toMatchObject({ snapshot: { accessToken: 'at-10' } })
      // Once the run holds an RT, a state without it (forged or stale) is refused, as before.
      say({ w: 'write', id: 4, snapshot: state(11, { accessToken: 'at-11', refreshToken: 'rt-11' }) })
      say({ w: 'write', id: 5, snapshot: state(12, { accessToken: 'at-12' }) })
      expect(stored()).toEqual([10, 11])
    } finally {
      hub.session?.dispose()
    }
  })

  describe('a login form answered into a run the browser killed', () => {
    /** A tab whose run asked its login form (the run's RT was refused), the run then killed and the form answered with a new login. */
    async function formIntoKilledRun() {
      let asked: () => void = () => undefined
      const opened = new Promise<void>(resolve => (asked = resolve))
      let answer: (grant: unknown) => void = () => undefined
      const form = new Promise(resolve => (answer = resolve))
      const a = tab({ reauthenticate: () => (asked(), form) } as Partial<SessionOptions>)
      await a.start(await bearerLogin(url))
      await vi.waitFor(() => expect(worker.session()?.state.status).toBe('active'))
      server.fault('refresh', { status: 401 })
      // Waits for the run's rotation (and pings it every second meanwhile: the kill is noticed within seconds).
      const rotation = a.rotate().catch((error: unknown) => error)
      await opened
      worker.kill()
      const login = (await (await bearerLogin(url)).json()) as { accessToken: string; refreshToken: string }
      return { a, login, rotation, answer: (grant: object = login) => answer(grant) }
    }

    it('the tab notices the loss and starts the session on that login: the password the user typed is not thrown away (sim seed 10859)', async () => {
      const { a, login, answer } = await formIntoKilledRun()
      server.resetStats()
      // The grant goes to a run that is gone; the tab still holds it as not taken.
      answer()
      // Revoked instead (before the fix), the session waited for a login that never came.
      await expect(a.accessToken({ signal: AbortSignal.timeout(10_000) })).resolves.toBe(login.accessToken)
      expect(a.state.status).toBe('active')
      const answered = await a.fetch(`${url}/api/items`)
      expect(answered.status).toBe(200)
      expect(server.stats.logouts).toBe(0)
      // The login's RT is live at the server: the session rotates on it.
      await a.rotate()
      expect(server.stats.refreshGranted).toBe(1)
      expect(server.stats.reusedRefused).toBe(0)
    }, 20_000)

    it('the user logged out while the form was open: its login is revoked, not started, and the session stays signed out', async () => {
      const { a, login, answer } = await formIntoKilledRun()
      await a.logout()
      server.resetStats()
      answer()
      await vi.waitFor(() => expect(server.stats.logouts).toBe(1), { timeout: 10_000 })
      expect(await refreshStatus(login.refreshToken)).toBe(401)
      expect(a.state.status).toBe('signed-out')
    }, 20_000)

    it('a login start() refuses (its grant says both tokens expired) is revoked at the server', async () => {
      const { login, answer } = await formIntoKilledRun()
      server.resetStats()
      const past = new Date(Date.now() - 1_000).toISOString()
      answer({ ...login, accessTokenExpiration: past, refreshTokenExpiration: past })
      await vi.waitFor(() => expect(server.stats.logouts).toBe(1), { timeout: 10_000 })
      expect(await refreshStatus(login.refreshToken)).toBe(401)
    }, 20_000)

    it("cookies: the form's login, in the jar, starts the session once the tab notices the loss (sim seed 2316)", async () => {
      const jar = cookieFetch()
      worker = killableWorker(jar)
      let asked: () => void = () => undefined
      const opened = new Promise<void>(resolve => (asked = resolve))
      let answer: (login: Response) => void = () => undefined
      const form = new Promise<Response>(resolve => (answer = resolve))
      let forms = 0
      const a = createSession({
        scope: url,
        headers: { 'X-Okapi-Tenant': 'diku' },
        fetch: jar,
        crossTab: { name: 'app' },
        worker: `${url}/rotor-worker.js`,
        rotation: 'request',
        refreshTimeout: 1_000,
        platform: { sharedWorker: worker.sharedWorker },
        // The user answers one form; one asked again is dismissed.
        reauthenticate: () => (asked(), forms++ === 0 ? form : Promise.resolve(undefined)),
      } as SessionOptions)
      sessions.push(a)
      const signIn = () => jar(`${url}/authn/login-with-expiry`, { method: 'POST', headers: TENANT_HEADERS, body: CREDENTIALS })
      await a.start(await signIn())
      await vi.waitFor(() => expect(worker.session()?.state.status).toBe('active'))
      const generation = a.state.generation
      server.fault('refresh', { status: 401 })
      void a.rotate().catch(() => undefined)
      await opened
      worker.kill()
      const login = await signIn()
      server.resetStats()
      answer(login)
      // A request waits for the session's login: before the fix, for the login no form would bring again (the session ended).
      const answered = await a.fetch(`${url}/api/users`, { signal: AbortSignal.timeout(10_000) })
      expect(answered.status).toBe(200)
      expect(a.state.status).toBe('active')
      expect(a.state.generation).toBeGreaterThan(generation)
      expect(server.stats.logouts).toBe(0)
      expect(forms).toBe(1)
    }, 20_000)

    it('disposed before the form answers: that login is revoked at the server', async () => {
      const { a, login, answer } = await formIntoKilledRun()
      server.resetStats()
      a.dispose()
      answer()
      await vi.waitFor(() => expect(server.stats.logouts).toBe(1))
      expect(await refreshStatus(login.refreshToken)).toBe(401)
    })
  })
})

describe("the worker's reauthenticate, asked of a tab", () => {
  function tabs() {
    const timers: Array<{ ms: number; fn: () => void; cancelled: boolean }> = []
    const platform = {
      now: () => 0,
      after: (ms: number, fn: () => void) => (timers.push({ ms, fn, cancelled: false }), { cancel: () => void (timers.at(-1)!.cancelled = true) }),
    }
    const all = new Tabs({ limits: { silentMs: 5_000, probeEveryMs: 1_000 }, platform, left: () => undefined })
    const sent: unknown[] = []
    const tab = {
      port: { postMessage: (m: unknown) => void sent.push(m), close: () => undefined, onmessage: null },
      id: 'tab-1',
      reauthenticates: true,
      heard: 0,
      reauthenticating: false,
      locks: { releaseAll: () => undefined } as never,
      reauths: new Map(),
    }
    all.add(tab as never)
    return { all, tab, sent }
  }

  it('aborted while the form is open, still resolves with the late answer: the session revokes that login (sim seed 103517)', async () => {
    const { all, tab } = tabs()
    const controller = new AbortController()
    const asked = all.reauthenticate({ signal: controller.signal })
    controller.abort()
    const grant = { accessToken: 'at', accessTokenExpiration: 1 }
    for (const answer of tab.reauths.values()) answer(grant)
    await expect(asked).resolves.toEqual(grant)
  })

  it('aborted, and the tab then goes: resolves with nothing, and no other tab is asked', async () => {
    const { all, tab, sent } = tabs()
    const controller = new AbortController()
    const asked = all.reauthenticate({ signal: controller.signal })
    controller.abort()
    all.drop(tab as never)
    await expect(asked).resolves.toBeUndefined()
    expect(sent.filter(m => (m as { w: string }).w === 'reauthenticate')).toHaveLength(1)
  })
})

/** A real hub whose fetch is `fetch`, a tab's port said hello with a bearer session at generation 3 holding its RT. */
function bearerHub(name: string, fetch: typeof globalThis.fetch, reauthenticates: boolean) {
  const hub = createHub(name, {}, { ...defaultPlatform(), fetch: () => fetch })
  const { received, say } = hubPort(hub)
  const url = 'http://127.0.0.1:9'
  const config = workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/w.js`, rotation: 'request' } as SessionOptions))
  const now = Date.now()
  const held = { generation: 3, status: 'active', issuedAt: now, accessExpiresAt: now + 60_000, refreshExpiresAt: now + 600_000, accessToken: 'at-3', refreshToken: 'rt-3' }
  say({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config, stored: held, reauthenticates })
  return { hub, received }
}

describe("the hub's clock of spans", () => {
  afterEach(() => vi.useRealTimers())

  it('a wall clock set forward while a tab runs the login form drops no tab: silence is measured on the monotonic clock (sim seed 112408)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    const refused: typeof fetch = async () => new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 401, headers: { 'content-type': 'application/json' } })
    const { hub, received } = bearerHub('clock-jump-test', refused, true)
    try {
      // The RT is refused: the worker's session asks this tab's login form, and probes the tab while it is open.
      void hub.session!.rotate().catch(() => undefined)
      await vi.waitFor(() => expect(received).toContainEqual(expect.objectContaining({ w: 'reauthenticate' })))
      // The user sets the clock 15 minutes forward; a second later the probe runs.
      vi.setSystemTime(Date.now() + 15 * 60_000)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(received.filter(m => m['w'] === 'probe').length).toBeGreaterThan(0)
      expect(hub.tabs).toBe(1)
    } finally {
      hub.session?.dispose()
    }
  })
})

describe('a refresh whose 2xx headers reached the worker, its body not yet', () => {
  it('the worker marks the RT spent and tells its tabs before it reads the body: a run killed then leaves them a mark, not an RT to present again (sim seeds 113041, 115636)', async () => {
    // Headers of a grant, and a body that never comes (the run is killed meanwhile).
    const hanging: typeof fetch = async () => new Response(new ReadableStream({ start: () => undefined }), { status: 200, headers: { 'content-type': 'application/json' } })
    const { hub, received } = bearerHub('headers-test', hanging, false)
    try {
      void hub.session!.rotate().catch(() => undefined)
      const told = () =>
        received
          .filter(m => m['w'] === 'message' && (m['message'] as { type: string }).type === 'state')
          .map(m => (m['message'] as { snapshot: Record<string, unknown> }).snapshot)
      await vi.waitFor(() => expect(told()).toContainEqual(expect.objectContaining({ generation: 3, ending: 'rejected' })))
      expect(told().at(-1)).not.toHaveProperty('refreshToken')
    } finally {
      hub.session?.dispose()
    }
  })
})
