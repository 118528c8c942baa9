/** Unit tests for src/utils/scope.ts: scope matching, request URLs and default endpoints. */
import { describe, expect, test } from 'vitest'
import { createScope, defaultEndpoint, endpointKey, fetchTarget, requestURL } from '../../src/utils/scope.js'

/** The session recognises its refresh/logout endpoints by comparing endpoint keys. */
const sameEndpoint = (a: URL, b: URL) => endpointKey(a) === endpointKey(b)
import type { ScopeOption } from '../../src/types.js'

const u = (href: string) => new URL(href)

describe('createScope', () => {
  describe('string scope https://h/okapi (segment boundary)', () => {
    const inScope = createScope('https://h/okapi')

    test.each([
      'https://h/okapi',
      'https://h/okapi/',
      'https://h/okapi/x',
      'https://h/okapi/x/y',
      'https://h/okapi?q=1',
      'https://h/okapi#frag',
      'https://h:443/okapi/x', // default port is the same origin
      'https://H/okapi/x', // host is case-insensitive
    ])('matches %s', href => {
      expect(inScope(u(href))).toBe(true)
    })

    test.each([
      ['a longer segment', 'https://h/okapix'],
      ['a longer segment with a subpath', 'https://h/okapix/y'],
      ['a parent path', 'https://h/'],
      ['a sibling path', 'https://h/other/okapi'],
      ['a dot-segment escape', 'https://h/okapi/../admin'],
      ['another host', 'https://evil/okapi'],
      ['a subdomain', 'https://x.h/okapi'],
      ['another port', 'https://h:8443/okapi'],
      ['another scheme', 'http://h/okapi'],
      ['a case-different path', 'https://h/OKAPI'],
    ])('does not match %s (%s)', (_why, href) => {
      expect(inScope(u(href))).toBe(false)
    })
  })

  test('a URL object behaves like its string', () => {
    const inScope = createScope(new URL('https://h/okapi'))
    expect(inScope(u('https://h/okapi/x'))).toBe(true)
    expect(inScope(u('https://h/okapix'))).toBe(false)
  })

  test('a trailing slash in the scope still matches the bare path and keeps the boundary', () => {
    const inScope = createScope('https://h/okapi/')
    expect(inScope(u('https://h/okapi'))).toBe(true)
    expect(inScope(u('https://h/okapi/'))).toBe(true)
    expect(inScope(u('https://h/okapi/x'))).toBe(true)
    expect(inScope(u('https://h/okapix'))).toBe(false)
  })

  test('an origin-only scope matches every path of that origin only', () => {
    for (const scope of ['https://h', 'https://h/']) {
      const inScope = createScope(scope)
      expect(inScope(u('https://h/'))).toBe(true)
      expect(inScope(u('https://h/anything/at/all?x'))).toBe(true)
      expect(inScope(u('https://h:444/'))).toBe(false)
      expect(inScope(u('http://h/'))).toBe(false)
    }
  })

  test('a query or hash in the scope is ignored', () => {
    const inScope = createScope('https://h/okapi?tenant=diku#x')
    expect(inScope(u('https://h/okapi/users'))).toBe(true)
  })

  test('an array matches any of its entries', () => {
    const inScope = createScope(['https://a/okapi', new URL('https://b:8443/api')])
    expect(inScope(u('https://a/okapi/x'))).toBe(true)
    expect(inScope(u('https://b:8443/api'))).toBe(true)
    expect(inScope(u('https://b/api'))).toBe(false)
    expect(inScope(u('https://a/api'))).toBe(false)
    expect(inScope(u('https://a/okapix'))).toBe(false)
  })

  test('a one-entry array behaves like the entry', () => {
    const inScope = createScope(['https://h/okapi'])
    expect(inScope(u('https://h/okapi/x'))).toBe(true)
    expect(inScope(u('https://h/okapix'))).toBe(false)
  })

  test('a predicate is used as it is', () => {
    const seen: string[] = []
    const predicate = (url: URL) => {
      seen.push(url.href)
      return url.searchParams.has('managed')
    }
    const inScope = createScope(predicate)
    expect(inScope).toBe(predicate)
    expect(inScope(u('https://x/?managed'))).toBe(true)
    expect(inScope(u('https://x/'))).toBe(false)
    expect(seen).toEqual(['https://x/?managed', 'https://x/'])
  })

  test('an empty array throws a TypeError naming `scope`', () => {
    expect(() => createScope([])).toThrow(TypeError)
    expect(() => createScope([])).toThrow(/`scope`/)
  })

  test.each([
    ['a number', [42]],
    ['null', [null]],
    ['an object', [{ href: 'https://h/okapi' }]],
    ['a mix', ['https://h/okapi', 42]],
  ])('a non-string entry (%s) throws a TypeError naming `scope`', (_why, entries) => {
    const scope = entries as unknown as ScopeOption
    expect(() => createScope(scope)).toThrow(TypeError)
    expect(() => createScope(scope)).toThrow(/`scope`/)
  })

  test('a relative scope without a page location throws a TypeError naming `scope`', () => {
    expect(() => createScope('/okapi')).toThrow(TypeError)
    expect(() => createScope('/okapi')).toThrow(/`scope`/)
  })
})

