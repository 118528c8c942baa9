/**
 * Real-browser harness for the cross-tab tests: the library bundled for the browser
 * (esbuild, IIFE, global `Rotor`), a tab page (`tab-page.ts`), the reference auth server
 * serving both on the same origin as its routes (so the cookie transport works in the page
 * without CORS), and headless Chromium with one browser context: its pages are tabs of one
 * profile (BroadcastChannel, Web Locks, localStorage shared).
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { notInWorker } from '../../tsup.config.js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { SessionState } from '../../src/index.js'
import { createAuthServer, type AuthServer, type ListeningAuthServer } from '../../src/testing/index.js'
import { launchChromium } from './launch'
import type { TabStats } from './tab-page'

export type { TabEvent, TabStats } from './tab-page'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** `entry` (relative to this folder) bundled for a page: esbuild, IIFE, optionally as the global `globalName`. */
export async function bundle(entry: string, globalName?: string): Promise<string> {
  const result = await build({
    entryPoints: [here(entry)],
    bundle: true,
    format: 'iife',
    ...(globalName ? { globalName } : {}),
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    // The worker's script as published: without the page's coordinators (tsup.config.ts).
    plugins: entry.endsWith('worker/main.ts') ? [notInWorker] : [],
  })
  const out = result.outputFiles[0]
  if (!out) throw new Error(`esbuild produced nothing for ${entry}`)
  return out.text
}

type Bundles = { rotor: string; tab: string; rotorXhr: string; rotorWorker: string }
let bundles: Promise<Bundles> | undefined

/**
 * `/rotor.js` (src/index.ts, global `Rotor`), `/tab.js` (tab-page.ts), the XHR facade
 * entry (src/xhr.ts, global `RotorXhr`) and the rotation worker's script (src/worker/main.ts);
 * built once per test file.
 */
export function buildBundles(): Promise<Bundles> {
  bundles ??= Promise.all([bundle('../../src/index.ts', 'Rotor'), bundle('./tab-page.ts'), bundle('../../src/xhr.ts', 'RotorXhr'), bundle('../../src/worker/main.ts')]).then(
    ([rotor, tab, rotorXhr, rotorWorker]) => ({ rotor, tab, rotorXhr, rotorWorker }),
  )
  return bundles
}

/** The tab page (tab-page.ts after the library), with `head` first (engines.ts' error catcher where the driver needs it). */
export const tabHTML = (head = '') => `<!doctype html>
<meta charset="utf-8">
<title>rotor-auth tab</title>
${head}
<script src="/rotor.js"></script>
<script src="/tab.js"></script>
`

const TAB_HTML = tabHTML()

export type HarnessOptions = {
  accessTokenTtl: number
  refreshTokenTtl: number
}

export type TabOptions = {
  rotation?: 'timer' | 'request'
  idle?: { timeout: number; warning?: number }
}

