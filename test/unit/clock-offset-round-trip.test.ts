/** The clock offset read off a refresh answer counts only what its whole round trip proves: time it waited to go out is no skew. */
import { describe, expect, test } from 'vitest'
import { clockOffset, toTokens } from '../../src/core/grant.js'

const SENT = Date.UTC(2030, 0, 1, 12, 0, 0, 0)
const httpDate = (ms: number) => new Date(ms).toUTCString()
/** A JWT-shaped token with these claims (the session never checks its signature). */
const jwt = (claims: object) => ['{}', JSON.stringify(claims), 'sig'].map(part => Buffer.from(part).toString('base64url')).join('.')

describe('the clock offset over a round trip', () => {
  test('a request queued 2.5 s before the server stamped its Date: no skew (it was read as +3 s)', () => {
    const stamped = SENT + 2_500
    expect(clockOffset(httpDate(stamped), SENT)).toBeGreaterThanOrEqual(2_000)
    expect(clockOffset(httpDate(stamped), SENT, stamped + 10)).toBe(0)
  })

  test('a server 2 h ahead or behind is still skew, by the least the round trip allows', () => {
    const arrived = SENT + 3_000
    const ahead = clockOffset(httpDate(SENT + 1_000 + 7_200_000), SENT, arrived)
    expect(ahead).toBeGreaterThan(7_200_000 - 2_500)
    expect(ahead).toBeLessThan(7_200_000)
    const behind = clockOffset(httpDate(SENT + 1_000 - 7_200_000), SENT, arrived)
    expect(behind).toBeLessThan(-7_200_000 + 2_000)
    expect(behind).toBeGreaterThan(-7_200_000)
  })

  test("an FOLIO expiry stamped after a 2.5 s queue keeps the server's deadline", () => {
    const stamped = SENT + 2_500
    const grant = { accessTokenExpiration: new Date(stamped + 2_000).toISOString() }
    const tokens = toTokens(grant, SENT, clockOffset(httpDate(stamped), SENT, stamped + 10))
    expect(tokens.accessExpiresAt).toBe(stamped + 2_000)
    expect(tokens.skew).toBeUndefined()
  })

  test("without Date, a JWT's iat after a 2.5 s queue is no skew either", () => {
    const iat = Math.floor((SENT + 2_500) / 1000)
    const grant = { accessToken: jwt({ iat, exp: iat + 2 }), refreshToken: jwt({ iat, exp: iat + 60 }) }
    expect(toTokens(grant, SENT).skew).toMatchObject({ source: 'iat' })
    expect(toTokens(grant, SENT, undefined, SENT + 2_600).skew).toBeUndefined()
  })
})