describe('requestURL', () => {
  test('parses a string', () => {
    expect(requestURL('https://h/okapi/x?y=1')?.href).toBe('https://h/okapi/x?y=1')
  })

  test('a URL is judged by the string fetch makes of it', () => {
    const url = new URL('https://h/okapi/x')
    expect(fetchTarget(url)).toBe('https://h/okapi/x')
    expect(requestURL(fetchTarget(url))?.href).toBe(url.href)
  })

  test('a URL subclass or { toString } object: judged on what toString gives, as fetch uses it', () => {
    class Lying extends URL {
      override toString() {
        return 'https://evil.example/steal'
      }
    }
    const lying = new Lying('https://h/okapi/x')
    expect(requestURL(fetchTarget(lying))?.origin).toBe('https://evil.example')
    const object = { url: 'https://h/okapi/x', toString: () => 'https://evil.example/steal' } as unknown as URL
    expect(requestURL(fetchTarget(object))?.origin).toBe('https://evil.example')
  })

  test('reads the url of a Request', () => {
    const request = new Request('https://h/okapi/x?y=1', { method: 'POST', body: 'b' })
    const url = requestURL(request)
    expect(url).toBeInstanceOf(URL)
    expect(url?.href).toBe('https://h/okapi/x?y=1')
  })

  test('returns undefined for unparsable input', () => {
    // Node has no page location, so a relative string cannot be resolved.
    expect(requestURL('/okapi/x')).toBeUndefined()
    expect(requestURL('not a url')).toBeUndefined()
    expect(requestURL('')).toBeUndefined()
  })
})

describe('defaultEndpoint', () => {
  test('appends authn/<name> to the scope path', () => {
    expect(defaultEndpoint('https://h/okapi', 'refresh', 'refresh').href).toBe('https://h/okapi/authn/refresh')
    expect(defaultEndpoint('https://h/okapi', 'logout', 'logout').href).toBe('https://h/okapi/authn/logout')
  })

  test('a trailing slash in the scope does not double the slash', () => {
    expect(defaultEndpoint('https://h/okapi/', 'refresh', 'refresh').href).toBe('https://h/okapi/authn/refresh')
  })

  test('an origin-only scope gives /authn/<name>', () => {
    expect(defaultEndpoint('https://h', 'refresh', 'refresh').href).toBe('https://h/authn/refresh')
    expect(defaultEndpoint('https://h/', 'refresh', 'refresh').href).toBe('https://h/authn/refresh')
  })

  test('drops the scope query and hash, keeps the port', () => {
    expect(defaultEndpoint('https://h:8443/okapi?tenant=diku#x', 'refresh', 'refresh').href).toBe(
      'https://h:8443/okapi/authn/refresh',
    )
  })

  test('uses the first entry of an array and accepts URL objects', () => {
    expect(defaultEndpoint([new URL('https://a/okapi'), 'https://b/x'], 'logout', 'logout').href).toBe(
      'https://a/okapi/authn/logout',
    )
  })

  test('does not mutate a URL scope', () => {
    const scope = new URL('https://h/okapi')
    defaultEndpoint(scope, 'refresh', 'refresh')
    expect(scope.href).toBe('https://h/okapi')
  })

  test('a predicate scope throws a TypeError naming the option', () => {
    const predicate = () => true
    expect(() => defaultEndpoint(predicate, 'refresh', 'refresh')).toThrow(TypeError)
    expect(() => defaultEndpoint(predicate, 'refresh', 'refresh')).toThrow(/`refresh`/)
    expect(() => defaultEndpoint(predicate, 'logout', 'logout')).toThrow(/`logout`/)
  })

  test('an empty array throws a TypeError naming `scope`', () => {
    expect(() => defaultEndpoint([], 'refresh', 'refresh')).toThrow(TypeError)
    expect(() => defaultEndpoint([], 'refresh', 'refresh')).toThrow(/`scope`/)
  })
})

describe('endpointKey: the same endpoint', () => {
  test('ignores query, hash and a trailing slash', () => {
    const endpoint = u('https://h/okapi/authn/refresh')
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refresh'))).toBe(true)
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refresh?x=1'))).toBe(true)
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refresh/'))).toBe(true)
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refresh/?x=1#y'))).toBe(true)
    expect(sameEndpoint(u('https://h/okapi/authn/refresh/'), endpoint)).toBe(true)
  })

  test('differs on path, origin, port or scheme', () => {
    const endpoint = u('https://h/okapi/authn/refresh')
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refreshx'))).toBe(false)
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/refresh/x'))).toBe(false)
    expect(sameEndpoint(endpoint, u('https://h/okapi/authn/logout'))).toBe(false)
    expect(sameEndpoint(endpoint, u('https://other/okapi/authn/refresh'))).toBe(false)
    expect(sameEndpoint(endpoint, u('https://h:8443/okapi/authn/refresh'))).toBe(false)
    expect(sameEndpoint(endpoint, u('http://h/okapi/authn/refresh'))).toBe(false)
  })
})
