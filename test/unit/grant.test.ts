/** Unit tests for src/core/grant.ts: grant shapes, local deadlines and clock-skew correction. */
import { SignJWT } from 'jose'
import { describe, expect, test } from 'vitest'
import { clockOffset, MalformedGrantError, readCapped, toGrant, tokensFrom, tokensFromResponse, toTokens } from '../../src/core/grant.js'

const secret = new TextEncoder().encode('rotor-auth unit test secret, 32+ bytes long')
/** A local receipt time with a sub-second part, so the Date header's truncation shows. */
const T = Date.UTC(2030, 0, 1, 12, 0, 0, 250)
const HOUR2 = 7_200_000

async function jwt(claims: { iat?: number; exp?: number }): Promise<string> {
  const builder = new SignJWT({ sub: 'diku_admin' }).setProtectedHeader({ alg: 'HS256' })
  if (claims.iat !== undefined) builder.setIssuedAt(claims.iat)
  if (claims.exp !== undefined) builder.setExpirationTime(claims.exp)
  return builder.sign(secret)
}

const iso = (ms: number) => new Date(ms).toISOString()
const httpDate = (ms: number) => new Date(ms).toUTCString()

describe('toGrant', () => {
  test('reads the FOLIO shape at the top level', () => {
    const body = { accessTokenExpiration: '2030-01-01T12:10:00Z', refreshTokenExpiration: '2030-01-02T12:00:00Z' }
    expect(toGrant(body)).toEqual(body)
  })

  test('reads the FOLIO shape nested under tokenExpiration', () => {
    const body = {
      tokenExpiration: { accessTokenExpiration: '2030-01-01T12:10:00Z', refreshTokenExpiration: '2030-01-02T12:00:00Z' },
      extra: 'ignored',
    }
    expect(toGrant(body)).toEqual({
      accessTokenExpiration: '2030-01-01T12:10:00Z',
      refreshTokenExpiration: '2030-01-02T12:00:00Z',
    })
  })

  test('the top-level FOLIO fields win over nested ones', () => {
    const grant = toGrant({
      accessTokenExpiration: '2030-01-01T12:10:00Z',
      tokenExpiration: { accessTokenExpiration: '1999-01-01T00:00:00Z', refreshTokenExpiration: '2030-01-02T12:00:00Z' },
    })
    expect(grant.accessTokenExpiration).toBe('2030-01-01T12:10:00Z')
    expect(grant.refreshTokenExpiration).toBe('2030-01-02T12:00:00Z')
  })

  test('reads the OAuth2 shape', () => {
    const grant = toGrant({
      access_token: 'at',
      refresh_token: 'rt',
      expires_in: 300,
      refresh_expires_in: 1800,
      token_type: 'Bearer',
      scope: 'openid',
    })
    expect(grant).toEqual({ accessToken: 'at', refreshToken: 'rt', expiresIn: 300, refreshExpiresIn: 1800 })
  })

  test('reads the camelCase shape', () => {
    const body = {
      accessToken: 'at',
      refreshToken: 'rt',
      expiresIn: 60,
      refreshExpiresIn: 600,
      accessTokenExpiration: 1_900_000_000_000,
    }
    expect(toGrant(body)).toEqual(body)
  })

  test('camelCase names win over snake_case ones', () => {
    expect(toGrant({ accessToken: 'camel', access_token: 'snake', expiresIn: 1, expires_in: 2 })).toEqual({
      accessToken: 'camel',
      expiresIn: 1,
    })
  })

  test('keeps Date expirations and drops fields of the wrong type', () => {
    const at = new Date(T)
    expect(toGrant({ accessTokenExpiration: at, accessToken: '', refreshToken: 5, expires_in: '300', refresh_expires_in: Number.NaN })).toEqual({
      accessTokenExpiration: at,
    })
  })

  test('an empty object is an empty grant', () => {
    expect(toGrant({})).toEqual({})
  })

  test.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'token'],
    ['a number', 42],
    ['an array', [{ access_token: 'at' }]],
  ])('%s throws MalformedGrantError', (_why, body) => {
    expect(() => toGrant(body)).toThrow(MalformedGrantError)
  })

  test('MalformedGrantError carries a stable code and name', () => {
    try {
      toGrant(null)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(Error)
      expect(error).toMatchObject({ code: 'ERR_MALFORMED_GRANT', name: 'MalformedGrantError' })
    }
  })
})

