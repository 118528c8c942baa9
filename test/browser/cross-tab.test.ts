/**
 * "Every tab agrees", in real Chromium: tabs of one browser context share one cookie
 * session through the library's channel (native BroadcastChannel) and Web Locks. Each test
 * has its own reference server and browser. Measured figures are printed with `[cross-tab]`.
 */
import type { Page } from 'playwright-core'
import type { AuthServer, AuthServerStats } from '../../src/testing/index.js'
import { afterEach, describe, expect, it } from 'vitest'
import {
  login,
  settled,
  sleep,
  startHarness,
  startTraffic,
  stopTraffic,
  tabReport,
  tabState,
  tabStats,
  waitForGeneration,
  type Harness,
  type TabOptions,
  type TabStats,
} from './harness'
import { chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[cross-tab] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

const AT = 2_000
/** How long (a) keeps five tabs busy: 7 rotations at AT 2 s (it was 30 s, then 20 s; 12 s shows the same). */
const TRAFFIC_A_MS = 12_000
const RT = 60_000

function report(line: string): void {
  console.log(`[cross-tab] ${line}`)
}

/** Waits until every tab shows the same generation with no rotation in flight; returns it. */
async function agreedGeneration(pages: Page[]): Promise<number> {
  let states = await Promise.all(pages.map(tabState))
  for (let i = 0; i < 40; i++) {
    const g = states[0]!.generation
    if (states.every(s => s.generation === g && !s.rotating)) return g
    await sleep(50)
    states = await Promise.all(pages.map(tabState))
  }
  expect(
    states.map(s => s.generation),
    'every tab ends on the same generation',
  ).toEqual(states.map(() => states[0]!.generation))
  return states[0]!.generation
}

/** A failed refresh call shows up as `rotate-error` in the page: say so before anything times out. */
async function expectNoRotateErrors(pages: Page[], label: string): Promise<void> {
  const errors = await Promise.all(pages.map(p => p.evaluate(() => window.rotor.stats.events.filter(e => e.type === 'rotate-error'))))
  for (const [i, list] of errors.entries()) {
    expect(list.slice(0, 1), `${label}: tab ${i} rotate-error events (${list.length}; the refresh call failed in the page)`).toEqual([])
  }
}

/**
 * Tabs and server read at one quiet moment: every tab on the same generation, no rotation in
 * flight, and the server granted nothing while the tabs were read (the timers keep rotating
 * every 1.6 s after the traffic stops, so a read may straddle a rotation: then read again).
 */
async function quiet(pages: Page[], server: AuthServer): Promise<{ generation: number; stats: TabStats[]; server: AuthServerStats }> {
  for (let attempt = 0; ; attempt++) {
    const generation = await agreedGeneration(pages)
    const granted = server.stats.refreshGranted
    const stats = await Promise.all(pages.map(tabStats))
    const snapshot = { ...server.stats }
    const states = await Promise.all(pages.map(tabState))
    if (snapshot.refreshGranted === granted && states.every(st => st.generation === generation && !st.rotating)) {
      return { generation, stats, server: snapshot }
    }
    if (attempt >= 5) throw new Error('the tabs never stood still')
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`

describe.skipIf(skip)('every tab agrees (real Chromium, cookie transport, BroadcastChannel + Web Locks)', () => {
  let h: Harness | undefined
  /** Page time (browser-wide clock) just after tab 0's login of the current harness. */
  let loginAt = 0
  /** How long the joiners of the current harness took to open (all in parallel), ms. */
  let joinMs = 0

  afterEach(async () => {
    if (h) expect(h.pageErrors, 'uncaught errors in the pages').toEqual([])
    await h?.close()
    h = undefined
  })

  /** Tab 0 logs in; `joiners` more tabs open after and join. Asserts they joined without a refresh. */
  async function loggedInTabs(joiners: number, options: TabOptions = {}): Promise<Page[]> {
    h = await startHarness({ accessTokenTtl: AT, refreshTokenTtl: RT })
    const first = await h.openTab(options)
    // Tab 0's timer rotates 1.6 s after the login: the joiners' browser pages are opened
    // first, and only their documents load after the login, to keep the join well inside that.
    const blanks = await h.blankPages(joiners)
    await login(first)
    loginAt = (await tabStats(first)).loggedInAt
    const before = { refreshCalls: h.server.stats.refreshCalls, logins: h.server.stats.logins }
    const joinStarted = performance.now()
    const others = await Promise.all(blanks.map(blank => h!.openTab(options, blank)))
    joinMs = performance.now() - joinStarted
    const pages = [first, ...others]
    // Joining is free: no login, no refresh.
    expect(h.server.stats.refreshCalls).toBe(before.refreshCalls)
    expect(h.server.stats.logins).toBe(before.logins)
    const reports = await Promise.all(pages.map(tabReport))
    for (const [i, { state, stats }] of reports.entries()) {
      expect(state.status, `tab ${i} status`).toBe('active')
      expect(state.generation, `tab ${i} generation`).toBe(reports[0]!.state.generation)
      expect(stats.rotations.local, `tab ${i} rotated`).toBe(0)
    }
    return pages
  }

  function expectCleanTraffic(all: TabStats[], label: string): void {
    for (const [i, s] of all.entries()) {
      expect(s.status401, `${label}: tab ${i} saw a 401`).toBe(0)
      expect(s.errors, `${label}: tab ${i} errors`).toEqual([])
      expect(s.other, `${label}: tab ${i} other statuses`).toEqual({})
      expect(s.ok, `${label}: tab ${i} answered calls`).toBe(s.sent)
      expect(s.logouts, `${label}: tab ${i} logged out`).toEqual([])
    }
  }

  it('(0) a rotation started in one tab reaches the server once and every other tab', async () => {
    const pages = await loggedInTabs(2)
    const before = (await tabState(pages[0]!)).generation
    const outcome = await pages[0]!.evaluate(() =>
      window.rotor.session.rotate().then(
        () => 'ok',
        (error: unknown) => String(error),
      ),
    )
    const events = await Promise.all(pages.map(p => p.evaluate(() => window.rotor.stats.events)))
    const errors = events.flat().filter(e => e.type === 'rotate-error')
    expect(errors, 'rotate-error events (the refresh call failed in the page)').toEqual([])
    expect(outcome).toBe('ok')
    expect(h!.server.stats.refreshCalls).toBe(1)
    expect(h!.server.stats.refreshGranted).toBe(1)
    await Promise.all(pages.map(p => waitForGeneration(p, before, 2_000)))
    const local = events[0]!.filter(e => e.type === 'rotate')
    expect(local).toMatchObject([{ type: 'rotate', origin: 'local', generation: before + 1 }])
    const remote = await Promise.all(pages.slice(1).map(p => p.evaluate(() => window.rotor.stats.events.filter(e => e.type === 'rotate'))))
    const latencies = remote.map(list => {
      expect(list).toMatchObject([{ type: 'rotate', origin: 'remote', generation: before + 1 }])
      return list[0]!.at - local[0]!.at
    })
    report(`(0) rotation latency to the other tabs: ${latencies.map(fmt).join(', ')}`)
    for (const l of latencies) expect(l).toBeLessThan(1_000)
  }, 15_000)

  it(`(a) 5 tabs, timer mode, AT 2 s: one refresh per generation for ${TRAFFIC_A_MS / 1000} s, no 401, no reuse`, async () => {
    const pages = await loggedInTabs(4, { rotation: 'timer' })
    const server = h!.server
    const t0 = performance.now()
    await Promise.all(pages.map(p => startTraffic(p, 100)))
    await sleep(TRAFFIC_A_MS)
    await Promise.all(pages.map(stopTraffic))
    const elapsed = performance.now() - t0
    await expectNoRotateErrors(pages, '(a)')
    await Promise.all(pages.map(p => settled(p)))
    const { generation, stats: all, server: serverStats } = await quiet(pages, server)
    const { refreshCalls, refreshGranted, reusedRefused, refreshRefused, api200, api401 } = serverStats
    report(
      `(a) 4 tabs joined in ${fmt(joinMs)} with no refresh; ${(elapsed / 1000).toFixed(1)} s of traffic: refreshCalls=${refreshCalls} granted=${refreshGranted} refused=${refreshRefused} ` +
        `reused=${reusedRefused} api200=${api200} api401=${api401}; generation=${generation}; ` +
        `local rotations per tab=${all.map(s => s.rotations.local).join('/')}; ` +
        `calls per tab=${all.map(s => s.sent).join('/')}; slowest call per tab=${all.map(s => fmt(s.slowestMs)).join(', ')}`,
    )
    expect(reusedRefused).toBe(0)
    expect(refreshRefused).toBe(0)
    expect(api401).toBe(0)
    // Timer mode rotates every AT × rotateAt (the library's default 0.8): one refresh per
    // interval, less a fifth for timers the busy tabs fire late, plus an eighth for the login's.
    const perInterval = elapsed / (AT * 0.8)
    expect(refreshCalls).toBeGreaterThanOrEqual(Math.floor(perInterval * 0.8))
    expect(refreshCalls).toBeLessThanOrEqual(Math.ceil(perInterval * 1.125))
    expectCleanTraffic(all, '(a)')
    // Every tab adopted every rotation: the local ones of each tab add up to the server's count.
    expect(all.reduce((n, s) => n + s.rotations.local, 0)).toBe(refreshGranted)
    for (const s of all) expect(s.rotations.local + s.rotations.remote).toBe(refreshGranted)
  }, 50_000)

  it('(b) closing the tab that rotated last does not strand the others', async () => {
    const pages = await loggedInTabs(4, { rotation: 'timer' })
    const server = h!.server
    await Promise.all(pages.map(p => startTraffic(p, 100)))
    await sleep(6_000)
    await expectNoRotateErrors(pages, '(b) before the close')

    const lastLocal = await Promise.all(pages.map(p => p.evaluate(() => window.rotor.stats.events.filter(e => e.type === 'rotate' && e.origin === 'local').at(-1)?.at ?? 0)))
    const rotator = lastLocal.indexOf(Math.max(...lastLocal))
    expect(lastLocal[rotator]).toBeGreaterThan(0)
    // Closed right after its next rotation, not while its refresh is on the wire: a tab closed then
    // holds the next holder up to refreshTimeout by design (its keepalive answer lands, no tab
    // publishes it: test/browser/reload.test.ts), longer than the 6 s measured below (CI on e2da568:
    // one grant after the close, the closed tab's own).
    const rotated = (await tabStats(pages[rotator]!)).rotations.local
    await pages[rotator]!.waitForFunction(n => window.rotor.stats.rotations.local > n, rotated, { timeout: 5_000 })
    const closedStats = await tabStats(pages[rotator]!)
    await pages[rotator]!.close()
    const grantedAtClose = server.stats.refreshGranted
    const rest = pages.filter((_, i) => i !== rotator)

    await sleep(6_000)
    await Promise.all(rest.map(stopTraffic))
    await expectNoRotateErrors(rest, '(b) after the close')
    await Promise.all(rest.map(p => settled(p)))
    const { stats: all, server: serverStats } = await quiet(rest, server)
    const { refreshGranted, reusedRefused, api401 } = serverStats
    const newRotators = all.map((s, i) => [pages.indexOf(rest[i]!), s.rotations.local] as const).filter(([, n]) => n > 0)
    report(
      `(b) closed tab ${rotator} (it had rotated ${closedStats.rotations.local} times); refreshGranted ${grantedAtClose} at close → ` +
        `${refreshGranted} 6 s later; rotating tabs after: ${newRotators.map(([i, n]) => `tab ${i}: ${n} total`).join(', ')}; ` +
        `reused=${reusedRefused} api401=${api401}`,
    )
    expect(refreshGranted).toBeGreaterThanOrEqual(grantedAtClose + 2)
    expect(reusedRefused).toBe(0)
    expect(serverStats.refreshRefused).toBe(0)
    expect(api401).toBe(0)
    expectCleanTraffic(all, '(b)')
    // Every remaining tab adopted the same rotations: their own and every one published by another.
    const adopted = all.map(s => s.rotations.local + s.rotations.remote)
    expect(new Set(adopted).size, `rotations adopted per tab: ${adopted.join('/')}`).toBe(1)
    // A refresh the closed tab had on the wire goes on (keepalive): the server grants it and its
    // Set-Cookie lands, but no tab publishes it, so no tab counts it as a rotation; the next holder
    // presents the cookie it set (0 reused). At most one such grant, and only that one.
    const orphaned = refreshGranted - adopted[0]!
    expect(orphaned).toBeGreaterThanOrEqual(0)
    expect(orphaned).toBeLessThanOrEqual(1)
    // The closed tab's stats were read before close(): it may have published one more rotation
    // between the two (its timer runs on) that the others adopted: the tabs' own counts may fall
    // one short of the adopted count, never more.
    const byRest = all.reduce((n, s) => n + s.rotations.local, 0)
    expect(closedStats.rotations.local + byRest).toBeLessThanOrEqual(adopted[0]!)
    expect(closedStats.rotations.local + byRest).toBeGreaterThanOrEqual(adopted[0]! - 1)
  }, 30_000)

  it('(c) logout in one tab reaches every other tab (reason user, origin remote)', async () => {
    const pages = await loggedInTabs(3)
    const latencies: number[] = []
    const fromCall: number[] = []
    // Round 0 is the one the issue asks for (logout in tab 0); rounds 1–2 log in again from
    // tab 0 (the others adopt it) and log out from tab 1, then tab 2, for more samples.
    for (const from of [0, 1, 2]) {
      if (from > 0) {
        await login(pages[0]!)
        await Promise.all(pages.map(p => p.waitForFunction(() => window.rotor.session.state.status === 'active', undefined, { timeout: 2_000 })))
      }
      const seen = await Promise.all(pages.map(p => p.evaluate(() => window.rotor.stats.logouts.length)))
      const calledAt = await pages[from]!.evaluate(async () => {
        const at = performance.timeOrigin + performance.now()
        await window.rotor.session.logout()
        return at
      })
      await Promise.all(pages.map((p, i) => p.waitForFunction(n => window.rotor.stats.logouts.length > n, seen[i]!, { timeout: 2_000, polling: 10 })))
      const logouts = await Promise.all(pages.map((p, i) => p.evaluate(n => window.rotor.stats.logouts[n]!, seen[i]!)))
      const local = logouts[from]!
      expect(local).toMatchObject({ origin: 'local', reason: 'user' })
      for (const [i, l] of logouts.entries()) {
        if (i === from) continue
        expect(l, `tab ${i}`).toMatchObject({ origin: 'remote', reason: 'user' })
        latencies.push(l.at - local.at)
        fromCall.push(l.at - calledAt)
      }
      for (const [i, state] of (await Promise.all(pages.map(tabState))).entries()) {
        expect(state.status, `tab ${i} after logout`).toBe('signed-out')
      }
    }
    report(
      `(c) logout latency to the other tabs over ${latencies.length} samples: median ${fmt(median(latencies))}, ` +
        `max ${fmt(Math.max(...latencies))}, first round (tab 0) ${latencies.slice(0, 3).map(fmt).join(', ')}; ` +
        `from the logout() call (server round trip included): median ${fmt(median(fromCall))}, max ${fmt(Math.max(...fromCall))}`,
    )
    for (const l of latencies) expect(l).toBeLessThan(1_000)
    // Signed out: calls pass through untouched (no credentials held, no waiting) and get the server's 401.
    const statuses = await Promise.all(pages.map(p => p.evaluate(async () => (await window.rotor.session.fetch('/api/ping')).status)))
    expect(statuses).toEqual(pages.map(() => 401))
    expect(h!.server.stats.logouts).toBeGreaterThanOrEqual(3)
  }, 20_000)

  it('(d) a tab opened later joins the running session without a refresh', async () => {
    const pages = await loggedInTabs(1)
    await Promise.all(pages.map(p => startTraffic(p, 100)))
    const startGeneration = (await tabState(pages[0]!)).generation
    await sleep(2_000)
    await expectNoRotateErrors(pages, '(d)')
    // Two rotations in, then join right after a rotation (1.6 s before the next one is due).
    const once = await waitForGeneration(pages[0]!, startGeneration, 5_000)
    const generation = await waitForGeneration(pages[0]!, once, 5_000)
    const refreshCalls = h!.server.stats.refreshCalls
    const late = await h!.openTab()
    const joined = await tabReport(late)
    const first = await late.evaluate(async () => (await window.rotor.session.fetch('/api/ping')).status)
    expect(h!.server.stats.refreshCalls).toBe(refreshCalls)
    expect(joined.state.status).toBe('active')
    expect(joined.state.generation).toBe(generation)
    expect(joined.stats.rotations).toEqual({ local: 0, remote: 0 })
    expect(first).toBe(200)
    // It then follows the next rotation like the others.
    await startTraffic(late, 100)
    await waitForGeneration(late, generation, 5_000)
    await sleep(300)
    const all = [...pages, late]
    await Promise.all(all.map(stopTraffic))
    await Promise.all(all.map(p => settled(p)))
    expectCleanTraffic(await Promise.all(all.map(tabStats)), '(d)')
    await agreedGeneration(all)
    expect(h!.server.stats.reusedRefused).toBe(0)
    expect(h!.server.stats.api401).toBe(0)
    report(`(d) joined at generation ${generation} with refreshCalls unchanged (${refreshCalls}); first call 200`)
  }, 20_000)

  it('(e) the idle timeout logs out every tab; activity in one tab keeps every tab alive', async () => {
    const idle = { timeout: 3_000, warning: 1_000 }

    // Part 1: nobody is active.
    let pages = await loggedInTabs(2, { idle })
    await Promise.all(pages.map(p => p.waitForFunction(() => window.rotor.stats.logouts.length > 0, undefined, { timeout: 6_000, polling: 20 })))
    const idleStats = await Promise.all(pages.map(tabStats))
    const origins: string[] = []
    for (const [i, s] of idleStats.entries()) {
      const kinds = s.events.filter(e => e.type === 'idle-warning' || e.type === 'logout').map(e => e.type)
      expect(kinds, `tab ${i} events`).toEqual(['idle-warning', 'logout'])
      const logout = s.logouts[0]!
      expect(logout.reason).toBe('idle')
      expect(logout.at - loginAt, `tab ${i} logged out late`).toBeLessThan(4_500)
      origins.push(`tab ${i}: ${logout.origin} at +${((logout.at - loginAt) / 1000).toFixed(2)} s`)
    }
    expect(idleStats.filter(s => s.logouts[0]!.origin === 'local').length).toBeGreaterThanOrEqual(1)
    for (const state of await Promise.all(pages.map(tabState))) expect(state.status).toBe('signed-out')
    report(`(e) idle logout (timeout 3 s, warning 1 s, measured from login): ${origins.join(', ')}`)
    await expectNoRotateErrors(pages, '(e) part 1')
    expect(h!.pageErrors).toEqual([])
    await h!.close()

    // Part 2: a keydown every 500 ms in tab 0 only.
    pages = await loggedInTabs(2, { idle })
    const generation = (await tabState(pages[0]!)).generation
    type Keys = { keys: number; lastKeyAt: number }
    await pages[0]!.evaluate(() => {
      const w = window as unknown as Keys
      w.keys = window.setInterval(() => {
        w.lastKeyAt = performance.timeOrigin + performance.now()
        window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Shift' }))
      }, 500)
    })
    await sleep(6_500) // more than twice the timeout
    await expectNoRotateErrors(pages, '(e) part 2')
    const alive = await Promise.all(pages.map(tabReport))
    for (const [i, { state, stats }] of alive.entries()) {
      expect(state.status, `tab ${i} kept alive`).toBe('active')
      expect(stats.logouts, `tab ${i}`).toEqual([])
      expect(
        stats.events.filter(e => e.type === 'idle-warning'),
        `tab ${i} idle warnings`,
      ).toEqual([])
    }
    // The session kept rotating meanwhile (timer mode does not stop while someone is active).
    expect(alive[0]!.state.generation).toBeGreaterThanOrEqual(generation + 3)
    // Activity stops: every tab logs out again within the timeout (+ slack).
    // The last keydown comes 300 ms after the previous one: whatever the phase, less than the
    // engine's 1 s activity-broadcast throttle after the last broadcast one.
    const lastKeyAt = await pages[0]!.evaluate(async () => {
      const w = window as unknown as Keys
      window.clearInterval(w.keys)
      await new Promise(resolve => setTimeout(resolve, w.lastKeyAt + 300 - (performance.timeOrigin + performance.now())))
      w.lastKeyAt = performance.timeOrigin + performance.now()
      window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Shift' }))
      return w.lastKeyAt
    })
    await Promise.all(pages.map(p => p.waitForFunction(() => window.rotor.stats.logouts.length > 0, undefined, { timeout: 6_000, polling: 20 })))
    const after = await Promise.all(pages.map(tabStats))
    report(
      `(e) with a keydown every 500 ms in tab 0: all 3 tabs alive after 6.5 s (generation ${generation} → ${alive[0]!.state.generation}); ` +
        `after the last keydown, idle logouts at ${after.map((s, i) => `tab ${i} ${s.logouts[0]!.origin} +${((s.logouts[0]!.at - lastKeyAt) / 1000).toFixed(2)} s`).join(', ')}`,
    )
    expect(h!.server.stats.reusedRefused).toBe(0)
    for (const [i, s] of after.entries()) {
      expect(s.logouts[0]!.reason).toBe('idle')
      expect(s.logouts[0]!.at - lastKeyAt, `tab ${i}: idle logout too late after the last activity`).toBeLessThan(idle.timeout + 1_500)
      // "timeout ms without user activity in ANY tab": not before the timeout has passed since
      // the last keydown in tab 0 (50 ms for timer slack).
      expect(s.logouts[0]!.at - lastKeyAt, `tab ${i}: idle logout before the timeout since the last activity (in tab 0)`).toBeGreaterThanOrEqual(idle.timeout - 50)
    }
  }, 30_000)
})
