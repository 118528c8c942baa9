/** A request waiting for a rotation that cannot finish (refresh hanging, failing, or over budget) is let go after queueTimeout with a RotationError; the session stays active. */
import { describe, expect, onTestFinished } from 'vitest'
import { RotationError } from '../../src/index.js'
import { DEFAULT_BUDGET } from '../../src/core/budget.js'
import { flowingClock, record, startEnv, waitFor } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'
import { settle } from '../reliability/helpers.js'

const AT = 60_000
const RT = 3_600_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: RT })

describe('queueTimeout: waiting requests get RotationError', () => {
  test('refresh hangs every time, queueTimeout 800 ms: callers get RotationError, the session stays active', async () => {
    const flowing = flowingClock()
    const env = await startEnv({ now: flowing.now, accessTokenTtl: AT, refreshTokenTtl: RT })
    onTestFinished(() => env.close())
    const { session } = await env.browser({ rotation: 'request', now: flowing.now, refreshTimeout: 300, queueTimeout: 800 })
    const log = record(session)
    env.server.fault('refresh', { hang: true, times: Infinity })
    flowing.advance(AT + 1)
    const started = flowing.now()
    const results = await Promise.all([1, 2].map(i => settle(session.fetch(`${env.url}/api/${i}`))))
    const waited = flowing.now() - started
    // What the server had seen when the callers were let go: the first attempt (timed out
    // at 300 ms), and at most the start of a second. Not a wall-clock bound: the session
    // paces its attempts on its own clock, so a busy machine does not change this count,
    // while a queueTimeout not applied would let further attempts through (or none settle).
    const attemptsWhenRejected = env.server.stats.refreshCalls
    for (const r of results) {
      expect(r.ok).toBe(false)
      expect((r as { error: unknown }).error).toBeInstanceOf(RotationError)
      expect((r as { error: RotationError }).error.cause).toMatchObject({ name: 'TimeoutError' })
    }
    expect(waited).toBeGreaterThanOrEqual(750) // not let go before queueTimeout (a lower bound: noise only adds)
    expect(attemptsWhenRejected).toBeGreaterThanOrEqual(1)
    expect(attemptsWhenRejected).toBeLessThanOrEqual(2)
    expect(log.of('rotate-error')[0]).toMatchObject({ willRetry: true, error: { name: 'TimeoutError' } })
    expect(env.server.stats).toMatchObject({ refreshGranted: 0, reusedRefused: 0, api200: 0, api401: 0 })
    expect(log.of('logout')).toEqual([])
    expect(session.state.status).toBe('active')
    env.server.clearFaults()
  })

  test('refresh failing transiently past queueTimeout rejects waiting requests with RotationError', async ({ env }) => {
    const { session } = await env.browser({ rotation: 'request', now: () => Date.now(), queueTimeout: 1500, refreshRetries: 0 })
    env.server.fault('refresh', { status: 503, times: Infinity })
    await session.rotate().catch(() => undefined)
    // AT still valid by the real clock, so force the waiting path with a revoked AT.
    env.server.revokeAccessTokens()
    const error = await session.fetch(`${env.url}/api/x`).catch(e => e)
    expect(error).toBeInstanceOf(RotationError)
    expect(error.code).toBe('ERR_ROTATION')
    expect(session.state.status).toBe('active')
  })

  test('a request waiting while the budget is spent settles by queueTimeout with RotationError', async ({ env, clock }) => {
    const { session } = await env.browser({ now: clock.now, rotation: 'request', queueTimeout: 300 })
    for (let i = 0; i < DEFAULT_BUDGET.perLifetime; i++) await session.rotate()
    const log = record(session)
    const waiting = settle(session.authFailed(session.state.generation))
    await waitFor(() => log.of('rotate-error').length === 1)
    // queueTimeout passes on the session's clock.
    clock.advance(400)
    const waited = await waiting
    expect(waited.ok).toBe(false)
    expect((waited as { error: Error }).error.name).toBe('RotationError')
    expect(((waited as { error: Error }).error.cause as Error).name).toBe('RefreshBudgetError')
    expect(env.server.stats.refreshCalls).toBe(DEFAULT_BUDGET.perLifetime)
  })
})
