/** Unit tests for src/core/options.ts: validation (a TypeError naming the option) and defaults. */
import { describe, expect, test } from 'vitest'
import { normalizeOptions } from '../../src/core/options.js'
import type { SessionOptions } from '../../src/types.js'
import { memoryStorage } from '../helpers/index.js'

const SCOPE = 'https://h/okapi'

/** Options as an untyped caller (plain JS) could pass them. */
const loose = (options: Record<string, unknown>) => options as unknown as SessionOptions

/** Asserts a TypeError whose message names the option as `name`. */
function expectOptionError(options: Record<string, unknown>, name: string): void {
  let thrown: unknown
  try {
    normalizeOptions(loose(options))
  } catch (error) {
    thrown = error
  }
  expect(thrown, `expected a TypeError naming \`${name}\``).toBeInstanceOf(TypeError)
  expect((thrown as Error).message).toContain(`\`${name}\``)
}

describe('normalizeOptions: invalid options throw a TypeError naming the option', () => {
  test('not an object', () => {
    expect(() => normalizeOptions(undefined as never)).toThrow(TypeError)
    expect(() => normalizeOptions(null as never)).toThrow(TypeError)
    expect(() => normalizeOptions('https://h/okapi' as never)).toThrow(TypeError)
  })

  test.each([
    ['missing', {}],
    ['undefined', { scope: undefined }],
    ['a number', { scope: 42 }],
    ['null', { scope: null }],
    ['a plain object', { scope: { href: SCOPE } }],
    ['a boolean', { scope: true }],
    ['an empty array', { scope: [] }],
    ['an array with a number', { scope: [SCOPE, 1] }],
    ['a relative string in Node', { scope: '/okapi' }],
  ])('scope: %s', (_why, options) => expectOptionError(options, 'scope'))

  test.each([['request-ish'], [''], [1], [null]])('rotation: %j', rotation => {
    expectOptionError({ scope: SCOPE, rotation }, 'rotation')
  })

  test.each([['Bearer'], ['header'], [true]])('transport: %j', transport => {
    expectOptionError({ scope: SCOPE, transport }, 'transport')
  })

  test.each([
    ['a number', 42, 'refresh'],
    ['null', null, 'refresh'],
    ['an object without url', { style: 'json' }, 'refresh'],
    ['an array', [SCOPE], 'refresh'],
    ['a bad url', { url: 42 }, 'refresh.url'],
    ['a relative string in Node', '/authn/refresh', 'refresh'],
    ['a bad style', { url: `${SCOPE}/authn/refresh`, style: 'saml' }, 'refresh.style'],
    ['a bad clientId', { url: `${SCOPE}/authn/refresh`, style: 'oauth2', clientId: 42 }, 'refresh.clientId'],
  ])('refresh: %s', (_why, refresh, name) => expectOptionError({ scope: SCOPE, refresh }, name))

  test.each([
    ['true', true],
    ['a number', 42],
    ['null', null],
    ['an object', { url: SCOPE }],
    ['a relative string in Node', '/logout'],
  ])('logout: %s', (_why, logout) => expectOptionError({ scope: SCOPE, logout }, 'logout'))

  test.each([
    ['an invalid header name', { 'bad name': 'x' }],
    ['an invalid header value', { 'X-Okapi-Tenant': 'a\nb' }],
    ['a malformed pair list', [['only-a-name']]],
    ['a number', 42],
  ])('headers: %s', (_why, headers) => expectOptionError({ scope: SCOPE, headers }, 'headers'))

  test.each([[0], [1], [1.5], [-0.2], ['x'], [Number.NaN]])('rotateAt: %j', rotateAt => {
    expectOptionError({ scope: SCOPE, rotateAt }, 'rotateAt')
  })

  test.each([[{ name: '' }], ['yes'], [{}], [{ name: 42 }], [null], [1]])('crossTab: %j', crossTab => {
    expectOptionError({ scope: SCOPE, crossTab }, 'crossTab')
  })

  test.each(['reauthenticate', 'fetch', 'now'])('%s must be a function', name => {
    expectOptionError({ scope: SCOPE, [name]: 'not a function' }, name)
    expectOptionError({ scope: SCOPE, [name]: {} }, name)
  })

  test.each([
    ['not an object', true, 'idle'],
    ['null', null, 'idle'],
    ['timeout 0', { timeout: 0 }, 'idle.timeout'],
    ['timeout negative', { timeout: -1000 }, 'idle.timeout'],
    ['timeout missing', { warning: 10 }, 'idle.timeout'],
    ['timeout a string', { timeout: '60000' }, 'idle.timeout'],
    ['timeout infinite', { timeout: Number.POSITIVE_INFINITY }, 'idle.timeout'],
    ['warning equal to timeout', { timeout: 1000, warning: 1000 }, 'idle.warning'],
    ['warning above timeout', { timeout: 1000, warning: 5000 }, 'idle.warning'],
    ['warning negative', { timeout: 1000, warning: -1 }, 'idle.warning'],
    ['activityEvents not strings', { timeout: 1000, activityEvents: ['keydown', 42] }, 'idle.activityEvents'],
    ['activityEvents not an array', { timeout: 1000, activityEvents: 'keydown' }, 'idle.activityEvents'],
  ])('idle: %s', (_why, idle, name) => expectOptionError({ scope: SCOPE, idle }, name))

  test.each([[-1], ['30000'], [Number.NaN], [Number.POSITIVE_INFINITY]])('queueTimeout: %j', queueTimeout => {
    expectOptionError({ scope: SCOPE, queueTimeout }, 'queueTimeout')
  })

  test.each([[-1], ['1']])('refreshTimeout: %j', refreshTimeout => {
    expectOptionError({ scope: SCOPE, refreshTimeout }, 'refreshTimeout')
  })

  test.each([[1.5], [-1], ['2']])('refreshRetries: %j', refreshRetries => {
    expectOptionError({ scope: SCOPE, refreshRetries }, 'refreshRetries')
  })

  test.each([[-1], ['5s']])('leeway: %j', leeway => {
    expectOptionError({ scope: SCOPE, leeway }, 'leeway')
  })

  test.each([['yes'], [1]])('persist: %j', persist => {
    expectOptionError({ scope: SCOPE, persist }, 'persist')
  })

  test.each([
    ['without getItem', { setItem() {}, removeItem() {} }],
    ['a string', 'localStorage'],
    ['getItem not a function', { getItem: 'x', setItem() {}, removeItem() {} }],
  ])('storage: %s', (_why, storage) => expectOptionError({ scope: SCOPE, storage }, 'storage'))

  test('a predicate scope without refresh throws naming `refresh`', () => {
    expectOptionError({ scope: () => true }, 'refresh')
  })
})

