/**
 * The cross-tab basics in every engine (`engines.ts`): Chromium, Chromium on a non-secure
 * origin (no Web Locks, so the library's other path: an elected leader), Firefox and WebKit,
 * each with the cookie and the bearer transport. Each engine is launched once (launching is
 * the slow part: Firefox ~5 s); each case gets a fresh profile of it (as isolated as a new
 * browser: cookies, storage, channels, locks) and one reference server of its own, on its own
 * port (pages on the same origin as the auth routes, as in `harness.ts`). Per case:
 *  - a smoke test (cookie cases only; it probes the engine): 3 tabs of one profile exchange
 *    BroadcastChannel messages, share localStorage (and get `storage` events), and report
 *    whether Web Locks exist (and, where they do, that they exclude across tabs);
 *  - scenario (a) of `cross-tab.test.ts`, shortened: 3 tabs in timer mode with traffic share
 *    one rotating refresh token: no reused RT, no refused refresh, no 401, every tab adopts
 *    every rotation;
 *  - bearer cases: two tabs call rotate() at the same moment, three rounds.
 * Measured figures are printed with `[engines]`. An engine whose binaries are missing is
 * skipped outside CI and fails under CI (`engineSkipReason`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionState } from '../../src/index.js'
import { createAuthServer, type AuthServer, type AuthServerStats } from '../../src/testing/index.js'
import { engineSkipReason, launchBrowser, PAGE_ERROR_CATCHER, type Engine, type EngineBrowser, type EngineName, type Tab } from './engines'
import { allSettled, buildBundles, sleep, tabHTML, type TabStats } from './harness'

const AT = 2_000
const RT = 60_000
/** Rotation is due at 80 % of the AT lifetime. */
const ROTATE_EVERY = AT * 0.8
const TRAFFIC_MS = 6_000
const ALIAS = 'folio.internal'

function report(line: string): void {
  console.log(`[engines] ${line}`)
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`

type Case = {
  label: string
  engine: EngineName
  /** Pages at `http://folio.internal:<port>` (Chromium host alias): not a secure context. */
  alias: boolean
  /** The tab page's session transport (tab-page.ts `?transport=`). */
  transport?: 'cookie' | 'bearer'
}

/**
 * The cases of each engine: one browser per engine, one profile and one server per case. The
 * cases run one after the other: two at once (each on its own profile, server and port, or
 * even its own browser) made calls take seconds on a shared 2-core machine, and 401s followed
 * (AT 2 s), in Chromium, Firefox and WebKit alike; one at a time, calls stay under 1 s.
 */
const engines: Array<{ engine: EngineName; cases: Case[] }> = [
  {
    engine: 'chromium',
    cases: [
      { label: 'chromium', engine: 'chromium', alias: false },
      { label: 'chromium, non-secure origin', engine: 'chromium', alias: true },
      // Bearer tokens are not in storage: a rotation reaches the other tabs by message only.
      { label: 'chromium, bearer', engine: 'chromium', alias: false, transport: 'bearer' },
      { label: 'chromium, non-secure origin, bearer', engine: 'chromium', alias: true, transport: 'bearer' },
    ],
  },
  {
    engine: 'firefox',
    cases: [
      { label: 'firefox', engine: 'firefox', alias: false },
      { label: 'firefox, bearer', engine: 'firefox', alias: false, transport: 'bearer' },
    ],
  },
  {
    engine: 'webkit',
    cases: [
      { label: 'webkit', engine: 'webkit', alias: false },
      { label: 'webkit, bearer', engine: 'webkit', alias: false, transport: 'bearer' },
    ],
  },
]

const PROBE_HTML = `<!doctype html>
<meta charset="utf-8">
<title>engines probe</title>
${PAGE_ERROR_CATCHER}
<p>probe</p>
`

type Probe = {
  me: number
  channel: BroadcastChannel
  got: Array<{ from: number; latency: number }>
  storage: string[]
  release?: () => void
  held?: boolean
  /** The ordering check: whether the next holder's query saw the lock asked for before the release, by round. */
  saw?: Promise<boolean>
}

declare global {
  interface Window {
    probe?: Probe
  }
}