describe('toTokens', () => {
  test('expiresIn and refreshExpiresIn are measured from receivedAt, whatever the offset', () => {
    const tokens = toTokens({ accessToken: 'at', refreshToken: 'rt', expiresIn: 300, refreshExpiresIn: 1800 }, T, HOUR2)
    expect(tokens).toEqual({
      accessToken: 'at',
      refreshToken: 'rt',
      issuedAt: T,
      accessExpiresAt: T + 300_000,
      refreshExpiresAt: T + 1_800_000,
    })
  })

  test('ISO expirations are on the server clock and shifted by the offset', () => {
    const grant = { accessTokenExpiration: iso(T + HOUR2 + 600_000), refreshTokenExpiration: iso(T + HOUR2 + 3_600_000) }
    expect(toTokens(grant, T, HOUR2)).toEqual({ issuedAt: T, accessExpiresAt: T + 600_000, refreshExpiresAt: T + 3_600_000 })
    // without an offset they are taken as they are
    const plain = toTokens({ accessTokenExpiration: iso(T + 600_000) }, T)
    expect(plain.accessExpiresAt).toBe(T + 600_000)
    // a server behind the client
    expect(toTokens({ accessTokenExpiration: iso(T - HOUR2 + 600_000) }, T, -HOUR2).accessExpiresAt).toBe(T + 600_000)
  })

  test('epoch-ms and Date expirations are shifted like ISO ones', () => {
    const tokens = toTokens({ accessTokenExpiration: T + HOUR2 + 60_000, refreshTokenExpiration: new Date(T + HOUR2 + 120_000) }, T, HOUR2)
    expect(tokens.accessExpiresAt).toBe(T + 60_000)
    expect(tokens.refreshExpiresAt).toBe(T + 120_000)
  })

  test('a lifetime wins over an absolute expiration', () => {
    const tokens = toTokens({ expiresIn: 60, accessTokenExpiration: iso(T + 999_000) }, T)
    expect(tokens.accessExpiresAt).toBe(T + 60_000)
  })

  test('a JWT with iat and exp is a lifetime measured from receipt, regardless of offset and clocks', async () => {
    // The server's clock is years away from the client's: only exp − iat matters (whole
    // seconds: one second short, see test/session/whole-seconds.test.ts).
    const serverNow = 1_000_000_000
    const accessToken = await jwt({ iat: serverNow, exp: serverNow + 600 })
    const refreshToken = await jwt({ iat: serverNow, exp: serverNow + 86_400 })
    for (const offset of [0, HOUR2, -HOUR2, 123_456_789]) {
      const tokens = toTokens({ accessToken, refreshToken }, T, offset)
      expect(tokens).toEqual({ accessToken, refreshToken, issuedAt: T, accessExpiresAt: T + 599_000, refreshExpiresAt: T + 86_399_000 })
    }
  })

  test('a JWT without iat uses exp − offset', async () => {
    const exp = Math.floor((T + HOUR2) / 1000) + 600
    const accessToken = await jwt({ exp })
    expect(toTokens({ accessToken }, T, HOUR2).accessExpiresAt).toBe(exp * 1000 - HOUR2)
    expect(toTokens({ accessToken }, T).accessExpiresAt).toBe(exp * 1000)
  })

  test('a JWT whose exp is not after iat falls back to exp − offset', async () => {
    const exp = Math.floor(T / 1000) + 600
    const accessToken = await jwt({ iat: exp + 10, exp })
    expect(toTokens({ accessToken }, T, 5_000).accessExpiresAt).toBe(exp * 1000 - 5_000)
  })

  test('an opaque RT without an expiry gives refreshExpiresAt null', () => {
    const tokens = toTokens({ accessToken: 'opaque-at', refreshToken: 'opaque-rt', expiresIn: 60 }, T)
    expect(tokens.refreshExpiresAt).toBeNull()
    expect(tokens.refreshToken).toBe('opaque-rt')
  })

  test('no RT at all gives refreshExpiresAt null and no refreshToken key', () => {
    const tokens = toTokens({ expiresIn: 60 }, T)
    expect(tokens.refreshExpiresAt).toBeNull()
    expect('refreshToken' in tokens).toBe(false)
    expect('accessToken' in tokens).toBe(false)
  })

  test.each([
    ['an empty grant', {}],
    ['an opaque AT only', { accessToken: 'opaque', refreshToken: 'opaque' }],
    ['a three-part non-JWT', { accessToken: 'a.b.c' }],
    ['only an RT expiry', { refreshExpiresIn: 600 }],
  ])('a missing AT expiry (%s) throws MalformedGrantError saying what was expected', (_why, grant) => {
    expect(() => toTokens(grant, T)).toThrow(MalformedGrantError)
    expect(() => toTokens(grant, T)).toThrow(/accessTokenExpiration.*expires_in.*JWT/)
  })

  test('a JWT AT without exp is not an expiry', async () => {
    const accessToken = await jwt({ iat: 1_000 })
    expect(() => toTokens({ accessToken }, T)).toThrow(MalformedGrantError)
  })

  test('an invalid AT date throws MalformedGrantError naming the field', () => {
    expect(() => toTokens({ accessTokenExpiration: 'tomorrow-ish' }, T)).toThrow(MalformedGrantError)
    expect(() => toTokens({ accessTokenExpiration: 'tomorrow-ish' }, T)).toThrow(/`accessTokenExpiration`.*tomorrow-ish/)
    expect(() => toTokens({ accessTokenExpiration: '' }, T)).toThrow(/`accessTokenExpiration`/)
    expect(() => toTokens({ accessTokenExpiration: new Date(Number.NaN) }, T)).toThrow(/`accessTokenExpiration`/)
  })

  test('an invalid RT date throws MalformedGrantError naming the field', () => {
    const grant = { expiresIn: 60, refreshTokenExpiration: 'never' }
    expect(() => toTokens(grant, T)).toThrow(MalformedGrantError)
    expect(() => toTokens(grant, T)).toThrow(/`refreshTokenExpiration`/)
  })
})

