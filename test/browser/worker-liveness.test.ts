/**
 * Issue 26.5 in real Chromium: the rotation worker asks the newest tab that has the app's
 * `reauthenticate` to run it (the RT was refused), and that tab crashes without a word (no
 * `pagehide`, no `bye`: CDP `Page.crash`, as a renderer crash or a discard). The worker used to
 * wait for it forever under its lock: the live tab's hook was never called and its requests
 * hung. Now the worker probes the tab it waits on, gives it up once silent, and asks the next.
 */
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { buildBundles } from './harness'
import { chromiumArgs, chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[worker-liveness] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

/** A bearer app with the worker; `#hang`: its login form is never filled in. */
const appHTML = `<!doctype html>
<meta charset="utf-8">
<script src="/rotor.js"></script>
<script>
  const login = () => fetch('/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
  window.asked = 0
  window.fallbacks = []
  window.session = Rotor.createSession({
    scope: location.origin + '/api',
    transport: 'bearer',
    rotation: 'request',
    refresh: { url: '/bearer/refresh', style: 'json' },
    logout: '/bearer/logout',
    worker: '/rotor-worker.js',
    reauthenticate: () => {
      window.asked++
      return location.hash === '#hang' ? new Promise(() => {}) : login()
    },
  })
  window.session.on('worker-fallback', ({ reason }) => window.fallbacks.push(reason))
  window.login = async () => {
    const answer = await login()
    await window.session.start(answer)
    return answer.status
  }
  window.call = async () => (await window.session.fetch('/api/x')).status
</script>
`

type AppWindow = {
  asked: number
  fallbacks: string[]
  session: { state: { status: string }; rotate(): Promise<void> }
  login(): Promise<number>
  call(): Promise<number>
}

describe.skipIf(skip)('the rotation worker and a tab that vanished (issue 26.5, Chromium)', () => {
  let browser: Browser
  let server: AuthServer
  let origin = ''
  let close: () => Promise<void>

  beforeAll(async () => {
    const { rotor, rotorWorker } = await buildBundles()
    server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
    ;({ origin, close } = await server.listen({
      static: {
        '/app.html': { type: 'text/html', body: appHTML },
        '/rotor.js': { type: 'text/javascript', body: rotor },
        '/rotor-worker.js': { type: 'text/javascript', body: rotorWorker },
      },
    }))
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...chromiumArgs] })
  })

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    await close?.()
  })

  it("a tab crashed while asked to re-authenticate: the other tab's hook runs, and its requests settle", async () => {
    const context = await browser.newContext()
    const open = async (hash: string): Promise<Page> => {
      const page = await context.newPage()
      await page.goto(`${origin}/app.html${hash}`)
      await page.waitForFunction(() => (window as unknown as { session?: unknown }).session !== undefined)
      return page
    }
    try {
      const live = await open('')
      expect(await live.evaluate(() => (window as unknown as AppWindow).login())).toBe(201)
      // The newest tab with the hook: the worker asks it first.
      const doomed = await open('#hang')
      await doomed.waitForFunction(() => (window as unknown as AppWindow).session.state.status === 'active', undefined, { timeout: 10_000 })
      server.fault('refresh', { status: 401 })
      const rotation = live.evaluate(() =>
        (window as unknown as AppWindow).session.rotate().then(
          () => 'rotated',
          (error: unknown) => String(error),
        ),
      )
      await doomed.waitForFunction(() => (window as unknown as AppWindow).asked === 1, undefined, { timeout: 10_000 })
      const cdp = await context.newCDPSession(doomed)
      const crashed = new Promise(resolve => doomed.once('crash', resolve))
      // The answer never comes: the renderer is gone.
      void cdp.send('Page.crash').catch(() => undefined)
      await crashed
      // Bounded generously: the worker gives a silent tab up after 5 s.
      await live.waitForFunction(() => (window as unknown as AppWindow).asked === 1, undefined, { timeout: 25_000 })
      expect(await rotation).toBe('rotated')
      expect(await live.evaluate(() => (window as unknown as AppWindow).call())).toBe(200)
      expect(await live.evaluate(() => (window as unknown as AppWindow).fallbacks)).toEqual([])
      expect(server.stats).toMatchObject({ logins: 2, reusedRefused: 0, api401: 0 })
    } finally {
      await context.close()
    }
  }, 60_000)
})
