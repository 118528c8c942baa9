/**
 * Tabs whose rotation worker the browser killed, against the real hub (MessageChannel ports in
 * Node) and the reference server on 127.0.0.1: what the server sees once the worker's run, and
 * the RT it held, is gone. The simulator's worker worlds found each case (docs/simulation.md).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createSession, type Session, type SessionOptions } from '../../src/index.js'
import type { SharedWorkerLike } from '../../src/platform/types.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import { bearerLogin, bearerOptions } from '../helpers/session-env.js'

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
})
