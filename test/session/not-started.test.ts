/**
 * Issue 25 item 9: before start(), nothing has "ended". A session that has not started yet is
 * waited for (ready(), accessToken(), authFailed()), bounded by the caller's signal and by
 * dispose(); a session that was logged out is still over, at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createSession, isRotorError } from '../../src/index.js'
import { bearerLogin, bearerOptions, startEnv, type Env } from '../helpers/session-env.js'

let env: Env
beforeAll(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 120_000 })
})
afterAll(() => env.close())

const fresh = () => {
  const session = createSession({ ...bearerOptions(env.url), crossTab: false })
  env.sessions.push(session)
  return session
}
/** Settles to what a promise came to, or 'pending' if it has not within a few turns of the event loop. */
const state = (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      value => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise(resolve => setTimeout(() => resolve('pending'), 50)),
  ])

describe('before start(), nothing has ended', () => {
  test('ready() and accessToken() wait for start(), then resolve with the login AT (no refresh)', async () => {
    const session = fresh()
    const ready = session.ready()
    const token = session.accessToken()
    expect(await state(ready)).toBe('pending')
    expect(await state(token)).toBe('pending')
    await session.start(await bearerLogin(env.url))
    await ready
    expect(await token).toMatch(/^eyJ/)
    // The AT came from the login: nothing was refreshed to serve the waiters.
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test("the caller's signal bounds the wait: it rejects with the signal's reason", async () => {
    const session = fresh()
    const controller = new AbortController()
    const ready = session.ready({ signal: controller.signal })
    expect(await state(ready)).toBe('pending')
    controller.abort(new Error('socket closed'))
    await expect(ready).rejects.toThrow('socket closed')
    await expect(session.ready({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already')
  })

  test('dispose() ends the wait with ERR_SESSION_EXPIRED (reason disposed)', async () => {
    const session = fresh()
    const ready = session.ready()
    const token = session.accessToken()
    session.dispose()
    for (const waiting of [ready, token]) {
      const error = await waiting.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isRotorError(error)).toBe(true)
      expect(error).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'disposed' })
    }
  })

  test('a session that was logged out has ended: ready() rejects at once', async () => {
    const session = fresh()
    await session.start(await bearerLogin(env.url))
    await session.logout()
    const error = await state(session.ready())
    expect(error).toMatchObject({ error: { code: 'ERR_SESSION_EXPIRED', reason: 'user' } })
  })

  test('a login after the end starts it again: waiting works as before start()', async () => {
    const session = fresh()
    await session.start(await bearerLogin(env.url))
    await session.logout()
    await session.start(await bearerLogin(env.url))
    await expect(session.ready()).resolves.toBeUndefined()
  })
})
