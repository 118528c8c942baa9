/**
 * The page of `npm run demo:browser` (examples/browser/) in real Chromium: two tabs of one
 * profile agree on the session, a rotation in one shows as remote in the other, and logout
 * reaches both. Screenshots of both tabs go to test-artifacts/ (git-ignored). Also: the CLI
 * starts, serves the page and stops cleanly on SIGTERM.
 */
import { spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDemo, type Demo } from '../../examples/demo-browser.js'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

const skip = skipBrowserTests()
if (skip) {
  console.warn(`[demo page] browser test skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)
}

describe.skipIf(skip)('demo:browser page in two Chromium tabs', () => {
  let demo: Demo
  let browser: Browser
  let context: BrowserContext
  const pageErrors: string[] = []

  beforeAll(async () => {
    // An AT of 60 s: no timer rotation (at 80%) can happen during the test, so the only
    // refresh the server sees is the one "Rotate now" asks for.
    demo = await startDemo({ at: 60, rt: 300 })
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } })
  })

  afterAll(async () => {
    await context?.close().catch(() => undefined)
    await browser?.close().catch(() => undefined)
    await demo?.close()
  })

  async function openTab(query = ''): Promise<Page> {
    const page = await context.newPage()
    page.on('pageerror', error => pageErrors.push(error.message))
    await page.goto(`${demo.url}${query}`)
    await page.waitForFunction(() => window.demo !== undefined)
    return page
  }

  const text = (page: Page, selector: string) => page.locator(selector).innerText()

  it('two tabs agree: login in one, rotation and logout reach the other', async () => {
    const [tab1, tab2] = [await openTab(), await openTab()]
    const name2 = await tab2.evaluate(() => window.demo.tabName)
    expect(await tab1.title()).toContain(await tab1.evaluate(() => window.demo.tabName))
    await expect.poll(() => text(tab2, '#status')).toBe('signed-out')

    // Tab 1 signs in with the pre-filled form; tab 2 joins without logging in.
    await expect.poll(() => tab1.locator('#username').inputValue()).toBe('diku_admin')
    await tab1.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => text(tab1, '#status')).toBe('active')
    await expect.poll(() => text(tab2, '#status')).toBe('active')
    const generation = await text(tab1, '#generation')
    expect(Number(generation)).toBeGreaterThan(0)
    expect(await text(tab2, '#generation')).toBe(generation)
    expect(demo.server.stats.logins).toBe(1)
    await expect.poll(() => text(tab2, '#at-left')).toMatch(/^\d+(\.\d)? s$/)
    expect(await tab2.locator('#login-card').isHidden()).toBe(true)

    // Tab 2 rotates; tab 1 logs a remote rotation by tab 2.
    await tab2.getByRole('button', { name: 'Rotate now' }).click()
    const remote = tab1.locator('#log li[data-kind="rotate"][data-origin="remote"]')
    await expect.poll(() => remote.count()).toBe(1)
    await expect.poll(() => remote.first().innerText()).toContain(`by ${name2}`)
    const rotated = String(Number(generation) + 1)
    await expect.poll(() => text(tab1, '#generation')).toBe(rotated)
    expect(await text(tab2, '#generation')).toBe(rotated)
    expect(await tab2.locator('#log li[data-kind="rotate"][data-origin="local"]').count()).toBe(1)
    await expect.poll(() => text(tab1, '#last-rotation')).toContain(name2)
    expect(demo.server.stats.refreshCalls).toBe(1)
    expect(demo.server.stats.reusedRefused).toBe(0)

    // A little traffic in tab 1, so the counters in the screenshot mean something.
    await tab1.locator('#traffic').check()
    await expect.poll(() => text(tab1, '#count-ok').then(Number), { timeout: 5_000 }).toBeGreaterThanOrEqual(3)
    await tab1.locator('#traffic').uncheck()
    expect(await text(tab1, '#count-401')).toBe('0')
    // Both tabs list each other at the same generation.
    for (const tab of [tab1, tab2]) {
      await expect.poll(() => tab.locator('#tabs tr').count()).toBe(2)
      expect(await tab.locator('#tabs tr.disagree').count()).toBe(0)
    }

    await mkdir(ARTIFACTS, { recursive: true })
    await tab1.screenshot({ path: `${ARTIFACTS}demo-tab-1.png`, fullPage: true })
    await tab2.screenshot({ path: `${ARTIFACTS}demo-tab-2.png`, fullPage: true })

    // Tab 1 logs out; tab 2 is signed out too and shows the form again.
    await tab1.getByRole('button', { name: 'Log out' }).click()
    await expect.poll(() => text(tab2, '#status')).toBe('signed-out')
    await expect.poll(() => tab2.locator('#login-card').isVisible()).toBe(true)
    const logout = tab2.locator('#log li[data-kind="logout"][data-origin="remote"]')
    await expect.poll(() => logout.count()).toBe(1)
    expect(await logout.innerText()).toContain('the user logged out')
    expect(demo.server.stats.logouts).toBe(1)
    expect(demo.server.stats.reusedRefused).toBe(0)
    expect(pageErrors).toEqual([])
  })

  it('?worker: "Rotate now" in a tab is done by the rotation worker, and both tabs say so', async () => {
    const before = { ...demo.server.stats }
    const [tab1, tab2] = [await openTab('?worker'), await openTab('?worker')]
    await tab1.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => text(tab2, '#status')).toBe('active')
    await tab2.getByRole('button', { name: 'Rotate now' }).click()
    for (const tab of [tab1, tab2]) {
      const rotations = tab.locator('#log li[data-kind="rotate"]')
      await expect.poll(() => rotations.count()).toBe(1)
      // Neither tab refreshed: the worker did, and each tab's log says so.
      expect(await rotations.first().getAttribute('data-origin')).toBe('remote')
      await expect.poll(() => rotations.first().innerText()).toContain('by the rotation worker')
    }
    expect(demo.server.stats.refreshCalls - before.refreshCalls).toBe(1)
    expect(demo.server.stats.reusedRefused - before.reusedRefused).toBe(0)
    await tab1.getByRole('button', { name: 'Log out' }).click()
    await expect.poll(() => text(tab2, '#status')).toBe('signed-out')
    expect(demo.server.stats.logouts - before.logouts).toBe(1)
    expect(pageErrors).toEqual([])
  })
})

describe('npm run demo:browser (the CLI)', () => {
  it('prints its URL, serves the page and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo-browser.ts', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed within 15 s\nstdout: ${stdout}\nstderr: ${stderr}`)), 15_000)
        const look = () => {
          const match = /open (http:\/\/127\.0\.0\.1:\d+\/) in several tabs/.exec(stdout)
          if (match?.[1]) {
            clearTimeout(timer)
            resolve(match[1])
          }
        }
        child.stdout.on('data', look)
        void exited.then(({ code }) => reject(new Error(`exited early with ${code}\nstderr: ${stderr}`)))
      })

      const response = await fetch(url)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await response.text()).toContain('<title>Rotor live session</title>')
      const script = await fetch(new URL('/app.js', url))
      expect(script.status).toBe(200)
      expect(await script.text()).toContain('createSession')

      const started = Date.now()
      child.kill('SIGTERM')
      const result = await Promise.race([exited, new Promise<'timeout'>(resolve => setTimeout(() => resolve('timeout'), 5_000))])
      expect(result, `stderr: ${stderr}`).toEqual({ code: 0, signal: null })
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(stdout).toContain('stopping the server')
      expect(stderr).toBe('')
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})
