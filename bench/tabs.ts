/**
 * Scenario — real tabs: N tabs of one headless Chromium profile (each its own page, realm and
 * timers; BroadcastChannel, Web Locks and cookies shared as in a real browser), each running
 * Rotor with API traffic against the reference auth server on 127.0.0.1 with a short AT, for
 * a bounded real time. It counts what the server saw — refresh calls against the counts the
 * parameters allow, reused RTs, 401s — and every call that did not give its caller a 200.
 *
 * `npm run bench -- tabs --tabs=10 --tab-seconds=20` sets the tab count and the traffic time
 * of each run; `--rotation=request` (or `timer`) runs that mode alone; `TABS_DEBUG=1` prints
 * when each refresh reached the server. It drives the tabs
 * with the browser tests' harness (test/browser/harness.ts: playwright-core, Debian's
 * /usr/bin/chromium, the tab page test/browser/tab-page.ts).
 */
import type { Page } from 'playwright-core'
import type { AuthServerStats } from '../src/testing/index.js'
import { login, sleep, startHarness, startTraffic, stopTraffic, tabStats, type TabStats } from '../test/browser/harness.js'
import { hasChromium, chromiumPath } from '../test/browser/launch.js'
import { QUICK } from './lib/mode.js'
import type { Section } from './table.js'

/** `--name=value` from the command line, else `fallback`. */
function flag(name: string, fallback: number): number {
  const given = process.argv.find(arg => arg.startsWith(`--${name}=`))
  const value = given === undefined ? fallback : Number(given.slice(name.length + 3))
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`--${name} must be a positive number, got ${given}`)
  return value
}

/** `--rotation=timer|request`: that mode alone; both when absent. */
function only(): string | undefined {
  const given = process.argv.find(arg => arg.startsWith('--rotation='))?.slice('--rotation='.length)
  if (given !== undefined && given !== 'timer' && given !== 'request') throw new TypeError(`--rotation must be timer or request, got ${given}`)
  return given
}

const TABS = flag('tabs', QUICK ? 4 : 10)
/** Traffic time of each run, s. */
const SECONDS = flag('tab-seconds', QUICK ? 8 : 20)
const AT_TTL = 2_000
const RT_TTL = 600_000
/** Each tab calls `session.fetch('/api/ping')` this often, ms. */
const INTERVAL = 100
/** Rotor's defaults: leeway min(5 s, 10 % of the AT's lifetime); timer mode rotates at 0.8. */
const LEEWAY = Math.min(5_000, AT_TTL * 0.1)
const ROTATE_AT = 0.8

type Mode = {
  rotation: 'timer' | 'request'
  name: string
  /** The rotation period Rotor is designed to keep with these parameters, ms. */
  period: number
  /** What the refresh count is judged over: timers rotate from the login on; requests only while there is traffic. */
  from: 'login' | 'traffic'
}

const MODES: Mode[] = [
  { rotation: 'timer', name: `timer (rotateAt ${ROTATE_AT})`, period: ROTATE_AT * AT_TTL, from: 'login' },
  { rotation: 'request', name: `request (leeway ${LEEWAY} ms)`, period: AT_TTL - LEEWAY, from: 'traffic' },
]

type Outcome = {
  mode: Mode
  /** The span the counts are judged over, ms of real time. */
  span: number
  refreshCalls: number
  /** Fewest refreshes that keep a valid AT over the span: ⌊span ÷ TTL⌋. */
  fewest: number
  /** What the design does: ⌊span ÷ period⌋ (+1: a rotation may straddle either end). */
  designed: number
  reused: number
  refused: number
  api401: number
  calls: number
  failed: number
  /** Of the failed: calls still unsettled SETTLE_MS after the traffic stopped. */
  hung: number
  /** Of those: calls none of whose requests the browser held, so Rotor's to settle (a lost call). */
  heldByRotor: number
  /** Longest an API request waited inside the browser before it went on the wire, ms. */
  queuedMs: number
  /** Longest a refresh call waited there, ms. */
  refreshQueuedMs: number
  /** API requests Rotor handed to the browser with an AT its own clock said had expired: 401s that are Rotor's, whatever the load. */
  handedExpired: number
  /** What the other failed calls got: rejections by error code, statuses other than 200. */
  why: Record<string, number>
  slowestMs: number
  logouts: number
  pageErrors: number
  joinMs: number
}