// ---- helpers over Tab (the harness.ts ones take playwright pages) --------------------------

async function openTab(engine: Engine, origin: string, blank?: Tab, transport = 'cookie', rotation = 'timer'): Promise<Tab> {
  const url = `${origin}/tab.html?rotation=${rotation}&transport=${transport}`
  const tab = blank ?? (await engine.newTab())
  await tab.goto(url)
  await tab.waitFor(() => window.rotor !== undefined, { message: 'the tab page loaded' })
  return tab
}

async function login(tab: Tab): Promise<void> {
  const status = await tab.evaluate(() => window.rotor.login())
  if (status !== 201) throw new Error(`login answered ${status}`)
}

function tabReport(tab: Tab): Promise<{ state: SessionState; stats: TabStats }> {
  return tab.evaluate(() => ({ state: window.rotor.session.state, stats: window.rotor.stats }))
}

const tabState = (tab: Tab) => tab.evaluate(() => window.rotor.session.state)

/** Every call startTraffic sent has settled. */
function settled(tab: Tab) {
  return tab.waitFor(allSettled, { timeout: 5_000, message: 'every API call settled' })
}

/**
 * Tabs and server read at one quiet moment: every tab on the same generation, no rotation in
 * flight, and the server granted nothing while the tabs were read (timers keep rotating every
 * 1.6 s after the traffic stops, so a read may straddle a rotation: then read again).
 */
async function quiet(tabs: Tab[], server: AuthServer): Promise<{ generation: number; stats: TabStats[]; server: AuthServerStats }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const granted = server.stats.refreshGranted
    const reports = await Promise.all(tabs.map(tabReport))
    const snapshot = { ...server.stats }
    const generation = reports[0]!.state.generation
    if (snapshot.refreshGranted === granted && reports.every(r => r.state.generation === generation && !r.state.rotating)) {
      return { generation, stats: reports.map(r => r.stats), server: snapshot }
    }
    await sleep(50)
  }
  const states = await Promise.all(tabs.map(tabState))
  throw new Error(`the tabs never stood still: generations ${states.map(s => s.generation).join('/')}`)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

