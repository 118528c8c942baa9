/**
 * rotor-auth/devtools in the demo page (examples/browser/), three Chromium tabs of one profile:
 * a rotation in one tab shows in every tab's panel within 1 s, in the lane of the tab that
 * rotated; each panel draws three lanes and is visible in a screenshot that is not blank; no
 * token the server issued, nor any cookie's value, is anywhere in the pages' DOM.
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startDemo, type Demo } from '../../examples/demo-browser.js'
import { AuthModel } from '../../src/testing/model.js'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const skip = skipBrowserTests()
if (skip) console.warn(`[devtools] browser test skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

/** Every token the demo's server mints (it runs in this process). */
const issued: string[] = []
const model = AuthModel.prototype as unknown as { mint: (...a: unknown[]) => Promise<{ accessToken: string; refreshToken: string }> }
const mint = model.mint

describe.skipIf(skip)('devtools panel in three tabs of the demo', () => {
  let demo: Demo
  let browser: Browser
  let context: BrowserContext
  const pageErrors: string[] = []

  beforeAll(async () => {
    vi.spyOn(model, 'mint').mockImplementation(async function (this: unknown, ...args: unknown[]) {
      const minted = await mint.apply(this, args)
      issued.push(minted.accessToken, minted.refreshToken)
      return minted
    })
    // An AT of 60 s: the only rotation during the test is the one asked.
    demo = await startDemo({ at: 60, rt: 300 })
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1200, height: 1400 } })
  })

  afterAll(async () => {
    vi.restoreAllMocks()
    await context?.close().catch(() => undefined)
    await browser?.close().catch(() => undefined)
    await demo?.close()
  })

  async function openTab(): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', error => pageErrors.push(error.message))
    await page.goto(demo.url)
    await page.waitForFunction(() => window.demo !== undefined)
    return page
  }

  const traceTab = (page: Page) => page.evaluate(() => window.demo.session.trace().tabs[0]!)

  it('a rotation in one tab appears in every panel within 1 s; three lanes; no token in the DOM', async () => {
    const tabs = [await openTab(), await openTab(), await openTab()]
    await tabs[0]!.getByRole('button', { name: 'Sign in' }).click()
    for (const tab of tabs) await expect.poll(() => tab.locator('#status').innerText()).toBe('active')
    for (const tab of tabs) await expect.poll(() => tab.locator('.rotor-devtools-lane').count()).toBe(3)

    const rotating = tabs[1]!
    const lane = `.rotor-devtools-lane[data-tab="${await traceTab(rotating)}"] li[data-kind="event:rotate"]`
    for (const tab of tabs) expect(await tab.locator(lane).count()).toBe(0)
    await rotating.getByRole('button', { name: 'Rotate now' }).click()
    await expect.poll(() => rotating.locator(lane).count()).toBe(1)
    // From the rotating tab's own panel drawing it, every other panel draws it within 1 s.
    const started = Date.now()
    for (const tab of tabs) await expect.poll(() => tab.locator(lane).count(), { timeout: 1_000, interval: 20 }).toBe(1)
    const elapsed = Date.now() - started
    expect(elapsed).toBeLessThanOrEqual(1_000)
    expect(demo.server.stats.refreshCalls).toBe(1)
    expect(await tabs[0]!.locator(lane).first().innerText()).toMatch(/rotate generation=\d+ origin=local/)

    await mkdir(ARTIFACTS, { recursive: true })
    for (const [i, tab] of tabs.entries()) {
      const panel = tab.locator('.rotor-devtools')
      const box = await panel.boundingBox()
      expect(box && box.width > 200 && box.height > 40, `panel box ${JSON.stringify(box)}`).toBe(true)
      const shot = await panel.screenshot({ path: `${ARTIFACTS}devtools-tab-${i + 1}.png` })
      // Decoded in the page itself: a blank (one-colour) image has a handful of colours at most.
      const colours = await tab.evaluate(async png => {
        const image = new Image()
        image.src = `data:image/png;base64,${png}`
        await image.decode()
        const canvas = document.createElement('canvas')
        ;[canvas.width, canvas.height] = [image.width, image.height]
        const g = canvas.getContext('2d')!
        g.drawImage(image, 0, 0)
        const data = g.getImageData(0, 0, image.width, image.height).data
        const seen = new Set<number>()
        for (let p = 0; p < data.length; p += 4) seen.add((data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!)
        return seen.size
      }, shot.toString('base64'))
      expect(colours, 'the panel screenshot is not blank').toBeGreaterThan(8)
    }

    const cookies = (await context.cookies()).map(c => c.value).filter(v => v.length >= 16)
    const secrets = [...issued, ...cookies]
    expect(issued.length).toBeGreaterThanOrEqual(4)
    for (const tab of tabs) {
      const html = await tab.evaluate(() => document.documentElement.outerHTML)
      for (const secret of secrets) for (const part of secret.split('.').filter(p => p.length >= 16)) expect(html.includes(part), 'token text in the DOM').toBe(false)
    }
    expect(pageErrors).toEqual([])
  })
})
