import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) {
  console.warn(
    `[browser smoke] skipped: no Chromium at ${chromiumPath}. Install it with ` + '`apt-get install -y chromium` or set CHROMIUM_PATH (under CI this suite fails instead).',
  )
}

const page = '<!doctype html><meta charset="utf-8"><title>rotor-auth smoke</title><p>ok</p>'

describe.skipIf(skip)('browser smoke: Chromium via playwright-core', () => {
  let server: Server
  let origin: string
  let browser: Browser
  let context: BrowserContext

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(page)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await launchChromium()
    context = await browser.newContext()
  })

  afterAll(async () => {
    await context?.close()
    await browser?.close()
    if (server?.listening) await new Promise<void>(resolve => server.close(() => resolve()))
  })

  it('two tabs of one context share BroadcastChannel and navigator.locks', async () => {
    const [a, b] = await Promise.all([context.newPage(), context.newPage()])
    await Promise.all([a.goto(`${origin}/a`), b.goto(`${origin}/b`)])

    // 127.0.0.1 is a secure context, so Web Locks are exposed in both tabs.
    for (const p of [a, b]) {
      expect(await p.evaluate(() => window.isSecureContext)).toBe(true)
      expect(await p.evaluate(() => typeof navigator.locks?.request)).toBe('function')
    }

    // Tab b listens; tab a posts once b is ready.
    const received = b.evaluate(
      () =>
        new Promise<unknown>((resolve, reject) => {
          const ch = new BroadcastChannel('rotor-smoke')
          const timer = setTimeout(() => reject(new Error('no BroadcastChannel message')), 5_000)
          ch.onmessage = e => {
            clearTimeout(timer)
            ch.close()
            resolve(e.data)
          }
        }),
    )
    // The listener is attached synchronously inside the evaluate above; make sure it ran.
    await b.evaluate(() => undefined)
    await a.evaluate(() => {
      const ch = new BroadcastChannel('rotor-smoke')
      ch.postMessage({ hello: 'from a' })
      ch.close()
    })
    expect(await received).toEqual({ hello: 'from a' })

    // A lock held in tab a is visible to tab b (same origin, same profile).
    // Tab a takes the lock and holds it forever; resolve once it is actually granted.
    await a.evaluate(
      () =>
        new Promise<void>(granted => {
          void navigator.locks.request('rotor-smoke-lock', () => {
            granted()
            return new Promise<void>(() => {})
          })
        }),
    )
    const gotIt = await b.evaluate(() => navigator.locks.request('rotor-smoke-lock', { ifAvailable: true }, lock => lock !== null))
    expect(gotIt).toBe(false)

    await Promise.all([a.close(), b.close()])
  })
})
