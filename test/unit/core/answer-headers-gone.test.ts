// A bearer refresh answered 2xx (the server spent the RT) whose body never came, on a page gone before its give-up: the next lock holder must not present that RT, it takes the login over (sim seeds 630, 393, 1012).
import { describe, expect, it } from 'vitest'
import { callRefresh } from '../../../src/core/refresh-call.js'
import { REFRESH_KIT } from '../../../src/core/refresh.js'
import type { RotatorOptions } from '../../../src/core/rotator.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, loginForm, sessionCore, settle, virtualTime, type Core, type VirtualTime } from './virtual.js'

const LIFETIME = 60_000

/**
 * A rotating-RT refresh endpoint, as the page's fetch sees it, on virtual time: every RT it saw
 * (a second presentation is refused as reuse), and `bodyHangs`: the next answers' headers come
 * and their body never does (until the call's own signal ends the read, as fetch does).
 */
function rotatingEndpoint(time: VirtualTime) {
  const presented: string[] = []
  let issued = 0
  const state = { bodyHangs: false }
  const grant = () => {
    issued++
    return { accessToken: `at-${issued}`, refreshToken: `rt-${issued}`, expiresIn: LIFETIME / 1000, refreshExpiresIn: (10 * LIFETIME) / 1000 }
  }
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    const { refreshToken } = JSON.parse(String(init?.body)) as { refreshToken: string }
    const reused = presented.includes(refreshToken)
    presented.push(refreshToken)
    if (reused) return new Response('{"error":"invalid_grant"}', { status: 401 })
    const headers = { 'content-type': 'application/json' }
    if (!state.bodyHangs) return new Response(JSON.stringify(grant()), { status: 200, headers })
    grant()
    const signal = init?.signal ?? undefined
    const body = new ReadableStream<Uint8Array>({ start: c => signal?.addEventListener('abort', () => c.error(signal.reason), { once: true }) })
    return new Response(body, { status: 200, headers })
  }
  /** The rotator's refresh through the real HTTP call (its give-up, its reading of the answer). */
  const refresh: RotatorOptions['refresh'] = call =>
    callRefresh({
      ...call,
      spec: { kind: 'url', url: new URL('https://auth.test/refresh'), style: 'json', clientId: undefined },
      fetch,
      headers: new Headers(),
      credentials: undefined,
      now: time.now,
      random: time.random,
      timeout: 5_000,
      retries: 0,
      clock: time,
      kit: REFRESH_KIT,
    })
  const login = () => ({ ...grant(), issuedAt: time.now(), accessExpiresAt: time.now() + LIFETIME, refreshExpiresAt: time.now() + 10 * LIFETIME })
  return { presented, state, refresh, login }
}

function setup() {
  const time = virtualTime()
  const endpoint = rotatingEndpoint(time)
  const server = { ...fakeServer(time), refresh: endpoint.refresh }
  const shared = createMemoryCoordinator()
  const form = loginForm()
  const [a, b] = [0, 1].map(() => sessionCore(time, server, shared, { reauthenticate: form.hook }))
  return { time, endpoint, shared, form, a: a!, b: b! }
}

/** The page is gone (crashed, reloaded): nothing it would still write or post reaches the others, and the browser releases its lock. */
function gone(core: Core, shared: ReturnType<typeof createMemoryCoordinator>): void {
  core.coordinator.write = () => undefined
  core.coordinator.post = () => undefined
  shared.expireLease()
}

describe('a bearer 2xx refresh answer whose body never came, on a page that went away', () => {
  it('the next lock holder never presents the spent RT: it takes the login over', async () => {
    const { time, endpoint, shared, form, a, b } = setup()
    await a.start(endpoint.login())
    await settle()
    endpoint.state.bodyHangs = true
    void a.rotator.rotateFrom(a.machine.snapshot.generation).catch(() => undefined)
    await settle()
    expect(endpoint.presented).toEqual(['rt-1'])
    // Gone before its give-up (3 × refreshTimeout): it writes no verdict.
    gone(a, shared)
    endpoint.state.bodyHangs = false
    const rotation = b.rotator.rotateFrom(b.machine.snapshot.generation).catch((e: unknown) => e)
    await time.advance(5_000)
    // Without the mark, b presented rt-1 again: the server saw ['rt-1', 'rt-1'] and revoked the family.
    expect(endpoint.presented).toEqual(['rt-1'])
    expect(form.calls).toHaveLength(1)
    form.answer(endpoint.login())
    await rotation
    await settle()
    expect(b.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-3' })
    expect(b.machine.snapshot.ending).toBeUndefined()
  })

  it('the body that comes replaces the mark: every tab adopts the grant and nothing ends', async () => {
    const { endpoint, form, a, b } = setup()
    await a.start(endpoint.login())
    await settle()
    await a.rotator.rotateFrom(a.machine.snapshot.generation)
    await settle()
    for (const core of [a, b]) {
      expect(core.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
      expect(core.machine.snapshot.ending).toBeUndefined()
    }
    expect(endpoint.presented).toEqual(['rt-1'])
    expect(form.calls).toEqual([])
  })

  it('the refresh call says so for a grant-shaped 2xx only, before its body: not for a refusal, a proxy page or a 5xx', async () => {
    const time = virtualTime()
    const answers: Array<[number, string]> = [
      [401, 'application/json'],
      [200, 'text/html'],
      [502, 'text/html'],
      [200, 'application/json'],
    ]
    const heard: string[] = []
    for (const [status, type] of answers) {
      const text = JSON.stringify({ accessToken: 'at-2', refreshToken: 'rt-2', expiresIn: 60 })
      // Pulled only when read (no high-water mark): the order says whether the hook came first.
      const body = new ReadableStream<Uint8Array>({ pull: c => (heard.push(`body ${status}`), c.enqueue(new TextEncoder().encode(text)), c.close()) }, { highWaterMark: 0 })
      await callRefresh({
        spec: { kind: 'url', url: new URL('https://auth.test/refresh'), style: 'json', clientId: undefined },
        fetch: async () => new Response(body, { status, headers: { 'content-type': type } }),
        headers: new Headers(),
        credentials: undefined,
        refreshToken: 'rt-1',
        signal: new AbortController().signal,
        now: time.now,
        random: time.random,
        timeout: 5_000,
        retries: 0,
        clock: time,
        kit: REFRESH_KIT,
        onAnswered: () => void heard.push(`answered ${status} ${type}`),
      }).catch(() => undefined)
    }
    // The refusal's body is read for its words; the proxy pages' are cancelled unread.
    expect(heard).toEqual(['body 401', 'answered 200 application/json', 'body 200'])
  })
})
