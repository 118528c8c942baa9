/**
 * The rotation worker (`worker` option, src/worker/) in real Chromium tabs on 127.0.0.1: one
 * SharedWorker owns the timer, the refresh call and the RT for every tab, and the server's
 * counters say what happened (AT 3 s). For each transport:
 *  - one tab whose main thread is blocked by a 5 s busy loop: the worker rotated meanwhile,
 *    and the calls after the loop go out with the new AT (no 401);
 *  - one tab of two frozen for 13 s (CDP, as the browser freezes a background tab): it keeps
 *    the worker and, thawed, is on the newest generation at once;
 *  - tabs closed down to one, new tabs opened and one reloaded: still one rotation owner;
 *  - a worker URL that 404s: every tab emits `worker-fallback` and works on its own (and a
 *    page listening on the session's channel hears them: the listener works);
 *  - the pages on a plain-http host name (no Web Locks, as intranet FOLIO): the worker still
 *    rotates alone.
 * The five-tab, 15 s run is in worker-engines.test.ts, for Chromium, Firefox and WebKit.
 * Figures are printed with `[worker]`.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { buildBundles, failures, noFailures, settled, sleep, tabHTML, tabReport } from './harness'
import { chromiumArgs, chromiumPath, skipBrowserTests } from './launch'
import { HEARTBEAT_EVERY_MS, PING_LIMIT_MS } from '../../src/worker/protocol.js'
import { fallbacks, minimumRefreshes as minimumFor, mostRefreshes, spyHTML, spyURL } from './worker-pages'

const skip = skipBrowserTests()
if (skip) console.warn(`[worker] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

/**
 * 3 s, not the 2 s of the five-tab run (worker-engines.test.ts): both transports run side by
 * side here, and on a loaded 2-core machine a call can take longer than a 2 s AT's leeway.
 */
const AT = 3_000
const RT = 120_000
/** The library's default `rotateAt`: the worker rotates at this fraction of the AT's life. */
const ROTATE_AT = 0.8
const TRAFFIC_EVERY_MS = 200
const BUSY_MS = 5_000
/** A heartbeat and a ping's limit: the thawed tab's ping and its limit are both long past. */
const FREEZE_MS = HEARTBEAT_EVERY_MS + PING_LIMIT_MS
const WORKER = '/rotor-worker.js'
const ALIAS = 'folio.internal'

type Transport = 'cookie' | 'bearer'
const transports: Transport[] = ['cookie', 'bearer']

function report(line: string): void {
  console.log(`[worker] ${line}`)
}

const minimumRefreshes = (elapsed: number) => minimumFor(elapsed, AT, ROTATE_AT)