describe('normalizeOptions: defaults', () => {
  const storage = memoryStorage()

  test('rotation timer, transport cookie, rotateAt 0.8, queueTimeout 30000', () => {
    const config = normalizeOptions({ scope: SCOPE, storage })
    expect(config.rotation).toBe('timer')
    expect(config.transport).toBe('cookie')
    expect(config.rotateAt).toBe(0.8)
    expect(config.queueTimeout).toBe(30_000)
    expect(config.refreshTimeout).toBe(10_000)
    expect(config.refreshRetries).toBe(2)
    expect(config.leeway).toBeUndefined()
    expect(config.idle).toBeUndefined()
    expect(config.fetch).toBeUndefined()
    expect(config.reauthenticate).toBeUndefined()
    expect([...config.headers]).toEqual([])
    const before = Date.now()
    const now = config.now()
    expect(now).toBeGreaterThanOrEqual(before)
    expect(now).toBeLessThanOrEqual(Date.now())
  })

  test('the scope option becomes a compiled scope that matches', () => {
    const config = normalizeOptions({ scope: SCOPE, storage })
    expect(config.scope.matches(new URL('https://h/okapi/users'))).toBe(true)
    expect(config.scope.matches(new URL('https://h/okapix'))).toBe(false)
  })

  test('refresh defaults to POST <scope>/authn/refresh, style folio', () => {
    const config = normalizeOptions({ scope: SCOPE, storage })
    expect(config.refreshURL?.href).toBe('https://h/okapi/authn/refresh')
    expect(config.refresh).toMatchObject({ kind: 'url', style: 'folio', clientId: undefined })
    expect(config.refresh.kind === 'url' && config.refresh.url.href).toBe('https://h/okapi/authn/refresh')
  })

  test('logout defaults to <scope>/authn/logout', () => {
    expect(normalizeOptions({ scope: SCOPE, storage }).logoutURL?.href).toBe('https://h/okapi/authn/logout')
    expect(normalizeOptions({ scope: `${SCOPE}/`, storage }).logoutURL?.href).toBe('https://h/okapi/authn/logout')
    expect(normalizeOptions({ scope: [new URL('https://a/x'), 'https://b/y'], storage }).logoutURL?.href).toBe('https://a/x/authn/logout')
  })

  test('a predicate scope with a refresh URL has no default logout', () => {
    const config = normalizeOptions({ scope: () => true, refresh: 'https://auth/refresh', storage })
    expect(config.refreshURL?.href).toBe('https://auth/refresh')
    expect(config.logoutURL).toBeUndefined()
  })

  test('logout: false disables the logout call; a URL is kept', () => {
    expect(normalizeOptions({ scope: SCOPE, logout: false, storage }).logoutURL).toBeUndefined()
    expect(normalizeOptions({ scope: SCOPE, logout: 'https://h/bye', storage }).logoutURL?.href).toBe('https://h/bye')
    expect(normalizeOptions({ scope: SCOPE, logout: new URL('https://h/bye2'), storage }).logoutURL?.href).toBe('https://h/bye2')
  })

  test('refresh as a string, a URL, an object and a function', () => {
    const s = normalizeOptions({ scope: SCOPE, refresh: 'https://h/r', storage })
    expect(s.refresh).toMatchObject({ kind: 'url', style: 'folio' })
    expect(s.refreshURL?.href).toBe('https://h/r')

    const u = normalizeOptions({ scope: SCOPE, refresh: new URL('https://h/r2'), storage })
    expect(u.refreshURL?.href).toBe('https://h/r2')

    const o = normalizeOptions({ scope: SCOPE, refresh: { url: 'https://idp/token', style: 'oauth2', clientId: 'app' }, storage })
    expect(o.refresh).toMatchObject({ kind: 'url', style: 'oauth2', clientId: 'app' })
    expect(o.refreshURL?.href).toBe('https://idp/token')

    const j = normalizeOptions({ scope: SCOPE, refresh: { url: 'https://h/r3' }, storage })
    expect(j.refresh).toMatchObject({ kind: 'url', style: 'folio' })

    const fn = async () => ({ expiresIn: 60 })
    const f = normalizeOptions({ scope: SCOPE, refresh: fn, storage })
    expect(f.refresh).toEqual({ kind: 'custom', fn })
    expect(f.refreshURL).toBeUndefined()
  })

  test('headers are a Headers object', () => {
    const config = normalizeOptions({ scope: SCOPE, headers: { 'X-Okapi-Tenant': 'diku' }, storage })
    expect(config.headers).toBeInstanceOf(Headers)
    expect(config.headers.get('x-okapi-tenant')).toBe('diku')
  })

  test('crossTab: true: a channel name containing the scope (Node 20 has BroadcastChannel)', () => {
    expect(typeof globalThis.BroadcastChannel).toBe('function')
    const config = normalizeOptions({ scope: SCOPE, crossTab: true, storage })
    expect(config.channelName).toContain(SCOPE)
    // a trailing slash is the same scope, so the same channel
    expect(normalizeOptions({ scope: `${SCOPE}/`, crossTab: true, storage }).channelName).toBe(config.channelName)
    // another scope is another channel
    expect(normalizeOptions({ scope: 'https://h/other', crossTab: true, storage }).channelName).not.toBe(config.channelName)
  })

  test('crossTab default in Node (no document, not a worker): nothing shared unless asked for', () => {
    expect(normalizeOptions({ scope: SCOPE, storage }).channelName).toBeUndefined()
  })

  test('crossTab default in a page (a document exists): shared under a name derived from the scope', () => {
    const g = globalThis as { document?: unknown }
    g.document = {}
    try {
      expect(normalizeOptions({ scope: SCOPE, storage }).channelName).toBe(normalizeOptions({ scope: SCOPE, crossTab: true, storage }).channelName)
    } finally {
      delete g.document
    }
  })

  test.each([
    ['rotateat', 'rotateAt'],
    ['rotaton', 'rotation'],
    ['crosstab', 'crossTab'],
    ['refreshTimout', 'refreshTimeout'],
  ])('an unknown option (%s) is a TypeError naming it and the likely one (%s)', (typo, meant) => {
    expect(() => normalizeOptions({ scope: SCOPE, [typo]: 1 } as never)).toThrow(new RegExp(`unknown option \\\`${typo}\\\`.*did you mean \\\`${meant}\\\``))
  })

  test.each(['queueTimeout', 'refreshTimeout'] as const)('%s: 0 is refused (it would fail every request or refresh at once)', option => {
    expectOptionError({ scope: SCOPE, [option]: 0 }, option)
  })

  test('sessions of different scopes persist under different keys', () => {
    const a = normalizeOptions({ scope: 'https://a.example/api', crossTab: false, storage })
    const b = normalizeOptions({ scope: 'https://b.example/api', crossTab: false, storage })
    expect(a.storageKey).not.toBe(b.storageKey)
  })

  test('crossTab false: no channel; a name: that name', () => {
    expect(normalizeOptions({ scope: SCOPE, crossTab: false, storage }).channelName).toBeUndefined()
    expect(normalizeOptions({ scope: SCOPE, crossTab: { name: 'my-app' }, storage }).channelName).toContain('my-app')
  })

  test('a predicate scope gets a channel only under a name it is given (issue 26.4: see channel-name.test.ts)', () => {
    const config = normalizeOptions({ scope: () => true, refresh: 'https://h/r', crossTab: { name: 'app-a' }, storage })
    expect(config.channelName).toBe('rotor-auth:app-a')
    expectOptionError({ scope: () => true, refresh: 'https://h/r', crossTab: true, storage }, 'crossTab')
  })

  test('persist default with the cookie transport: storage kept, no tokens', () => {
    const config = normalizeOptions({ scope: SCOPE, storage })
    expect(config.storage).toBe(storage)
    expect(config.persistTokens).toBe(false)
  })

  test('persist default with the bearer transport: no storage, no tokens', () => {
    const config = normalizeOptions({ scope: SCOPE, transport: 'bearer', storage })
    expect(config.storage).toBeUndefined()
    expect(config.persistTokens).toBe(false)
  })

  test('bearer with persist: true keeps storage and persists tokens', () => {
    const config = normalizeOptions({ scope: SCOPE, transport: 'bearer', persist: true, storage })
    expect(config.storage).toBe(storage)
    expect(config.persistTokens).toBe(true)
  })

  test('cookie with persist: false drops storage', () => {
    const config = normalizeOptions({ scope: SCOPE, persist: false, storage })
    expect(config.storage).toBeUndefined()
    expect(config.persistTokens).toBe(false)
  })

  test('Node has no localStorage: without a storage option there is none', () => {
    expect(normalizeOptions({ scope: SCOPE }).storage).toBeUndefined()
  })

  test('idle: defaults for warning and activityEvents; false is off', () => {
    const config = normalizeOptions({ scope: SCOPE, idle: { timeout: 60_000 }, storage })
    expect(config.idle).toMatchObject({ timeout: 60_000, warning: 0 })
    expect(config.idle?.activityEvents.length).toBeGreaterThan(0)
    expect(config.idle?.activityEvents.every(e => typeof e === 'string')).toBe(true)
    expect(normalizeOptions({ scope: SCOPE, idle: false, storage }).idle).toBeUndefined()
    expect(normalizeOptions({ scope: SCOPE, idle: { timeout: 10, warning: 5, activityEvents: [] }, storage }).idle).toEqual({
      timeout: 10,
      warning: 5,
      activityEvents: [],
    })
  })

  test('given values are kept', () => {
    const fetch = (async () => new Response()) as typeof globalThis.fetch
    const now = () => 42
    const reauthenticate = async () => undefined
    // What goes in is what comes out: one object for both sides.
    const given = {
      rotation: 'request' as const,
      transport: 'bearer' as const,
      rotateAt: 0.5,
      queueTimeout: 1,
      refreshTimeout: 1234,
      refreshRetries: 0,
      leeway: 0,
      fetch,
      now,
      reauthenticate,
    }
    const config = normalizeOptions({ scope: SCOPE, ...given, storage })
    expect(config).toMatchObject(given)
  })
})

describe('normalizeOptions: values JSON cannot show', () => {
  // JSON.stringify throws on these; the message must still name the option.
  test('rotateAt: a BigInt still gives a TypeError naming `rotateAt`', () => {
    expectOptionError({ scope: SCOPE, rotateAt: 1n }, 'rotateAt')
  })

  test('refresh: a circular object still gives a TypeError naming `refresh`', () => {
    const circular: Record<string, unknown> = {}
    circular['self'] = circular
    expectOptionError({ scope: SCOPE, refresh: circular }, 'refresh')
  })

  test('storage: null gives a TypeError naming `storage`', () => {
    expectOptionError({ scope: SCOPE, storage: null }, 'storage')
  })
})
