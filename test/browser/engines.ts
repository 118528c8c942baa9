/**
 * One small API over three browser engines, so a cross-tab scenario can run in each:
 *
 * - `chromium`: Debian's Chromium through playwright-core (the flags of `launch.ts`); the
 *   tabs are pages of one browser context. Option `hostAlias` maps a host name to 127.0.0.1,
 *   so `http://<alias>:<port>/` is NOT a secure context (no `navigator.locks`).
 * - `firefox`: Debian's firefox-esr through puppeteer-core over WebDriver BiDi (no
 *   geckodriver); every tab is its own window (`newPage({ type: 'window' })`) because a tab
 *   that is not in front is `hidden` and its timers are throttled to ~1/s.
 * - `webkit`: WebKitGTK's MiniBrowser through WebKitWebDriver and selenium-webdriver
 *   (`usingServer`, so selenium-manager never runs), under an Xvfb of its own (MiniBrowser has
 *   no headless mode). Tabs are windows of one session.
 *
 * Everything goes through `Tab.evaluate` (and `waitFor`, which polls it), so a test written
 * against this file uses no engine-specific feature. Rules that follow from WebDriver:
 * - page functions are sent as source text: an arrow or `function` expression that uses only
 *   its arguments and page globals (no closure over test variables);
 * - arguments and results are JSON round-tripped (`undefined` → `undefined`, a `Date` → a
 *   string, `NaN` → `null`);
 * - in `webkit` one WebDriver session drives every tab, so the calls of all its tabs run one
 *   at a time: never `evaluate` a promise that waits for something ANOTHER tab must do (it
 *   would hold the session); record it in the page and poll with `waitFor` instead.
 *
 * Uncaught page errors: engines report them in different ways (and WebDriver classic not at
 * all), so pages include {@link PAGE_ERROR_CATCHER} and `Tab.errors()` reads what it caught.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { chromium } from 'playwright-core'
import { chromiumArgs, chromiumPath } from './launch'

export type EngineName = 'chromium' | 'firefox' | 'webkit'

export const ENGINES: readonly EngineName[] = ['chromium', 'firefox', 'webkit']

// ---- where the binaries are --------------------------------------------------------------

/** MiniBrowser lives under the multiarch lib dir (`/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/`). */
function findMiniBrowser(): string {
  const fallback = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser'
  if (existsSync(fallback)) return fallback
  try {
    for (const dir of readdirSync('/usr/lib')) {
      const candidate = `/usr/lib/${dir}/webkit2gtk-4.1/MiniBrowser`
      if (existsSync(candidate)) return candidate
    }
  } catch {
    // no /usr/lib: report the usual path as missing
  }
  return fallback
}

/** The binaries each engine needs; `.ci/run` exports the same variables. */
export const enginePaths = {
  chromium: { browser: chromiumPath },
  firefox: { browser: process.env.FIREFOX_PATH || '/usr/bin/firefox-esr' },
  webkit: {
    driver: process.env.WEBKIT_DRIVER_PATH || '/usr/bin/WebKitWebDriver',
    browser: process.env.MINIBROWSER_PATH || findMiniBrowser(),
    xvfb: process.env.XVFB_PATH || '/usr/bin/Xvfb',
  },
} as const

/** The Debian packages that provide them (for messages). */
export const enginePackages: Record<EngineName, string> = {
  chromium: 'chromium',
  firefox: 'firefox-esr',
  webkit: 'webkit2gtk-driver xvfb xauth',
}

/** Binaries of `engine` that are not on this machine. */
export function missingBinaries(engine: EngineName): string[] {
  return Object.values(enginePaths[engine]).filter(path => !existsSync(path))
}

/** Engines whose binaries are all present. */
export function availableEngines(): EngineName[] {
  return ENGINES.filter(engine => missingBinaries(engine).length === 0)
}

/**
 * Why the suites of `engine` should be skipped, or `undefined` to run them. Like
 * `skipBrowserTests()`: a missing binary skips only outside CI; under `CI` the suite runs and
 * fails at launch, so a CI machine without the browser cannot pass silently.
 */
export function engineSkipReason(engine: EngineName): string | undefined {
  const missing = missingBinaries(engine)
  if (missing.length === 0 || process.env.CI) return undefined
  return `no ${engine}: missing ${missing.join(', ')} (apt-get install -y --no-install-recommends ${enginePackages[engine]}; under CI this fails instead)`
}

