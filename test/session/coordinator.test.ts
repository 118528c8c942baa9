/**
 * The injected coordinator: a custom one is used for every lock, read, write and message (and
 * nothing reaches for BroadcastChannel or Web Locks behind its back); an asynchronous one, as
 * a worker or Redis would be, keeps one refresh per generation; a test coordinator replays a
 * race step by step.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createSession, supersedes, type Coordinator, type Message, type OutgoingMessage, type Session, type Snapshot } from '../../src/index.js'
import { bearerOptions, record, startEnv, type Env } from '../helpers/index.js'

/** One "origin": a store, a FIFO lock and a bus shared by the members it hands out. */
function hub(options: { async?: boolean; lag?: () => number } = {}) {
  let stored: Snapshot | undefined
  let tail: Promise<unknown> = Promise.resolve()
  const members = new Set<{ id: string; deliver: (m: Message) => void }>()
  const counts = { read: 0, write: 0, lock: 0, post: 0, subscribe: 0, isLeader: 0, hasPeers: 0, close: 0 }
  const posted: OutgoingMessage[] = []
  let next = 0
  const later = <T>(value: T): T | Promise<T> => (options.async ? new Promise(resolve => setTimeout(() => resolve(value), 1)) : value)

  function member(): Coordinator {
    const id = `m${++next}`
    const self = { id, deliver: (_m: Message) => undefined as void }
    members.add(self)
    return {
      read() {
        counts.read++
        return later(stored)
      },
      write(snapshot) {
        counts.write++
        const store = () => {
          if (!stored || !supersedes(stored, snapshot)) stored = snapshot
        }
        // A lagging store (a browser's localStorage across processes): others read the old value meanwhile.
        const lag = options.lag?.() ?? 0
        if (lag) setTimeout(store, lag * 8)
        else store()
        return later(undefined)
      },
      lock(fn) {
        counts.lock++
        const result = tail.then(() => fn())
        tail = result.catch(() => undefined)
        return result
      },
      post(message) {
        counts.post++
        posted.push(message)
        const lag = options.lag?.() ?? 0
        for (const other of members) {
          if (other === self) continue
          const deliver = () => other.deliver({ ...message, rotor: 1, from: id } as Message)
          if (lag) setTimeout(deliver, lag)
          else queueMicrotask(deliver)
        }
      },
      subscribe(listener) {
        counts.subscribe++
        self.deliver = listener
        return () => void (self.deliver = () => undefined)
      },
      isLeader() {
        counts.isLeader++
        return [...members][0] === self
      },
      hasPeers() {
        counts.hasPeers++
        return members.size > 1
      },
      close() {
        counts.close++
        members.delete(self)
      },
    }
  }
  return { member, counts, posted, stored: () => stored }
}