export interface Harness {
  readonly server: AuthServer
  /** `http://127.0.0.1:PORT`: pages, auth routes and `/api/*`. */
  readonly origin: string
  readonly browser: Browser
  readonly context: BrowserContext
  /** Every tab opened, in order (closed ones included). */
  readonly pages: Page[]
  /** Uncaught errors of any page: a test should expect none. */
  readonly pageErrors: string[]
  /**
   * A tab of the context that loaded `/tab.html?…` and created its session (it has not
   * logged in): a new one, or `blank`, a page from {@link Harness.blankPages} (opening a
   * browser page is the slow part; loading the tab page into it is fast).
   */
  openTab(options?: TabOptions, blank?: Page): Promise<Page>
  /** Empty pages (about:blank) of the context, for openTab() to load later. */
  blankPages(count: number): Promise<Page[]>
  /** Closes the pages, the browser and the server. Idempotent. */
  close(): Promise<void>
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const { rotor, tab } = await buildBundles()
  const server = createAuthServer({ accessTokenTtl: options.accessTokenTtl, refreshTokenTtl: options.refreshTokenTtl })
  let face: ListeningAuthServer | undefined
  let browser: Browser | undefined
  try {
    face = await server.listen({
      static: {
        '/tab.html': { type: 'text/html', body: TAB_HTML },
        '/rotor.js': { type: 'text/javascript', body: rotor },
        '/tab.js': { type: 'text/javascript', body: tab },
      },
    })
    browser = await launchChromium()
    const context = await browser.newContext()
    const origin = face.origin
    const pages: Page[] = []
    const pageErrors: string[] = []
    let closing: Promise<void> | undefined
    const openBrowser = browser
    return {
      server,
      origin,
      browser,
      context,
      pages,
      pageErrors,
      blankPages(count) {
        return Promise.all(Array.from({ length: count }, () => context.newPage()))
      },
      async openTab(tabOptions: TabOptions = {}, blank?: Page) {
        const query = new URLSearchParams()
        if (tabOptions.rotation) query.set('rotation', tabOptions.rotation)
        if (tabOptions.idle) {
          query.set('idleTimeout', String(tabOptions.idle.timeout))
          query.set('idleWarning', String(tabOptions.idle.warning ?? 0))
        }
        const page = blank ?? (await context.newPage())
        const index = pages.push(page) - 1
        page.on('pageerror', error => pageErrors.push(`tab ${index}: ${error.message}`))
        await page.goto(`${origin}/tab.html?${query}`)
        await page.waitForFunction(() => window.rotor !== undefined)
        return page
      },
      close() {
        closing ??= (async () => {
          await Promise.allSettled(pages.map(page => page.close()))
          await context.close().catch(() => undefined)
          await openBrowser.close().catch(() => undefined)
          await server.close()
        })()
        return closing
      },
    }
  } catch (error) {
    await browser?.close().catch(() => undefined)
    await server.close()
    throw error
  }
}

// ---- helpers that read or drive one tab --------------------------------------------------

/** A page function: every call the tab page's startTraffic sent has settled. */
export function allSettled(): boolean {
  const s = window.rotor.stats
  return s.sent === s.ok + s.status401 + s.errors.length + Object.values(s.other).reduce((a, b) => a + b, 0)
}

/** Waits until every call startTraffic sent has settled. */
export async function settled(page: Page, timeout = 5_000): Promise<void> {
  await page.waitForFunction(allSettled, undefined, { timeout, polling: 50 })
}

/** What went wrong in a tab's traffic: a test expects `noFailures`. */
export function failures(stats: TabStats): { status401: number; errors: string[]; other: Record<string, number>; logouts: number } {
  return { status401: stats.status401, errors: stats.errors, other: stats.other, logouts: stats.logouts.length }
}
export const noFailures = { status401: 0, errors: [], other: {}, logouts: 0 }

/** Logs the tab in (its own FOLIO login call, then `session.start`). Throws unless 201. */
export async function login(page: Page): Promise<void> {
  const status = await page.evaluate(() => window.rotor.login())
  if (status !== 201) throw new Error(`login answered ${status}`)
}

export function startTraffic(page: Page, intervalMs: number): Promise<void> {
  return page.evaluate(ms => window.rotor.startTraffic(ms), intervalMs)
}

export function stopTraffic(page: Page): Promise<void> {
  return page.evaluate(() => window.rotor.stopTraffic())
}

export function tabState(page: Page): Promise<SessionState> {
  return page.evaluate(() => window.rotor.session.state)
}

export function tabStats(page: Page): Promise<TabStats> {
  return page.evaluate(() => window.rotor.stats)
}

/** State and counters of one tab in one round trip. */
export function tabReport(page: Page): Promise<{ state: SessionState; stats: TabStats }> {
  return page.evaluate(() => ({ state: window.rotor.session.state, stats: window.rotor.stats }))
}

/** Waits until the tab's session generation is above `generation`; returns the new one. */
export async function waitForGeneration(page: Page, above: number, timeout = 5_000): Promise<number> {
  const handle = await page.waitForFunction(g => window.rotor.session.state.generation > g && window.rotor.session.state.generation, above, {
    timeout,
    polling: 20,
  })
  return (await handle.jsonValue()) as number
}

/** Page time on the browser-wide clock (`performance.timeOrigin + performance.now()`). */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.timeOrigin + performance.now())
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
