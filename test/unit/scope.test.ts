/** Unit tests for src/utils/scope.ts: scope matching, request URLs and default endpoints. */
import { afterEach, describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { createClaim, endpointKey, fetchTarget, requestURL, Scope } from '../../src/utils/scope.js'
import { normalizeOptions } from '../../src/core/options.js'
import type { ScopeOption } from '../../src/types.js'

/** The scope test alone, as the session compiles it (Scope.matches). */
const createScope = (scope: ScopeOption) => new Scope(scope).matches
/** `<first scope entry's path>/authn/<name>` (Scope.endpoint). */
const defaultEndpoint = (scope: ScopeOption, name: 'refresh' | 'logout', option: string) => new Scope(scope).endpoint(name, option)

/** The session recognises its refresh/logout endpoints by comparing endpoint keys. */
const sameEndpoint = (a: URL, b: URL) => endpointKey(a) === endpointKey(b)

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
    expect(defaultEndpoint('https://h:8443/okapi?tenant=diku#x', 'refresh', 'refresh').href).toBe('https://h:8443/okapi/authn/refresh')
  })

  test('uses the first entry of an array and accepts URL objects', () => {
    expect(defaultEndpoint([new URL('https://a/okapi'), 'https://b/x'], 'logout', 'logout').href).toBe('https://a/okapi/authn/logout')
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

/**
 * The fast path (issue 15) judges most strings without `new URL()`. It may only ever agree
 * with the full parse: each trick below is judged both ways, and by the verdict it must have.
 */
describe('createClaim: the fast path agrees with the full parse', () => {
  const endpoints = [u('https://h/okapi/authn/refresh'), u('https://h/okapi/authn/logout')]
  /** The claim as the session builds it (string scope: fast path on) and the full parse alone. */
  function pair(scope: ScopeOption, eps: URL[] = []) {
    const matches = createScope(scope)
    return { fast: createClaim(scope, matches, eps), slow: createClaim(url => matches(url), matches, eps) }
  }
  const okapi = pair('https://h/okapi', endpoints)

  const g = globalThis as { document?: { baseURI: string } }
  afterEach(() => {
    delete g.document
  })

  test.each([
    // [input, verdict: the origin when managed, undefined when not]
    ['https://h/okapi', 'https://h'],
    ['https://h/okapi/', 'https://h'],
    ['https://h/okapi/x?y=1#z', 'https://h'],
    ['https://h/okapi?', 'https://h'],
    ['https://h/okapi#', 'https://h'],
    ['https://h/okapi/x?', 'https://h'],
    ['https://h/okapi?/../admin', 'https://h'], // a dot segment in the query is no path
    ['https://h/okapi#/../admin', 'https://h'],
    ['https://h/admin?/okapi/', undefined],
    ['https://h/admin#/okapi/', undefined],
    ['https://h/okapix', undefined],
    ['https://h/OKAPI/x', undefined],
    ['https://h', undefined],
    ['https://h?/okapi', undefined],
    // dot segments, plain and percent-encoded, and backslashes (a '/' in http(s))
    ['https://h/okapi/../admin', undefined],
    ['https://h/okapi/./x', 'https://h'],
    ['https://h/okapi/x/../../admin', undefined],
    ['https://h/okapi/x/../y', 'https://h'],
    ['https://h/okapi/%2e%2e/admin', undefined],
    ['https://h/okapi/%2E%2E/admin', undefined],
    ['https://h/okapi/.%2e/admin', undefined],
    ['https://h/okapi/%2e./admin', undefined],
    ['https://h/okapi/%2e%2e%2fadmin', 'https://h'], // an encoded '/' is no separator to the parser
    ['https://h/okapi\\..\\admin', undefined],
    ['https://h/okapi/..\\admin', undefined],
    ['https://h/okapi\\x', 'https://h'],
    ['https://h\\okapi\\x', 'https://h'],
    ['https://h/okapi/.well-known', 'https://h'],
    // tab, newline and spaces are stripped (or trimmed) before parsing
    ['https://h/okapi/\t../admin', undefined],
    ['https://h/okapi/.\n./admin', undefined],
    ['https://h/oka\tpi/x', 'https://h'],
    ['https://h/okapi/x\r\n', 'https://h'],
    [' https://h/okapi/x', 'https://h'],
    ['https://h/okapi/x ', 'https://h'],
    ['https://h/okapi/x y', 'https://h'],
    ['https://h/okapi/ü', 'https://h'],
    // scheme and host spelled otherwise, default ports, userinfo
    ['HTTPS://H/okapi/x', 'https://h'],
    ['hTTpS://h/okapi/x', 'https://h'],
    ['https://H/okapi/x', 'https://h'],
    ['https://h:443/okapi/x', 'https://h'],
    ['https://h:0443/okapi/x', 'https://h'],
    ['https://h:80/okapi/x', undefined],
    ['http://h/okapi/x', undefined],
    ['https://h:8443/okapi/x', undefined],
    ['https://h./okapi/x', undefined],
    ['https://user@h/okapi/x', 'https://h'],
    ['https://user:pw@h/okapi/x', 'https://h'],
    ['https://h@evil/okapi/x', undefined],
    ['https://h/okapi@evil/x', undefined], // no userinfo after the host: a path segment 'okapi@evil'
    ['https://h/okapi/x@evil', 'https://h'],
    ['https://h.evil/okapi/x', undefined],
    ['https://hx/okapi/x', undefined],
    // scheme-relative and relative: no page here, so nothing resolves
    ['//h/okapi/x', undefined],
    ['//evil/okapi/x', undefined],
    ['/okapi/x', undefined],
    ['okapi/x', undefined],
    // the refresh and logout endpoints are never managed, whatever trails them
    ['https://h/okapi/authn/refresh', undefined],
    ['https://h/okapi/authn/refresh/', undefined],
    ['https://h/okapi/authn/refresh//?x=1#y', undefined],
    ['https://h/okapi/authn/logout#', undefined],
    ['HTTPS://h:443/okapi/authn/refresh', undefined],
    ['https://h/okapi/authn/refreshx', 'https://h'],
    ['https://h/okapi/authn/refresh/x', 'https://h'],
  ] as const)('%j → %s', (input, verdict) => {
    expect(okapi.slow(input)).toBe(verdict)
    expect(okapi.fast(input)).toBe(verdict)
    let request: Request | undefined
    try {
      request = new Request(input)
    } catch {
      request = undefined
    }
    if (request) expect(okapi.fast(request)).toBe(okapi.slow(request))
  })

  test.each([
    ['http://[::1]:8080/api', 'http://[::1]:8080/api/x', 'http://[::1]:8080'],
    ['http://[::1]:8080/api', 'http://[0:0:0:0:0:0:0:1]:8080/api/x', 'http://[::1]:8080'],
    ['http://[::1]:8080/api', 'http://[::1]/api/x', undefined],
    ['http://[::1]/api', 'http://[::1]:80/api/x', 'http://[::1]'],
    ['http://127.0.0.1/api', 'http://127.1/api/x', 'http://127.0.0.1'],
    ['http://127.0.0.1/api', 'http://0x7f.0.0.1/api/x', 'http://127.0.0.1'],
    ['http://127.0.0.1/api', 'http://2130706433/api/x', 'http://127.0.0.1'],
    ['http://127.0.0.1/api', 'http://127.0.0.1./api/x', 'http://127.0.0.1'],
    ['https://bücher.example/api', 'https://bücher.example/api/x', 'https://xn--bcher-kva.example'],
    ['https://bücher.example/api', 'https://xn--bcher-kva.example/api/x', 'https://xn--bcher-kva.example'],
    ['https://bücher.example/api', 'https://BÜCHER.example/api/x', 'https://xn--bcher-kva.example'],
    ['https://bücher.example/api', 'https://bu\u0308cher.example/api/x', 'https://xn--bcher-kva.example'],
    ['https://xn--bcher-kva.example/api', 'https://bücher.example/api', 'https://xn--bcher-kva.example'],
    ['https://bücher.example/api', 'https://bucher.example/api/x', undefined],
    ['https://h:8443/api', 'https://h:8443/api/x', 'https://h:8443'],
    ['https://h:8443/api', 'https://h:84430/api/x', undefined],
    ['https://h/', 'https://h//x', 'https://h'],
    ['https://h/', 'https://h/../x', 'https://h'],
  ] as const)('scope %s: %j → %s', (scope, input, verdict) => {
    const { fast, slow } = pair(scope)
    expect(slow(input)).toBe(verdict)
    expect(fast(input)).toBe(verdict)
  })

  // The fast path compiles each entry to a regular expression: the scope's own text must be
  // read literally ('.' is no wildcard, '+' or '(' no operator), and an entry it cannot compare
  // (a file: origin, a path the parser spells otherwise) must not turn the others off.
  test.each([
    ['https://h/a.b', 'https://h/a.b/x', 'https://h'],
    ['https://h/a.b', 'https://h/aXb/x', undefined],
    ['https://h/v1+(x)', 'https://h/v1+(x)/y', 'https://h'],
    ['https://h/v1+(x)', 'https://h/v11(x)/y', undefined],
    ['https://h/v1+(x)', 'https://h/v1x/y', undefined],
    ['https://h/$x', 'https://h/$x/y', 'https://h'],
    ['https://h/[a]', 'https://h/[a]/y', 'https://h'],
    ['https://h/[a]', 'https://h/a/y', undefined],
    ['https://h/a%20b', 'https://h/a%20b/y', 'https://h'],
    ['https://h/a%20b', 'https://h/a b/y', 'https://h'],
    ['https://h/a%20b', 'https://h/a%2520b/y', undefined],
    ['https://h.example/api', 'https://hXexample/api/x', undefined],
    ['http://h:8080/api', 'http://h:8080/api/x', 'http://h:8080'],
  ] as const)('scope text is literal: scope %s, %j → %s', (scope, input, verdict) => {
    const { fast, slow } = pair(scope)
    expect(slow(input)).toBe(verdict)
    expect(fast(input)).toBe(verdict)
  })

  test('an endpoint at the origin root, and a file: entry beside an https one', () => {
    const root = pair('https://h', [u('https://h/'), u('https://h/authn/refresh')])
    for (const [input, verdict] of [
      ['https://h/', undefined],
      ['https://h//?x', undefined],
      ['https://h/x', 'https://h'],
      ['https://h/authn/refresh/', undefined],
      ['https://h/authn/refresh.x', 'https://h'],
    ] as const) {
      expect(root.slow(input)).toBe(verdict)
      expect(root.fast(input)).toBe(verdict)
    }
    const mixed = pair(['file:///srv/app', 'https://h/api'])
    expect(mixed.slow('https://h/api/x')).toBe('https://h')
    expect(mixed.fast('https://h/api/x')).toBe('https://h')
    expect(mixed.fast('file:///srv/app/x')).toBe(mixed.slow('file:///srv/app/x'))
  })

  test('an array scope: each entry on its own origin, endpoints on theirs', () => {
    const { fast, slow } = pair(['https://a/okapi', 'https://a:8443/x', 'https://b/api'], [u('https://b/api/authn/refresh')])
    for (const [input, verdict] of [
      ['https://a/okapi/1', 'https://a'],
      ['https://a:8443/x/1', 'https://a:8443'],
      ['https://a/x/1', undefined],
      ['https://b/api/1', 'https://b'],
      ['https://b/api/authn/refresh', undefined],
      ['https://a/api/authn/refresh', undefined],
    ] as const) {
      expect(slow(input)).toBe(verdict)
      expect(fast(input)).toBe(verdict)
    }
  })

  test('relative URLs resolve against document.baseURI, read on every call', () => {
    g.document = { baseURI: 'https://h/app/page' }
    expect(okapi.fast('/okapi/x')).toBe('https://h')
    expect(okapi.fast('/okapix')).toBeUndefined()
    expect(okapi.fast('/okapi/../admin')).toBeUndefined()
    expect(okapi.fast('/okapi/authn/refresh')).toBeUndefined()
    expect(okapi.fast('//evil/okapi/x')).toBeUndefined()
    expect(okapi.fast('/\\evil/okapi/x')).toBeUndefined()
    expect(okapi.fast('//h/okapi/x')).toBe('https://h')
    expect(okapi.fast('../okapi/x')).toBe('https://h')
    // A `<base href>` injected later points relative URLs elsewhere: judged against it at once.
    g.document = { baseURI: 'https://evil/' }
    expect(okapi.fast('/okapi/x')).toBeUndefined()
    expect(okapi.slow('/okapi/x')).toBeUndefined()
    g.document = { baseURI: 'about:blank' }
    expect(okapi.fast('/okapi/x')).toBeUndefined()
    g.document = { baseURI: 'https://h/' }
    expect(okapi.fast('/okapi/x')).toBe('https://h')
  })

  test('an ordinary in-scope string or Request is judged without constructing a URL', () => {
    const request = new Request('https://h/okapi/users?limit=10')
    const Original = globalThis.URL
    let parsed = 0
    globalThis.URL = class extends Original {
      constructor(...args: ConstructorParameters<typeof URL>) {
        super(...args)
        parsed++
      }
    } as typeof URL
    try {
      expect(okapi.fast('https://h/okapi/users/42?expand=true')).toBe('https://h')
      expect(okapi.fast(request)).toBe('https://h')
      expect(parsed).toBe(0)
      expect(okapi.fast('https://h/okapi/../admin')).toBeUndefined()
      expect(parsed).toBe(1)
    } finally {
      globalThis.URL = Original
    }
  })

  test('property: on strings made of the pieces that fool URL matchers, fast and full parse agree', () => {
    const piece = fc.constantFrom(
      'https://',
      'http://',
      'HTTPS://',
      '//',
      '/',
      '\\',
      'h',
      'H',
      'evil',
      '.',
      '..',
      '%2e',
      '%2E',
      '%2f',
      '@',
      ':',
      ':443',
      ':80',
      'okapi',
      'OKAPI',
      'authn',
      'refresh',
      'logout',
      '?',
      '#',
      '\t',
      '\n',
      ' ',
      'ü',
      '[::1]',
      'x',
    )
    const candidate = fc.oneof(
      fc.array(piece, { maxLength: 12 }).map(parts => parts.join('')),
      fc.array(piece, { maxLength: 10 }).map(parts => 'https://h/okapi' + parts.join('')),
    )
    fc.assert(
      fc.property(candidate, input => {
        expect(okapi.fast(input)).toBe(okapi.slow(input))
      }),
      { numRuns: 5000 },
    )
  })

  test('property: a scope whose text holds regular-expression characters, with the page as base', () => {
    g.document = { baseURI: 'https://h.x/app/' }
    const special = pair(['https://h.x/v1.0+(a)', 'https://h.x/$b'], [u('https://h.x/v1.0+(a)/authn/refresh')])
    const piece = fc.constantFrom(
      'https://h.x',
      'https://hXx',
      'HTTPS://H.X',
      '/',
      '//',
      '\\',
      '.',
      '..',
      '%2e',
      'v1.0+(a)',
      'v1.0',
      'v10+(a)',
      'v1X0+(a)',
      '(a)',
      '+',
      '$b',
      'b',
      'authn',
      'refresh',
      '?',
      '#',
      '@',
      ':443',
      ' ',
      'x',
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), parts => {
        const input = parts.join('')
        expect(special.fast(input)).toBe(special.slow(input))
      }),
      { numRuns: 5000 },
    )
  })
})