describe('createSession({ coordinator })', () => {
  let env: Env
  beforeEach(async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    await env.close()
  })

  test('every lock, read, write and message goes through it; no BroadcastChannel or Web Lock is touched', async () => {
    const channels = vi.spyOn(globalThis, 'BroadcastChannel')
    const shared = hub()
    const a = await env.bearer({ coordinator: shared.member(), rotation: 'request' })
    const b = createSession({
      scope: `${env.url}/api`,
      transport: 'bearer',
      refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
      logout: `${env.url}/bearer/logout`,
      rotation: 'request',
      coordinator: shared.member(),
    })
    env.sessions.push(b)
    // b joined from the store (a hello, then a's state) without rotating.
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    expect(env.server.stats.refreshCalls).toBe(0)

    await Promise.all([a.rotate(), b.rotate()])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
    await vi.waitFor(() => expect(b.state.generation).toBe(a.state.generation))
    expect((await b.fetch(`${env.url}/api/x`)).status).toBe(200)
    await a.logout()
    await vi.waitFor(() => expect(b.state.status).toBe('signed-out'))

    const { counts, posted } = shared
    // start (1), the rotation (b waits on the lock, re-reads inside it and adopts), logout.
    expect(counts.lock).toBeGreaterThanOrEqual(2)
    expect(counts.read).toBeGreaterThanOrEqual(4)
    expect(counts.write).toBeGreaterThanOrEqual(3) // login, rotation, logout
    expect(posted.map(m => m.type)).toEqual(expect.arrayContaining(['hello', 'state', 'rotating']))
    expect(counts.subscribe).toBe(2)
    expect(shared.stored()).toMatchObject({ status: 'signed-out' })
    expect(channels).not.toHaveBeenCalled()
    a.dispose()
    b.dispose()
    expect(counts.close).toBe(2)
  })

  test('an asynchronous coordinator (reads, writes and lock all async): 3 sessions × 50 requests behind an expired AT → one refresh', async () => {
    await env.close()
    let t = Date.parse('2026-11-22T12:00:00Z')
    const now = () => t
    env = await startEnv({ accessTokenTtl: 10_000, refreshTokenTtl: 3_600_000, now })
    const shared = hub({ async: true })
    const first = await env.bearer({ coordinator: shared.member(), rotation: 'request', now })
    const others: Session[] = []
    for (let i = 0; i < 2; i++) {
      const s = createSession({
        scope: `${env.url}/api`,
        transport: 'bearer',
        refresh: { url: `${env.url}/bearer/refresh`, style: 'json' },
        rotation: 'request',
        now,
        coordinator: shared.member(),
      })
      env.sessions.push(s)
      others.push(s)
    }
    await vi.waitFor(() => expect(others.every(s => s.state.status === 'active')).toBe(true))
    t += 10_001
    const all = [first, ...others]
    const responses = await Promise.all(all.flatMap(s => Array.from({ length: 50 }, (_, i) => s.fetch(`${env.url}/api/${i}`))))
    expect(responses.every(r => r.status === 200)).toBe(true)
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0, api401: 0, api200: 150 })
  })

  // In a browser the rotation lock and the previous holder's news travel by different paths: the
  // lock can reach the next tab before the holder's `state` message, and before its
  // localStorage write shows there. That tab heard the holder say `rotating`, so it waits for
  // the news instead of refreshing again (with cookies a needless refresh; with bearer tokens
  // the spent RT).
  test.each(['cookie', 'bearer'] as const)("%s: the lock arrives before the holder's state: one refresh, not two", async transport => {
    let lag = 0
    const shared = hub({ lag: () => lag })
    let first: Session
    let second: Session
    if (transport === 'cookie') {
      const a = await env.browser({ coordinator: shared.member() })
      first = a.session
      second = createSession({ scope: env.url, fetch: a.fetch, headers: { 'X-Okapi-Tenant': 'diku' }, coordinator: shared.member() })
      env.sessions.push(second)
    } else {
      first = await env.bearer({ coordinator: shared.member() })
      second = createSession({ ...bearerOptions(env.url), coordinator: shared.member() })
      env.sessions.push(second)
    }
    await vi.waitFor(() => expect(second.state.status).toBe('active'))
    const before = { ...env.server.stats }
    // Messages take 10 ms, the store 80 ms, the refresh answer 50 ms: the second tab gets the
    // lock right after the first releases it, with neither its message nor its write there yet.
    lag = 10
    env.server.setLatency(50)
    await Promise.all([first.rotate(), second.rotate()])
    await vi.waitFor(() => expect(second.state.generation).toBe(first.state.generation))
    expect(env.server.stats.refreshCalls - before.refreshCalls).toBe(1)
    expect(env.server.stats.reusedRefused).toBe(0)
    expect([first.state.status, second.state.status]).toEqual(['active', 'active'])
  })

  test('a coordinator missing a method is refused, naming the option', () => {
    const partial = { ...hub().member(), lock: undefined } as unknown as Coordinator
    expect(() => createSession({ scope: env.url, coordinator: partial })).toThrow(/`coordinator`.*missing lock/)
  })
})

describe('rotate-error for every failed attempt', () => {
  let env: Env
  beforeEach(async () => {
    env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 3_600_000 })
  })
  afterEach(() => env.close())

  test.each(['cookie', 'bearer'] as const)('%s: refresh answers 503, 503, 201 → two rotate-error willRetry: true, then rotate', async transport => {
    const session = await env.session(transport)
    const log = record(session)
    env.server.fault('refresh', { status: 503, times: 2 })
    await session.rotate()
    expect(log.events.map(e => e.type)).toEqual(['rotate-error', 'rotate-error', 'rotate'])
    const errors = log.of('rotate-error')
    expect(errors.map(e => [e.willRetry, e.attempt])).toEqual([
      [true, 1],
      [true, 2],
    ])
    for (const e of errors) expect(typeof e.retryIn).toBe('number')
    expect(env.server.stats).toMatchObject({ refreshCalls: 3, refreshGranted: 1, reusedRefused: 0 })
  })

  test('a refused RT: exactly one rotate-error with willRetry: false, then logout', async () => {
    const session = await env.bearer()
    const log = record(session)
    // Faults queue per route: one transient 503, then a definitive 400.
    env.server.fault('refresh', { status: 503, times: 1 })
    env.server.fault('refresh', { status: 400, times: 1 })
    await session.rotate().catch(() => undefined)
    const errors = log.of('rotate-error')
    expect(errors.map(e => [e.willRetry, e.attempt])).toEqual([
      [true, 1],
      [false, 2],
    ])
    expect(log.of('logout')).toEqual([{ reason: 'rejected', origin: 'local', error: expect.objectContaining({ code: 'ERR_REFRESH_REFUSED' }) }])
  })
})
