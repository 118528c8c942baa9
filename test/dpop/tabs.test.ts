/**
 * Five real Chromium tabs of one session (cookie-free: bearer + `dpop: true`) against
 * oidc-provider with DPoP and nonces required: every tab signs with the one key the first of
 * them stored in IndexedDB, so the RT bound to it rotates from whichever tab comes next.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundle } from '../browser/harness.js'
import { launchChromium, skipBrowserTests } from '../browser/launch.js'
import { authorize, startAuthServer, type AuthServer } from './provider.js'

const AT_S = 2
const TABS = 5

describe.skipIf(skipBrowserTests())('DPoP in five Chromium tabs', () => {
  let server: AuthServer
  let browser: Browser
  beforeAll(async () => {
    const [rotor, tab] = await Promise.all([bundle('../../src/index.ts', 'Rotor'), bundle('../dpop/tab-page.ts')])
    const html = '<!doctype html><meta charset="utf-8"><script src="/rotor.js"></script><script src="/tab.js"></script>'
    server = await startAuthServer({
      accessTokenTtl: AT_S,
      // A request from a browser on this shared 2-core machine (load average 15–27 while this
      // test was written) can take over a second to be read: the server allows for it. Rotor
      // still has to rotate in time: an AT used past that is refused, and the count of
      // refreshes is bounded from below too.
      transitMs: 1500,
      pages: { '/tab.html': { type: 'text/html', body: html }, '/rotor.js': { type: 'text/javascript', body: rotor }, '/tab.js': { type: 'text/javascript', body: tab } },
    })
    browser = await launchChromium()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('15 s of traffic at AT 2 s: one key thumbprint, 0 failed calls, 0 reused RTs, refreshes within 1.3× the minimum', async () => {
    const context = await browser.newContext()
    const errors: string[] = []
    // All five open at once: they race to create the key.
    const pages: Page[] = await Promise.all(
      Array.from({ length: TABS }, async (_, i) => {
        const page = await context.newPage()
        page.on('pageerror', e => errors.push(`tab ${i}: ${e.message}`))
        await page.goto(`${server.api}/tab.html?issuer=${encodeURIComponent(server.issuer)}`)
        await page.waitForFunction(() => window.dpopTab !== undefined)
        return page
      }),
    )
    const { code, verifier } = await authorize(server.issuer)
    expect(await pages[0]!.evaluate(([c, v]) => window.dpopTab.login(c!, v!), [code, verifier])).toBe(200)
    for (const page of pages) await page.waitForFunction(() => window.dpopTab.state().status === 'active', undefined, { timeout: 10_000 })

    const duration = 15_000
    const started = Date.now()
    await Promise.all(pages.map(page => page.evaluate(() => window.dpopTab.startTraffic(150))))
    await new Promise(resolve => setTimeout(resolve, duration))
    await Promise.all(pages.map(page => page.evaluate(() => window.dpopTab.stopTraffic())))
    // Calls still on their way settle before the counts are read.
    await Promise.all(pages.map(page => page.waitForFunction(() => window.dpopTab.stats.ok + window.dpopTab.stats.failed === window.dpopTab.stats.sent, undefined, { timeout: 15_000 })))
    const elapsed = Date.now() - started
    const stats = await Promise.all(pages.map(page => page.evaluate(() => window.dpopTab.stats)))
    const proofs = await Promise.all(pages.map(page => page.evaluate(() => window.dpopTab.proofs())))
    await context.close()

    const { seen } = server
    const minimum = Math.ceil(elapsed / (AT_S * 1000)) - 1
    const sent = stats.reduce((n, s) => n + s.sent, 0)
    const failed = stats.reduce((n, s) => n + s.failed, 0)
    console.log(
      `DPoP tabs ${elapsed} ms: ${sent} requests (${failed} failed), refreshes ${seen.refreshes} (minimum ${minimum}, ${(seen.refreshes / minimum).toFixed(2)}×), ` +
        `thumbprints ${seen.thumbprints.size}, API nonce challenges ${seen.apiNonce}, refused ${JSON.stringify(seen.apiRefused)}, token endpoint errors ${JSON.stringify(seen.grantErrors)}, ` +
        `proofs signed ${proofs.reduce((n, p) => n + p.count, 0)}, received ${seen.jtis.length}`,
    )
    expect(errors).toEqual([])
    expect(stats.map(s => s.logouts)).toEqual(Array.from({ length: TABS }, () => []))
    expect(failed).toBe(0)
    // Rotor signed every proof once. A copy of one may still reach the server when the browser
    // resends a request after a connection error (RFC 9110 §9.2.2); the server refuses it as a
    // proof problem and Rotor signs the request again, without rotating.
    expect(proofs.every(p => p.count === p.distinct)).toBe(true)
    expect(seen.apiRefused.filter(why => why !== 'jti replayed')).toEqual([])
    expect(seen.thumbprints.size).toBe(1)
    expect(new Set(seen.spentRTs).size).toBe(seen.spentRTs.length)
    expect(seen.grantErrors.filter(e => e !== 'use_dpop_nonce')).toEqual([])
    expect(seen.refreshes).toBeGreaterThanOrEqual(minimum)
    expect(seen.refreshes).toBeLessThanOrEqual(1.3 * minimum)
  }, 90_000)
})