describe('clockOffset', () => {
  test('no header gives 0', () => {
    expect(clockOffset(null, T)).toBe(0)
    expect(clockOffset(undefined, T)).toBe(0)
    expect(clockOffset('', T)).toBe(0)
  })

  test('an unparsable header gives 0', () => {
    expect(clockOffset('yesterday at noon', T)).toBe(0)
    expect(clockOffset('Xyz, 99 Foo 2030 99:99:99 GMT', T)).toBe(0)
  })

  test('a Date within ±1.5 s is noise and gives 0', () => {
    for (const delta of [-1000, 0, 1000]) {
      expect(clockOffset(httpDate(T + delta), T)).toBe(0)
    }
    // the header truncates to the second: a server 0.9 s ahead can read as up to 1.25 s
    expect(clockOffset(httpDate(T + 900), T)).toBe(0)
  })

  test('a server 2 h ahead gives about +7_200_000', () => {
    const offset = clockOffset(httpDate(T + HOUR2), T)
    expect(Math.abs(offset - HOUR2)).toBeLessThanOrEqual(1000)
  })

  test('a server 2 h behind gives about −7_200_000', () => {
    const offset = clockOffset(httpDate(T - HOUR2), T)
    expect(Math.abs(offset + HOUR2)).toBeLessThanOrEqual(1000)
  })

  test('the estimate stays within a second of the truth wherever in the second the answer arrived', () => {
    for (const ms of [0, 1, 499, 500, 999]) {
      const receivedAt = Date.UTC(2030, 0, 1, 12, 0, 0, ms)
      const offset = clockOffset(httpDate(receivedAt + HOUR2), receivedAt)
      expect(Math.abs(offset - HOUR2)).toBeLessThanOrEqual(1000)
    }
  })
})

describe('tokensFromResponse', () => {
  test('a non-JSON body throws MalformedGrantError', async () => {
    const response = new Response('<html>proxy error</html>', { status: 200, headers: { 'Content-Type': 'text/html' } })
    await expect(tokensFromResponse(response, () => T)).rejects.toThrow(MalformedGrantError)
    await expect(tokensFromResponse(new Response(''), () => T)).rejects.toThrow(/not JSON/)
  })

  test('a JSON non-object throws MalformedGrantError', async () => {
    await expect(tokensFromResponse(Response.json([1, 2]), () => T)).rejects.toThrow(MalformedGrantError)
    await expect(tokensFromResponse(Response.json(null), () => T)).rejects.toThrow(MalformedGrantError)
  })

  test('a Date header 2 h ahead turns server-clock ISO expirations into local deadlines', async () => {
    const serverNow = T + HOUR2
    const response = Response.json(
      { accessTokenExpiration: iso(serverNow + 600_000), refreshTokenExpiration: iso(serverNow + 86_400_000) },
      { headers: { Date: httpDate(serverNow) } },
    )
    const tokens = await tokensFromResponse(response, () => T)
    expect(tokens.issuedAt).toBe(T)
    expect(Math.abs(tokens.accessExpiresAt - (T + 600_000))).toBeLessThanOrEqual(1000)
    expect(Math.abs((tokens.refreshExpiresAt ?? 0) - (T + 86_400_000))).toBeLessThanOrEqual(1000)
  })

  test('a Date header 2 h behind works the same way', async () => {
    const serverNow = T - HOUR2
    const response = Response.json({ tokenExpiration: { accessTokenExpiration: iso(serverNow + 600_000) } }, { headers: { Date: httpDate(serverNow) } })
    const tokens = await tokensFromResponse(response, () => T)
    expect(Math.abs(tokens.accessExpiresAt - (T + 600_000))).toBeLessThanOrEqual(1000)
    expect(tokens.refreshExpiresAt).toBeNull()
  })

  test('reads the clock once, before the body', async () => {
    let calls = 0
    const tokens = await tokensFromResponse(Response.json({ expires_in: 60 }), () => T + 1000 * calls++)
    expect(calls).toBe(1)
    expect(tokens).toEqual({ issuedAt: T, accessExpiresAt: T + 60_000, refreshExpiresAt: null })
  })
})

