/**
 * Issue 25 item 8: every error a user can catch is recognised by isRotorError() and has a
 * stable `code`. One row per path, each triggered for real (on the reference server where a
 * server is involved), asserting the code and what the server saw.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createSession, isRotorError, RotorError, type Session } from '../../src/index.js'
import { fromStripesConfig, loginToFolio } from '../../src/folio/index.js'
import { bearerLogin, bearerOptions, startEnv, type Env } from '../helpers/session-env.js'

let env: Env
beforeAll(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 120_000 })
})
afterAll(() => env.close())

/** What a call came to: the error it threw or rejected with (a call that succeeds fails the row). */
async function caught(call: () => unknown): Promise<unknown> {
  try {
    await call()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to fail')
}

async function disposed(): Promise<Session> {
  const { session } = await env.browser()
  session.dispose()
  return session
}

/** A cookie session whose refresh endpoint answers as the fault says (no retries: one call). */
async function refreshAnswering(fault: Parameters<Env['server']['fault']>[1]): Promise<Session> {
  const { session } = await env.browser({ refreshRetries: 0 })
  env.server.fault('refresh', fault)
  return session
}

type Row = [string, () => Promise<unknown>, string, { typeError?: boolean; refreshCalls?: number }?]

const ROWS: Row[] = [
  ['start() after dispose()', async () => (await disposed()).start({ accessTokenExpiration: Date.now() + 60_000 }), 'ERR_SESSION_EXPIRED'],
  ['rotate() after dispose()', async () => (await disposed()).rotate(), 'ERR_SESSION_EXPIRED'],
  ['logout() after dispose()', async () => (await disposed()).logout(), 'ERR_SESSION_EXPIRED'],
  ['install() after dispose()', async () => (await disposed()).install({ fetch }), 'ERR_SESSION_EXPIRED'],
  ['ready() after dispose()', async () => (await disposed()).ready(), 'ERR_SESSION_EXPIRED'],
  [
    'a refresh endpoint answering 404',
    async () => (await refreshAnswering({ status: 404, body: 'Not Found', headers: { 'content-type': 'text/plain' } })).rotate(),
    'ERR_REFRESH_ANSWER',
    { refreshCalls: 1 },
  ],
  [
    'a refresh endpoint answering an HTML page',
    async () => (await refreshAnswering({ status: 200, body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } })).rotate(),
    'ERR_REFRESH_ANSWER',
    { refreshCalls: 1 },
  ],
  [
    'a refresh endpoint redirecting',
    async () => (await refreshAnswering({ status: 307, body: '', headers: { location: 'https://elsewhere.example/' } })).rotate(),
    'ERR_REFRESH_ANSWER',
    { refreshCalls: 1 },
  ],
  [
    'a refresh endpoint answering JSON that is no grant',
    async () => (await refreshAnswering({ status: 201, body: '{"hello":1}' })).rotate(),
    'ERR_MALFORMED_GRANT',
    { refreshCalls: 1 },
  ],
  [
    'a refused refresh token',
    async () => (await refreshAnswering({ status: 401, body: 'Token reused', headers: { 'content-type': 'text/plain' } })).rotate(),
    'ERR_SESSION_EXPIRED',
    { refreshCalls: 1 },
  ],
  [
    'a failed login handed to start()',
    async () => {
      const session = createSession({ scope: env.url, crossTab: false })
      env.sessions.push(session)
      const login = await fetch(`${env.url}/authn/login-with-expiry`, {
        method: 'POST',
        headers: { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' },
        body: '{"username":"diku_admin","password":"wrong"}',
      })
      return session.start(login)
    },
    'ERR_LOGIN_FAILED',
    { typeError: true },
  ],
  [
    'a failed FOLIO login (loginToFolio)',
    async () => {
      const session = createSession({ ...fromStripesConfig({ okapi: { url: env.url, tenant: 'diku' } }), crossTab: false })
      env.sessions.push(session)
      return loginToFolio(session, { okapiUrl: env.url, tenant: 'diku', username: 'diku_admin', password: 'wrong' })
    },
    'ERR_LOGIN_FAILED',
    { typeError: true },
  ],
  ['start() with something that is no grant', async () => createSession({ scope: env.url, crossTab: false }).start('token' as never), 'ERR_BAD_GRANT', { typeError: true }],
  [
    'start() of a bearer session without the AT',
    async () => createSession({ ...bearerOptions(env.url), crossTab: false }).start({ accessTokenExpiration: Date.now() + 60_000 }),
    'ERR_BAD_GRANT',
    { typeError: true },
  ],
  [
    'start() with both tokens already expired',
    async () => createSession({ scope: env.url, crossTab: false }).start({ accessTokenExpiration: 1, refreshTokenExpiration: 2 }),
    'ERR_BAD_GRANT',
    { typeError: true },
  ],
  ['accessToken() on the cookie transport', async () => (await env.browser()).session.accessToken(), 'ERR_USAGE', { typeError: true }],
  ['authFailed() without a generation', async () => (await env.bearer()).authFailed('x' as never), 'ERR_USAGE', { typeError: true }],
  ['install() with something that is not the XHR facade', async () => (await env.bearer()).install({ fetch }, { xhr: {} as never }), 'ERR_USAGE', { typeError: true }],
  ['on() an unknown event', async () => (await env.bearer()).on('rotated' as never, () => undefined), 'ERR_USAGE', { typeError: true }],
  ['on() with a listener that is not a function', async () => (await env.bearer()).on('logout', 'log' as never), 'ERR_USAGE', { typeError: true }],
  ['createSession() with a bad option', async () => createSession({ scope: env.url, queueTimeout: -1 }), 'ERR_INVALID_OPTION', { typeError: true }],
  ['createSession() with a misspelt option', async () => createSession({ scope: env.url, rotaton: 'timer' } as never), 'ERR_INVALID_OPTION', { typeError: true }],
  ['createSession() with a bad scope', async () => createSession({ scope: 'http://[bad' }), 'ERR_INVALID_OPTION', { typeError: true }],
  [
    'fromStripesConfig() with a bad duration',
    async () => fromStripesConfig({ okapi: { url: env.url, tenant: 'diku' }, config: { rtr: { idleSessionTTL: 'soon' } } }),
    'ERR_INVALID_OPTION',
    { typeError: true },
  ],
]

describe('every error a user can catch has a code', () => {
  test.each(ROWS.map(([name, call, code, more]) => [name, code, call, more] as const))('%s → %s', async (_name, code, call, expectations = {}) => {
    const before = env.server.stats.refreshCalls
    const error = (await caught(call)) as Error & { code?: string }
    expect(isRotorError(error), `${error?.name}: ${error?.message}`).toBe(true)
    expect(error.code).toBe(code)
    expect(error.message).toMatch(/^rotor-auth/)
    if (expectations.typeError) expect(error).toBeInstanceOf(TypeError)
    else expect(error).toBeInstanceOf(RotorError)
    if (expectations.refreshCalls !== undefined) expect(env.server.stats.refreshCalls - before).toBe(expectations.refreshCalls)
  })

  test('a request still waiting at dispose() rejects with ERR_SESSION_EXPIRED (reason disposed), and none reached the server', async () => {
    const { session } = await env.browser()
    const before = env.server.stats.api200 + env.server.stats.api401
    const rotation = session.rotate().catch(() => undefined)
    const waiting = caught(() => session.fetch(`${env.url}/api/x`))
    session.dispose()
    const error = (await waiting) as { code?: string; reason?: string }
    expect(isRotorError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'disposed' })
    await rotation
    expect(env.server.stats.api200 + env.server.stats.api401).toBe(before)
  })

  test('the bearer login used by these rows works (a sanity check of the harness)', async () => {
    expect((await bearerLogin(env.url)).status).toBe(201)
  })
})