/** How long the calls still on their way at the stop get to settle; those that do not are counted as failed. */
const SETTLE_MS = 30_000

/**
 * Waits until the tab's unsettled calls are at most the requests its browser still holds
 * (`browser: true`) or none at all, or until `timeout` passes (then it is not thrown: the
 * counts say it).
 */
function untilSettled(page: Page, browser: boolean, timeout: number): Promise<unknown> {
  return page
    .waitForFunction(
      allowBrowser => {
        const s = window.rotor.stats
        const open = s.sent - s.ok - s.status401 - s.errors.length - Object.values(s.other).reduce((a, b) => a + b, 0)
        return open <= (allowBrowser ? s.inBrowser : 0)
      },
      browser,
      { timeout, polling: 50 },
    )
    .catch(() => undefined)
}

/** Every call startTraffic sent has settled in the tab, or SETTLE_MS passed. */
const settled = (page: Page) => untilSettled(page, false, SETTLE_MS)

/** Calls the tab sent that never settled (no answer, no rejection). */
const unsettled = (s: TabStats) => s.sent - s.ok - s.status401 - s.errors.length - Object.values(s.other).reduce((a, b) => a + b, 0)

/**
 * Unsettled calls none of whose requests is in the browser: Rotor holds them (a call has at
 * most one request out at a time, its first attempt or its replay).
 */
const heldByRotor = (s: TabStats) => Math.max(0, unsettled(s) - s.inBrowser)

/**
 * On a machine too busy to send the calls as fast as the tabs make them, calls still queue in
 * the browser after SETTLE_MS. A replay may be waiting at the gate for a rotation at the moment
 * we look, so give that moment a few seconds to pass before counting calls Rotor holds.
 */
const rotorIdle = (page: Page) => untilSettled(page, true, 5_000)

const failedCalls = (s: TabStats) => s.sent - s.ok

function reasons(stats: TabStats[]): Record<string, number> {
  const why: Record<string, number> = {}
  const add = (key: string, n: number) => n && (why[key] = (why[key] ?? 0) + n)
  for (const s of stats) {
    add('HTTP 401', s.status401)
    for (const [status, n] of Object.entries(s.other)) add(`HTTP ${status}`, n)
    for (const code of s.errors) add(code, 1)
  }
  return why
}

async function run(mode: Mode): Promise<Outcome> {
  const h = await startHarness({ accessTokenTtl: AT_TTL, refreshTokenTtl: RT_TTL })
  try {
    // Opening a browser page is the slow part: the joiners' pages open before the login, and
    // only load the tab page after it, so they join well inside the first AT's life.
    const blanks = await h.blankPages(TABS - 1)
    const first = await h.openTab({ rotation: mode.rotation })
    await login(first)
    const loggedInAt = performance.now()
    const before: AuthServerStats = { ...h.server.stats }
    const tabs = [first, ...(await Promise.all(blanks.map(blank => h.openTab({ rotation: mode.rotation }, blank))))]
    const joinMs = performance.now() - loggedInAt
    await Promise.all(tabs.map(tab => startTraffic(tab, INTERVAL)))
    const trafficAt = performance.now()
    await sleep(SECONDS * 1000)
    await Promise.all(tabs.map(stopTraffic))
    const stoppedAt = performance.now()
    // What the server saw up to the stop (timers keep rotating after it).
    const atStop: AuthServerStats = { ...h.server.stats }
    await Promise.all(tabs.map(settled))
    await Promise.all(tabs.map(rotorIdle))
    const stats = await Promise.all(tabs.map(tabStats))
    if (process.env.TABS_DEBUG) {
      const login = h.server.log.find(e => e.route === 'login')!.at
      const refreshes = h.server.log.filter(e => e.route === 'refresh').map(e => ((e.at - login) / 1000).toFixed(2))
      console.log(`refreshes at (s after login): ${refreshes.join(' ')}; traffic at ${((trafficAt - loggedInAt) / 1000).toFixed(2)}`)
    }
    const span = stoppedAt - (mode.from === 'login' ? loggedInAt : trafficAt)
    return {
      mode,
      span,
      refreshCalls: atStop.refreshCalls - before.refreshCalls,
      fewest: Math.floor(span / AT_TTL),
      designed: Math.floor(span / mode.period) + 1,
      reused: h.server.stats.reusedRefused - before.reusedRefused,
      refused: h.server.stats.refreshRefused - before.refreshRefused,
      api401: h.server.stats.api401 - before.api401,
      calls: stats.reduce((n, s) => n + s.sent, 0),
      failed: stats.reduce((n, s) => n + failedCalls(s), 0),
      hung: stats.reduce((n, s) => n + unsettled(s), 0),
      heldByRotor: stats.reduce((n, s) => n + heldByRotor(s), 0),
      queuedMs: Math.max(...stats.map(s => s.queuedMs)),
      refreshQueuedMs: Math.max(...stats.map(s => s.refreshQueuedMs)),
      handedExpired: stats.reduce((n, s) => n + s.handedExpired, 0),
      why: reasons(stats),
      slowestMs: Math.max(...stats.map(s => s.slowestMs)),
      logouts: stats.reduce((n, s) => n + s.logouts.length, 0),
      pageErrors: h.pageErrors.length,
      joinMs,
    }
  } finally {
    await h.close()
  }
}

