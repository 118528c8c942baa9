/**
 * Tabs with no lock to share: five Chromium tabs on `http://folio.internal:<port>` (a host
 * alias of 127.0.0.1, so not a secure context and no `navigator.locks`, checked in every page),
 * as an intranet FOLIO is served. Only the elected leader refreshes
 * (src/coordinator/leader-lock.ts); the others ask it. For each transport and rotation mode:
 *  - 15 s of traffic with AT 2 s, the leading tab closed mid-run: 0 reused RTs, 0 failed
 *    calls, refreshes within 1.3× the minimum the parameters allow;
 *  - the leading tab frozen for 8 s (Page Lifecycle, as Chrome freezes background tabs) while
 *    the others keep working, then thawed: 0 reused RTs, 0 failed calls, one generation.
 * Every scenario has a browser context of its own (cookies, storage and channels fresh) and
 * the server's counters are read as differences. Figures are printed with `[no-web-locks]`.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { buildBundles, failures, noFailures, settled, sleep, tabHTML, tabReport } from './harness'
import { chromiumArgs, chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[no-web-locks] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

const AT = 2_000
const RT = 120_000
/** The tab page's timer rotation point (the library's default `rotateAt`). */
const ROTATE_AT = 0.8
const TABS = 5
const TRAFFIC_EVERY_MS = 200
const RUN_MS = 10_000
const FREEZE_MS = 8_000
/** Traffic before the freeze and after the thaw: more than one AT lifetime each. */
const AROUND_FREEZE_MS = 2_500
const ALIAS = 'folio.internal'

function report(line: string): void {
  console.log(`[no-web-locks] ${line}`)
}

type Mode = { transport: 'cookie' | 'bearer'; rotation: 'timer' | 'request' }
const modes: Mode[] = [
  { transport: 'cookie', rotation: 'timer' },
  { transport: 'cookie', rotation: 'request' },
  { transport: 'bearer', rotation: 'timer' },
  { transport: 'bearer', rotation: 'request' },
]

/**
 * The fewest refreshes that keep every call on a live AT over `elapsed` ms: one per AT
 * lifetime, and in timer mode one per rotation interval (the configuration asks for that).
 */
function minimumRefreshes(elapsed: number, rotation: Mode['rotation']): number {
  const interval = rotation === 'timer' ? AT * ROTATE_AT : AT
  return Math.max(1, Math.floor(elapsed / interval))
}

/** The tab that made the newest local rotation: the leader (only it refreshes). */
async function leaderOf(pages: Page[]): Promise<number> {
  const latest = await Promise.all(
    pages.map(page =>
      page.evaluate(() => {
        const rotations = window.rotor.stats.events.filter(e => e.type === 'rotate' && e.origin === 'local')
        return rotations.length ? rotations[rotations.length - 1]!.at : 0
      }),
    ),
  )
  const at = Math.max(...latest)
  if (at === 0) throw new Error('no tab has rotated yet')
  return latest.indexOf(at)
}

