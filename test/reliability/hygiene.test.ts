/**
 * Issue 26.10: no token in error text, a size cap on answers, finite lifetimes. Before, a
 * form-encoded refresh answer was echoed into `rotate-error`, an AT containing CR/LF put the
 * whole AT into a TypeError from Headers, refresh answers were read whole (150 MB), and
 * `expiresIn: 1e306` made the deadline `Infinity`.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createSession, MalformedGrantError } from '../../src/index.js'
import { MAX_ANSWER_BYTES, MAX_LIFETIME_MS } from '../../src/core/grant.js'
import { bearerLogin, bearerOptions, record, startEnv, waitFor, type Env } from '../helpers/index.js'
import { settle } from './helpers.js'

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000 })
})
afterEach(async () => {
  await env.close()
})

const SECRET = 'eyJTOKENTEXTsecret0123456789'

describe('26.10: tokens never in error text', () => {
  test('a form-encoded refresh answer: rotate-error says it is not JSON, without the tokens', async () => {
    const session = await env.bearer({ rotation: 'request', refreshRetries: 0 })
    const log = record(session)
    env.server.fault('refresh', {
      status: 200,
      body: `access_token=${SECRET}&refresh_token=${SECRET}R&expires_in=60`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    await settle(session.rotate())
    const errors = log.of('rotate-error')
    expect(errors.length).toBeGreaterThan(0)
    const error = errors[0]!['error'] as Error
    expect(error).toBeInstanceOf(MalformedGrantError)
    expect(error.message).toMatch(/not JSON/)
    expect(JSON.stringify(errors) + error.message + String(error.stack)).not.toContain(SECRET)
  })

  test.each([
    ['CR/LF', `${SECRET}\r\nX-Injected: 1`],
    ['a space', `${SECRET} more`],
    ['a control character', `${SECRET}\u0000`],
  ])('an AT containing %s is refused at parsing with a coded error that does not echo it', async (_name, accessToken) => {
    const session = createSession({ ...bearerOptions(env.url), crossTab: false })
    env.sessions.push(session)
    const result = await settle(session.start({ accessToken, refreshToken: 'rt', expiresIn: 60 }))
    expect(result.ok).toBe(false)
    const error = (result as { error: MalformedGrantError }).error
    expect(error).toBeInstanceOf(MalformedGrantError)
    expect(error.code).toBe('ERR_MALFORMED_GRANT')
    expect(error.message).not.toContain(SECRET)
    expect(session.state.status).toBe('signed-out')
  })

  test('an AT with CR/LF from a refresh: the rotation fails with MalformedGrantError, no Headers TypeError carrying it', async () => {
    const login = (await (await bearerLogin(env.url)).json()) as { accessToken: string; refreshToken: string }
    const session = createSession({
      ...bearerOptions(env.url),
      crossTab: false,
      refresh: async () => ({ accessToken: `${SECRET}\r\nX: 1`, refreshToken: 'next', expiresIn: 60 }),
    })
    env.sessions.push(session)
    const log = record(session)
    await session.start({ accessToken: login.accessToken, refreshToken: login.refreshToken, expiresIn: 60 })
    await settle(session.rotate())
    const texts = log.events.map(e => JSON.stringify(e.payload) + String((e.payload as { error?: Error }).error?.message))
    expect(texts.join('\n')).not.toContain(SECRET)
    expect(log.of('rotate-error')[0]!['error']).toBeInstanceOf(MalformedGrantError)
  })
})

describe('26.10: size and lifetime bounds', () => {
  test(`a refresh answer larger than ${MAX_ANSWER_BYTES} bytes is abandoned: MalformedGrantError, the session goes on`, async () => {
    const session = await env.bearer({ rotation: 'request', refreshRetries: 0 })
    const log = record(session)
    env.server.fault('refresh', { status: 200, body: JSON.stringify({ padding: 'x'.repeat(4 * MAX_ANSWER_BYTES) }) })
    await settle(session.rotate())
    const error = log.of('rotate-error')[0]!['error'] as Error
    expect(error.message).toMatch(new RegExp(`larger than ${MAX_ANSWER_BYTES} bytes`))
  })

  test('expiresIn: 1e306 gives a finite deadline, at most ten years out', async () => {
    const session = createSession({ ...bearerOptions(env.url), crossTab: false })
    env.sessions.push(session)
    const before = Date.now()
    await session.start({ accessToken: 'at', refreshToken: 'rt', expiresIn: 1e306, refreshExpiresIn: 1e306 })
    await waitFor(() => session.state.status === 'active')
    expect(Number.isFinite(session.state.accessExpiresAt)).toBe(true)
    expect(session.state.accessExpiresAt!).toBeLessThanOrEqual(Date.now() + MAX_LIFETIME_MS)
    expect(session.state.refreshExpiresAt!).toBeGreaterThan(before)
    expect(Number.isFinite(session.state.refreshExpiresAt)).toBe(true)
  })
})
