/** An aborted request leaves the queue at once with its signal's reason, and an already-aborted one starts no refresh. */
import { describe, expect, vi } from 'vitest'
import { RotationError, type Session, type SessionOptions } from '../../src/index.js'
import { serverTest, type ServerFixtures } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT, refreshTokenTtl: 3_600_000 })

describe('aborted requests', () => {
  // Before: an aborted request kept waiting until the rotation ended (or queueTimeout), and
  // an already-aborted one still started a refresh.

  /** A cookie session in request mode whose AT has just expired (the test moves the clock). */
  async function expiredSession({ env, clock }: ServerFixtures, options: Partial<SessionOptions> = {}): Promise<Session> {
    const { session } = await env.browser({ rotation: 'request', now: clock.now, ...options })
    clock.advance(AT + 1)
    return session
  }

  test('abort while waiting behind a hung refresh: rejects at once with the signal reason and leaves the queue', async ({ env, clock }) => {
    const session = await expiredSession({ env, clock }, { refreshTimeout: 60_000 })
    env.server.fault('refresh', { hang: true })
    const controller = new AbortController()
    const waiting = session.fetch(`${env.url}/api/x`, { signal: controller.signal })
    await vi.waitFor(() => expect(env.server.stats.refreshCalls).toBe(1), { timeout: 10_000 })
    const reason = new Error('user navigated away')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(env.server.stats.api200 + env.server.stats.api401).toBe(0)
    env.server.releaseHung?.()
  })

  test('an already-aborted signal with an expired AT: rejects at once and starts no refresh', async ({ env, clock }) => {
    const session = await expiredSession({ env, clock })
    const signal = AbortSignal.abort(new Error('gone'))
    await expect(session.fetch(`${env.url}/api/x`, { signal })).rejects.toThrow('gone')
    await expect(session.fetch(new Request(`${env.url}/api/y`, { signal }))).rejects.toThrow('gone')
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('AbortSignal.timeout() while waiting: a TimeoutError, not a RotationError after queueTimeout', async ({ env, clock }) => {
    const session = await expiredSession({ env, clock }, { refreshTimeout: 60_000 })
    env.server.fault('refresh', { hang: true })
    const error = await session.fetch(`${env.url}/api/x`, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(RotationError)
    expect((error as Error).name).toBe('TimeoutError')
    env.server.releaseHung?.()
  })
})
