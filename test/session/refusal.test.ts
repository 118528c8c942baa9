/**
 * Issue 25 item 7: a refused refresh says why. The server's status and its own words reach the
 * error, `rotate-error`, the `logout` event and the waiting requests' SessionExpiredError, and
 * no token the server echoes in its refusal ever does.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { createSession, isRotorError, type Session } from '../../src/index.js'
import { bearerLogin, bearerOptions, record, startEnv, type Env } from '../helpers/session-env.js'
import { excerpt } from '../../src/utils/redact.js'

let env: Env
beforeEach(async () => {
  env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 120_000 })
})
afterEach(() => env.close())

/** Every text a user could see or log about the failure. */
async function refuse(session: Session, log: ReturnType<typeof record>) {
  const waiting = session.rotate().then(
    () => undefined,
    (error: unknown) => error,
  )
  const rotated = await waiting
  const request = await session.fetch(`${env.url}/api/x`).then(
    () => undefined,
    (error: unknown) => error,
  )
  const finalError = log.of('rotate-error').find(e => e.willRetry === false)?.error as Error & { status?: number; body?: string; code?: string }
  const logout = log.of('logout')[0] as { reason: string; error?: Error & { body?: string } }
  return { rotated, request, finalError, logout }
}

describe('a refused refresh says why', () => {
  test("FOLIO without its tenant header: HTTP 400 and the server's words on the error and the events", async () => {
    const { session } = await env.browser({ headers: {} })
    const log = record(session)
    const { finalError, logout } = await refuse(session, log)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, refreshRefused: 1 })
    expect(finalError).toMatchObject({ code: 'ERR_REFRESH_REFUSED', status: 400, body: 'Missing X-Okapi-Tenant header' })
    expect(finalError.message).toContain('HTTP 400: Missing X-Okapi-Tenant header')
    expect(logout).toMatchObject({ reason: 'rejected' })
    expect(logout.error).toBe(finalError)
    // Waiting for a session that ended says so, with the same words.
    const late = await session.ready().then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(isRotorError(late)).toBe(true)
    expect((late as Error).message).toContain('Missing X-Okapi-Tenant header')
  })

  test('a request waiting for the refused refresh rejects with SessionExpiredError naming the status and the words', async () => {
    const { session } = await env.browser({ headers: {} })
    const log = record(session)
    // A request sent while a rotation is in flight waits for it; the rotation is refused.
    const rotation = session.rotate().catch(() => undefined)
    const error = (await session.fetch(`${env.url}/api/x`).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code?: string; reason?: string; cause?: unknown }
    await rotation
    expect(error).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'rejected' })
    expect(error.message).toContain('HTTP 400: Missing X-Okapi-Tenant header')
    expect((error.cause as { status?: number }).status).toBe(400)
    expect(log.of('logout')).toMatchObject([{ reason: 'rejected' }])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, api200: 0 })
  })

  test('tokens echoed in a refusal body never reach an error, an event or a log line', async () => {
    const answer = (await (await bearerLogin(env.url)).json()) as Record<string, string>
    const at = answer['accessToken']!
    const rt = answer['refreshToken']!
    expect(rt.length).toBeGreaterThan(30)
    const opaque = 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo'
    const bodies = [
      JSON.stringify({ error: 'invalid_grant', error_description: `refresh token ${rt} was already used`, refresh_token: rt, access_token: at }),
      `refresh_token=${rt}&access_token=${at}&error=invalid_grant`,
      `token reuse detected for ${opaque} (bearer ${at})`,
      `{"error":"invalid_grant","refreshToken":"${opaque}"}`,
    ]
    for (const body of bodies) {
      const session = createSession({ ...bearerOptions(env.url), crossTab: false })
      env.sessions.push(session)
      const log = record(session)
      const lines: string[] = []
      session.on('rotate-error', e => lines.push(String(e.error), JSON.stringify(e)))
      session.on('logout', e => lines.push(String(e.error), JSON.stringify(e), (e.error as Error | undefined)?.stack ?? ''))
      await session.start(answer)
      env.server.fault('refresh', { status: 401, body, headers: { 'content-type': body.startsWith('{') ? 'application/json' : 'text/plain' } })
      const { rotated, finalError, logout } = await refuse(session, log)
      expect(finalError, body).toMatchObject({ code: 'ERR_REFRESH_REFUSED', status: 401 })
      expect(logout.error).toBe(finalError)
      const texts = [finalError.message, finalError.body ?? '', String(rotated), ...lines, JSON.stringify(log.events)]
      for (const text of texts) {
        for (const secret of [rt, at, opaque, rt.slice(0, 40), at.slice(-40)]) expect(text, `${body} → ${text}`).not.toContain(secret)
      }
      // What is not a token is kept.
      if (body.includes('invalid_grant')) expect(finalError.body).toContain('invalid_grant')
      session.dispose()
    }
    expect(env.server.stats.refreshCalls).toBe(bodies.length)
  })

  test('the excerpt is short, flat, and keeps plain words', () => {
    expect(excerpt('Missing X-Okapi-Tenant header')).toBe('Missing X-Okapi-Tenant header')
    expect(excerpt(`${'a lot of words '.repeat(40)}`).length).toBeLessThanOrEqual(200)
    expect(excerpt('{"error":"invalid_grant","error_description":"Token is not active"}')).toBe('invalid_grant: Token is not active')
    expect(excerpt('line one\n\n   line two')).toBe('line one line two')
    expect(excerpt('invalid-refresh-token-reuse-detected')).toBe('invalid-refresh-token-reuse-detected')
  })
})
