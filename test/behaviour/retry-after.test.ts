/** A refresh answered 429 with Retry-After is retried no sooner than the server asked, and is never a logout. */
import { describe, expect, onTestFinished, test } from 'vitest'
import { flowingClock, record, startEnv } from '../helpers/index.js'
import { refreshes } from '../reliability/helpers.js'

const AT = 60_000
const RT = 3_600_000

/**
 * A cookie session in request mode whose AT has just expired, on a server that answers the next
 * refresh 429 with `Retry-After: 1`. The clock flows with real time so that the server's log
 * shows the real gap between the refusal and the retry.
 */
async function refusedOnce() {
  const flowing = flowingClock()
  const env = await startEnv({ now: flowing.now, accessTokenTtl: AT, refreshTokenTtl: RT })
  onTestFinished(() => env.close())
  const { session } = await env.browser({ rotation: 'request', now: flowing.now })
  const log = record(session)
  env.server.fault('refresh', { status: 429, retryAfter: 1 })
  flowing.advance(AT + 1)
  return { env, session, log }
}

describe('429 with Retry-After', () => {
  test('429 with Retry-After: 1 → the retry waits ≥ 1 s, no logout', async () => {
    const { env, session, log } = await refusedOnce()
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(refreshes(env.server)).toEqual([{ status: 429, fault: 'status' }, { status: 201 }])
    // The server saw the retry a Retry-After later (its log is on the clock the test shares
    // with it; 50 ms of slack for a timer that Node starts from the event loop's cached time).
    const [refused, retried] = env.server.log.filter(e => e.route === 'refresh')
    expect(retried!.at - refused!.at).toBeGreaterThanOrEqual(950)
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 1, reusedRefused: 0, api401: 0 })
    expect(log.of('logout')).toEqual([])
  })

  test('429 with Retry-After is honoured and is not a logout', async () => {
    const { env, session, log } = await refusedOnce()
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 2, refreshGranted: 1, api401: 0 })
    // The server saw the retry a Retry-After later (its log is on the clock the test shares
    // with it; 50 ms of slack for a timer that Node starts from the event loop's cached time).
    const [refused, retried] = env.server.log.filter(e => e.route === 'refresh')
    expect([refused!.status, retried!.status]).toEqual([429, 201])
    expect(retried!.at - refused!.at).toBeGreaterThanOrEqual(950)
    expect(log.of('logout')).toEqual([])
    expect(session.state.status).toBe('active')
  })
})

describe('a Retry-After longer than a call should hold the lock', () => {
  // An hour (or a header forged on the way): the call ends at once instead of holding the
  // rotation lock, and every request behind it, for an hour; the session's backoff waits it out.
  test.for(['cookie', 'bearer'] as const)('%s: 503 with Retry-After: 3600 → the waiting request settles, the server sees one attempt, no logout', async transport => {
    const flowing = flowingClock()
    const env = await startEnv({ now: flowing.now, accessTokenTtl: AT, refreshTokenTtl: RT })
    onTestFinished(() => env.close())
    const options = { rotation: 'request', now: flowing.now, queueTimeout: 2_000 } as const
    const session = await env.session(transport, options)
    const log = record(session)
    env.server.fault('refresh', { status: 503, retryAfter: 3600, times: Infinity })
    flowing.advance(AT + 1)
    const settled = await session.fetch(`${env.url}/api/x`).then(
      response => response.status,
      (error: unknown) => (error as { code?: string }).code,
    )
    expect(settled).toBe('ERR_ROTATION')
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(log.of('rotate-error')).toHaveLength(1)
    // Not retried sooner than the server asked (bounded by the policy's ten minutes).
    expect(log.of('rotate-error')[0]).toMatchObject({ retryIn: 600_000 })
    expect(log.of('logout')).toEqual([])
  })
})
