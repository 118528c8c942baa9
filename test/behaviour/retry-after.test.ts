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
