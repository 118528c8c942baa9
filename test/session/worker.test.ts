/**
 * The rotation worker's protocol in one Node process: tab sessions (`worker` option) connect
 * through a SharedWorker stand-in (a MessageChannel per tab) to the real hub of
 * src/worker/hub.ts, which runs the worker's own session against the reference server on
 * 127.0.0.1. What the hub sends to the tabs is recorded: the RT must never be in it. The
 * browser cases (five tabs, a blocked page, a 404) are in test/browser/worker*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createSession, SessionExpiredError, type RefreshRefusedError, type RotateErrorEvent, type Session, type SessionOptions } from '../../src/index.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { normalizeOptions } from '../../src/core/options.js'
import { createHub, type Hub, type HubLimits } from '../../src/worker/hub.js'
import { PROTOCOL_VERSION } from '../../src/worker/protocol.js'
import { workerConfig } from '../../src/worker/tab.js'
import { bearerLogin, bearerOptions } from '../helpers/session-env.js'

type Recorded = { name: string; data: unknown }

/**
 * `new SharedWorker(url, { name })` for Node: one hub per name, one MessageChannel per tab.
 * `silent` makes the hub's side stop answering (a hung worker thread).
 */
function installSharedWorker() {
  const hubs = new Map<string, Hub>()
  const sent: Recorded[] = []
  const ports: MessagePort[] = []
  /** The limits of hubs created from now on (a test shortens one to see it act). */
  const limits: Partial<HubLimits> = {}
  let silent = false
  class SharedWorkerStandIn extends EventTarget {
    readonly port: MessagePort
    constructor(url: string | URL, options: { name: string }) {
      super()
      // As a browser does when the page's CSP has no `worker-src` that allows the script.
      if (String(url).includes('blocked')) throw new DOMException(`Refused to create a worker from '${String(url)}'`, 'SecurityError')
      if (String(url).includes('missing')) {
        // As a browser does for a script that is not served: an `error` event, later.
        setTimeout(() => this.dispatchEvent(new Event('error')), 5)
      }
      const { port1, port2 } = new MessageChannel()
      ports.push(port1, port2)
      const name = options.name
      if (String(url).includes('stale')) {
        // A worker script of an older version: it welcomes without saying its protocol.
        port2.onmessage = ({ data }) => port2.postMessage({ w: 'welcome', id: (data as { id: number }).id })
        this.port = port1
        return
      }
      let hub = hubs.get(name)
      if (!hub) hubs.set(name, (hub = createHub(name, limits)))
      const post = port2.postMessage.bind(port2)
      port2.postMessage = (data: unknown) => {
        sent.push({ name, data })
        if (!silent) post(data)
      }
      if (!String(url).includes('missing')) hub.connect(port2 as never)
      this.port = port1
    }
  }
  vi.stubGlobal('SharedWorker', SharedWorkerStandIn)
  return {
    hubs,
    sent,
    limits,
    /** A port of any page of the origin, speaking to the hub of `name` directly: it says what it likes and answers nothing unasked. */
    raw(name: string) {
      let hub = hubs.get(name)
      if (!hub) hubs.set(name, (hub = createHub(name, limits)))
      const { port1, port2 } = new MessageChannel()
      ports.push(port1, port2)
      hub.connect(port2 as never)
      const received: Array<Record<string, unknown>> = []
      port1.onmessage = event => received.push(event.data as Record<string, unknown>)
      let pings = 1_000
      const send = (message: unknown) => port1.postMessage(message)
      /** Resolves once the hub answered a ping sent now: a port is ordered, so it has handled everything sent before. */
      const handled = async () => {
        const id = pings++
        send({ w: 'ping', id })
        await vi.waitFor(() => expect(received.some(m => m['w'] === 'done' && m['id'] === id)).toBe(true))
      }
      return { send, received, handled, close: () => port1.close() }
    },
    hang: () => (silent = true),
    close: () => {
      for (const port of ports) port.close()
      for (const hub of hubs.values()) hub.session?.dispose()
    },
  }
}

