/**
 * Issue 26.4 in real Chromium: two apps on one origin, each with its own auth server behind a
 * path (`/a/*`, `/b/*`), and the same string scope (the origin) but their own refresh and
 * logout endpoints. With one session name for both, app B's tab joined app A's session and sent
 * A's AT to B's API and A's RT to B's token endpoint. A proxy on 127.0.0.1 serves both apps and
 * records every request: B's server must never see a token A's server issued, and both
 * servers count no refused call.
 */
import { createServer, request as forward, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { buildBundles } from './harness'
import { chromiumArgs, chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[two-apps] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

/** An app's page: its session shares under the default name (scope: the origin; endpoints: the app's). */
const appHTML = `<!doctype html>
<meta charset="utf-8">
<script src="/rotor.js"></script>
<script>
  const app = location.pathname.split('/')[1]
  window.session = Rotor.createSession({
    scope: location.origin,
    transport: 'bearer',
    rotation: 'request',
    refresh: { url: '/' + app + '/bearer/refresh', style: 'json' },
    logout: '/' + app + '/bearer/logout',
  })
  window.login = async () => {
    const answer = await fetch('/' + app + '/bearer/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'diku_admin', password: 'admin' }) })
    await window.session.start(answer)
    return answer.status
  }
  window.call = async () => (await window.session.fetch('/' + app + '/api/x')).status
</script>
`

type Seen = { app: string; path: string; sent: string; answered: string }

describe.skipIf(skip)('two apps on one origin (issue 26.4, Chromium)', () => {
  let browser: Browser
  const servers = {} as Record<'a' | 'b', { server: AuthServer; port: number; close: () => Promise<void> }>
  let proxy: Server
  let origin = ''
  const seen: Seen[] = []

  beforeAll(async () => {
    const { rotor } = await buildBundles()
    for (const app of ['a', 'b'] as const) {
      const server = createAuthServer({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000, basePath: `/${app}` })
      const { port, close } = await server.listen()
      servers[app] = { server, port, close }
    }
    // One origin for both apps: pages and the library here, `/a/*` and `/b/*` to their servers.
    proxy = createServer((req, res) => {
      const path = req.url ?? '/'
      if (path === '/rotor.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(rotor)
      if (/^\/[ab]\/app\.html$/.test(path)) return void res.writeHead(200, { 'content-type': 'text/html' }).end(appHTML)
      const app = path.startsWith('/a/') ? 'a' : path.startsWith('/b/') ? 'b' : undefined
      if (!app) return void res.writeHead(404).end()
      const chunks: Buffer[] = []
      req.on('data', chunk => chunks.push(chunk as Buffer))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        const upstream = forward({ host: '127.0.0.1', port: servers[app].port, path, method: req.method, headers: req.headers }, answer => {
          const back: Buffer[] = []
          answer.on('data', chunk => back.push(chunk as Buffer))
          answer.on('end', () => {
            const answered = Buffer.concat(back)
            seen.push({ app, path, sent: `${req.headers.authorization ?? ''} ${body.toString()}`, answered: answered.toString() })
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(answered)
          })
        })
        upstream.on('error', () => res.writeHead(502).end())
        upstream.end(body)
      })
    })
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...chromiumArgs] })
  })

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    await new Promise(resolve => proxy?.close(resolve))
    await Promise.all(Object.values(servers).map(({ close }) => close()))
  })

  /** Every token A's server handed out (login and refresh answers). */
  function tokensOfA(): string[] {
    const tokens: string[] = []
    for (const { app, answered } of seen) {
      if (app !== 'a') continue
      try {
        for (const value of Object.values(JSON.parse(answered) as Record<string, unknown>)) if (typeof value === 'string' && value.length >= 16) tokens.push(value)
      } catch {
        // not JSON: an API answer
      }
    }
    return tokens
  }

  it("app B's tab never joins app A's session: B's API and token endpoint never see A's tokens", async () => {
    const context = await browser.newContext()
    const errors: string[] = []
    const open = async (app: 'a' | 'b'): Promise<Page> => {
      const page = await context.newPage()
      page.on('pageerror', error => errors.push(error.message))
      await page.goto(`${origin}/${app}/app.html`)
      await page.waitForFunction(() => (window as unknown as { session?: unknown }).session !== undefined)
      return page
    }
    try {
      const a = await open('a')
      expect(await a.evaluate(() => (window as unknown as { login(): Promise<number> }).login())).toBe(201)
      const b = await open('b')
      // A joining tab asks its peers for the state: give A's answer time to arrive (it must not).
      await new Promise(resolve => setTimeout(resolve, 1_000))
      const call = (page: Page) => page.evaluate(() => (window as unknown as { call(): Promise<number> }).call())
      const status = (page: Page) => page.evaluate(() => (window as unknown as { session: { state: { status: string } } }).session.state.status)
      expect(await status(b), "B adopted A's session").toBe('signed-out')
      expect(await b.evaluate(() => (window as unknown as { login(): Promise<number> }).login())).toBe(201)
      expect([await call(a), await call(b)]).toEqual([200, 200])
      // Each rotates on its own server.
      await a.evaluate(() => (window as unknown as { session: { rotate(): Promise<void> } }).session.rotate())
      await b.evaluate(() => (window as unknown as { session: { rotate(): Promise<void> } }).session.rotate())
      expect([await call(a), await call(b)]).toEqual([200, 200])
      expect([await status(a), await status(b)]).toEqual(['active', 'active'])

      const fromA = tokensOfA()
      expect(fromA.length, "A's tokens were recorded").toBeGreaterThanOrEqual(4)
      const toB = seen.filter(s => s.app === 'b').map(s => s.sent)
      const leaked = toB.filter(sent => fromA.some(token => sent.includes(token)))
      console.log(`[two-apps] requests to B: ${toB.length}, carrying one of A's ${fromA.length} tokens: ${leaked.length}`)
      expect(leaked).toEqual([])
      for (const app of ['a', 'b'] as const) {
        expect(servers[app].server.stats, `server ${app}`).toMatchObject({ logins: 1, refreshGranted: 1, refreshRefused: 0, api401: 0 })
      }
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  }, 60_000)
})
