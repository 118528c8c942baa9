/**
 * The bearer probe's wait, measured alone: N real Chromium tabs (Web Locks) of traffic, and for
 * each refresh the time from the rotation lock's grant to the RT presented (the probe asking
 * the peers), read from the session's decisions (bench/lib/latency-page.ts with `probe=1`).
 * `node --import tsx bench/latency-probe.ts` (TABS=5, SECONDS=8); not part of `npm run bench`.
 */
import { chromium } from 'playwright-core'
import { createAuthServer } from '../src/testing/index.js'
import { bundle, sleep } from '../test/browser/harness.js'
import { chromiumArgs, chromiumPath } from '../test/browser/launch.js'

const TABS = Number(process.env.TABS ?? 5)
const SECONDS = Number(process.env.SECONDS ?? 8)

const [rotor, page] = await Promise.all([bundle('../../src/index.ts', 'Rotor'), bundle('../../bench/lib/latency-page.ts')])
const server = createAuthServer({ accessTokenTtl: 1_500, refreshTokenTtl: 600_000 })
const html = `<!doctype html><meta charset="utf-8"><title>latency</title><script src="/rotor.js"></script><script src="/latency.js"></script>`
const js = (body: string) => ({ type: 'text/javascript', body })
const face = await server.listen({ static: { '/latency.html': { type: 'text/html', body: html }, '/rotor.js': js(rotor), '/latency.js': js(page) } })
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: [...chromiumArgs] })
try {
  const context = await browser.newContext()
  const pages = []
  for (let i = 0; i < TABS; i++) {
    const tab = await context.newPage()
    await tab.goto(`${face.origin}/latency.html?transport=bearer&tab=t${i}&probe=1`)
    await tab.waitForFunction(() => window.latency !== undefined)
    if (i === 0) await tab.evaluate(() => window.latency.login())
    pages.push(tab)
  }
  await Promise.all(pages.map(tab => tab.waitForFunction(() => window.latency.active(), undefined, { timeout: 5_000 })))
  await Promise.all(pages.map(tab => tab.evaluate(() => window.latency.startTraffic(250))))
  await sleep(SECONDS * 1000)
  await Promise.all(pages.map(tab => tab.evaluate(() => window.latency.stopTraffic())))
  const waits = (await Promise.all(pages.map(tab => tab.evaluate(() => window.latency.stats.probes)))).flat().sort((a, b) => a - b)
  const { refreshCalls, reusedRefused } = server.stats
  console.log(`${TABS} tabs: lock granted → RT presented, ms: ${waits.map(w => w.toFixed(1)).join(' ')} (${refreshCalls} refreshes, ${reusedRefused} reused RTs)`)
} finally {
  await browser.close()
  await face.close()
}
