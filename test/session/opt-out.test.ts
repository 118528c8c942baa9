/**
 * The per-request opt-out: `rtrIgnore: true` in fetch's init, or an `X-Rotor-Ignore` header
 * (fetch, `Request` objects, XHR), sends a request in scope untouched: no `Authorization`, no
 * waiting, no rotation or replay after its 401; the flag and the header never reach the server.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import type { Session } from '../../src/index.js'
import { startEnv, type Env } from '../helpers/index.js'

type Sent = { url: string; headers: Headers; init: Record<string, unknown> }

describe('per-request opt-out (bearer session on the reference server)', () => {
  let env: Env
  let session: Session
  let sent: Sent[]
  /** While set, refresh calls are held here before they go to the server. */
  let holdRefresh: Promise<void> | undefined

  beforeEach(async () => {
    env = await startEnv()
    sent = []
    holdRefresh = undefined
    const spy: typeof fetch = async (input, init) => {
      const request = new Request(input instanceof Request ? input.clone() : input, init)
      sent.push({ url: request.url, headers: request.headers, init: { ...init } })
      if (request.url.includes('/refresh')) await holdRefresh
      return fetch(input, init)
    }
    session = await env.bearer({ fetch: spy })
  })
  afterEach(() => env.close())

  const api = () => `${env.url}/api/items`

  test('a managed request carries the AT; with rtrIgnore it goes out bare, and its 401 is not replayed', async () => {
    expect((await session.fetch(api())).status).toBe(200)
    expect(sent.at(-1)!.headers.get('authorization')).toMatch(/^Bearer /)

    const ignored = await session.fetch(api(), { rtrIgnore: true, headers: { accept: 'application/json' } })
    expect(ignored.status).toBe(401)
    const last = sent.at(-1)!
    expect(last.headers.get('authorization')).toBeNull()
    expect(last.headers.get('accept')).toBe('application/json')
    expect('rtrIgnore' in last.init).toBe(false)
    // The server saw one bare request: one 401, no refresh, no replay.
    expect(env.server.stats.api401).toBe(1)
    expect(env.server.stats.api200).toBe(1)
    expect(env.server.stats.refreshCalls).toBe(0)
    expect(sent).toHaveLength(2)
  })

  test.each([
    ['a plain object', () => ({ 'X-Rotor-Ignore': '1', accept: 'text/plain' })],
    ['Headers', () => new Headers({ 'x-rotor-ignore': 'yes', accept: 'text/plain' })],
    [
      'an array',
      () =>
        [
          ['X-ROTOR-IGNORE', ''],
          ['accept', 'text/plain'],
        ] as Array<[string, string]>,
    ],
  ])('the X-Rotor-Ignore header (%s) opts out and is stripped', async (_, headers) => {
    expect((await session.fetch(api(), { headers: headers() })).status).toBe(401)
    const last = sent.at(-1)!
    expect(last.headers.get('x-rotor-ignore')).toBeNull()
    expect(last.headers.get('authorization')).toBeNull()
    expect(last.headers.get('accept')).toBe('text/plain')
    expect(env.server.stats.api401).toBe(1)
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('on a Request object too', async () => {
    const request = new Request(api(), { method: 'POST', headers: { 'X-Rotor-Ignore': '1' }, body: 'x' })
    expect((await session.fetch(request)).status).toBe(401)
    expect(sent.at(-1)!.headers.get('x-rotor-ignore')).toBeNull()
    expect(sent.at(-1)!.headers.get('authorization')).toBeNull()
    expect(env.server.stats.api401).toBe(1)
  })

  test('an opted-out request does not wait for a rotation in flight', async () => {
    let release!: () => void
    holdRefresh = new Promise(resolve => (release = resolve))
    const rotation = session.rotate()
    expect(session.state.rotating).toBe(true)
    const ignored = await session.fetch(api(), { rtrIgnore: true })
    // Answered while the rotation was still on the wire.
    expect(session.state.rotating).toBe(true)
    expect(ignored.status).toBe(401)
    expect(env.server.stats.refreshCalls).toBe(0)
    release()
    await rotation
    expect(env.server.stats.refreshGranted).toBe(1)
  })
})

describe('per-request opt-out for XHR (install() over a recording XMLHttpRequest)', () => {
  /** Records what the facade's real attempt was given. */
  class RecordingXhr extends EventTarget {
    static last: RecordingXhr | undefined
    headers: Array<[string, string]> = []
    withCredentials = false
    readyState = 0
    status = 0
    upload = new EventTarget()
    open() {
      RecordingXhr.last = this
    }
    setRequestHeader(name: string, value: string) {
      this.headers.push([name.toLowerCase(), value])
    }
    send() {}
    abort() {}
  }

  let env: Env
  beforeEach(async () => {
    env = await startEnv()
  })
  afterEach(() => env.close())

  test('X-Rotor-Ignore: no Authorization, and the header stays in the facade', async () => {
    const session = await env.bearer()
    const target = { fetch: globalThis.fetch, XMLHttpRequest: RecordingXhr as unknown as typeof XMLHttpRequest }
    const { xhr } = await import('../../src/xhr.js')
    session.install(target, { xhr })
    const send = (ignore: boolean) => {
      const xhr = new target.XMLHttpRequest()
      xhr.open('GET', `${env.url}/api/items`)
      xhr.setRequestHeader('Accept', 'application/json')
      if (ignore) xhr.setRequestHeader('X-Rotor-Ignore', '1')
      xhr.send()
      return RecordingXhr.last!.headers
    }
    expect(send(false).map(([name]) => name)).toEqual(['accept', 'authorization'])
    expect(send(true)).toEqual([['accept', 'application/json']])
  })
})