// ---- the API -----------------------------------------------------------------------------

/** A page function: an arrow or `function` expression, sent as source text. */
export type PageFunction<A extends unknown[], R> = (...args: A) => R

/** What `waitFor` can return: its result once truthy. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>

export type WaitOptions<A extends unknown[]> = {
  /** Arguments for the page function. */
  args?: A
  /** ms; default 5 000. */
  timeout?: number
  /** ms between polls; default 50. */
  interval?: number
  /** Named in the timeout error. */
  message?: string
}

export interface Tab {
  readonly engine: EngineName
  /** Order in which the engine opened it, from 0. */
  readonly index: number
  readonly closed: boolean
  /** Loads `url` and waits for its `load` event. */
  goto(url: string): Promise<void>
  /** Evaluates an expression (string) in the page; promises are awaited. */
  evaluate<R = unknown>(expression: string): Promise<R>
  /** Calls `fn(...args)` in the page; promises are awaited; arguments and result JSON round-tripped. */
  evaluate<A extends unknown[], R>(fn: PageFunction<A, R>, ...args: A): Promise<Awaited<R>>
  /** Polls `evaluate` until the result is truthy and returns it; throws after `timeout`. */
  waitFor<R = unknown>(expression: string, options?: WaitOptions<[]>): Promise<Truthy<R>>
  waitFor<A extends unknown[], R>(fn: PageFunction<A, R>, options?: WaitOptions<A>): Promise<Truthy<Awaited<R>>>
  /** Uncaught errors and unhandled rejections caught by {@link PAGE_ERROR_CATCHER} (none if the page lacks it). */
  errors(): Promise<string[]>
  /** PNG of the visible part of the page. */
  screenshot(path: string): Promise<void>
  /** Closes the tab. Idempotent. */
  close(): Promise<void>
}

export interface Engine {
  readonly name: EngineName
  /** Browser name and version as the engine reports it. */
  readonly version: string
  /** Every tab opened, in order (closed ones included). */
  readonly tabs: readonly Tab[]
  /** A new tab of the same profile (cookies, storage, BroadcastChannel, locks shared); `about:blank` without `url`. */
  newTab(url?: string): Promise<Tab>
  /** Closes every tab and the profile (and, from `launchEngine`, the browser). Idempotent. */
  close(): Promise<void>
}

/**
 * A running browser that hands out profiles: launching is the slow part (Firefox ~5 s), so a
 * file launches each engine once and gives every case a fresh profile of it, as isolated as
 * a new browser: its own cookies, storage, channels and locks. Chromium: a browser context;
 * Firefox: a user context (`createBrowserContext`); WebKit: a WebDriver session of its own (a
 * WebKitWebDriver and a MiniBrowser of its own, as every launch had before) on the shared
 * Xvfb. WebKitWebDriver serves one session at a time, hence a driver per profile.
 */
export interface EngineBrowser {
  readonly name: EngineName
  /** A fresh profile with no tabs. */
  newProfile(): Promise<Engine>
  /** Closes every profile still open and the browser, and stops any process it started. Idempotent. */
  close(): Promise<void>
}

export type EngineOptions = {
  /**
   * Chromium only: a host name resolved to 127.0.0.1 (`--host-resolver-rules`). A page at
   * `http://<hostAlias>:<port>/` is then not a secure context: no `navigator.locks`.
   */
  hostAlias?: string
  /** Log the browser's or driver's stderr (debugging). */
  verbose?: boolean
}

/**
 * First script of a page's `<head>`: records uncaught errors and unhandled rejections in
 * `window.__pageErrors`, which `Tab.errors()` reads in every engine.
 */
export const PAGE_ERROR_CATCHER = `<script>
window.__pageErrors = [];
addEventListener('error', function (e) { window.__pageErrors.push(String(e.message || e.error)) });
addEventListener('unhandledrejection', function (e) { window.__pageErrors.push('unhandled rejection: ' + String(e.reason)) });
</script>`

