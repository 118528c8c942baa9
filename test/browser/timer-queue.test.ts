/**
 * Timer mode in real Chromium when its refresh waits in the browser's connection queue (six per
 * host over HTTP/1.1, all held by slow API calls) until after the AT expired: what the server saw.
 * Measured figures are printed with `[timer-queue]`.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { login, settled, startHarness, startTraffic, stopTraffic, tabStats, waitForGeneration, type Harness } from './harness'
import { chromiumPath, skipBrowserTests } from './launch'

const skip = skipBrowserTests()
if (skip) console.warn(`[timer-queue] skipped: no Chromium at ${chromiumPath} (under CI this suite fails instead).`)

const AT = 3_000
/** Chromium's connections per host over HTTP/1.1: this many held API calls leave the refresh queued. */
const CONNECTIONS = 6
/** How long past the AT's expiry (on the page's clock) the held calls are let go. */
const OVERDUE_MS = 2_000

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe.skipIf(skip)('a timer refresh queued in the browser past the AT expiry', () => {
  it('cookie, two tabs: calls wait or replay once, none with an expired AT; the new AT is the server’s (not dead on arrival), no clock skew', async () => {
    h = await startHarness({ accessTokenTtl: AT, refreshTokenTtl: 60_000 })
    // Slow API calls: answered only when the test says, they hold every connection to the host.
    const held: ServerResponse[] = []
    h.server.attach({ request: (req, res) => (req.url?.startsWith('/api/hold') ? held.push(res) > 0 : false) })
    const leader = await h.openTab({ rotation: 'timer' })
    const other = await h.openTab({ rotation: 'timer' })
    await login(leader)
    await waitForGeneration(other, 0)
    await leader.evaluate(n => {
      const w = window as unknown as { skews: unknown[] }
      w.skews = []
      window.rotor.session.on('clock-skew', skew => w.skews.push(skew))
      for (let i = 0; i < n; i++) void window.rotor.session.fetch(`/api/hold/${i}`).then(r => r.text())
    }, CONNECTIONS)
    await Promise.all([startTraffic(leader, 100), startTraffic(other, 100)])
    // The timer's refresh is queued behind the held calls; let the AT expire under it.
    await leader.waitForFunction(ms => Date.now() > window.rotor.session.state.accessExpiresAt! + ms, OVERDUE_MS, { timeout: 15_000, polling: 20 })
    expect(h.server.stats.refreshCalls, 'the refresh is still queued in the browser').toBe(0)
    for (const res of held) res.end('ok')
    await Promise.all([waitForGeneration(leader, 1, 10_000), waitForGeneration(other, 1, 10_000)])
    const state = await leader.evaluate(() => window.rotor.session.state)
    const refresh = h.server.log.find(e => e.route === 'refresh')!
    // The session counts the AT from the server's own expiry, not shortened by the queue.
    expect(state.accessExpiresAt! - (refresh.at + AT), 'the AT, as the session sees it, vs the server').toBeGreaterThan(-1_000)
    await Promise.all([stopTraffic(leader), stopTraffic(other)])
    await Promise.all([settled(leader, 15_000), settled(other, 15_000)])
    const stats = await Promise.all([tabStats(leader), tabStats(other)])
    const skews = await leader.evaluate(() => (window as unknown as { skews: unknown[] }).skews)
    const refreshQueuedMs = await leader.evaluate(() =>
      Math.max(
        ...(performance.getEntriesByType('resource') as PerformanceResourceTiming[]).filter(e => e.name.includes('/authn/refresh')).map(e => e.requestStart - e.startTime),
      ),
    )
    const { api401, refreshCalls, reusedRefused } = h.server.stats
    console.log(
      `[timer-queue] refresh queued in the browser ${Math.round(refreshQueuedMs)} ms; server: ${refreshCalls} refreshes, ${api401} 401s ` +
        `(handed with an expired AT: ${stats.map(s => s.handedExpired).join('+')}); calls ${stats.map(s => s.sent).join('+')}`,
    )
    expect(refreshQueuedMs, 'the refresh waited in the browser until after the AT expired').toBeGreaterThan(OVERDUE_MS)
    expect(skews, 'no clock skew read from the queue').toEqual([])
    expect(reusedRefused).toBe(0)
    // Every 401 the server served was for a call handed over with a live AT (queued behind the
    // held ones); none was handed over with an AT Rotor knew had expired, and each was replayed once.
    expect(stats.map(s => s.handedExpired)).toEqual([0, 0])
    expect(stats.map(s => ({ ok: s.ok === s.sent, status401: s.status401, errors: s.errors, logouts: s.logouts.length }))).toEqual([
      { ok: true, status401: 0, errors: [], logouts: 0 },
      { ok: true, status401: 0, errors: [], logouts: 0 },
    ])
    expect(stats.every(s => s.events.every(e => e.type !== 'rotate-error'))).toBe(true)
  })
})
