/**
 * Issue 13, item 4, in real Chromium (cookie transport): a managed request that the server
 * redirects to another port of the same host. Cookies are keyed by host, not port, so with
 * `credentials: 'include'` (or `withCredentials`) the browser carried the session's AT cookie
 * to the other port. Rotor now uses the narrowest mode that reaches the scope: `same-origin`
 * for the page's own origin, so a redirect that leaves it carries no cookie. A second server
 * plays the other port and records what it receives.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, startHarness, type Harness } from './harness'
import { chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[redirect] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

describe.skipIf(skip)('a managed request redirected to another port of the same host (Chromium, cookies)', () => {
  const seen: Array<{ path: string; headers: IncomingHttpHeaders }> = []
  let other: Server
  let otherURL = ''
  let h: Harness

  beforeAll(async () => {
    other = createServer((req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers })
      res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*')
      res.setHeader('Access-Control-Allow-Credentials', 'true')
      res.end('other port')
    })
    await new Promise<void>(resolve => other.listen(0, '127.0.0.1', resolve))
    otherURL = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
    h = await startHarness({ accessTokenTtl: 60_000, refreshTokenTtl: 600_000 })
  }, 60_000)

  afterAll(async () => {
    await h?.close()
    await new Promise(resolve => other?.close(resolve))
  })

  it('the session fetch follows the redirect without the session cookie; a request in scope still carries it', async () => {
    const page = await h.openTab({ rotation: 'request' })
    // The API answers this one route with a redirect to the other port.
    await page.route('**/api/away*', route => route.fulfill({ status: 302, headers: { location: `${otherURL}/collect${new URL(route.request().url()).search}` } }))
    await login(page)
    const result = await page.evaluate(async () => {
      const fetched = await window.rotor.session.fetch('/api/away?via=fetch').then(
        r => r.text(),
        e => String(e),
      )
      const own = await window.rotor.session.fetch('/api/ping').then(r => r.status)
      return { fetched, own }
    })
    const cookieHeaders = seen.map(s => `${s.path}: ${s.headers.cookie ?? '(no cookie)'}`)
    console.log(`[redirect] the other port saw: ${cookieHeaders.join('; ')}; page: ${JSON.stringify(result)}`)
    expect(seen.map(s => s.path)).toEqual(['/collect?via=fetch'])
    expect(
      seen.every(s => s.headers.cookie === undefined),
      'cookies at the other port',
    ).toBe(true)
    expect(result.own).toBe(200)
    expect(h.server.stats.api401).toBe(0)
  })
})
