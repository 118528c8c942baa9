/** Rotor's JWT reader (pages and the worker's script) gives what jose's decodeJwt gives, and throws where it throws. */
import { decodeJwt as jose, UnsecuredJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { decodeJwt } from '../../src/utils/decode-jwt.js'

const b64u = (text: string) => Buffer.from(text).toString('base64url')
const jwt = (payload: string) => `${b64u('{"alg":"none"}')}.${payload}.`

const VALID = [
  new UnsecuredJWT({ sub: 'a', cnf: { jkt: 'k' } }).setIssuedAt(1_700_000_000).setExpirationTime(1_700_000_060).encode(),
  jwt(b64u('{"exp":1,"name":"Zoë ✓"}')), // multi-byte UTF-8, and base64url's - and _
  jwt(b64u('{"a":"??>>"}')), // encodes to - and _
  jwt(b64u('{}')),
  ...[1, 2, 3].map(n => jwt(b64u(`{"p":"${'x'.repeat(n)}"}`))), // every padding length left out
]

const INVALID: unknown[] = [
  undefined,
  42,
  '',
  'abc',
  'a.b',
  'a.b.c.d',
  'a.b.c.d.e', // a JWE
  `${b64u('{}')}..sig`, // no payload
  jwt('!!!'), // not base64url
  jwt('a'), // 4n+1 characters: no base64
  jwt(b64u('not json')),
  jwt(b64u('[1,2]')),
  jwt(b64u('null')),
  jwt(b64u('"text"')),
  jwt(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64url')), // not UTF-8
]

describe('the worker script’s decodeJwt (jose’s stand-in there)', () => {
  it.each(VALID)('reads the claims jose reads: %s', token => {
    expect(decodeJwt(token)).toEqual(jose(token))
  })

  it.each(INVALID.map(value => [String(value), value]))('throws where jose throws: %s', (_, value) => {
    expect(() => jose(value as string)).toThrow()
    expect(() => decodeJwt(value)).toThrow()
  })
})
