/**
 * The session-ending warning (`sessionEnding: { warning }`): `session-ending` fires once in
 * every tab `warning` ms before the RT expires, is re-armed in every tab when any tab's
 * rotation moves the expiry (stripes-core re-arms only the tab that rotated), and every tab
 * logs out with reason 'expired' at the end. Tabs are sessions sharing a `crossTab` name in
 * one process; the reference server issues sliding RTs (each rotation: now + RT lifetime).
 * Request mode, so no timer rotation moves the expiry unless a test asks for one.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createSession, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'
import { browserTabs, record, startEnv, waitFor, type Env } from '../helpers/index.js'

const AT = 5_000
const RT = 20_000
const WARNING = 4_000

describe('session-ending warning (fake timers, several tabs in one process)', () => {
  let env: Env
  let open: (options?: Partial<SessionOptions>) => Session
  let login: (tab: Session) => Promise<void>

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: RT })
    const browser = browserTabs(env, { rotation: 'request', sessionEnding: { warning: WARNING } })
    open = options => browser.open(options)
    login = tab => browser.start(tab)
  })
  afterEach(async () => {
    vi.useRealTimers()
    await env.close()
  })

  const advance = async (ms: number, step = 250) => {
    for (let t = 0; t < ms; t += step) await vi.advanceTimersByTimeAsync(Math.min(step, ms - t))
  }
  const endings = (log: ReturnType<typeof record>) => log.of('session-ending').map(e => e.endsAt)

  function recordEnding(tab: Session) {
    const log = record(tab)
    tab.on('session-ending', payload => log.events.push({ type: 'session-ending', payload }))
    return log
  }

  test('fires once in every tab `warning` before the RT expiry, then every tab logs out "expired"', async () => {
    const first = open()
    await login(first)
    const second = open()
    await waitFor(() => second.state.status === 'active')
    const endsAt = first.state.refreshExpiresAt!
    expect(second.state.refreshExpiresAt).toBe(endsAt)
    const logs = [first, second].map(recordEnding)

    await advance(endsAt - Date.now() - WARNING - 500)
    expect(logs.map(endings)).toEqual([[], []])
    await advance(1_000)
    expect(logs.map(endings)).toEqual([[endsAt], [endsAt]])
    // A UI that mounts now can still read it.
    expect([first, second].map(t => t.warnings.ending)).toEqual([endsAt, endsAt])
    // Once per expiry, however long the warning lasts.
    await advance(WARNING - 1_000)
    expect(logs.map(endings)).toEqual([[endsAt], [endsAt]])
    expect(logs.flatMap(l => l.of('logout'))).toEqual([])
    expect([first, second].map(t => t.state.status)).toEqual(['active', 'active'])

    await advance(1_000)
    await waitFor(() => [first, second].every(t => t.state.status === 'signed-out'))
    expect(logs.map(l => l.of('logout').map(e => e.reason))).toEqual([['expired'], ['expired']])
    expect([first, second].map(t => t.warnings)).toEqual([
      { idle: null, ending: null },
      { idle: null, ending: null },
    ])
    // The AT was dead long before; nothing was asked of the server: no refresh, no reuse.
    expect(env.server.stats.refreshCalls).toBe(0)
    expect(env.server.stats.reusedRefused).toBe(0)
  })

  test('a rotation in one tab re-arms the warning and the end in every tab', async () => {
    const first = open()
    await login(first)
    const second = open()
    await waitFor(() => second.state.status === 'active')
    const oldEnd = first.state.refreshExpiresAt!
    const logs = [first, second].map(recordEnding)

    // Halfway, the second tab rotates: the server gives a new RT, expiring RT ms from now.
    await advance(RT / 2)
    await second.rotate()
    await waitFor(() => first.state.generation === second.state.generation)
    const newEnd = second.state.refreshExpiresAt!
    expect(newEnd).toBeGreaterThan(oldEnd)
    expect(first.state.refreshExpiresAt).toBe(newEnd)
    expect(env.server.stats.refreshGranted).toBe(1)

    // Past the old warning and the old end: no tab warned, no tab logged out. (stripes-core's
    // other tabs still held the old timers here, and ended a session that had been extended.)
    await advance(oldEnd - Date.now() + 1_000)
    expect(logs.map(endings)).toEqual([[], []])
    expect([first, second].map(t => t.state.status)).toEqual(['active', 'active'])

    // The new warning comes in both tabs, for the new expiry, and the end with it.
    expect(first.warnings.ending).toBeNull()
    await advance(newEnd - Date.now() - WARNING + 250)
    expect(logs.map(endings)).toEqual([[newEnd], [newEnd]])
    expect(first.warnings.ending).toBe(newEnd)
    await advance(WARNING)
    await waitFor(() => [first, second].every(t => t.state.status === 'signed-out'))
    expect(logs.map(l => l.of('logout').map(e => e.reason))).toEqual([['expired'], ['expired']])
    expect(env.server.stats.refreshCalls).toBe(1)
    expect(env.server.stats.reusedRefused).toBe(0)
  })

  test('a tab that joins inside the warning window is warned at once', async () => {
    const first = open()
    await login(first)
    const endsAt = first.state.refreshExpiresAt!
    await advance(endsAt - Date.now() - WARNING / 2)
    const late = open()
    const log = recordEnding(late)
    await waitFor(() => late.state.status === 'active')
    await vi.advanceTimersByTimeAsync(0)
    expect(endings(log)).toEqual([endsAt])
  })

  test('reauthenticate, when given, runs at the end instead of a logout (once across tabs)', async () => {
    let asked = 0
    const reauthenticate = async () => {
      asked++
    }
    const first = open({ reauthenticate })
    await login(first)
    const second = open({ reauthenticate })
    await waitFor(() => second.state.status === 'active')
    const logs = [first, second].map(recordEnding)
    await advance(RT + 500)
    await waitFor(() => [first, second].every(t => t.state.status === 'signed-out'))
    // It returned nothing: the session ends, 'expired', in both tabs.
    expect(asked).toBe(1)
    expect(logs.map(l => l.of('logout').map(e => e.reason))).toEqual([['expired'], ['expired']])
  })
})

describe('sessionEnding option', () => {
  test('is validated up front', () => {
    const scope = 'https://api.example.org'
    expect(() => createSession({ scope, sessionEnding: { warning: -1 } })).toThrow(/sessionEnding\.warning/)
    expect(() => createSession({ scope, sessionEnding: {} as never })).toThrow(/sessionEnding\.warning/)
    expect(() => createSession({ scope, sessionEnding: 60_000 as never })).toThrow(/sessionEnding\.warning/)
    expect(() => createSession({ scope, sessionEndin: { warning: 1 } } as never)).toThrow(/did you mean `sessionEnding`/)
    createSession({ scope, sessionEnding: false, crossTab: false }).dispose()
  })

  test('without it the session is not ended at the RT expiry while the AT still works', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    const env = await startEnv({ accessTokenTtl: 60_000, refreshTokenTtl: 20_000 })
    try {
      const { session } = await env.browser({ rotation: 'request' })
      await vi.advanceTimersByTimeAsync(25_000)
      expect(session.state.status).toBe('active')
      const ended = await env.browser({ rotation: 'request', sessionEnding: { warning: 1_000 } })
      await vi.advanceTimersByTimeAsync(25_000)
      expect(ended.session.state.status).toBe('signed-out')
    } finally {
      vi.useRealTimers()
      await env.close()
    }
  })
})