describe('Scope (the option compiled once)', () => {
  test('one object answers matching, the key, the default endpoints and the claim', () => {
    const scope = new Scope(['https://a/okapi/', new URL('https://b/api')])
    expect(scope.key).toBe('https://a/okapi|https://b/api')
    expect(scope.endpoint('refresh').href).toBe('https://a/okapi/authn/refresh')
    expect(scope.endpoint('logout').href).toBe('https://a/okapi/authn/logout')
    expect(scope.matches(u('https://b/api/x'))).toBe(true)
    const claim = scope.claim([scope.endpoint('refresh')])
    expect(claim('https://a/okapi/users')).toBe('https://a')
    expect(claim('https://a/okapi/authn/refresh')).toBeUndefined()
  })

  test('a function scope has no default endpoint: the error names the option that is needed', () => {
    const scope = new Scope(() => true)
    expect(scope.key).toBe('default')
    expect(() => scope.endpoint('refresh')).toThrow(/`refresh` is required/)
  })

  test("relative entries and requests resolve against the platform's page base, not the runtime's globals", () => {
    let base = 'https://h/app/page'
    const scope = new Scope('/okapi', () => base)
    expect(scope.key).toBe('https://h/okapi')
    const claim = scope.claim([])
    expect(claim('/okapi/x')).toBe('https://h')
    // A `<base href>` changed later is read at the next request.
    base = 'https://evil/'
    expect(claim('/okapi/x')).toBeUndefined()
  })

  test("a session's scope and endpoints resolve against its platform's location", () => {
    const location = () => ({ href: 'https://h/app/', base: 'https://h/app/', origin: 'https://h' })
    const config = normalizeOptions({ scope: '/okapi', crossTab: false, platform: { location } })
    expect(config.scope.matches(u('https://h/okapi/x'))).toBe(true)
    expect(config.refreshURL?.href).toBe('https://h/okapi/authn/refresh')
    expect(config.logoutURL?.href).toBe('https://h/okapi/authn/logout')
  })
})
