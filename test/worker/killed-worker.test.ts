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
function killableWorker() {
  const ports: MessagePort[] = []
  let run: { hub: Hub; alive: boolean } | undefined
  const sharedWorker = (): SharedWorkerLike => {
    const current = (run ??= { hub: createHub('killed-worker-test'), alive: true })
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
    const refresh = await fetch(`${url}/bearer/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: login.refreshToken }),
    })
    expect(refresh.status).toBe(401)
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