export async function launchBrowser(name: EngineName, options: EngineOptions = {}): Promise<EngineBrowser> {
  if (options.hostAlias && name !== 'chromium') throw new Error(`hostAlias is only supported for chromium, not ${name}`)
  switch (name) {
    case 'chromium':
      return launchChromiumBrowser(options)
    case 'firefox':
      return launchFirefoxBrowser(options)
    case 'webkit':
      return launchWebKitBrowser(options)
  }
}

/** A browser with one profile: closing the profile closes the browser. */
export async function launchEngine(name: EngineName, options: EngineOptions = {}): Promise<Engine> {
  const browser = await launchBrowser(name, options)
  try {
    const profile = await browser.newProfile()
    return {
      name: profile.name,
      version: profile.version,
      tabs: profile.tabs,
      newTab: url => profile.newTab(url),
      close: once(async () => {
        await profile.close()
        await browser.close()
      }),
    }
  } catch (error) {
    await browser.close()
    throw error
  }
}

// ---- shared pieces -----------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/**
 * The page-side expression every engine evaluates: the call, awaited, as JSON text (so all
 * three return the same values). `undefined` stays `undefined`.
 */
function toExpression(fn: string | ((...args: never[]) => unknown), args: unknown[]): string {
  let call: string
  if (typeof fn === 'string') {
    if (args.length > 0) throw new TypeError('evaluate(expression) takes no arguments; pass a function')
    call = `(${fn})`
  } else {
    call = `(${fn.toString()}).apply(null, ${JSON.stringify(args)})`
  }
  return `(async () => { const value = await ${call}; return value === undefined ? undefined : JSON.stringify(value) })()`
}

function fromJson(text: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : undefined
}

function describeFn(fn: unknown): string {
  const text = String(fn).replace(/\s+/g, ' ')
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

/** `Tab` from the three things each engine does its own way. */
/** What a Playwright page and a puppeteer page both offer, and all a Tab needs of either. */
type DriverPage = {
  evaluate(expression: string): Promise<unknown>
  goto(url: string, options: { waitUntil: 'load' }): Promise<unknown>
  screenshot(options: { path: string }): Promise<unknown>
  close(): Promise<void>
}

/** A Tab over a Playwright (Chromium) or puppeteer (Firefox) page. */
function pageTab(engine: EngineName, index: number, page: DriverPage): Tab {
  return makeTab(engine, index, {
    run: expression => page.evaluate(expression),
    goto: async target => {
      await page.goto(target, { waitUntil: 'load' })
    },
    screenshot: async path => {
      await page.screenshot({ path })
    },
    close: () => page.close(),
  })
}

function makeTab(
  engine: EngineName,
  index: number,
  ops: {
    run(expression: string): Promise<unknown>
    goto(url: string): Promise<void>
    screenshot(path: string): Promise<void>
    close(): Promise<void>
  },
): Tab {
  let closed = false
  let closing: Promise<void> | undefined
  const label = `[${engine} tab ${index}]`
  const evaluate = async (fn: string | ((...args: never[]) => unknown), ...args: unknown[]): Promise<unknown> => {
    if (closed) throw new Error(`${label} evaluate on a closed tab`)
    const expression = toExpression(fn, args)
    let text: unknown
    try {
      text = await ops.run(expression)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      throw new Error(`${label} evaluate failed: ${message.split('\n')[0]} (in ${describeFn(fn)})`, { cause: error })
    }
    return fromJson(text)
  }
  const tab: Tab = {
    engine,
    index,
    get closed() {
      return closed
    },
    goto(url) {
      if (closed) return Promise.reject(new Error(`${label} goto on a closed tab`))
      return ops.goto(url)
    },
    evaluate: evaluate as Tab['evaluate'],
    async waitFor(fn: string | ((...args: never[]) => unknown), options: WaitOptions<unknown[]> = {}) {
      const { args = [], timeout = 5_000, interval = 50 } = options
      const deadline = Date.now() + timeout
      for (;;) {
        const value = await evaluate(fn, ...args)
        if (value) return value
        if (Date.now() >= deadline) {
          throw new Error(`${label} waitFor timed out after ${timeout} ms${options.message ? ` (${options.message})` : ''}: ${describeFn(fn)} was ${JSON.stringify(value)}`)
        }
        await sleep(interval)
      }
    },
    async errors() {
      return ((await evaluate(() => (window as unknown as { __pageErrors?: string[] }).__pageErrors ?? [])) as string[]) ?? []
    },
    screenshot(path) {
      return ops.screenshot(path)
    },
    close() {
      closing ??= (async () => {
        closed = true
        await ops.close().catch(() => undefined)
      })()
      return closing
    },
  } as Tab
  return tab
}

/** Closes everything once, then remembers the outcome. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined
  return () => (done ??= fn())
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * A profile over `open`, which opens one browser page of it as a Tab: keeps the tabs, and
 * closes them before `closeProfile`. `profiles` is the browser's set of open ones.
 */
function makeProfile(name: EngineName, version: string, profiles: Set<Engine>, open: (index: number) => Promise<Tab>, closeProfile: () => Promise<void>): Engine {
  const tabs: Tab[] = []
  const profile: Engine = {
    name,
    version,
    tabs,
    async newTab(url) {
      const tab = await open(tabs.length)
      tabs.push(tab)
      if (url) await tab.goto(url)
      return tab
    },
    close: once(async () => {
      profiles.delete(profile)
      await Promise.allSettled(tabs.map(tab => tab.close()))
      await closeProfile().catch(() => undefined)
    }),
  }
  profiles.add(profile)
  return profile
}

/** Closes the profiles still open. */
async function closeProfiles(profiles: Set<Engine>): Promise<void> {
  await Promise.allSettled([...profiles].map(profile => profile.close()))
}

// ---- chromium (playwright-core) ----------------------------------------------------------

async function launchChromiumBrowser(options: EngineOptions): Promise<EngineBrowser> {
  const args = [...chromiumArgs]
  if (options.hostAlias) args.push(`--host-resolver-rules=MAP ${options.hostAlias} 127.0.0.1`)
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args })
  const version = `Chromium ${browser.version()}`
  const profiles = new Set<Engine>()
  return {
    name: 'chromium',
    async newProfile() {
      const context = await browser.newContext()
      return makeProfile(
        'chromium',
        version,
        profiles,
        async index => pageTab('chromium', index, await context.newPage()),
        () => context.close(),
      )
    },
    close: once(async () => {
      await closeProfiles(profiles)
      await browser.close().catch(() => undefined)
    }),
  }
}

