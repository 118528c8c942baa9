/**
 * Issue 26.4: the name sessions share under. Two apps of one origin whose scopes were
 * functions both shared `rotor-auth:default`, so app B joined app A's session and sent A's
 * tokens to B's API and token endpoint; two equal string scopes with other refresh endpoints
 * shared a name too. The default name now carries the scope and both endpoints, and a function
 * scope must be named or not shared.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { normalizeOptions } from '../../src/core/options.js'
import { createSession } from '../../src/index.js'

const storage = { getItem: () => null, setItem: () => undefined, removeItem: () => undefined }

describe('the default crossTab name (issue 26.4)', () => {
  const g = globalThis as { document?: unknown }
  // A page: sharing is the default there, as in the reported case.
  beforeEach(() => void (g.document = {}))
  afterEach(() => void delete g.document)

  test('two string scopes alike, other refresh endpoints: two names', () => {
    const a = normalizeOptions({ scope: 'https://h/api', refresh: 'https://h/a/refresh', storage })
    const b = normalizeOptions({ scope: 'https://h/api', refresh: 'https://h/b/refresh', storage })
    expect(a.channelName).toBeDefined()
    expect(a.channelName).not.toBe(b.channelName)
    expect(a.storageKey).not.toBe(b.storageKey)
  })

  test('the same scope and refresh, another logout endpoint: two names; the same options: one', () => {
    const a = normalizeOptions({ scope: 'https://h/api', refresh: 'https://h/r', logout: 'https://h/a/bye', storage })
    const b = normalizeOptions({ scope: 'https://h/api', refresh: 'https://h/r', logout: 'https://h/b/bye', storage })
    const c = normalizeOptions({ scope: 'https://h/api/', refresh: 'https://h/r', logout: 'https://h/a/bye', storage })
    expect(a.channelName).not.toBe(b.channelName)
    expect(c.channelName).toBe(a.channelName)
  })

  test('the name says which scope and endpoints it is for', () => {
    const { channelName } = normalizeOptions({ scope: 'https://h/okapi', storage })
    expect(channelName).toContain('https://h/okapi')
    expect(channelName).toContain('https://h/okapi/authn/refresh')
    expect(channelName).toContain('https://h/okapi/authn/logout')
  })

  test('a function scope without a name is a TypeError naming `crossTab`, in a page and with crossTab: true', () => {
    expect(() => normalizeOptions({ scope: () => true, refresh: 'https://h/r', storage })).toThrow(/option `crossTab` must be \{ name \} or false with a function `scope`/)
    expect(() => createSession({ scope: () => true, refresh: 'https://h/r', crossTab: true, storage })).toThrow(TypeError)
  })

  test('a function scope with crossTab: { name } or false is accepted', () => {
    expect(normalizeOptions({ scope: () => true, refresh: 'https://h/r', crossTab: { name: 'app-a' }, storage }).channelName).toBe('rotor-auth:app-a')
    expect(normalizeOptions({ scope: () => true, refresh: 'https://h/r', crossTab: false, storage }).channelName).toBeUndefined()
  })

  test('two apps with function scopes and their own names never share one', () => {
    const a = normalizeOptions({ scope: () => true, refresh: 'https://h/a/r', crossTab: { name: 'app-a' }, storage })
    const b = normalizeOptions({ scope: () => true, refresh: 'https://h/b/r', crossTab: { name: 'app-b' }, storage })
    expect(a.channelName).not.toBe(b.channelName)
    expect(a.storageKey).not.toBe(b.storageKey)
  })
})

describe('in Node (nothing shared unless asked for)', () => {
  test('a function scope needs no name when nothing is shared', () => {
    expect(normalizeOptions({ scope: () => true, refresh: 'https://h/r', storage }).channelName).toBeUndefined()
  })
})

describe('the worker URL (issue 26.10)', () => {
  const g = globalThis as { document?: unknown; location?: unknown }
  afterEach(() => {
    delete g.document
    delete g.location
  })

  test('a relative `worker` resolves against the page, not an injected <base href>', () => {
    g.document = { baseURI: 'https://app.example/uploads/evil/' }
    g.location = { href: 'https://app.example/app/index.html' }
    const config = normalizeOptions({ scope: 'https://app.example/api', worker: 'rotor-worker.js', storage })
    expect(config.worker?.href).toBe('https://app.example/app/rotor-worker.js')
    expect(normalizeOptions({ scope: 'https://app.example/api', worker: '/rotor-worker.js', storage }).worker?.href).toBe('https://app.example/rotor-worker.js')
  })
})