export async function runTabs(): Promise<Section> {
  const title = `Real tabs: ${TABS} Chromium tabs, AT ${AT_TTL / 1000} s, ${SECONDS} s of traffic per run`
  const method =
    `${TABS} tabs (pages of one headless Chromium browser context: one profile, so BroadcastChannel, Web Locks and cookies are ` +
    `shared as between real tabs), each loading the browser tests' tab page (test/browser/tab-page.ts: Rotor's browser bundle, ` +
    `cookie transport, refresh and logout on the server's default routes) from the reference auth server ` +
    `(\`rotor-auth/testing\`) listening on 127.0.0.1, AT ${AT_TTL / 1000} s, RT ${RT_TTL / 60_000} min. One tab logs in; the others ` +
    `open after and join (no login, no refresh). Then every tab calls \`session.fetch('/api/ping')\` every ${INTERVAL} ms for ` +
    `${SECONDS} s of real time, and every call is awaited to its end. Refresh calls are what the server counted, judged ` +
    'against two counts computed from the parameters over the span the mode rotates in (timer: from the login to the stop; ' +
    'request: while there was traffic): the fewest that keep a valid AT, ⌊span ÷ TTL⌋, and what the design does, ' +
    `⌊span ÷ period⌋ + 1 (timer: period ${ROTATE_AT} × TTL; request: TTL − leeway, ${AT_TTL - LEEWAY} ms). "failed" = calls that ` +
    `did not give their caller a 200 (401s, other statuses, rejections, and calls still unsettled ${SETTLE_MS / 1000} s after the stop); ` +
    '"held by Rotor" = unsettled calls none of whose requests the browser holds (the tab page counts the API requests its fetch ' +
    'has been handed and not answered); "longest browser queue" = the longest an API request waited inside the browser before ' +
    'it went on the wire (Resource Timing requestStart − startTime), and the same for the refresh calls; "sent with an expired AT" = API ' +
    'requests Rotor handed to the browser with an AT its own clock said had expired (each tab page counts them as its fetch is called). ' +
    "A run whose browser queue exceeds the AT lifetime is OVERLOADED: the 401s of calls that left with a live AT are the machine's, " +
    'and only what Rotor answers for under any load is judged: each RT once, no logout, no call lost, no call sent with an expired AT, ' +
    'no refresh beyond the design.'
  if (!hasChromium()) {
    return {
      title,
      method,
      table: { columns: ['skipped'], rows: [[`no Chromium at ${chromiumPath}`]] },
      verdicts: [`Skipped: no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH).`],
    }
  }
  const outcomes: Outcome[] = []
  const rotation = only()
  for (const mode of MODES) if (rotation === undefined || mode.rotation === rotation) outcomes.push(await run(mode))
  const rows = outcomes.map(o => [
    o.mode.name,
    Math.round(o.span),
    o.refreshCalls,
    o.fewest,
    o.designed,
    o.reused,
    o.refused,
    o.api401,
    o.calls,
    o.failed,
    o.hung,
    o.heldByRotor,
    o.logouts,
    Math.round(o.slowestMs),
    Math.round(o.queuedMs),
    Math.round(o.refreshQueuedMs),
    o.handedExpired,
    Math.round(o.joinMs),
  ])
  const verdicts = outcomes.map(o => {
    // A 401 is not a failure by itself: an AT that expired on its way is replayed once after a
    // rotation, and the caller never sees it (a failed call counts what a caller did see).
    // What Rotor answers for under any load: each RT once, no logout, no call lost in it, none
    // sent with an AT it knew had expired (a 401 then is Rotor's, and its replay feeds the queue).
    const rotorsPart =
      o.refreshCalls <= o.designed && o.reused === 0 && o.refused === 0 && o.logouts === 0 && o.pageErrors === 0 && o.heldByRotor === 0 && o.handedExpired === 0
    const good = rotorsPart && o.refreshCalls >= o.fewest && o.failed === 0
    // A request the browser held longer than an AT lives reached the server expired, and so did
    // its replay if held as long: no client can deliver an AT through that queue. The 401s and
    // late calls are the machine's then (a plain fetch queues the same); Rotor's part is judged.
    const overloaded = o.queuedMs > AT_TTL
    // Each 401 is replayed once, except a replay's own (the caller gets it).
    const replays = o.api401 - (o.why['HTTP 401'] ?? 0)
    const verdict = overloaded
      ? `OVERLOADED: the browser held requests up to ${(o.queuedMs / 1000).toFixed(1)} s before sending them (the AT lives ${AT_TTL / 1000} s; ` +
        `refresh calls up to ${(o.refreshQueuedMs / 1000).toFixed(1)} s), so the 401s of calls that left with a live AT are the machine's; Rotor's share: ` +
        `${o.handedExpired} calls sent with an AT it knew had expired, ${replays} replays added to ${o.calls.toLocaleString('en-US')} calls ` +
        `(${Math.round((100 * replays) / Math.max(1, o.calls))} %), ${o.refreshCalls} refreshes of ${o.designed} by design; ` +
        `each RT once, no logout, no call held by Rotor, none sent with an expired AT, no refresh beyond the design: ${rotorsPart ? 'met' : 'MISSED'}`
      : good
        ? 'met'
        : 'MISSED'
    return (
      `Rotor, rotation ${o.mode.name}, ${TABS} real tabs: ${o.refreshCalls} refresh calls in ${(o.span / 1000).toFixed(1)} s ` +
      `(fewest possible ${o.fewest}, by design at most ${o.designed}), ${o.reused} reused RTs, ${o.api401} 401s (replayed), ` +
      `${o.failed} of ${o.calls.toLocaleString('en-US')} calls failed` +
      (o.hung ? ` (${o.hung} not settled within ${SETTLE_MS / 1000} s of the stop, ${o.heldByRotor} of them held by Rotor, the rest queued in the browser)` : '') +
      (Object.keys(o.why).length
        ? ` [${Object.entries(o.why)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ')}]`
        : '') +
      `, ${o.logouts} logouts` +
      (o.pageErrors ? `, ${o.pageErrors} uncaught page errors` : '') +
      `: ${verdict}.`
    )
  })
  return {
    title,
    method,
    table: {
      columns: [
        'rotation',
        'span (ms)',
        'refresh calls',
        'fewest possible',
        'by design (at most)',
        'reused RTs',
        'refused refreshes',
        '401s',
        'API calls',
        'failed',
        'of which unsettled',
        'unsettled held by Rotor',
        'logouts',
        'slowest call (ms)',
        'longest browser queue (ms)',
        'longest refresh queue (ms)',
        'sent with an expired AT',
        'tabs joined in (ms)',
      ],
      rows,
    },
    verdicts,
    notes: [
      'A 401 here is an AT that was usable when the tab sent the call and had expired when the server read it: the call left ' +
        `with at least the leeway (${LEEWAY} ms) to spare (the "sent with an expired AT" column counts those that did not). ` +
        'Rotor rotates and sends the call once more, so the caller gets its 200 (the "failed" column counts what callers got). ' +
        'The count grows with the time a call spends between the page and the server, which on a busy 2-core machine running ' +
        'a browser per tab can exceed the leeway; the slowest call column shows how long that was.',
    ],
  }
}
