/**
 * `rotor-auth/socket` in real Chromium: three tabs of one profile, cookie transport, one
 * socket each on the reference server's WebSocket face (same origin, so the handshake
 * carries the AT cookie). Rotations are shared through the library's channel and Web Locks:
 * the server must count one refresh per generation while three sockets reconnect after each.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthServer, createSocketFace, type AuthServer, type SocketFace } from '../../src/testing/index.js'
import { bundle } from './harness'
import { chromiumPath, launchChromium, skipBrowserTests } from './launch'
import type { SocketTabStats } from './socket-page'

const skip = skipBrowserTests()
if (skip) console.warn(`[socket] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

const AT = 2_000
const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

describe.skipIf(skip)('three tabs, one socket each (real Chromium, cookie transport)', () => {
  let server: AuthServer
  let face: SocketFace
  let browser: Browser
  let closeServer: () => Promise<void>
  const errors: string[] = []

  beforeAll(async () => {
    server = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: 60_000 })
    face = await createSocketFace(server)
    const script = await bundle('./socket-page.ts')
    ;({ close: closeServer } = await server.listen({
      static: {
        '/socket.html': { type: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>socket tab</title><script src="/socket.js"></script>' },
        '/socket.js': { type: 'text/javascript', body: script },
      },
    }))
    browser = await launchChromium()
  }, 60_000)

  afterAll(async () => {
    await browser?.close().catch(() => undefined)
    await face?.close()
    await closeServer?.()
  })

  const stats = (page: Page) => page.evaluate(() => window.socketTab.stats) as Promise<SocketTabStats>
  const generation = (page: Page) => page.evaluate(() => window.socketTab.generation())

  /** Tabs and server read together, retried until no rotation happened while reading. */
  async function quiet(pages: Page[]) {
    for (let attempt = 0; attempt < 10; attempt++) {
      const before = await Promise.all(pages.map(generation))
      const counted = { ...server.stats }
      const final = await Promise.all(pages.map(stats))
      const after = await Promise.all(pages.map(generation))
      const same = new Set([...before, ...after]).size === 1
      if (same && counted.refreshGranted === server.stats.refreshGranted) return { final, generations: after, server: counted }
      await sleep(50)
    }
    throw new Error('the tabs never stood still')
  }
  it('share one rotation per generation; every tab gets every message once; no subscription refused; logout ends all three', async () => {
    const context = await browser.newContext()
    const pages = await Promise.all([0, 1, 2].map(() => context.newPage()))
    pages.forEach((page, i) => page.on('pageerror', error => errors.push(`tab ${i}: ${error.message}`)))
    const origin = new URL(server.url!).origin
    await pages[0]!.goto(`${origin}/socket.html`)
    expect(await pages[0]!.evaluate(() => window.socketTab.login())).toBe(201)
    await Promise.all(pages.slice(1).map(page => page.goto(`${origin}/socket.html`)))
    await Promise.all(pages.map(page => page.waitForFunction(() => window.socketTab.generation() > 0)))
    const loginGeneration = await generation(pages[0]!)
    expect(server.stats.refreshCalls).toBe(0)

    await Promise.all(pages.map(page => page.evaluate(() => window.socketTab.open())))
    await expect.poll(() => face.stats.subscribes, { timeout: 5_000 }).toBe(3)

    // Five AT lifetimes of traffic: a message every 20 ms on the channel every tab follows.
    let published = 0
    const until = Date.now() + 5 * AT
    while (Date.now() < until) {
      published = face.publish('feed', { at: Date.now() })
      await sleep(20)
    }
    const expected = Array.from({ length: published }, (_, i) => i + 1)
    await expect.poll(async () => (await Promise.all(pages.map(stats))).map(s => s.seqs.length), { timeout: 5_000 }).toEqual([published, published, published])

    // The timers keep rotating: read tabs and server at a moment no rotation straddles.
    const { final, generations, server: serverStats } = await quiet(pages)
    const rotations = generations[0]! - loginGeneration
    console.log(
      `[socket] 3 tabs, ${5 * AT} ms: generations ${loginGeneration}→${generations.join('/')}, refreshes ${serverStats.refreshGranted} ` +
        `(calls ${serverStats.refreshCalls}, reused ${serverStats.reusedRefused}); connections ${face.stats.connections}, ` +
        `subscribes ${face.stats.subscribes}, refused ${face.stats.subscribeRefused}, 4401 ${face.stats.closedUnauthorized}, ` +
        `published ${published}, deliveries ${face.stats.deliveries}; opens per tab ${final.map(s => s.opens.length).join('/')}`,
    )
    expect(errors).toEqual([])
    for (const s of final) {
      expect(s.rotateErrors).toEqual([])
      expect(s.seqs).toEqual(expected)
    }
    expect(new Set(generations).size).toBe(1)
    expect(rotations).toBeGreaterThanOrEqual(4)
    // One refresh per generation, whichever tab ran it; the others adopted it.
    expect(serverStats).toMatchObject({ refreshGranted: rotations, refreshCalls: rotations, reusedRefused: 0, refreshRefused: 0 })
    expect(final.reduce((n, s) => n + s.rotations.local, 0)).toBe(rotations)
    // A socket whose reconnect the load made later than its old AT's expiry is cut with 4401
    // and reconnects: that may cost a connection, never a refused subscription nor a refresh.
    expect(face.stats.subscribeRefused).toBe(0)
    expect(final.reduce((n, s) => n + s.disconnects.filter(d => d.auth).length, 0)).toBeLessThanOrEqual(face.stats.closedUnauthorized)

    await pages[1]!.evaluate(() => window.socketTab.logout())
    await expect
      .poll(async () => (await Promise.all(pages.map(stats))).map(s => s.closes), { timeout: 5_000 })
      .toEqual([['rotor-auth: session ended (user)'], ['rotor-auth: session ended (user)'], ['rotor-auth: session ended (user)']])
    await expect.poll(() => face.open, { timeout: 5_000 }).toBe(0)
    const connections = face.stats.connections
    await sleep(500)
    expect(face.stats.connections).toBe(connections)
    await context.close()
  }, 60_000)
})