describe.each(engines)('$engine', ({ engine: name, cases }) => {
  const skipReason = engineSkipReason(name)
  if (skipReason) console.warn(`[engines] ${name} skipped: ${skipReason}`)
  const skip = skipReason !== undefined

  let browser: EngineBrowser | undefined

  beforeAll(async () => {
    if (skip) return
    const started = performance.now()
    // Chromium: the alias only adds a resolver rule, so one browser serves both origins.
    browser = await launchBrowser(name, name === 'chromium' ? { hostAlias: ALIAS } : {})
    report(`${name}: launched in ${fmt(performance.now() - started)}`)
  })

  afterAll(async () => {
    // Browsers are heavy and the machine is shared: close each one before the next engine.
    await browser?.close()
  })

  describe.each(cases)('cross-tab basics in $label', ({ label, alias, transport = 'cookie' }) => {
    let server: AuthServer | undefined
    let engine: Engine | undefined
    let origin = ''

    beforeAll(async () => {
      if (skip) return
      const { rotor, tab } = await buildBundles()
      server = createAuthServer({ accessTokenTtl: AT, refreshTokenTtl: RT })
      const face = await server.listen({
        static: {
          '/probe.html': { type: 'text/html', body: PROBE_HTML },
          '/tab.html': { type: 'text/html', body: tabHTML(PAGE_ERROR_CATCHER) },
          '/rotor.js': { type: 'text/javascript', body: rotor },
          '/tab.js': { type: 'text/javascript', body: tab },
        },
      })
      origin = alias ? `http://${ALIAS}:${face.port}` : face.origin
      const started = performance.now()
      engine = await browser!.newProfile()
      report(`${label}: ${engine.version}, fresh profile in ${fmt(performance.now() - started)}; pages at ${origin}`)
    })

    afterAll(async () => {
      await engine?.close()
      await server?.close()
    })

    // What the engine offers does not depend on the transport: probed once per engine and origin.
    it.skipIf(skip || transport !== 'cookie')(
      '3 tabs of one profile: BroadcastChannel, shared localStorage, Web Locks reported',
      async () => {
        const e = engine!
        const started = performance.now()
        const tabs = await Promise.all([0, 1, 2].map(i => e.newTab(`${origin}/probe.html?tab=${i}`)))
        const opened = performance.now() - started

        const facts = await Promise.all(
          tabs.map(tab =>
            tab.evaluate(() => ({
              secure: window.isSecureContext,
              locks: typeof navigator.locks?.request === 'function',
              visibility: document.visibilityState,
              origin: location.origin,
            })),
          ),
        )
        for (const [i, f] of facts.entries()) {
          expect(f.origin, `tab ${i} origin`).toBe(origin)
          // A hidden tab's timers are throttled (Firefox background tabs): every tab must be in front.
          expect(f.visibility, `tab ${i} visibility`).toBe('visible')
          // 127.0.0.1 is a secure context; an http page on another name is not, and has no Web Locks.
          expect(f.secure, `tab ${i} isSecureContext`).toBe(!alias)
          expect(f.locks, `tab ${i} navigator.locks`).toBe(!alias)
        }
        if (alias) {
          expect(await tabs[0]!.evaluate(() => navigator.locks === undefined)).toBe(true)
        }

        // Listeners first, in every tab. WebKit trap: a tab that only added a `storage` listener
        // gets no storage events until it has read localStorage once, so each tab reads it.
        await Promise.all(
          tabs.map((tab, i) =>
            tab.evaluate((me: number) => {
              const channel = new BroadcastChannel('engines-smoke')
              const probe: Probe = { me, channel, got: [], storage: [] }
              channel.onmessage = (event: MessageEvent<{ from: number; at: number }>) => {
                probe.got.push({ from: event.data.from, latency: performance.timeOrigin + performance.now() - event.data.at })
              }
              window.addEventListener('storage', event => probe.storage.push(`${event.key}=${event.newValue}`))
              localStorage.getItem('engines-smoke')
              window.probe = probe
            }, i),
          ),
        )

        // BroadcastChannel: each tab posts once; each gets the other two (never its own).
        await Promise.all(tabs.map(tab => tab.evaluate(() => window.probe!.channel.postMessage({ from: window.probe!.me, at: performance.timeOrigin + performance.now() }))))
        const received = await Promise.all(
          tabs.map(tab => tab.waitFor(() => window.probe!.got.length >= 2 && window.probe!.got, { timeout: 3_000, message: 'two BroadcastChannel messages' })),
        )
        for (const [i, got] of received.entries()) {
          expect(got.map(m => m.from).sort(), `tab ${i} got messages from`).toEqual([0, 1, 2].filter(j => j !== i))
        }
        const latencies = received.flat().map(m => m.latency)

        // localStorage is one store for the origin: written in tab 0, read and announced in 1 and 2.
        // Not always at once: once, Chromium tabs 1 and 2 read the old value right after tab 0's
        // write (each renderer caches the area; changes from other tabs arrive asynchronously), so
        // poll for it and report what the first read saw.
        const value = `from-0-${Math.random().toString(36).slice(2)}`
        await tabs[0]!.evaluate((v: string) => localStorage.setItem('engines-smoke', v), value)
        const written = performance.now()
        const firstReads = await Promise.all(tabs.map(tab => tab.evaluate(() => localStorage.getItem('engines-smoke'))))
        const reads = await Promise.all(
          tabs.map(tab => tab.waitFor((v: string) => localStorage.getItem('engines-smoke') === v && v, { args: [value], timeout: 3_000, message: 'the value tab 0 wrote' })),
        )
        const visibleAfter = performance.now() - written
        expect(reads).toEqual([value, value, value])
        for (const tab of tabs.slice(1)) {
          await tab.waitFor((entry: string) => window.probe!.storage.includes(entry), {
            args: [`engines-smoke=${value}`],
            timeout: 3_000,
            message: 'the storage event',
          })
        }
        expect(await tabs[0]!.evaluate(() => window.probe!.storage)).toEqual([])

        // Web Locks, where they exist: held in tab 0, not available in tab 1 until released.
        let lockReport = 'none (not a secure context)'
        if (!alias) {
          await tabs[0]!.evaluate(() => {
            void navigator.locks.request('engines-smoke', () => new Promise<void>(resolve => Object.assign(window.probe!, { release: resolve, held: true })))
          })
          await tabs[0]!.waitFor(() => window.probe!.held === true, { message: 'tab 0 holds the lock' })
          const whileHeld = await tabs[1]!.evaluate(() => navigator.locks.request('engines-smoke', { ifAvailable: true }, lock => lock !== null))
          await tabs[0]!.evaluate(() => window.probe!.release!())
          const afterRelease = await tabs[1]!.waitFor(() => navigator.locks.request('engines-smoke', { ifAvailable: true }, lock => lock !== null), {
            timeout: 2_000,
            message: 'the lock released by tab 0',
          })
          expect(whileHeld, 'tab 1 got the lock tab 0 holds').toBe(false)
          expect(afterRelease).toBe(true)
          // What a bearer roll call rests on (src/coordinator/presence.ts): a lock a tab asks for
          // before it lets another go is seen by the next holder's query(), though the two tabs
          // share nothing else. Asked for in the very task of the release: the closest it can be.
          const rounds = 10
          const seen: boolean[] = []
          for (let round = 0; round < rounds; round++) {
            await tabs[0]!.evaluate(() => {
              delete window.probe!.held
              void navigator.locks.request('engines-order', () => new Promise<void>(resolve => Object.assign(window.probe!, { release: resolve, held: true })))
            })
            await tabs[0]!.waitFor(() => window.probe!.held === true, { message: 'tab 0 holds the order lock' })
            await tabs[1]!.evaluate((mark: string) => {
              window.probe!.saw = navigator.locks.request('engines-order', async () => {
                const { held = [], pending = [] } = await navigator.locks.query()
                return [...held, ...pending].some(lock => lock.name === mark)
              }) as unknown as Promise<boolean>
            }, `engines-mark-${round}`)
            await tabs[0]!.waitFor(async () => ((await navigator.locks.query()).pending ?? []).some(lock => lock.name === 'engines-order'), {
              message: 'tab 1 waits for the order lock',
            })
            await tabs[0]!.evaluate((mark: string) => {
              void navigator.locks.request(mark, () => new Promise<void>(resolve => setTimeout(resolve, 5_000)))
              window.probe!.release!()
            }, `engines-mark-${round}`)
            seen.push(await tabs[1]!.evaluate(() => window.probe!.saw!))
          }
          expect(seen, 'the next holder saw the lock asked for before the release').toEqual(Array.from({ length: rounds }, () => true))
          lockReport = `present, exclusive across tabs; a lock asked for before a release seen by the next holder in ${rounds} of ${rounds} rounds`
        }

        const errors = await Promise.all(tabs.map(tab => tab.errors()))
        expect(errors, 'uncaught errors in the pages').toEqual([[], [], []])
        await tabs[0]!.evaluate(() => localStorage.removeItem('engines-smoke'))
        await Promise.all(tabs.map(tab => tab.close()))
        report(
          `${label}: smoke in ${fmt(performance.now() - started)} (3 tabs opened in ${fmt(opened)}): isSecureContext=${facts[0]!.secure} ` +
            `navigator.locks ${lockReport}; BroadcastChannel to the other tabs: median ${median(latencies).toFixed(1)} ms, ` +
            `max ${Math.max(...latencies).toFixed(1)} ms; localStorage shared with storage events ` +
            `(read at once in the other tabs: ${firstReads
              .slice(1)
              .map(r => (r === value ? 'new value' : 'OLD value'))
              .join(', ')}; ` +
            `all tabs read it within ${fmt(visibleAfter)})`,
        )
      },
      30_000,
    )

    // On the non-secure origin (no Web Locks) only the elected leader refreshes
    // (src/coordinator/leader-lock.ts). Before it, every tab believed it was the primary and
    // rotated on its own timer: refused=2 reused=2 in 5 of 5 runs, then every tab logged out.
    const scenario = skip ? it.skip : it
    scenario(
      '3 tabs share one rotating refresh token under traffic: no reused RT, no 401, every tab adopts every rotation',
      async () => {
        const e = engine!
        const s = server!
        const started = performance.now()
        const first = await openTab(e, origin, undefined, transport)
        // Tab 0's timer rotates 1.6 s after the login: open the joiners' tabs first and load
        // their documents after the login, to keep the join well inside that.
        const blanks = await Promise.all([e.newTab(), e.newTab()])
        await login(first)
        const loggedIn = performance.now()
        const before = { refreshCalls: s.stats.refreshCalls, logins: s.stats.logins }
        const others = await Promise.all(blanks.map(blank => openTab(e, origin, blank, transport)))
        const joinMs = performance.now() - loggedIn
        const tabs = [first, ...others]
        // Joining is free: no login, no refresh.
        expect(s.stats.refreshCalls, 'refresh calls while the tabs joined').toBe(before.refreshCalls)
        expect(s.stats.logins).toBe(before.logins)
        const joined = await Promise.all(tabs.map(tabReport))
        for (const [i, { state, stats }] of joined.entries()) {
          expect(state.status, `tab ${i} status`).toBe('active')
          expect(state.generation, `tab ${i} generation`).toBe(joined[0]!.state.generation)
          expect(stats.rotations.local, `tab ${i} rotated`).toBe(0)
        }

        const trafficStarted = performance.now()
        await Promise.all(tabs.map(tab => tab.evaluate(() => window.rotor.startTraffic(100))))
        await sleep(TRAFFIC_MS)
        await Promise.all(tabs.map(tab => tab.evaluate(() => window.rotor.stopTraffic())))
        const trafficMs = performance.now() - trafficStarted
        await Promise.all(tabs.map(settled))
        // Read everything before asserting anything, so a failure still reports the numbers.
        const agreed = await quiet(tabs, s).catch((error: unknown) => error as Error)
        const sinceLogin = performance.now() - loggedIn
        const reports = await Promise.all(tabs.map(tabReport))
        const {
          generation,
          stats: all,
          server: serverStats,
        } = agreed instanceof Error ? { generation: NaN, stats: reports.map(r => r.stats), server: { ...s.stats } } : agreed
        const rotateErrors = all.map(t => t.events.filter(ev => ev.type === 'rotate-error'))
        const { refreshCalls, refreshGranted, reusedRefused, refreshRefused, api200, api401 } = serverStats
        report(
          `${label}: 2 tabs joined in ${fmt(joinMs)} with no refresh; ${(trafficMs / 1000).toFixed(1)} s of traffic: refreshCalls=${refreshCalls} ` +
            `granted=${refreshGranted} refused=${refreshRefused} reused=${reusedRefused} api200=${api200} api401=${api401}; generation=${generation}; ` +
            `local rotations per tab=${all.map(t => t.rotations.local).join('/')}; calls per tab=${all.map(t => t.sent).join('/')}; ` +
            `401s per tab=${all.map(t => t.status401).join('/')}; rotate-errors per tab=${rotateErrors.map(l => l.length).join('/')}; ` +
            `logouts per tab=${all.map(t => t.logouts.map(l => `${l.reason}/${l.origin}`).join('+') || 0).join(', ')}; ` +
            `status per tab=${reports.map(r => r.state.status).join('/')}; ` +
            `slowest call per tab=${all.map(t => fmt(t.slowestMs)).join(', ')}; scenario ${fmt(performance.now() - started)}`,
        )
        for (const [i, list] of rotateErrors.entries()) {
          expect(list.slice(0, 1), `tab ${i} rotate-error events (${list.length}; the refresh call failed in the page)`).toEqual([])
        }
        if (agreed instanceof Error) throw agreed
        expect(reusedRefused, 'refresh tokens presented twice').toBe(0)
        expect(refreshRefused).toBe(0)
        expect(api401).toBe(0)
        // One refresh per generation: at least one per AT lifetime of traffic, at most one per
        // rotation interval since the login (+1 for a rotation under way at the read).
        expect(refreshCalls).toBeGreaterThanOrEqual(Math.floor(trafficMs / AT))
        expect(refreshCalls).toBeLessThanOrEqual(Math.ceil(sinceLogin / ROTATE_EVERY) + 1)
        expect(refreshGranted).toBe(refreshCalls)
        for (const [i, t] of all.entries()) {
          expect(t.status401, `tab ${i} saw a 401`).toBe(0)
          expect(t.errors, `tab ${i} errors`).toEqual([])
          expect(t.other, `tab ${i} other statuses`).toEqual({})
          expect(t.ok, `tab ${i} answered calls`).toBe(t.sent)
          expect(t.logouts, `tab ${i} logged out`).toEqual([])
          // Every tab adopted every rotation.
          expect(t.rotations.local + t.rotations.remote, `tab ${i} rotations seen`).toBe(refreshGranted)
        }
        expect(all.reduce((n, t) => n + t.rotations.local, 0)).toBe(refreshGranted)
        const errors = await Promise.all(tabs.map(tab => tab.errors()))
        expect(errors, 'uncaught errors in the pages').toEqual([[], [], []])
        await Promise.all(tabs.map(tab => tab.close()))
      },
      30_000,
    )

    // With bearer tokens (not in storage) the new pair reached the other tabs by message only,
    // and a tab could take the lock before that message, re-read a stale state and present the
    // RT just spent: both rotate() calls resolved, and the next rotation logged every tab out.
    // Bearer only: the race it pins down is the bearer one. With cookies, earlier tabs of the
    // same profile may still rotate the shared cookie session on their timers, which makes the
    // per-round generation count of this test flaky (seen twice in clean CI runs); the cookie
    // transport's concurrent rotate() is covered by cross-tab.test.ts (0) and the Node suites.
    const race = transport === 'bearer' ? scenario : it.skip
    race(
      'two tabs call rotate() at the same moment: one refresh, both on the new generation',
      async () => {
        const e = engine!
        const s = server!
        // Request mode: only the rotate() calls rotate (a timer rotation would add generations).
        const tabs = [await openTab(e, origin, undefined, transport, 'request'), await openTab(e, origin, undefined, transport, 'request')]
        await login(tabs[0]!)
        await tabs[1]!.waitFor(() => window.rotor.session.state.status === 'active', { message: 'tab 1 joined' })
        const before = { ...s.stats }
        const generation = (await tabState(tabs[0]!)).generation
        // Each answer 300 ms late: both calls land while the first refresh is out, however late one
        // tab's timer fires (Firefox 153 fired one 50 ms late; called after the other tab's rotation
        // arrived, that rotate() rightly rotated again, and a round saw two refreshes).
        s.setLatency(300)
        try {
          for (let round = 1; round <= 3; round++) {
            // Both calls fire at one agreed moment on the shared clock (WebKit's driver runs one
            // evaluate at a time, so two evaluates would not be concurrent).
            const at = Date.now() + 500
            await Promise.all(
              tabs.map(tab =>
                tab.evaluate((t: number) => {
                  const w = window as unknown as { rotated: string | undefined }
                  w.rotated = undefined
                  setTimeout(() => {
                    void window.rotor.session.rotate().then(
                      () => (w.rotated = 'ok'),
                      (error: unknown) => (w.rotated = String(error)),
                    )
                  }, t - Date.now())
                }, at),
              ),
            )
            const outcomes: string[] = []
            for (const tab of tabs) {
              await tab.waitFor(() => (window as unknown as { rotated?: string }).rotated !== undefined, { message: 'rotate() settled' })
              outcomes.push(await tab.evaluate(() => (window as unknown as { rotated: string }).rotated))
            }
            expect(outcomes, `round ${round}`).toEqual(['ok', 'ok'])
            for (const tab of tabs) {
              await tab.waitFor((g: number) => window.rotor.session.state.generation === g, { args: [generation + round], message: `generation ${generation + round}` })
            }
          }
        } finally {
          s.setLatency(0)
        }
        expect(s.stats.refreshCalls - before.refreshCalls, 'one refresh per round').toBe(3)
        expect(s.stats.reusedRefused).toBe(0)
        expect(s.stats.refreshRefused).toBe(0)
        const statuses = await Promise.all(tabs.map(tab => tab.evaluate(async () => (await window.rotor.session.fetch('/api/ping')).status)))
        expect(statuses).toEqual([200, 200])
        await Promise.all(tabs.map(tab => tab.close()))
      },
      30_000,
    )
  })
})