describe('tokensFrom', () => {
  test('a Response that is not ok throws a TypeError', async () => {
    const response = Response.json({ errors: [{ message: 'bad credentials' }] }, { status: 422 })
    await expect(tokensFrom(response, () => T)).rejects.toThrow(TypeError)
    await expect(tokensFrom(new Response(null, { status: 401 }), () => T)).rejects.toThrow(/401/)
  })

  test('an ok Response is read like tokensFromResponse', async () => {
    const tokens = await tokensFrom(Response.json({ access_token: 'at', expires_in: 60 }), () => T)
    expect(tokens).toEqual({ accessToken: 'at', issuedAt: T, accessExpiresAt: T + 60_000, refreshExpiresAt: null })
  })

  test('a Grant object with camelCase names', async () => {
    const tokens = await tokensFrom({ accessToken: 'at', refreshToken: 'rt', expiresIn: 60, refreshExpiresIn: 3600 }, () => T)
    expect(tokens).toEqual({ accessToken: 'at', refreshToken: 'rt', issuedAt: T, accessExpiresAt: T + 60_000, refreshExpiresAt: T + 3_600_000 })
  })

  test('a Grant object with Date expirations', async () => {
    const tokens = await tokensFrom({ accessTokenExpiration: new Date(T + 60_000), refreshTokenExpiration: new Date(T + 120_000) }, () => T)
    expect(tokens).toEqual({ issuedAt: T, accessExpiresAt: T + 60_000, refreshExpiresAt: T + 120_000 })
  })

  test('a raw OAuth2 JSON object also works', async () => {
    const raw = JSON.parse('{"access_token":"at","refresh_token":"rt","expires_in":300,"refresh_expires_in":1800,"token_type":"Bearer"}') as object
    const tokens = await tokensFrom(raw, () => T)
    expect(tokens).toEqual({ accessToken: 'at', refreshToken: 'rt', issuedAt: T, accessExpiresAt: T + 300_000, refreshExpiresAt: T + 1_800_000 })
  })

  test('a JWT grant object', async () => {
    const accessToken = await jwt({ iat: 1_000_000_000, exp: 1_000_000_060 })
    const tokens = await tokensFrom({ accessToken }, () => T)
    expect(tokens.accessExpiresAt).toBe(T + 59_000)
  })

  test('a non-object throws a TypeError', async () => {
    await expect(tokensFrom('token' as never, () => T)).rejects.toThrow(TypeError)
    await expect(tokensFrom(null as never, () => T)).rejects.toThrow(TypeError)
  })

  test('a grant without an AT expiry throws MalformedGrantError', async () => {
    await expect(tokensFrom({ accessToken: 'opaque' }, () => T)).rejects.toThrow(MalformedGrantError)
  })
})

describe('readCapped', () => {
  /** A body of `chunks` bytes each, counting what was pulled from it and whether it was cancelled. */
  function streamed(chunks: number[], headers: Record<string, string> = {}) {
    const seen = { pulled: 0, cancelled: false }
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const size = chunks[seen.pulled++]
        if (size === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode('x'.repeat(size)))
      },
      cancel: () => void (seen.cancelled = true),
    })
    return { response: new Response(body, { status: 200, headers }), seen }
  }

  test('a body within the cap is read whole', async () => {
    const { response, seen } = streamed([4, 4])
    await expect(readCapped(response, 8)).resolves.toBe('xxxxxxxx')
    expect(seen.cancelled).toBe(false)
  })

  test('a declared length past the cap is refused before a byte is read, and the body cancelled', async () => {
    const { response, seen } = streamed([4], { 'content-length': '9' })
    await expect(readCapped(response, 8)).rejects.toThrow(new MalformedGrantError('rotor-auth: the answer (HTTP 200) is larger than 8 bytes'))
    expect(seen).toEqual({ pulled: 0, cancelled: true })
  })

  test('a body with no length that grows past the cap is abandoned there: nothing further is pulled', async () => {
    const { response, seen } = streamed([4, 4, 4, 4])
    await expect(readCapped(response, 8)).rejects.toThrow(/larger than 8 bytes/)
    expect(seen.cancelled).toBe(true)
    // The third chunk crossed the cap (a stream pulls one ahead of the reader): the fourth never was.
    expect(seen.pulled).toBeLessThan(4)
  })

  test('no body reads as empty text', async () => {
    await expect(readCapped(new Response(null, { status: 204 }), 8)).resolves.toBe('')
  })
})