describe('the rotation worker (Node, MessageChannel ports)', () => {
  let server: AuthServer
  let url = ''
  let closeServer: () => Promise<void>
  let worker: ReturnType<typeof installSharedWorker>
  const sessions: Session[] = []

  beforeEach(async () => {
    server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    ;({ url, close: closeServer } = await server.listen())
    worker = installSharedWorker()
  })

  afterEach(async () => {
    for (const session of sessions.splice(0)) session.dispose()
    worker.close()
    vi.unstubAllGlobals()
    await closeServer()
  })

  function tab(options: Partial<SessionOptions> = {}): Session {
    const session = createSession({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request', ...options } as SessionOptions)
    sessions.push(session)
    return session
  }

  const fallbacks = (session: Session) => {
    const reasons: string[] = []
    session.on('worker-fallback', ({ reason }) => reasons.push(reason))
    return reasons
  }

  /** Every RT the hub ever sent to a tab (there must be none). */
  const refreshTokensSent = () => JSON.stringify(worker.sent.map(s => s.data)).match(/"refreshToken":"[^"]+"/g) ?? []

  it('two tabs share one session; a rotation asked by either is done once, by the worker, and no RT reaches a tab', async () => {
    const a = tab()
    const b = tab()
    const fell = [...fallbacks(a), ...fallbacks(b)]
    await a.start(await bearerLogin(url))
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    await Promise.all([a.rotate(), b.rotate(), b.rotate()])
    expect(server.stats.refreshCalls).toBe(1)
    expect(a.state.generation).toBe(2)
    await vi.waitFor(() => expect(b.state.generation).toBe(2))
    const answer = await b.fetch(`${url}/api/ping`)
    expect(answer.status).toBe(200)
    expect(server.stats.api401).toBe(0)
    expect(refreshTokensSent()).toEqual([])
    expect(worker.hubs.get('rotor-auth:app')?.tabs).toBe(2)
    expect(fell).toEqual([])
  })

  it('logout from a tab: the worker calls the server with the RT it holds; every tab ends', async () => {
    const a = tab()
    const b = tab()
    await a.start(await bearerLogin(url))
    await a.rotate()
    await vi.waitFor(() => expect(b.state.generation).toBe(2))
    await b.logout()
    expect(server.stats.logouts).toBe(1)
    await vi.waitFor(() => expect(a.state.status).toBe('signed-out'))
    // The family is revoked: the worker's RT is refused now.
    expect(server.stats.refreshCalls).toBe(1)
  })

  it("a refused RT: the worker asks a tab to run the app's reauthenticate, and the session goes on", async () => {
    const login = vi.fn(async () => bearerLogin(url))
    const a = tab({ reauthenticate: login })
    const b = tab()
    await a.start(await bearerLogin(url))
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    server.fault('refresh', { status: 401 })
    await b.rotate().catch(() => undefined)
    await vi.waitFor(() => expect(login).toHaveBeenCalledTimes(1))
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    expect((await b.fetch(`${url}/api/ping`)).status).toBe(200)
    expect(server.stats.logins).toBe(2)
    expect(refreshTokensSent()).toEqual([])
  })

  it('the tab asked to re-authenticate is closed mid-login: its hook is aborted, and the next tab with the hook takes it over', async () => {
    const second = vi.fn(async () => bearerLogin(url))
    let aborted = false
    let asked = false
    const b = tab({ reauthenticate: second })
    // The newest tab is asked first: this one, whose login form is never filled in.
    const a = tab({
      reauthenticate: ({ signal }) =>
        new Promise((_, reject) => {
          asked = true
          signal.addEventListener('abort', () => ((aborted = true), reject(signal.reason)), { once: true })
        }),
    })
    await a.start(await bearerLogin(url))
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    server.fault('refresh', { status: 401 })
    void b.rotate().catch(() => undefined)
    await vi.waitFor(() => expect(asked).toBe(true))
    a.dispose()
    await vi.waitFor(() => expect(second).toHaveBeenCalledTimes(1))
    expect(aborted).toBe(true)
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    expect((await b.fetch(`${url}/api/ping`)).status).toBe(200)
  })

  it('the idle logout of a tab goes through the worker: one server logout, every tab ends idle', async () => {
    const a = tab({ idle: { timeout: 300, activityEvents: [] } })
    const b = tab({ idle: { timeout: 300, activityEvents: [] } })
    const reasons: string[] = []
    for (const s of [a, b]) s.on('logout', ({ reason }) => reasons.push(reason))
    await a.start(await bearerLogin(url))
    await vi.waitFor(() => expect(reasons).toEqual(['idle', 'idle']), { timeout: 3_000 })
    // Every tab ends at once; the worker's call to the server follows.
    await vi.waitFor(() => expect(server.stats.logouts).toBe(1))
    expect(refreshTokensSent()).toEqual([])
  })

  it('a tab with other options is refused by the running worker and falls back, saying why', async () => {
    const a = tab()
    const b = tab({ rotateAt: 0.5 })
    const reasons = fallbacks(b)
    await a.start(await bearerLogin(url))
    await vi.waitFor(() => expect(reasons).toHaveLength(1))
    expect(reasons[0]).toMatch(/other options/)
  })

  it('a script that is not served: worker-fallback, and the session works on its own', async () => {
    const a = tab({ worker: `${url}/missing-worker.js` })
    const reasons = fallbacks(a)
    await a.start(await bearerLogin(url))
    await a.rotate()
    expect(reasons).toEqual([expect.stringContaining('missing-worker.js')])
    expect(server.stats.refreshCalls).toBe(1)
    expect((await a.fetch(`${url}/api/ping`)).status).toBe(200)
  })

  it('a CSP that forbids the worker: worker-fallback naming the refusal, and the session works on its own', async () => {
    const a = tab({ worker: `${url}/blocked-worker.js` })
    const reasons = fallbacks(a)
    await a.start(await bearerLogin(url))
    await a.rotate()
    expect(reasons).toEqual([expect.stringMatching(/could not be started \(Refused to create a worker/)])
    expect(server.stats.refreshCalls).toBe(1)
  })

  it('a worker that stops answering mid-session: the tab falls back, and the rotation it waited for settles', async () => {
    const login = vi.fn(async () => bearerLogin(url))
    const a = tab({ reauthenticate: login })
    const reasons = fallbacks(a)
    const errors: RotateErrorEvent[] = []
    a.on('rotate-error', event => void errors.push(event))
    await a.start(await bearerLogin(url))
    await a.rotate()
    worker.hang()
    // The RT stayed in the worker: the page holds none and presents nothing. While its AT lives,
    // a tab holding the family's RT may still bring it to a worker (docs/guides/worker.md): the
    // rotation fails transiently, the session goes on with its AT, and the hook waits for its expiry.
    const rotation = a.rotate().then(
      () => 'rotated',
      (error: unknown) => (error instanceof SessionExpiredError ? 'ended' : `${(error as RefreshRefusedError).code} ${(error as RefreshRefusedError).status}`),
    )
    await vi.waitFor(() => expect(reasons).toEqual([expect.stringMatching(/stopped answering/)]), { timeout: 8_000 })
    expect(await rotation).toBe('ERR_REFRESH_REFUSED 0')
    expect(errors.at(-1)).toMatchObject({ willRetry: true })
    expect(login).not.toHaveBeenCalled()
    expect(a.state.status).toBe('active')
    expect(server.stats.reusedRefused).toBe(0)
    expect((await a.fetch(`${url}/api/ping`)).status).toBe(200)
  }, 15_000)

  it('options the worker cannot go with are refused up front, each named', () => {
    const base = { ...bearerOptions(url), crossTab: { name: 'x' }, worker: '/w.js' }
    expect(() => createSession({ ...base, worker: 42 } as never)).toThrow(/option `worker` must be the URL of rotor-auth\/worker or false, got 42/)
    expect(() => createSession({ ...base, refresh: async () => ({}) })).toThrow(/`worker` cannot go with refresh: a function/)
    expect(() => createSession({ ...base, crossTab: false })).toThrow(/`worker` cannot go with crossTab: false/)
    expect(() => createSession({ ...base, persist: true })).toThrow(/`worker` cannot go with persist: true/)
    const coordinator = {
      read() {},
      write() {},
      lock: (fn: () => Promise<unknown>) => fn(),
      post() {},
      subscribe: () => () => {},
      isLeader: () => true,
      hasPeers: () => false,
      close() {},
    }
    expect(() => createSession({ ...base, coordinator } as never)).toThrow(/`worker` cannot go with coordinator/)
  })

  describe('a new run holding the session without its RT (the browser killed the run that held it)', () => {
    const NAME = 'rotor-auth:app'
    const config = () =>
      workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request' } as SessionOptions))

    /** A page reloaded after the kill starts the run from what it remembers: the AT (expired), no RT. The tab that signed in holds the family's RT. */
    async function newRun() {
      const { accessToken, refreshToken } = (await (await bearerLogin(url)).json()) as { accessToken: string; refreshToken: string }
      const now = Date.now()
      const held = { status: 'active', issuedAt: now - 61_000, accessExpiresAt: now - 1_000, refreshExpiresAt: now + 600_000, accessToken }
      const reloaded = worker.raw(NAME)
      reloaded.send({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config: config(), reauthenticates: false, stored: { ...held, generation: 3 } })
      await vi.waitFor(() => expect(reloaded.received.map(m => m['w'])).toContain('welcome'))
      const session = worker.hubs.get(NAME)!.session!
      await vi.waitFor(() => expect(session.state).toMatchObject({ status: 'active', generation: 3 }))
      const bringRt = async () => {
        const signedIn = worker.raw(NAME)
        signedIn.send({ w: 'hello', id: 1, version: PROTOCOL_VERSION, config: config(), reauthenticates: false })
        signedIn.send({ w: 'write', id: 2, snapshot: { ...held, generation: 4, refreshToken } })
        await signedIn.handled()
      }
      return { session, bringRt }
    }

    it('its rotation waits up to rtGraceMs for a tab to bring the RT, and refreshes with it (sim --worker --extended seed 163)', async () => {
      worker.limits.rtGraceMs = 5_000
      const { session, bringRt } = await newRun()
      const rotation = session.rotate()
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(server.stats.refreshGranted).toBe(0)
      expect(session.state.status).toBe('active')
      await bringRt()
      // The RT brought one generation above is that rotation's news; the next one presents it.
      await rotation
      expect(session.state).toMatchObject({ status: 'active', generation: 4 })
      await session.rotate()
      expect(server.stats).toMatchObject({ refreshGranted: 1, reusedRefused: 0 })
      expect(session.state).toMatchObject({ status: 'active', generation: 5 })
    })

    it('without the wait (rtGraceMs 0) the same rotation ends the session at once, although a tab held a live RT', async () => {
      worker.limits.rtGraceMs = 0
      const { session, bringRt } = await newRun()
      await expect(session.rotate()).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
      expect(session.state.status).toBe('signed-out')
      await bringRt()
      expect(server.stats.refreshGranted).toBe(0)
    })
  })

  describe('what one port can cost the others (issue 26.2, 26.5, 26.6, 26.7, 26.9)', () => {
    const NAME = 'rotor-auth:app'
    const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
    /** The hello any page of the origin can send: the app's options are in its bundle. */
    const hello = (extra: Record<string, unknown> = {}) => ({
      w: 'hello',
      id: 1,
      version: PROTOCOL_VERSION,
      config: workerConfig(normalizeOptions({ ...bearerOptions(url), crossTab: { name: 'app' }, worker: `${url}/rotor-worker.js`, rotation: 'request' } as SessionOptions)),
      reauthenticates: false,
      ...extra,
    })
    const forged = (generation: number, tokens: { accessToken?: string; refreshToken?: string } = { accessToken: 'forged-at', refreshToken: 'forged-rt' }) => ({
      generation,
      status: 'active',
      issuedAt: Date.now(),
      accessExpiresAt: Date.now() + 3_600_000,
      refreshExpiresAt: null,
      ...tokens,
    })

    /** Two app tabs, logged in, and a page of the origin connected to the worker. */
    async function tabsAndForger(options: Partial<SessionOptions> = {}) {
      const a = tab(options)
      const b = tab()
      await a.start(await bearerLogin(url))
      await vi.waitFor(() => expect(b.state.status).toBe('active'))
      const forger = worker.raw(NAME)
      forger.send(hello())
      await vi.waitFor(() => expect(forger.received.map(m => m['w'])).toContain('welcome'))
      return { a, b, forger }
    }

    /** The session still works: one granted refresh, calls with the real AT, nothing reused. */
    async function stillWorks(b: Session): Promise<void> {
      const before = server.stats.refreshGranted
      await b.rotate()
      expect(server.stats.refreshGranted).toBe(before + 1)
      expect((await b.fetch(`${url}/api/ping`)).status).toBe(200)
      expect(server.stats).toMatchObject({ reusedRefused: 0, api401: 0 })
    }

    it('a tab asked to re-authenticate that vanished (no bye, no answer): the worker asks the next tab with the hook; requests settle', async () => {
      const login = vi.fn(async () => bearerLogin(url))
      const a = tab({ reauthenticate: login })
      const b = tab()
      await a.start(await bearerLogin(url))
      await vi.waitFor(() => expect(b.state.status).toBe('active'))
      // The newest tab with the hook, asked first: it crashed (or was discarded) without a word.
      const ghost = worker.raw(NAME)
      ghost.send(hello({ reauthenticates: true }))
      await vi.waitFor(() => expect(ghost.received.map(m => m['w'])).toContain('welcome'))
      server.fault('refresh', { status: 401 })
      const rotation = b.rotate().then(
        () => 'rotated',
        (error: unknown) => String(error),
      )
      await vi.waitFor(() => expect(ghost.received.map(m => m['w'])).toContain('reauthenticate'))
      await vi.waitFor(() => expect(login).toHaveBeenCalledTimes(1), { timeout: 15_000 })
      expect(await rotation).toBe('rotated')
      expect(b.state.status).toBe('active')
      expect((await b.fetch(`${url}/api/ping`)).status).toBe(200)
      expect(server.stats.reusedRefused).toBe(0)
      // It was asked whether it was there before it was given up.
      expect(ghost.received.map(m => m['w'])).toContain('probe')
    }, 25_000)

    it('a tab whose reauthenticate ignores its AbortSignal is disposed mid-login: the next tab takes over, and requests settle', async () => {
      const second = vi.fn(async () => bearerLogin(url))
      const b = tab({ reauthenticate: second })
      let asked = false
      // The newest tab is asked first; its login form never settles and never reads the signal.
      const a = tab({ reauthenticate: () => ((asked = true), new Promise<never>(() => undefined)) })
      await a.start(await bearerLogin(url))
      await vi.waitFor(() => expect(b.state.status).toBe('active'))
      server.fault('refresh', { status: 401 })
      const rotation = b.rotate().then(
        () => 'rotated',
        (error: unknown) => String(error),
      )
      await vi.waitFor(() => expect(asked).toBe(true))
      a.dispose()
      await vi.waitFor(() => expect(second).toHaveBeenCalledTimes(1))
      expect(await rotation).toBe('rotated')
      expect((await b.fetch(`${url}/api/ping`)).status).toBe(200)
    }, 20_000)

    it('a posted state without the RT is refused: no tab and not the worker adopts it (the RT-less guard on post)', async () => {
      const { b, forger } = await tabsAndForger()
      forger.send({ w: 'post', message: { type: 'state', snapshot: forged(b.state.generation + 1, { accessToken: 'forged-at' }) } })
      await forger.handled()
      expect(worker.hubs.get(NAME)?.session?.state.generation).toBe(1)
      await stillWorks(b)
    })

    it('a written state without the RT is refused: the worker keeps its RT (the RT-less guard on write)', async () => {
      const { b, forger } = await tabsAndForger()
      forger.send({ w: 'write', id: 2, snapshot: forged(b.state.generation + 1, { accessToken: 'forged-at' }) })
      await vi.waitFor(() => expect(forger.received.map(m => m['w'])).toContain('done'))
      await stillWorks(b)
    })

    it('a write carrying generation 2^40 is refused and never counts as newer: rotation goes on', async () => {
      const { b, forger } = await tabsAndForger()
      forger.send({ w: 'write', id: 2, snapshot: forged(2 ** 40) })
      await vi.waitFor(() => expect(forger.received.map(m => m['w'])).toContain('done'))
      await stillWorks(b)
    })

    it('a first hello carrying generation 2^40 is refused: the tabs that come after log in and rotate', async () => {
      const forger = worker.raw(NAME)
      forger.send(hello({ stored: forged(2 ** 40) }))
      await vi.waitFor(() => expect(forger.received.map(m => m['w'])).toContain('welcome'))
      const a = tab()
      const b = tab()
      await a.start(await bearerLogin(url))
      await vi.waitFor(() => expect(b.state.status).toBe('active'))
      expect(b.state.generation).toBe(1)
      await stillWorks(b)
    })

    it('a forged rotate-request for a generation ahead makes no refresh; repeated ones for the current generation make one', async () => {
      const { a, forger } = await tabsAndForger()
      forger.send({ w: 'post', message: { type: 'rotate-request', generation: 2 ** 40 } })
      await sleep(1_500)
      expect(server.stats.refreshCalls).toBe(0)
      const generation = a.state.generation
      for (let i = 0; i < 10; i++) forger.send({ w: 'post', message: { type: 'rotate-request', generation } })
      await vi.waitFor(() => expect(a.state.generation).toBe(generation + 1))
      await sleep(500)
      expect(server.stats.refreshCalls).toBe(1)
    })

    it('forged lock messages: one port holds one lock at a time, so a rotation waits at most one lease', async () => {
      const { b, forger } = await tabsAndForger()
      for (let id = 10; id < 30; id++) forger.send({ w: 'lock', id })
      await vi.waitFor(() => expect(forger.received.filter(m => m['w'] === 'done')).toHaveLength(1))
      // Without the bound the twenty locks queue ahead of it: 200 s at 10 s each.
      await stillWorks(b)
      expect(forger.received.filter(m => m['w'] === 'done').length).toBeLessThanOrEqual(2)
    }, 20_000)

    it('a lock kept alive by `held` is released at the hold limit', async () => {
      worker.limits.maxHoldMs = 1_000
      const { b, forger } = await tabsAndForger()
      forger.send({ w: 'lock', id: 10 })
      await vi.waitFor(() => expect(forger.received.map(m => m['w'])).toContain('done'))
      const heartbeat = setInterval(() => forger.send({ w: 'held', id: 10 }), 200)
      try {
        await stillWorks(b)
      } finally {
        clearInterval(heartbeat)
      }
    }, 20_000)

    it('malformed messages are dropped, the hub goes on', async () => {
      const { b, forger } = await tabsAndForger()
      for (const message of [
        null,
        42,
        'x',
        { w: 'post', message: null },
        { w: 'post', message: 7 },
        { w: 'write', id: 'x' },
        { w: 'lock' },
        { w: 'reauthenticated', id: 1, grant: { accessTokenExpiration: 'soon' } },
        { w: 'held', id: {} },
        { w: 'nope' },
      ]) {
        forger.send(message)
      }
      await forger.handled()
      await stillWorks(b)
    })

    it('a hello of another protocol version is refused, saying so', async () => {
      const stale = worker.raw(NAME)
      stale.send({ ...hello(), version: undefined })
      await vi.waitFor(() => expect(stale.received).toEqual([expect.objectContaining({ w: 'refused', reason: expect.stringMatching(/another version of rotor-auth/) })]))
    })

    it('a stale worker script (it does not say its protocol) is refused by the tab: worker-fallback naming it, and the session works on its own', async () => {
      const a = tab({ worker: `${url}/stale-worker.js` })
      const reasons = fallbacks(a)
      await a.start(await bearerLogin(url))
      await a.rotate()
      expect(reasons).toEqual([expect.stringMatching(/another version of rotor-auth/)])
      expect(server.stats.refreshGranted).toBe(1)
      expect((await a.fetch(`${url}/api/ping`)).status).toBe(200)
    })
  })
})