// ---- firefox (puppeteer-core, WebDriver BiDi) ----------------------------------------------

async function launchFirefoxBrowser(options: EngineOptions): Promise<EngineBrowser> {
  const { default: puppeteer } = await import('puppeteer-core')
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: enginePaths.firefox.browser,
    headless: true,
    dumpio: options.verbose === true,
  })
  try {
    const version = await browser.version()
    const profiles = new Set<Engine>()
    return {
      name: 'firefox',
      async newProfile() {
        const context = await browser.createBrowserContext()
        return makeProfile(
          'firefox',
          version,
          profiles,
          // A window per tab: a background tab is `hidden` and its timers run at ~1/s.
          async index => pageTab('firefox', index, await context.newPage({ type: 'window' })),
          () => context.close(),
        )
      },
      close: once(async () => {
        await closeProfiles(profiles)
        await withTimeout(browser.close(), 10_000, 'closing Firefox').catch(() => {
          // puppeteer owns the process: make sure it is gone.
          browser.process()?.kill('SIGKILL')
        })
      }),
    }
  } catch (error) {
    await browser.close().catch(() => undefined)
    throw error
  }
}

// ---- webkit (WebKitWebDriver + MiniBrowser under Xvfb, selenium-webdriver) ----------------

/** A TCP port free right now on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Children this process started, killed if it exits without closing them. */
const children = new Set<ChildProcess>()
let exitHookInstalled = false
function track(child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL')
    })
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
async function stop(child: ChildProcess | undefined, graceMs = 3_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Starts Xvfb on the first free display (`-displayfd`); resolves with the process and `:N`. */
async function startXvfb(verbose: boolean): Promise<{ xvfb: ChildProcess; display: string }> {
  const xvfb = spawn(enginePaths.webkit.xvfb, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', verbose ? 'inherit' : 'ignore', 'pipe'],
  })
  track(xvfb)
  const displayPipe = xvfb.stdio[3]
  if (!displayPipe) throw new Error('Xvfb: no display pipe')
  try {
    const display = await withTimeout(
      new Promise<string>((resolve, reject) => {
        let text = ''
        displayPipe.on('data', (chunk: Buffer) => {
          text += chunk.toString()
          if (text.includes('\n')) resolve(`:${text.trim()}`)
        })
        xvfb.once('error', reject)
        xvfb.once('exit', code => reject(new Error(`Xvfb exited (${code}) before it was ready`)))
      }),
      10_000,
      'starting Xvfb',
    )
    displayPipe.destroy()
    return { xvfb, display }
  } catch (error) {
    await stop(xvfb)
    throw error
  }
}