describe.skipIf(skip)('the rotation worker (Chromium)', () => {
  let browser: Browser
  /** One server (an origin: storage, channel and worker of its own) per transport; they run side by side. */
  const servers = {} as Record<Transport, { server: AuthServer; origin: string; port: number }>

  beforeAll(async () => {
    const { rotor, tab, rotorWorker } = await buildBundles()
    for (const transport of transports) {
      const server = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: RT })
      const face = await server.listen({
        static: {
          '/tab.html': { type: 'text/html', body: tabHTML() },
          '/spy.html': { type: 'text/html', body: spyHTML() },
          '/rotor.js': { type: 'text/javascript', body: rotor },
          '/tab.js': { type: 'text/javascript', body: tab },
          [WORKER]: { type: 'text/javascript', body: rotorWorker },
        },
      })
      servers[transport] = { server, origin: face.origin, port: face.port }
    }
    // folio.internal: the same servers on a plain-http host name, as intranet FOLIO is served
    // (not a secure context: no Web Locks in the pages or in the worker).
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...chromiumArgs, `--host-resolver-rules=MAP ${ALIAS} 127.0.0.1`] })
  })

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    await Promise.all(Object.values(servers).map(({ server }) => server.close()))
  })

  const tabURL = (transport: Transport, worker = WORKER, origin = servers[transport].origin) =>
    `${origin}/tab.html?transport=${transport}&rotation=timer&worker=${encodeURIComponent(worker)}`

  /** Runs `scenario` for both transports at once, each in a browser context of its own. */
  async function sideBySide(scenario: (transport: Transport, context: BrowserContext, errors: string[]) => Promise<void>): Promise<void> {
    const contexts = await Promise.all(transports.map(() => browser.newContext()))
    try {
      const results = await Promise.allSettled(
        transports.map(async (transport, i) => {
          const errors: string[] = []
          await scenario(transport, contexts[i]!, errors)
          expect(errors, `${transport}: uncaught page errors`).toEqual([])
        }),
      )
      for (const result of results) if (result.status === 'rejected') throw result.reason
    } finally {
      await Promise.all(contexts.map(context => context.close().catch(() => undefined)))
    }
  }

  /** Opens `count` tabs of `context` on `url`, each checked for uncaught errors. */
  async function open(context: BrowserContext, url: string, count: number, errors: string[]): Promise<Page[]> {
    const pages = await Promise.all(Array.from({ length: count }, () => context.newPage()))
    for (const page of pages) {
      page.on('pageerror', error => errors.push(`${page.url()}: ${error.message}`))
    }
    await Promise.all(pages.map(page => page.goto(url)))
    await Promise.all(pages.map(page => page.waitForFunction(() => window.rotor !== undefined)))
    return pages
  }

  /**
   * A page of the origin that is not the app, listening on the session's channel (its name as
   * src/core/options.ts derives it from the tab page's scope) and on the election channel.
   */
  async function openSpy(context: BrowserContext, transport: Transport): Promise<Page> {
    const page = await context.newPage()
    await page.goto(spyURL(servers[transport].origin, transport))
    return page
  }

  const heardBy = (spy: Page) => spy.evaluate(() => (window as unknown as { heard: string[] }).heard)

  /** Logs in from the first tab; every tab is active after. Returns when the login completed. */
  async function loginAll(pages: Page[]): Promise<number> {
    expect(await pages[0]!.evaluate(() => window.rotor.login()), 'login').toBe(201)
    const loggedIn = performance.now()
    for (const page of pages) await page.waitForFunction(() => window.rotor.session.state.status === 'active', undefined, { timeout: 5_000 })
    return loggedIn
  }

  it(
    'cookie and bearer: a page blocked by a 5 s busy loop is rotated meanwhile; its calls after the loop get 200, no 401',
    () =>
      sideBySide(async (transport, context, errors) => {
        const { server } = servers[transport]
        const [page] = await open(context, tabURL(transport), 1, errors)
        await loginAll([page!])
        await sleep(500)
        const before = { ...server.stats }
        const generation = await page!.evaluate(() => window.rotor.session.state.generation)
        const blocked = await page!.evaluate(ms => {
          const start = performance.now()
          while (performance.now() - start < ms);
          return performance.now() - start
        }, BUSY_MS)
        const during = server.stats.refreshCalls - before.refreshCalls
        const status = await page!.evaluate(async () => {
          const response = await window.rotor.session.fetch('/api/ping')
          return response.status
        })
        const after = await tabReport(page!)
        const s = server.stats
        report(
          `${transport}: main thread blocked ${(blocked / 1000).toFixed(1)} s; refreshes while blocked=${during}; ` +
            `generation ${generation} → ${after.state.generation}; call after the loop → ${status}; api401=${s.api401 - before.api401}`,
        )
        // The worker kept its schedule: one rotation per rotation interval, give or take the edges.
        expect(during).toBeGreaterThanOrEqual(Math.floor(BUSY_MS / (AT * ROTATE_AT)) - 1)
        expect(status).toBe(200)
        expect(s.api401 - before.api401, 'calls the server refused').toBe(0)
        expect(s.reusedRefused - before.reusedRefused).toBe(0)
        expect(after.stats.rotations.local).toBe(0)
        expect(after.state.generation).toBeGreaterThanOrEqual(generation + during)
      }),
    60_000,
  )

  it(
    'cookie and bearer: a tab frozen a heartbeat and a ping limit (13 s, as the browser freezes a background tab) keeps the worker; on thaw it is on the newest generation, its call gets 200',
    () =>
      sideBySide(async (transport, context, errors) => {
        const { server } = servers[transport]
        const [frozen, awake] = await open(context, tabURL(transport), 2, errors)
        await loginAll([frozen!, awake!])
        await awake!.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)
        await sleep(500)
        const before = { ...server.stats }
        const generation = await frozen!.evaluate(() => window.rotor.session.state.generation)
        // Frozen, the page runs nothing: its timers (the worker's heartbeat ping and its limit) and the
        // worker's messages wait for the thaw, then run together, the limits long past (src/coordinator/worker.ts #watch).
        const cdp = await context.newCDPSession(frozen!)
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' })
        await sleep(FREEZE_MS)
        const whileFrozen = server.stats.refreshCalls - before.refreshCalls
        await cdp.send('Page.setWebLifecycleState', { state: 'active' })
        // What a thawed page's app does first: a call.
        const status = await frozen!.evaluate(async () => (await window.rotor.session.fetch('/api/ping')).status)
        await awake!.evaluate(() => window.rotor.stopTraffic())
        await Promise.all([frozen!, awake!].map(page => settled(page, 10_000)))
        const [thawed, other] = await Promise.all([frozen!, awake!].map(tabReport))
        const s = server.stats
        report(
          `${transport}: tab frozen ${FREEZE_MS / 1000} s at generation ${generation}; refreshes meanwhile=${whileFrozen}; after the thaw generations ` +
            `${thawed!.state.generation}/${other!.state.generation}; its call → ${status}; reused=${s.reusedRefused - before.reusedRefused} api401=${s.api401 - before.api401}; ` +
            `its events ${JSON.stringify(thawed!.stats.events.filter(e => e.type !== 'rotate'))}`,
        )
        // The worker rotated for the awake tab meanwhile, and the thawed tab took it over, not a fallback of its own.
        expect(whileFrozen).toBeGreaterThanOrEqual(Math.floor(FREEZE_MS / (AT * ROTATE_AT)) - 1)
        expect(status).toBe(200)
        expect(fallbacks(thawed!.stats), 'the thawed tab gave the worker up').toEqual([])
        expect(thawed!.stats.rotations.local).toBe(0)
        expect(thawed!.state.generation).toBeGreaterThanOrEqual(generation + whileFrozen)
        expect(thawed!.state.generation).toBe(other!.state.generation)
        expect(s.reusedRefused - before.reusedRefused).toBe(0)
        expect(s.refreshRefused - before.refreshRefused).toBe(0)
        for (const [i, r] of [thawed!, other!].entries()) expect(failures(r.stats), `tab ${i} failures`).toEqual(noFailures)
      }),
    60_000,
  )

  it(
    'cookie and bearer: tabs closed down to one, new ones opened, one reloaded → one rotation owner, 0 reused',
    () =>
      sideBySide(async (transport, context, errors) => {
        const { server } = servers[transport]
        const before = { ...server.stats }
        const url = tabURL(transport)
        const first = await open(context, url, 3, errors)
        const loggedIn = await loginAll(first)
        const traffic = (pages: Page[]) => Promise.all(pages.map(page => page.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
        const stop = async (pages: Page[]) => {
          await Promise.all(pages.map(page => page.evaluate(() => window.rotor.stopTraffic())))
          await Promise.all(pages.map(page => settled(page, 10_000)))
          return Promise.all(pages.map(tabReport))
        }
        await traffic(first)
        await sleep(3_000)
        // Down to one tab: the worker lives on with it.
        const gone = await stop(first.slice(1))
        await Promise.all(first.slice(1).map(page => page.close({ runBeforeUnload: true })))
        await sleep(2_000)
        const later = await open(context, url, 2, errors)
        for (const page of later) await page.waitForFunction(() => window.rotor.session.state.status === 'active', undefined, { timeout: 5_000 })
        await traffic(later)
        await sleep(2_000)
        // The remaining first tab reloads while the new ones run.
        const reloadedBefore = await stop([first[0]!])
        await first[0]!.reload()
        await first[0]!.waitForFunction(() => window.rotor?.session.state.status === 'active', undefined, { timeout: 5_000 })
        await traffic([first[0]!])
        await sleep(3_000)
        const live = await stop([first[0]!, ...later])
        const elapsed = performance.now() - loggedIn
        const all = [...gone, ...reloadedBefore, ...live]
        const s = server.stats
        const refreshes = s.refreshCalls - before.refreshCalls
        const minimum = minimumRefreshes(elapsed)
        report(
          `${transport}: ${(elapsed / 1000).toFixed(1)} s with tabs closed, opened and reloaded; refreshes=${refreshes} (minimum ${minimum}, ` +
            `ratio ${(refreshes / minimum).toFixed(2)}) reused=${s.reusedRefused - before.reusedRefused}; ` +
            `generations at the end ${live.map(r => r.state.generation).join('/')}; local rotations ${all.map(r => r.stats.rotations.local).join('/')}; ` +
            `401s per tab ${all.map(r => r.stats.status401).join('/')}; events of the first: ${JSON.stringify(all[0]!.stats.events.filter(e => e.type !== 'rotate'))}`,
        )
        expect(s.reusedRefused - before.reusedRefused).toBe(0)
        expect(s.refreshRefused - before.refreshRefused).toBe(0)
        for (const [i, r] of all.entries()) {
          expect(failures(r.stats), `tab ${i} failures`).toEqual(noFailures)
          expect(r.stats.rotations.local, `tab ${i} rotated by itself`).toBe(0)
          expect(fallbacks(r.stats)).toEqual([])
        }
        expect(new Set(live.map(r => r.state.generation)).size, 'one generation everywhere').toBe(1)
        expect(refreshes).toBeLessThanOrEqual(mostRefreshes(minimum))
      }),
    60_000,
  )

  it(
    'cookie and bearer: a worker URL that 404s → worker-fallback in every tab, and the tabs work on their own',
    () =>
      sideBySide(async (transport, context, errors) => {
        const { server } = servers[transport]
        const before = { ...server.stats }
        const spy = await openSpy(context, transport)
        const pages = await open(context, tabURL(transport, '/no-such-worker.js'), 3, errors)
        for (const page of pages) await page.waitForFunction(() => window.rotor.stats.events.some(e => e.type === 'worker-fallback'), undefined, { timeout: 10_000 })
        await loginAll(pages)
        await Promise.all(pages.map(page => page.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
        await sleep(3_000)
        await Promise.all(pages.map(page => page.evaluate(() => window.rotor.stopTraffic())))
        await Promise.all(pages.map(page => settled(page, 10_000)))
        const reports = await Promise.all(pages.map(tabReport))
        const s = server.stats
        const heard = await heardBy(spy)
        const reasons = reports.map(r => fallbacks(r.stats).map(e => (e.type === 'worker-fallback' ? e.reason : '')))
        report(
          `${transport}: fallback reasons ${JSON.stringify(reasons)}; refreshes=${s.refreshCalls - before.refreshCalls} ` +
            `reused=${s.reusedRefused - before.reusedRefused}; local rotations ${reports.map(r => r.stats.rotations.local).join('/')}; channel messages: ${heard.length}`,
        )
        for (const [i, r] of reports.entries()) {
          expect(reasons[i], `tab ${i}`).toHaveLength(1)
          expect(reasons[i]![0]).toContain('/no-such-worker.js')
          expect(failures(r.stats), `tab ${i} failures`).toEqual(noFailures)
        }
        expect(s.refreshCalls - before.refreshCalls).toBeGreaterThan(0)
        expect(s.reusedRefused - before.reusedRefused).toBe(0)
        // Without the worker the tabs coordinate by channel (and the spy hears it: it works).
        expect(heard.length).toBeGreaterThan(0)
        expect(reports.reduce((n, r) => n + r.stats.rotations.local, 0)).toBeGreaterThan(0)
      }),
    60_000,
  )

  it(
    'cookie and bearer on a plain-http origin (no Web Locks anywhere): three tabs for 6 s, the worker alone rotates, 0 reused',
    () =>
      sideBySide(async (transport, context, errors) => {
        const { server, port } = servers[transport]
        const before = { ...server.stats }
        const pages = await open(context, tabURL(transport, WORKER, `http://${ALIAS}:${port}`), 3, errors)
        for (const page of pages) {
          expect(await page.evaluate(() => ({ secure: isSecureContext, locks: 'locks' in navigator }))).toEqual({ secure: false, locks: false })
        }
        const loggedIn = await loginAll(pages)
        await Promise.all(pages.map(page => page.evaluate(ms => window.rotor.startTraffic(ms), TRAFFIC_EVERY_MS)))
        await sleep(6_000)
        await Promise.all(pages.map(page => page.evaluate(() => window.rotor.stopTraffic())))
        await Promise.all(pages.map(page => settled(page, 10_000)))
        const elapsed = performance.now() - loggedIn
        const reports = await Promise.all(pages.map(tabReport))
        const s = server.stats
        const refreshes = s.refreshCalls - before.refreshCalls
        const minimum = minimumRefreshes(elapsed)
        report(
          `${transport}, http://${ALIAS}: refreshes=${refreshes} (minimum ${minimum}) reused=${s.reusedRefused - before.reusedRefused}; ` +
            `local rotations ${reports.map(r => r.stats.rotations.local).join('/')}; fallbacks ${reports.map(r => fallbacks(r.stats).length).join('/')}; ` +
            `401s ${reports.map(r => r.stats.status401).join('/')} (server api401 ${s.api401 - before.api401}); slowest ${Math.max(...reports.map(r => r.stats.slowestMs)).toFixed(0)} ms`,
        )
        expect(s.reusedRefused - before.reusedRefused).toBe(0)
        for (const [i, r] of reports.entries()) {
          expect(
            failures(r.stats),
            `${transport} tab ${i} failures; events ${JSON.stringify([...r.stats.events.filter(e => e.type !== 'rotate'), ...r.stats.events.filter(e => e.type === 'rotate').slice(-4)])}`,
          ).toEqual(noFailures)
          expect(fallbacks(r.stats), `tab ${i} fell back`).toEqual([])
          expect(r.stats.rotations.local, `tab ${i} rotated by itself`).toBe(0)
        }
        expect(refreshes).toBeGreaterThanOrEqual(minimum - 1)
        expect(refreshes).toBeLessThanOrEqual(mostRefreshes(minimum))
      }),
    60_000,
  )
})
