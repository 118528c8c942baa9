/**
 * The refresh budget (issue 26, "Build"): whatever asks for a rotation, the server sees at
 * most `perLifetime` refreshes per AT lifetime and `perMinute` per minute from a session;
 * past it, `rotate-error` says when the next one may go and nothing is sent.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { RefreshBudgetError, isRotorError } from '../../src/index.js'
import { perMinuteCap, DEFAULT_BUDGET, RefreshBudget } from '../../src/core/budget.js'
import { manualClock, record, startEnv, waitFor, type Env } from '../helpers/index.js'
import { settle } from './helpers.js'

const AT = 60_000

describe('refresh budget', () => {
  let env: Env
  afterEach(async () => {
    await env.close()
  })

  test('rotate() in a loop: the server sees perLifetime refreshes per AT lifetime, the rest back off with ERR_REFRESH_BUDGET', async () => {
    const clock = manualClock()
    env = await startEnv({ now: clock.now, accessTokenTtl: AT })
    const { session } = await env.browser({ now: clock.now, rotation: 'request' })
    const log = record(session)
    const results = []
    for (let i = 0; i < 10; i++) results.push(await settle(session.rotate()))
    expect(env.server.stats.refreshCalls).toBe(DEFAULT_BUDGET.perLifetime)
    const refused = results.filter(r => !r.ok).map(r => (r as { error: unknown }).error)
    expect(refused).toHaveLength(10 - DEFAULT_BUDGET.perLifetime)
    for (const error of refused) {
      expect(error).toBeInstanceOf(RefreshBudgetError)
      expect(isRotorError(error) && error.code).toBe('ERR_REFRESH_BUDGET')
    }
    const errors = log.of('rotate-error')
    expect(errors).toHaveLength(10 - DEFAULT_BUDGET.perLifetime)
    for (const e of errors) {
      expect(e['willRetry']).toBe(true)
      expect(e['retryIn']).toBeGreaterThan(0)
      expect(e['retryIn']).toBeLessThanOrEqual(AT)
    }
    // One AT lifetime later the budget has room again: one more goes.
    clock.advance(AT)
    await session.rotate()
    expect(env.server.stats).toMatchObject({ refreshCalls: DEFAULT_BUDGET.perLifetime + 1, reusedRefused: 0 })
    // And requests still go out with the AT held.
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
  })

  test('a wall clock set back holds no past refresh against the next one: the budget counts on the monotonic clock (sim `--worker` seed 214)', async () => {
    // The server keeps its own time; the page's wall clock is set back, its monotonic clock is not.
    const server = manualClock()
    const wall = manualClock()
    let monotonic = 0
    const advance = (ms: number) => (server.advance(ms), wall.advance(ms), (monotonic += ms))
    env = await startEnv({ now: server.now, accessTokenTtl: AT })
    const { session } = await env.browser({ rotation: 'request', platform: { now: wall.now, monotonic: () => monotonic } })
    // A lifetime's budget, spent over a minute, then two quiet lifetimes: the budget is free again.
    for (let i = 0; i < DEFAULT_BUDGET.perLifetime; i++) {
      await session.rotate()
      advance(AT / DEFAULT_BUDGET.perLifetime)
    }
    advance(2 * AT)
    wall.advance(-10 * 60_000)
    // Before: the refreshes of the last 10 minutes, "in the future" on the set-back clock, were
    // counted from now: no refresh for a lifetime, every request held until its queueTimeout.
    await session.rotate()
    expect(env.server.stats).toMatchObject({ refreshCalls: DEFAULT_BUDGET.perLifetime + 1, reusedRefused: 0 })
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
  })

  test('options: refreshBudget is validated and applied', async () => {
    const clock = manualClock()
    env = await startEnv({ now: clock.now, accessTokenTtl: AT })
    await expect(env.browser({ refreshBudget: { perLifetime: 0 } })).rejects.toThrow(/refreshBudget\.perLifetime/)
    await expect(env.browser({ refreshBudget: { perMinute: 1.5 } })).rejects.toThrow(/refreshBudget\.perMinute/)
    const { session } = await env.browser({ now: clock.now, rotation: 'request', refreshBudget: { perLifetime: 1 } })
    await session.rotate()
    await expect(session.rotate()).rejects.toBeInstanceOf(RefreshBudgetError)
    await waitFor(() => env.server.stats.refreshCalls === 1)
  })
})

describe('RefreshBudget (unit)', () => {
  test('per minute for an AT with no credible lifetime, per lifetime otherwise; transient failures count per minute only', () => {
    let t = 0
    const budget = new RefreshBudget(DEFAULT_BUDGET, () => t)
    // An AT that arrived expired: the minute's cap (6) holds, one lifetime window of a minute.
    for (let i = 0; i < 3; i++) {
      expect(budget.wait(-5)).toBe(0)
      budget.spend()()
    }
    // Three failed calls: they do not use the lifetime budget.
    expect(budget.wait(-5)).toBe(0)
    for (let i = 0; i < 3; i++) budget.spend()
    expect(budget.wait(-5)).toBe(60_000)
    expect(budget.wait(10_000)).toBe(10_000)
    t = 60_000
    expect(budget.wait(-5)).toBe(0)
    // 2 s ATs: the minute's cap is raised to 3 per lifetime.
    expect(perMinuteCap(DEFAULT_BUDGET, 2000)).toBe(90)
    expect(perMinuteCap(DEFAULT_BUDGET, 500)).toBe(180)
    expect(perMinuteCap(DEFAULT_BUDGET, 0)).toBe(6)
  })

  test('a clock set back does not free the budget, nor hold it for the length of the jump', () => {
    let t = 1_000_000
    const budget = new RefreshBudget(DEFAULT_BUDGET, () => t)
    for (let i = 0; i < 3; i++) budget.spend()
    t -= 3_600_000
    expect(budget.wait(60_000)).toBe(60_000)
    t += 60_000
    expect(budget.wait(60_000)).toBe(0)
  })
})
