import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { record, startEnv, waitFor, type Env } from '../helpers/index.js'

const AT = 60_000
const RT = 3_600_000

describe('timer mode (R), cookie transport, over real HTTP with fake timers', () => {
  let env: Env
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: RT })
  })
  afterEach(async () => {
    vi.useRealTimers()
    await env.close()
  })

  test('an idle session stays alive: one rotation per rotateAt × AT lifetime', async () => {
    const { session } = await env.browser()
    const log = record(session)
    for (let i = 1; i <= 10; i++) {
      await vi.advanceTimersByTimeAsync(AT * 0.8)
      await waitFor(() => env.server.stats.refreshGranted === i && session.state.generation === i + 1)
    }
    expect(env.server.stats).toMatchObject({ refreshCalls: 10, reusedRefused: 0 })
    expect(log.of('rotate').map(e => e.origin)).toEqual(Array(10).fill('local'))
    // 8 minutes later (8 AT lifetimes) the session is still good without a single 401.
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.api401).toBe(0)
  })

  test('requests during a rotation wait for it and are sent with the new tokens', async () => {
    const { session } = await env.browser()
    env.server.setLatency(50)
    await vi.advanceTimersByTimeAsync(AT * 0.8)
    expect(session.state.rotating).toBe(true)
    const pending = session.fetch(`${env.url}/api/during`)
    await vi.advanceTimersByTimeAsync(100)
    await waitFor(() => env.server.stats.api200 === 1)
    await vi.advanceTimersByTimeAsync(100)
    expect((await pending).status).toBe(200)
    const order = env.server.log.map(e => e.route)
    expect(order.indexOf('refresh')).toBeLessThan(order.indexOf('api'))
  })

  test('with no rotation in flight and a valid AT, requests go straight out', async () => {
    const { session } = await env.browser()
    await vi.advanceTimersByTimeAsync(AT * 0.5)
    expect((await session.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('after sleep (time jumps 3× the AT lifetime) the overdue rotation runs before the next request', async () => {
    const { session } = await env.browser()
    // The machine sleeps: the clock jumps but no timer has fired yet.
    vi.setSystemTime(Date.now() + 3 * AT)
    expect((await session.fetch(`${env.url}/api/after-sleep`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, api401: 0, api200: 1 })
  })

  test('a wake-up event runs an overdue rotation at once', async () => {
    const target = new EventTarget()
    const g = globalThis as unknown as Record<string, unknown>
    g['addEventListener'] = target.addEventListener.bind(target)
    g['removeEventListener'] = target.removeEventListener.bind(target)
    try {
      const { session } = await env.browser()
      vi.setSystemTime(Date.now() + 2 * AT)
      target.dispatchEvent(new Event('online'))
      await waitFor(() => session.state.generation === 2)
      expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshGranted: 1 })
    } finally {
      delete g['addEventListener']
      delete g['removeEventListener']
    }
  })

  test('a transient failure of the timer rotation is retried with backoff, never a logout', async () => {
    const { session } = await env.browser({ refreshRetries: 0 })
    const log = record(session)
    env.server.fault('refresh', { status: 503, times: 3 })
    await vi.advanceTimersByTimeAsync(AT * 0.8)
    for (let i = 0; i < 12 && env.server.stats.refreshGranted === 0; i++) {
      await waitFor(() => !session.state.rotating)
      await vi.advanceTimersByTimeAsync(2000)
    }
    await waitFor(() => env.server.stats.refreshGranted === 1)
    expect(env.server.stats.refreshCalls).toBe(4)
    expect(log.of('rotate-error').map(e => e.willRetry)).toEqual([true, true, true])
    expect(log.of('logout')).toEqual([])
  })

  test('delays beyond setTimeout’s limit are clamped, not fired at once', async () => {
    await env.close()
    env = await startEnv({ accessTokenTtl: 60 * 24 * 3600_000, refreshTokenTtl: 90 * 24 * 3600_000 })
    const { session } = await env.browser()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(env.server.stats.refreshCalls).toBe(0)
    // Exactly to the rotation point: advancing further in fake time would also fire the
    // refresh call's own timeout while its real HTTP round trip is still under way.
    await vi.advanceTimersByTimeAsync(60 * 24 * 3600_000 * 0.8 - 60_000)
    await waitFor(() => session.state.generation === 2)
    expect(env.server.stats.refreshCalls).toBe(1)
  })

  test('both tokens expire while nobody rotated (rotation off by failure): logout "expired" by the timer', async () => {
    const { session } = await env.browser()
    const log = record(session)
    env.server.fault('refresh', { drop: true, times: Infinity })
    await vi.advanceTimersByTimeAsync(RT + 60_000)
    await waitFor(() => session.state.status === 'signed-out')
    expect(log.of('logout')).toEqual([{ reason: 'expired', origin: 'local' }])
    expect(env.server.stats.refreshGranted).toBe(0)
  })
})
