import { afterEach, beforeEach, describe, expect, vi } from 'vitest'
import { SessionExpiredError } from '../../src/index.js'
import { answeredFetch, browserTabs, channelWitness, record, startEnv, waitFor, type Env } from '../helpers/index.js'
import { serverTest } from '../helpers/fixtures.js'

const AT = 60_000
const test = serverTest({ accessTokenTtl: AT })

describe('every tab agrees (several sessions in one process)', () => {
  test('tabs opened after login join the running session without rotating', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    const late = [b.open(), b.open(), b.open()]
    for (const tab of late) expect(tab.state).toMatchObject({ status: 'active', generation: 1 })
    expect((await late[2]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.refreshCalls).toBe(0)
  })

  test('5 tabs × 200 requests behind an expired AT: one refresh in all, every tab on the new generation', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    for (let i = 0; i < 4; i++) b.open()
    clock.advance(AT + 1)
    const responses = await Promise.all(b.tabs.flatMap(tab => Array.from({ length: 200 }, (_, i) => tab.fetch(`${env.url}/api/${i}`))))
    expect(responses.filter(r => r.status !== 200)).toEqual([])
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0, api401: 0, api200: 1000 })
    await waitFor(() => expect(b.tabs.map(t => t.state.generation)).toEqual([2, 2, 2, 2, 2]))
  })

  test('a rotation in one tab reaches the others as a remote rotate event', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    const other = b.open()
    const log = record(other)
    await b.tabs[0]!.rotate()
    await vi.waitFor(() => expect(other.state.generation).toBe(2))
    expect(log.of('rotate').map(e => e.origin)).toEqual(['remote'])
  })

  test('rotate() in every tab at once: the server sees one refresh (the lock re-checks the generation)', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    for (let i = 0; i < 4; i++) b.open()
    await Promise.all(b.tabs.map(t => t.rotate()))
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
  })

  test('logout in one tab: every tab emits logout (remote) and rejects what it had queued', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    const network = answeredFetch(b.jar)
    await b.start(b.open({ fetch: network.fetch }))
    const others = [b.open({ fetch: network.fetch }), b.open({ fetch: network.fetch })]
    const logs = others.map(record)
    const witness = channelWitness(b.channelName)
    env.server.fault('refresh', { hang: true })
    clock.advance(AT + 1)
    // Tab 1 waits behind the hung refresh of its own; tab 2 waits for the lock.
    const queued = others.map(t => t.fetch(`${env.url}/api/q`))
    const settled = Promise.allSettled(queued)
    await waitFor(() => env.server.stats.refreshCalls === 1)
    await b.tabs[0]!.logout()
    const results = await settled
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SessionExpiredError)
    }
    await vi.waitFor(() => expect(logs.map(l => l.of('logout'))).toEqual([[{ reason: 'user', origin: 'remote' }], [{ reason: 'user', origin: 'remote' }]]))
    // The hung refresh ends now: once its end has been handled, and every tab's posts
    // before that have arrived (sentinel), no tab came back to life.
    env.server.releaseHung()
    await network.settled()
    const heard = await witness.sync()
    witness.close()
    const posted = heard.filter(m => m['type'] === 'state').map(m => (m['snapshot'] as { status: string }).status)
    expect(posted).toContain('signed-out')
    expect(posted).not.toContain('active')
    expect(b.tabs.map(t => t.state.status)).toEqual(['signed-out', 'signed-out', 'signed-out'])
  })

  test('garbage on the channel changes nothing', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    b.open()
    const before = b.tabs.map(t => t.state)
    const rogue = channelWitness(b.channelName)
    try {
      for (const garbage of [
        null,
        42,
        'state',
        { rotor: 1 },
        { rotor: 1, type: 'state', from: 'x', snapshot: { generation: 99, status: 'signed-out' } },
        { rotor: 1, type: 'state', from: 'x', snapshot: { generation: 1e3, status: 'active', issuedAt: 'now', accessExpiresAt: 1, refreshExpiresAt: null } },
        { rotor: 2, type: 'state', from: 'x', snapshot: { generation: 99, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null } },
        { rotor: 1, type: 'activity', from: 'x', at: 'soon' },
      ])
        rogue.post(garbage)
      // Sentinel: a hello posted after the garbage. When both tabs have answered it they have
      // handled all of it, and posted nothing in reaction before their answer.
      const heard = await rogue.ping(2)
      expect(heard).toMatchObject([
        { type: 'state', snapshot: { status: 'active', generation: 1 } },
        { type: 'state', snapshot: { status: 'active', generation: 1 } },
      ])
    } finally {
      rogue.close()
    }
    expect(b.tabs.map(t => t.state)).toEqual(before)
    expect((await b.tabs[0]!.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats).toMatchObject({ refreshCalls: 0, api401: 0 })
  })

  test('bearer: a new tab asks its peers for the tokens and joins without a refresh', async ({ env, clock }) => {
    const b = browserTabs(env, { transport: 'bearer', rotation: 'request', now: clock.now })
    await b.start(b.open())
    const joined = b.open()
    // Asked immediately: the request is held until a peer hands over the tokens.
    expect((await joined.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(joined.state).toMatchObject({ status: 'active', generation: 1 })
    expect(env.server.stats).toMatchObject({ refreshCalls: 0, api401: 0 })
  })

  test('bearer tabs: an expired AT in two tabs at once never reuses the RT', async ({ env, clock }) => {
    const tabs = browserTabs(env, { transport: 'bearer', rotation: 'request', now: clock.now, logout: false })
    const a = tabs.open()
    await tabs.start(a)
    const b = tabs.open()
    await vi.waitFor(() => expect(b.state.status).toBe('active'))
    for (let round = 0; round < 5; round++) {
      clock.advance(AT + 1)
      const rs = await Promise.all([a.fetch(`${env.url}/api/a`), b.fetch(`${env.url}/api/b`), a.rotate(), b.rotate()].map(p => Promise.resolve(p)))
      expect(rs.slice(0, 2).map(r => (r as Response).status)).toEqual([200, 200])
    }
    expect(env.server.stats).toMatchObject({ reusedRefused: 0, api401: 0 })
    expect(env.server.stats.refreshGranted).toBe(5)
  })

  test('a tab closed (disposed) mid-rotation does not strand the others', async ({ env, clock }) => {
    const b = browserTabs(env, { rotation: 'request', now: clock.now })
    await b.start(b.open())
    const survivor = b.open()
    env.server.fault('refresh', { hang: true })
    clock.advance(AT + 1)
    const dying = b.tabs[0]!.fetch(`${env.url}/api/dying`).catch(e => e)
    await waitFor(() => env.server.stats.refreshCalls === 1) // its refresh is on the wire
    b.tabs[0]!.dispose() // its refresh is aborted and its lock released
    expect(await dying).toBeInstanceOf(SessionExpiredError)
    env.server.releaseHung()
    expect((await survivor.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.reusedRefused).toBe(0)
  })
})

describe('timer mode across tabs (fake timers)', () => {
  let env: Env
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    env = await startEnv({ accessTokenTtl: AT })
  })
  afterEach(async () => {
    vi.useRealTimers()
    await env.close()
  })

  test('5 tabs: one rotation per rotateAt × AT, by the primary only', async () => {
    const b = browserTabs(env, {})
    await b.start(b.open())
    for (let i = 0; i < 4; i++) b.open()
    for (let i = 1; i <= 6; i++) {
      await vi.advanceTimersByTimeAsync(AT * 0.8)
      await waitFor(() => env.server.stats.refreshGranted === i && b.tabs.every(t => t.state.generation === i + 1))
    }
    expect(env.server.stats).toMatchObject({ refreshCalls: 6, reusedRefused: 0 })
    const locals = b.tabs.map(t => t.state.generation)
    expect(new Set(locals).size).toBe(1)
  })

  test('when the primary tab closes, another takes over before the AT expires', async () => {
    const b = browserTabs(env, {})
    await b.start(b.open())
    const rest = [b.open(), b.open()]
    b.tabs[0]!.dispose()
    // The backup timer (halfway between rotateAt and expiry) or the new primary rotates.
    await vi.advanceTimersByTimeAsync(AT * 0.95)
    await waitFor(() => env.server.stats.refreshGranted === 1)
    await waitFor(() => rest.every(t => t.state.generation === 2))
    expect(env.server.stats).toMatchObject({ refreshCalls: 1, reusedRefused: 0 })
    expect((await rest[1]!.fetch(`${env.url}/api/x`)).status).toBe(200)
  })
})
