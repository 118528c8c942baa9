/**
 * The rotation worker's main run in every engine (`engines.ts`: Chromium, Firefox, WebKit),
 * for each transport: five tabs of one profile, 15 s of traffic, AT 2 s. The server must count
 * refreshes within 1.2× the minimum the parameters allow and 0 reused RTs; no call may fail,
 * no tab may rotate by itself (the worker does) or fall back; a page of the origin listening
 * on the session's BroadcastChannel hears nothing. One browser per engine; the two transports
 * run side by side, each on a server (an origin) of its own, so its tabs, storage and worker
 * are its own. Figures are
 * printed with `[worker-engines]`. The Chromium-only cases are in worker.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionState } from '../../src/index.js'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { ENGINES, engineSkipReason, launchEngine, PAGE_ERROR_CATCHER, type Engine, type Tab } from './engines'
import { allSettled, buildBundles, failures, noFailures, sleep, tabHTML, type TabStats } from './harness'
import { fallbacks, minimumRefreshes, spyHTML, spyURL, mostRefreshes } from './worker-pages'

const AT = 2_000
const RT = 120_000
/** The library's default `rotateAt`: the worker rotates at this fraction of the AT's life. */
const ROTATE_AT = 0.8
const TABS = 5
const TRAFFIC_EVERY_MS = 200
const RUN_MS = 10_000
const WORKER = '/rotor-worker.js'

function report(line: string): void {
  console.log(`[worker-engines] ${line}`)
}

const tabReport = (tab: Tab) => tab.evaluate(() => ({ state: window.rotor.session.state, stats: window.rotor.stats })) as Promise<{ state: SessionState; stats: TabStats }>

describe.each(ENGINES.map(name => ({ name })))('the rotation worker in $name', ({ name }) => {
  const skipReason = engineSkipReason(name)
  if (skipReason) console.warn(`[worker-engines] ${name} skipped: ${skipReason}`)
  let engine: Engine | undefined
  let bundles: Awaited<ReturnType<typeof buildBundles>>

  beforeAll(async () => {
    if (skipReason) return
    bundles = await buildBundles()
    engine = await launchEngine(name)
    report(`${name}: ${engine.version}`)
  })

  afterAll(async () => {
    await engine?.close()
  })

  /** One transport's run on a server (an origin) of its own; returns what it measured. */
  async function fiveTabs(transport: 'cookie' | 'bearer') {
    const server: AuthServer = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: RT })
    const tabs: Tab[] = []
    try {
      const face = await server.listen({
        static: {
          '/tab.html': { type: 'text/html', body: tabHTML(PAGE_ERROR_CATCHER) },
          '/spy.html': { type: 'text/html', body: spyHTML(PAGE_ERROR_CATCHER) },
          '/rotor.js': { type: 'text/javascript', body: bundles.rotor },
          '/tab.js': { type: 'text/javascript', body: bundles.tab },
          [WORKER]: { type: 'text/javascript', body: bundles.rotorWorker },
        },
      })
      const origin = face.origin
      const spy = await engine!.newTab(spyURL(origin, transport))
      tabs.push(spy)
      const url = `${origin}/tab.html?transport=${transport}&rotation=timer&worker=${encodeURIComponent(WORKER)}`
      for (let i = 0; i < TABS; i++) tabs.push(await engine!.newTab(url))
      const pages = tabs.slice(1)
      for (const tab of pages) await tab.waitFor(() => window.rotor !== undefined, { message: 'the tab page loaded' })
      expect(await pages[0]!.evaluate(() => window.rotor.login()), `${transport} login`).toBe(201)
      const loggedIn = performance.now()
      for (const tab of pages) await tab.waitFor(() => window.rotor.session.state.status === 'active', { message: 'the tab joined the session' })
      await Promise.all(pages.map(tab => tab.evaluate((ms: number) => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
      await sleep(RUN_MS)
      await Promise.all(pages.map(tab => tab.evaluate(() => window.rotor.stopTraffic())))
      await Promise.all(pages.map(tab => tab.waitFor(allSettled, { timeout: 10_000, message: 'every API call settled' })))
      const elapsed = performance.now() - loggedIn
      const reports = await Promise.all(pages.map(tabReport))
      const heard = (await spy.evaluate(() => (window as unknown as { heard: string[] }).heard)) as string[]
      const errors = await Promise.all(tabs.map(tab => tab.errors()))
      return { transport, elapsed, reports, heard, errors: errors.flat(), stats: { ...server.stats } }
    } finally {
      await Promise.allSettled(tabs.map(tab => tab.close()))
      await server.close()
    }
  }

  // Both transports side by side (each on its own origin: its own storage, channel and worker),
  // so that three engines fit in CI's time.
  it.skipIf(skipReason !== undefined)(
    `cookie and bearer: five tabs each for ${RUN_MS / 1000} s at AT ${AT / 1000} s → the worker alone rotates, refreshes ≤ 1.2× the minimum, 0 reused, nothing on the channel`,
    async () => {
      const runs = await Promise.all((['cookie', 'bearer'] as const).map(fiveTabs))
      for (const { transport, elapsed, reports, heard, stats: s } of runs) {
        const minimum = minimumRefreshes(elapsed, AT, ROTATE_AT)
        report(
          `${name}, ${transport}: ${(elapsed / 1000).toFixed(1)} s, ${reports.reduce((n, r) => n + r.stats.sent, 0)} calls; ` +
            `refreshes=${s.refreshCalls} (minimum ${minimum}, ratio ${(s.refreshCalls / minimum).toFixed(2)}) reused=${s.reusedRefused} ` +
            `api401=${s.api401}; generations ${reports.map(r => r.state.generation).join('/')}; ` +
            `local rotations per tab ${reports.map(r => r.stats.rotations.local).join('/')}; channel messages heard: ${heard.length}; ` +
            `slowest call ${Math.max(...reports.map(r => r.stats.slowestMs)).toFixed(0)} ms`,
        )
      }
      for (const { transport, elapsed, reports, heard, errors, stats: s } of runs) {
        const minimum = minimumRefreshes(elapsed, AT, ROTATE_AT)
        expect(s.reusedRefused, `${transport}: refresh tokens presented twice`).toBe(0)
        expect(s.refreshRefused, `${transport}: refreshes refused`).toBe(0)
        for (const [i, r] of reports.entries()) {
          expect(failures(r.stats), `${transport} tab ${i} failures`).toEqual(noFailures)
          expect(fallbacks(r.stats), `${transport} tab ${i} fell back`).toEqual([])
          expect(r.stats.rotations.local, `${transport} tab ${i} rotated by itself`).toBe(0)
          expect(r.stats.rotations.remote).toBeGreaterThan(0)
        }
        expect(s.refreshCalls, transport).toBeGreaterThanOrEqual(minimum - 1)
        expect(s.refreshCalls, transport).toBeLessThanOrEqual(mostRefreshes(minimum))
        expect(heard, `${transport}: heard on the channel`).toEqual([])
        expect(errors, `${transport}: uncaught errors`).toEqual([])
      }
    },
    120_000,
  )
})
