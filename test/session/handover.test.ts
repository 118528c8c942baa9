/**
 * Issue 26.7 with the default coordinator: a tab running `reauthenticate` (under the rotation
 * lock) is disposed. Most login forms never read the AbortSignal, and the hand-over used to wait
 * for the hook to settle: the lock stayed held, the other tabs stayed `rotating` and their
 * requests never settled. The worker's side of the same case is in worker.test.ts.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { browserTabs, startEnv, type Env } from '../helpers/index.js'

describe('hand-over on dispose does not wait for the hook (issue 26.7)', () => {
  let env: Env
  beforeEach(async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
  })
  afterEach(() => env.close())

  test('a hook that ignores its AbortSignal: its tab disposed mid-login, the next tab logs in and its requests settle', async () => {
    let asked = false
    const second = vi.fn(async () => browser.login())
    const browser = browserTabs(env, { rotation: 'request' })
    // Never settles, never reads the signal: a login form left open in a tab being closed.
    const a = browser.open({ reauthenticate: () => ((asked = true), new Promise<never>(() => undefined)) })
    const b = browser.open({ reauthenticate: second })
    await browser.start(a)
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    env.server.fault('refresh', { status: 401 })
    void a.rotate().catch(() => undefined)
    await vi.waitFor(() => expect(asked).toBe(true))
    // b needs a rotation too: it waits on the lock a's login holds.
    const waiting = b.rotate().then(
      () => 'rotated',
      (error: unknown) => String(error),
    )
    a.dispose()
    await vi.waitFor(() => expect(second).toHaveBeenCalledTimes(1), { timeout: 5_000 })
    expect(await waiting).toBe('rotated')
    // The bug left the other tabs `rotating` for good; the flag may trail the answer by a turn.
    await vi.waitFor(() => expect(b.state).toMatchObject({ status: 'active', rotating: false }))
    expect((await b.fetch(`${env.url}/api/x`)).status).toBe(200)
    // One refresh (refused), then the second tab's login: no RT presented twice.
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0, logins: 2 })
  }, 15_000)
})