describe.skipIf(skip)('five tabs without Web Locks (http://folio.internal)', () => {
  let browser: Browser
  let server: AuthServer
  let origin = ''

  beforeAll(async () => {
    const { rotor, tab } = await buildBundles()
    server = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: RT })
    const face = await server.listen({
      static: {
        '/tab.html': { type: 'text/html', body: tabHTML() },
        '/rotor.js': { type: 'text/javascript', body: rotor },
        '/tab.js': { type: 'text/javascript', body: tab },
      },
    })
    origin = `http://${ALIAS}:${face.port}`
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs, `--host-resolver-rules=MAP ${ALIAS} 127.0.0.1`],
    })
  })

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    await server?.close()
  })

  /**
   * TABS tabs of a fresh profile sharing one session, logged in by the first; checks there
   * are no Web Locks. Returns them and when the login completed (refreshes count from there).
   */
  async function openTabs(context: BrowserContext, mode: Mode, errors: string[]): Promise<{ pages: Page[]; loggedIn: number }> {
    const pages = await Promise.all(Array.from({ length: TABS }, () => context.newPage()))
    const url = `${origin}/tab.html?transport=${mode.transport}&rotation=${mode.rotation}`
    for (const [i, page] of pages.entries()) {
      page.on('pageerror', error => errors.push(`tab ${i}: ${error.message}`))
    }
    await pages[0]!.goto(url)
    await pages[0]!.waitForFunction(() => window.rotor !== undefined)
    const status = await pages[0]!.evaluate(() => window.rotor.login())
    expect(status, 'login').toBe(201)
    const loggedIn = performance.now()
    await Promise.all(pages.slice(1).map(page => page.goto(url)))
    for (const page of pages) {
      await page.waitForFunction(() => window.rotor?.session.state.status === 'active', undefined, { timeout: 5_000 })
      expect(await page.evaluate(() => ({ secure: isSecureContext, locks: 'locks' in navigator }))).toEqual({ secure: false, locks: false })
    }
    return { pages, loggedIn }
  }

  it.each(modes)(
    `$transport, $rotation mode: ${RUN_MS / 1000} s, leader closed mid-run → 0 reused RTs, 0 failed calls, refreshes ≤ 1.3× the minimum`,
    async mode => {
      const context = await browser.newContext()
      const errors: string[] = []
      try {
        const before = { ...server.stats }
        const { pages, loggedIn } = await openTabs(context, mode, errors)
        await Promise.all(pages.map(page => page.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
        await sleep(RUN_MS / 2)

        // Close the leader just after one of its rotations (a refresh on the wire at close is
        // the reload case, which is another test's).
        const leader = await leaderOf(pages)
        const generation = await pages[leader]!.evaluate(() => window.rotor.session.state.generation)
        await pages[leader]!.waitForFunction(g => window.rotor.session.state.generation > g && !window.rotor.session.state.rotating, generation, {
          timeout: 5_000,
          polling: 10,
        })
        await pages[leader]!.evaluate(() => window.rotor.stopTraffic())
        await settled(pages[leader]!, 10_000)
        const closedStats = (await tabReport(pages[leader]!)).stats
        const generationAtClose = await pages[leader]!.evaluate(() => window.rotor.session.state.generation)
        await pages[leader]!.close({ runBeforeUnload: true })
        const rest = pages.filter((_, i) => i !== leader)

        await sleep(RUN_MS / 2)
        await Promise.all(rest.map(page => page.evaluate(() => window.rotor.stopTraffic())))
        await Promise.all(rest.map(page => settled(page, 10_000)))
        const elapsed = performance.now() - loggedIn
        const reports = await Promise.all(rest.map(tabReport))
        const s = server.stats
        const refreshes = s.refreshCalls - before.refreshCalls
        const reused = s.reusedRefused - before.reusedRefused
        const minimum = minimumRefreshes(elapsed, mode.rotation)
        const all = [closedStats, ...reports.map(r => r.stats)]
        const calls = all.reduce((n, t) => n + t.sent, 0)
        report(
          `${mode.transport}/${mode.rotation}: ${(elapsed / 1000).toFixed(1)} s since the login, ${calls} calls; refreshes=${refreshes} (minimum ${minimum}, ` +
            `ratio ${(refreshes / minimum).toFixed(2)}) refused=${s.refreshRefused - before.refreshRefused} reused=${reused} ` +
            `api401=${s.api401 - before.api401}; leader tab ${leader} closed at generation ${generationAtClose}, ` +
            `then generations ${reports.map(r => r.state.generation).join('/')}; local rotations per tab ${all.map(t => t.rotations.local).join('/')}; ` +
            `slowest call ${Math.max(...all.map(t => t.slowestMs)).toFixed(0)} ms`,
        )
        expect(reused, 'refresh tokens presented twice').toBe(0)
        expect(s.refreshRefused - before.refreshRefused, 'refreshes refused').toBe(0)
        for (const [i, t] of all.entries()) expect(failures(t), `tab ${i} failures`).toEqual(noFailures)
        expect(refreshes).toBeLessThanOrEqual(1.3 * minimum)
        // The survivors kept rotating after the leader left, and agree.
        for (const r of reports) {
          expect(r.state.status).toBe('active')
          expect(r.state.generation).toBeGreaterThan(generationAtClose)
        }
        expect(errors, 'uncaught page errors').toEqual([])
      } finally {
        await context.close().catch(() => undefined)
      }
    },
    60_000,
  )

  it.each(modes.filter(m => m.rotation === 'timer'))(
    `$transport: the leading tab frozen for ${FREEZE_MS / 1000} s while the others work, then thawed → 0 reused RTs, 0 failed calls`,
    async mode => {
      const context = await browser.newContext()
      const errors: string[] = []
      try {
        const before = { ...server.stats }
        const { pages } = await openTabs(context, mode, errors)
        await Promise.all(pages.map(page => page.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
        await sleep(AROUND_FREEZE_MS)
        const leader = await leaderOf(pages)
        const cdp = await context.newCDPSession(pages[leader]!)
        const frozenAt = await pages[leader]!.evaluate(() => window.rotor.session.state.generation)
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
        const rest = pages.filter((_, i) => i !== leader)
        await sleep(FREEZE_MS)
        const whileFrozen = await Promise.all(rest.map(page => page.evaluate(() => window.rotor.session.state.generation)))
        await cdp.send('Page.setWebLifecycleState', { state: 'active' })
        await sleep(AROUND_FREEZE_MS)
        await Promise.all(pages.map(page => page.evaluate(() => window.rotor.stopTraffic())))
        await Promise.all(pages.map(page => settled(page, 10_000)))
        // Everyone, the thawed tab included, ends on one generation.
        let reports = await Promise.all(pages.map(tabReport))
        for (let i = 0; i < 40 && !reports.every(r => r.state.generation === reports[0]!.state.generation && !r.state.rotating); i++) {
          await sleep(100)
          reports = await Promise.all(pages.map(tabReport))
        }
        const s = server.stats
        const reused = s.reusedRefused - before.reusedRefused
        report(
          `${mode.transport}: leader tab ${leader} frozen at generation ${frozenAt} for ${FREEZE_MS / 1000} s; the others reached ` +
            `${whileFrozen.join('/')} meanwhile; after the thaw generations ${reports.map(r => r.state.generation).join('/')}; ` +
            `refreshes=${s.refreshCalls - before.refreshCalls} reused=${reused} refused=${s.refreshRefused - before.refreshRefused}; ` +
            `calls per tab ${reports.map(r => r.stats.sent).join('/')}; slowest call per tab ` +
            reports.map(r => `${r.stats.slowestMs.toFixed(0)} ms`).join(', '),
        )
        expect(reused, 'refresh tokens presented twice').toBe(0)
        expect(s.refreshRefused - before.refreshRefused).toBe(0)
        // The others kept rotating while the leader was frozen: at least one per AT lifetime.
        for (const g of whileFrozen) expect(g).toBeGreaterThanOrEqual(frozenAt + Math.floor(FREEZE_MS / AT) - 1)
        for (const [i, r] of reports.entries()) expect(failures(r.stats), `tab ${i} failures`).toEqual(noFailures)
        expect(reports.map(r => r.state.generation)).toEqual(reports.map(() => reports[0]!.state.generation))
        expect(errors, 'uncaught page errors').toEqual([])
      } finally {
        await context.close().catch(() => undefined)
      }
    },
    60_000,
  )
})
