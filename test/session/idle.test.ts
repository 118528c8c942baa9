import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'
import { browserTabs, record, startEnv, waitFor, type Env } from '../helpers/index.js'

const AT = 3_000
const IDLE = { timeout: 10_000, warning: 2_000 }

describe('idle timeout (fake timers, several tabs in one process)', () => {
  let env: Env
  let tabs: Session[]
  let open: (options?: Partial<SessionOptions>) => Session
  let login: (tab: Session) => Promise<void>

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
    env = await startEnv({ accessTokenTtl: AT, refreshTokenTtl: 3_600_000 })
    const browser = browserTabs(env, { idle: IDLE })
    tabs = browser.tabs
    open = options => browser.open(options)
    login = tab => browser.start(tab)
  })
  afterEach(async () => {
    vi.useRealTimers()
    await env.close()
  })

  /** Advances fake time in steps, letting each step's real HTTP round trips finish. */
  async function advance(ms: number, step = 500) {
    for (let t = 0; t < ms; t += step) {
      await vi.advanceTimersByTimeAsync(Math.min(step, ms - t))
      await waitFor(() => !tabs.some(tab => tab.state.rotating), { interval: 2 })
    }
  }

  test('idle-warning at timeout − warning, then logout "idle" in every tab', async () => {
    const first = open()
    await login(first)
    const second = open()
    const logs = [first, second].map(record)
    await advance(8_500)
    expect(logs[0]!.of('idle-warning')).toHaveLength(1)
    expect(logs[0]!.of('logout')).toEqual([])
    await advance(2_000)
    await vi.waitFor(() => expect(tabs.every(t => t.state.status === 'signed-out')).toBe(true))
    const reasons = logs.flatMap(l => l.of('logout').map(e => e.reason))
    expect(reasons).toEqual(['idle', 'idle'])
    // The idle logout told the server too (the family is revoked). The tabs sign out
    // locally first; the server's answer comes after.
    await waitFor(() => expect(env.server.stats.logouts).toBe(1))
  })

  test('keepAlive() in one tab keeps every tab alive', async () => {
    const first = open()
    await login(first)
    const second = open()
    const log = record(second)
    for (let i = 0; i < 6; i++) {
      await advance(4_000)
      first.keepAlive()
    }
    expect(log.of('logout')).toEqual([])
    expect(tabs.map(t => t.state.status)).toEqual(['active', 'active'])
  })

  test('activity in one tab after the warning: idle-resume in every tab, with the new deadline', async () => {
    const first = open()
    await login(first)
    const second = open()
    const resumed: Array<Array<number>> = [[], []]
    ;[first, second].forEach((tab, i) => tab.on('idle-resume', ({ logoutAt }) => resumed[i]!.push(logoutAt)))
    const logs = [first, second].map(record)
    await advance(8_500)
    expect(logs.map(l => l.of('idle-warning').length)).toEqual([1, 1])
    expect(resumed).toEqual([[], []])
    const warned = logs[0]!.of('idle-warning')[0]!.logoutAt
    expect([first, second].map(t => t.warnings.idle)).toEqual([warned, warned])
    second.keepAlive()
    const deadline = Date.now() + IDLE.timeout
    await waitFor(() => resumed[0]!.length === 1)
    expect(resumed).toEqual([[deadline], [deadline]])
    expect([first, second].map(t => t.warnings.idle)).toEqual([null, null])
    // Activity without a warning pending says nothing.
    await advance(1_000)
    first.keepAlive()
    await advance(1_000)
    expect(resumed.map(r => r.length)).toEqual([1, 1])
    expect(logs.flatMap(l => l.of('logout'))).toEqual([])
  })

  test('busy(work) keeps the session alive, and rotating, until the work settles', async () => {
    const tab = open()
    await login(tab)
    const log = record(tab)
    let finish!: () => void
    const work = tab.busy(new Promise<void>(resolve => (finish = resolve)))
    await advance(30_000)
    expect(tab.state.status).toBe('active')
    expect(env.server.stats.refreshGranted).toBeGreaterThanOrEqual(10) // 30 s / (0.8 × 3 s)
    finish()
    await work
    await advance(10_500)
    await vi.waitFor(() => expect(log.of('logout').map(e => e.reason)).toEqual(['idle']))
  })

  test('no keep-alive rotations while idle (after the warning starts)', async () => {
    const tab = open({ idle: { timeout: 20_000, warning: 15_000 } })
    await login(tab)
    await advance(5_000)
    const before = env.server.stats.refreshGranted
    await advance(9_000)
    expect(env.server.stats.refreshGranted).toBe(before)
    // Activity again: the next request rotates the expired AT first, no 401.
    tab.keepAlive()
    expect((await tab.fetch(`${env.url}/api/x`)).status).toBe(200)
    expect(env.server.stats.api401).toBe(0)
  })
})