async function waitForDriver(url: string, driver: ChildProcess, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  let exited = false
  driver.once('exit', () => (exited = true))
  for (;;) {
    if (exited) throw new Error('WebKitWebDriver exited before it was ready')
    try {
      const response = await fetch(`${url}/status`)
      const body = (await response.json()) as { value?: { ready?: boolean } }
      if (body.value?.ready) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`WebKitWebDriver not ready at ${url} after ${timeout} ms`)
    await sleep(50)
  }
}

async function launchWebKitBrowser(options: EngineOptions): Promise<EngineBrowser> {
  const verbose = options.verbose === true
  const { xvfb, display } = await startXvfb(verbose)
  const profiles = new Set<Engine>()
  return {
    name: 'webkit',
    newProfile: () => openWebKitProfile(display, profiles, verbose),
    close: once(async () => {
      await closeProfiles(profiles)
      await stop(xvfb)
    }),
  }
}

/** A WebKitWebDriver on `display` and one WebDriver session of it (one MiniBrowser). */
async function openWebKitProfile(display: string, profiles: Set<Engine>, verbose: boolean): Promise<Engine> {
  let driverProcess: ChildProcess | undefined
  type WebDriver = import('selenium-webdriver').WebDriver
  let driver: WebDriver | undefined
  const shutdown = async () => {
    if (driver) await withTimeout(driver.quit(), 10_000, 'quitting the WebDriver session').catch(() => undefined)
    await stop(driverProcess)
  }
  try {
    const port = await freePort()
    driverProcess = spawn(enginePaths.webkit.driver, [`--port=${port}`, '--host=local'], {
      env: { ...process.env, DISPLAY: display },
      stdio: ['ignore', verbose ? 'inherit' : 'ignore', verbose ? 'inherit' : 'ignore'],
    })
    track(driverProcess)
    const url = `http://127.0.0.1:${port}`
    await waitForDriver(url, driverProcess)

    const { Builder } = await import('selenium-webdriver')
    driver = await new Builder()
      .usingServer(url) // a running driver: selenium-manager never runs
      .disableEnvironmentOverrides()
      .withCapabilities({
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: enginePaths.webkit.browser, args: ['--automation'] },
      })
      .build()
    const session = driver
    await session.manage().setTimeouts({ script: 30_000, pageLoad: 30_000 })
    const capabilities = await session.getCapabilities()
    const version = `${capabilities.getBrowserName()} ${capabilities.getBrowserVersion()}`
    // The session's first window is never handed out: closing the last window would end the session.
    const home = await session.getWindowHandle()

    // One session drives every window: calls run one at a time, each after switching to its window.
    let queue: Promise<unknown> = Promise.resolve()
    let current = home
    function serial<T>(handle: string | undefined, op: () => Promise<T>): Promise<T> {
      const run = queue.then(async () => {
        if (handle !== undefined && handle !== current) {
          await session.switchTo().window(handle)
          current = handle
        }
        return op()
      })
      queue = run.catch(() => undefined)
      return run
    }

    return makeProfile(
      'webkit',
      version,
      profiles,
      async index => {
        const handle = await serial(undefined, async () => {
          await session.switchTo().newWindow('window')
          current = await session.getWindowHandle()
          return current
        })
        return makeTab('webkit', index, {
          run: expression => serial(handle, () => session.executeScript(`return ${expression}`)),
          goto: t => serial(handle, () => session.get(t)),
          screenshot: path => serial(handle, async () => writeFile(path, await session.takeScreenshot(), 'base64')),
          close: () =>
            serial(handle, async () => {
              await session.close()
              await session.switchTo().window(home)
              current = home
            }),
        })
      },
      shutdown,
    )
  } catch (error) {
    await shutdown()
    throw error
  }
}
