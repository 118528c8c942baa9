import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createAuthServer, cookieFetch, type AuthServer } from '../../src/testing/index.js'
import { createFolioSession, loginToFolio } from '../../examples/folio-preset.js'
import { apiClient } from '../../examples/with-ky.js'
import { axiosClient } from '../../examples/with-axios.js'
import { runJob, startJobSession } from '../../examples/node-job.js'
import { runLiveFeed } from '../../examples/live-feed.js'
import type { Session } from '../../src/index.js'
import { waitFor } from '../helpers/index.js'

describe('examples', () => {
  let server: AuthServer
  let url: string
  let close: () => Promise<void>
  const sessions: Session[] = []
  beforeEach(async () => {
    // Whole seconds: JWT exp and iat cannot say anything finer.
    server = createAuthServer({ accessTokenTtl: 1000, refreshTokenTtl: 30_000, basePath: '/okapi' })
    ;({ url, close } = await server.listen())
  })
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.dispose()
    await close()
  })

  async function folio() {
    const jar = cookieFetch()
    const session = createFolioSession({ okapiUrl: url, tenant: 'diku', overrides: { fetch: jar, crossTab: false } })
    sessions.push(session)
    await loginToFolio(session, { okapiUrl: url, tenant: 'diku', username: 'diku_admin', password: 'admin', fetch: jar })
    return session
  }

  /** Idle until the timer has rotated `rotations` times and the login's AT has expired. */
  async function outlive(session: Session, rotations: number) {
    const loginExpiry = session.state.accessExpiresAt!
    await waitFor(() => server.stats.refreshGranted >= rotations && Date.now() > loginExpiry, { timeout: 15_000, interval: 20 })
  }

  test('FOLIO preset: Okapi below a base path, tenant header, cookie transport, timer mode', async () => {
    const session = await folio()
    await outlive(session, 2) // idle: rotations at 0.8 s and 1.6 s of a 1 s AT
    expect((await session.fetch(`${url}/api/x`)).status).toBe(200)
    expect(server.stats).toMatchObject({ api401: 0, reusedRefused: 0 })
  })

  test('ky on top of a session', async () => {
    const session = await folio()
    const api = apiClient(session, `${url}/api`)
    await outlive(session, 1)
    expect(await api.post('records', { json: { id: 1 } }).json()).toMatchObject({ method: 'POST', body: '{"id":1}' })
    expect(server.stats.api401).toBe(0)
  })

  test('axios (fetch adapter) on top of a session', async () => {
    const session = await folio()
    const api = axiosClient(session, `${url}/api`)
    await outlive(session, 1)
    const { data, status } = await api.put('/records/2', { id: 2 })
    expect(status).toBe(200)
    expect(data).toMatchObject({ method: 'PUT', body: '{"id":2}' })
    expect(server.stats.api401).toBe(0)
  })

  test.each(['timer', 'request'] as const)('Node job with its own pair, %s mode, outlives its AT', async rotation => {
    const grant = await server.issue('data-import')
    const session = await startJobSession({ apiUrl: `${url}/api`, refreshUrl: `${url}/bearer/refresh`, grant, rotation })
    sessions.push(session)
    const statuses = await runJob(session, `${url}/api`, 25, 100) // 2.5 s: 2.5 AT lifetimes
    expect(statuses).toEqual(Array(25).fill(200))
    expect(server.stats.refreshGranted).toBeGreaterThanOrEqual(2)
    expect(server.stats).toMatchObject({ api401: 0, reusedRefused: 0 })
  })

  test('live feed: a socket outlives 1 s ATs, a forced disconnect and a server restart, every message once', async () => {
    // Its own server (the scenario restarts it): the one of beforeEach stays idle.
    const report = await runLiveFeed(4)
    expect(report).toMatchObject({ exactlyOnce: true, reusedRefreshTokens: 0, subscriptionsRefused: 0 })
    // The first connection, one after the drop, one after the restart.
    expect(report.connections).toBe(3)
    expect(report.refreshes).toBeGreaterThanOrEqual(3)
  }, 20_000)
})
