/**
 * The React example (examples/react/, `npm run demo:react`) in two Chromium tabs of one
 * profile, on the reference server, with Stripes-style settings (duration strings):
 * the idle modal shows in both tabs, "Keep working" in one dismisses it in both; the
 * session-ending banner shows in both `fixedLengthSessionWarningTTL` before the RT expires,
 * and at the expiry both tabs go back to the login form. Screenshots of the modal and the
 * banner go to test-artifacts/ (git-ignored).
 */
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startReactDemo, type ReactDemo } from '../../examples/demo-react.js'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const skip = skipBrowserTests()
if (skip) console.warn(`[react app] browser test skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

/** RT 20 s, warned 8 s before; idle after 8 s, the modal for its last 5 s. AT 60 s: nothing rotates. */
const RT_S = 20
const RTR = { idleSessionTTL: '8s', idleModalTTL: '5s', fixedLengthSessionWarningTTL: '8s', activityEvents: ['keydown', 'mousedown'] }

describe.skipIf(skip)('React example in two Chromium tabs', () => {
  let demo: ReactDemo
  let browser: Browser
  let context: BrowserContext
  const pageErrors: string[] = []

  beforeAll(async () => {
    demo = await startReactDemo({ at: 60, rt: RT_S, rtr: RTR })
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 900, height: 600 } })
  })
  afterAll(async () => {
    await context?.close().catch(() => undefined)
    await browser?.close().catch(() => undefined)
    await demo?.close()
  })

  async function openTab(): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', error => pageErrors.push(error.message))
    await page.goto(demo.url)
    await page.locator('#status').waitFor()
    return page
  }

  /** Activity in one tab (a key press counts, per activityEvents), until `done()` holds. */
  async function keepBusy(page: Page, done: () => Promise<boolean>, timeout: number): Promise<void> {
    const deadline = Date.now() + timeout
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`keepBusy: not done within ${timeout} ms`)
      await page.keyboard.press('Shift')
      await page.waitForTimeout(500)
    }
  }

  it('idle modal and session-ending banner in both tabs; both end at the RT expiry', async () => {
    const [tab1, tab2] = [await openTab(), await openTab()]
    await tab1.getByRole('button', { name: 'Sign in' }).click()
    for (const tab of [tab1, tab2]) {
      await expect.poll(() => tab.locator('#status').innerText()).toBe('active')
      // The list, loaded through the session in each tab.
      await expect.poll(() => tab.locator('#items li').count()).toBeGreaterThan(0)
    }
    expect(await tab2.locator('#items').innerText()).toContain('diku_admin')

    // Nobody touches either tab: the modal shows in both.
    const modal = (tab: Page) => tab.getByRole('dialog', { name: 'Keep working?' })
    await expect.poll(() => modal(tab1).isVisible(), { timeout: 8_000 }).toBe(true)
    await expect.poll(() => modal(tab2).isVisible(), { timeout: 2_000 }).toBe(true)
    await mkdir(ARTIFACTS, { recursive: true })
    await tab2.screenshot({ path: `${ARTIFACTS}react-idle-modal.png` })

    // "Keep working" in tab 1 dismisses it in both.
    await tab1.getByRole('button', { name: 'Keep working' }).click()
    await expect.poll(() => modal(tab1).isVisible(), { timeout: 2_000 }).toBe(false)
    await expect.poll(() => modal(tab2).isVisible(), { timeout: 2_000 }).toBe(false)

    // Working on in tab 2 (activity, no requests, so no rotation): the banner shows in both
    // tabs, counting down from at most the warning period.
    const banner = (tab: Page) => tab.locator('#ending-banner')
    await keepBusy(tab2, async () => (await banner(tab1).isVisible()) && (await banner(tab2).isVisible()), RT_S * 1000)
    for (const tab of [tab1, tab2]) {
      const [m, s] = (await tab.locator('#ending-left').innerText()).split(':').map(Number)
      expect(m! * 60 + s!).toBeGreaterThan(0)
      expect(m! * 60 + s!).toBeLessThanOrEqual(8)
    }
    expect(await modal(tab1).isVisible()).toBe(false)
    await tab1.screenshot({ path: `${ARTIFACTS}react-session-ending-tab-1.png` })
    await tab2.screenshot({ path: `${ARTIFACTS}react-session-ending-tab-2.png` })

    // At the RT expiry both tabs go back to the login form, saying why.
    const onLogin = async (tab: Page) => (await tab.locator('#login-form').isVisible()) && (await tab.locator('#ended').getAttribute('data-reason')) === 'expired'
    await keepBusy(tab2, async () => (await onLogin(tab1)) && (await onLogin(tab2)), 12_000)
    expect(await banner(tab1).isVisible()).toBe(false)

    // What the server saw: one login, no refresh at all (nothing rotated, nothing reused),
    // each tab's list request answered 200, no 401; the end needed no server call.
    const stats = demo.server.stats
    expect(stats.logins).toBe(1)
    expect(stats.refreshCalls).toBe(0)
    expect(stats.reusedRefused).toBe(0)
    expect(stats.api200).toBe(2)
    expect(stats.api401).toBe(0)
    expect(stats.logouts).toBe(0)
    expect(pageErrors).toEqual([])
  }, 60_000)
})

describe('npm run demo:react (the CLI)', () => {
  /** Runs the CLI; `until` resolves with what it needs from stdout (or the child exits first). */
  function runCli(args: string[]) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo-react.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out = { stdout: '', stderr: '' }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk))
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
    return { child, out, exited }
  }

  it('serves the app with the settings given as Stripes durations, and stops on SIGTERM', async () => {
    const { child, out, exited } = runCli(['--port', '0', '--idle', '2m', '--idle-modal', '45s'])
    try {
      await expect.poll(() => out.stdout, { timeout: 30_000 }).toMatch(/open http:\/\/127\.0\.0\.1:\d+\//)
      const url = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.stdout)![1]!
      const page = await (await fetch(url)).text()
      expect(page).toContain('"idleSessionTTL":"2m"')
      expect(page).toContain('"idleModalTTL":"45s"')
      expect((await fetch(new URL('/app.js', url))).status).toBe(200)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(out.stderr).toBe('')
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }, 40_000)

  it('refuses a bad duration with exit code 2, naming the Stripes key', async () => {
    const { out, exited } = runCli(['--idle', '4 hourz'])
    expect(await exited).toBe(2)
    expect(out.stderr).toContain('config.rtr.idleSessionTTL')
  }, 30_000)
})
