/**
 * Scenario 3 — tabs soak: 20 simulated tabs for one simulated hour (AT 60 s, RT 1 h) against
 * the reference server's model, every tab making one API call every 5 simulated seconds.
 * Bearer JSON variant (`/bearer/login`, `/bearer/refresh`): one login, and every tab starts
 * with the same token pair, as tabs reading it from storage do. Swept over network latency
 * (0, 100, 400 ms round trip), with the peers in their common setup (tokens per tab, all tabs
 * at once) and their best one (tokens in one store shared by every tab, a 401 whose token was
 * already replaced in the store retried without refreshing, tabs staggered over the 5 s), so
 * the table shows where each approach breaks.
 *
 * Time is simulated (bench/lib/virtual-time.ts): the server, every client and every timer run
 * on one clock the bench moves, so the hour takes seconds and timer-mode rotations fire at
 * their simulated due time.
 */
import axios from 'axios'
import { createAuthRefresh } from 'axios-auth-refresh'
import ky from 'ky'
import { createAuthServer, type AuthServer } from '../src/testing/index.js'
import type { SessionOptions } from '../src/types.js'
import { fetchAdapter, serverFetch } from './lib/server-fetch.js'
import { loadRotor } from './lib/rotor.js'
import { QUICK } from './lib/mode.js'
import { VirtualClock } from './lib/virtual-time.js'
import type { Section } from './table.js'

const TABS = 20
const HOUR = 3_600_000
const STEP_MS = 5_000
const AT_TTL = 60_000
const ORIGIN = 'http://auth.test'
const REFRESH_URL = `${ORIGIN}/bearer/refresh`
const T0 = Date.parse('2026-01-01T09:00:00Z')
/** Round-trip latencies swept, ms. */
const LATENCIES = QUICK ? [0, 400] : [0, 100, 400]
/** Rotor's defaults: leeway min(5 s, 10 % of the AT's lifetime); timer mode rotates at 0.8. */
const LEEWAY = Math.min(5_000, AT_TTL * 0.1)
const ROTATE_AT = 0.8

/**
 * Refresh calls an hour needs, from the parameters: one per rotation period.
 * - Rotor, request mode: the first call (calls come every STEP, all at once) that finds the AT
 *   within its leeway rotates. Rotor counts the new AT's lifetime from when the refresh was
 *   sent (the safe side), so latency does not stretch the period: (TTL − leeway) rounded up
 *   to a whole STEP.
 * - Rotor, timer mode: rotateAt × TTL after the answer arrived, plus the round trip.
 * - Refresh on 401: the first call after expiry refreshes: (TTL + latency) rounded up to the
 *   calls' spacing (STEP, or STEP ÷ TABS when the tabs are staggered).
 */
const expected = {
  request: () => Math.floor(HOUR / (Math.ceil((AT_TTL - LEEWAY) / STEP_MS) * STEP_MS)),
  timer: (latency: number) => Math.floor(HOUR / (ROTATE_AT * AT_TTL + latency)),
  on401: (latency: number, spacing: number) => Math.floor(HOUR / (Math.ceil((AT_TTL + latency) / spacing) * spacing)),
}

type Pair = { accessToken: string; refreshToken: string }

/** One simulated tab of one client library. */
interface Tab {
  /** One API call; resolves true when a 200 reached the caller. */
  call(url: string): Promise<boolean>
  /** The tab ended signed out (its RT was refused: the family is revoked). */
  loggedOut(): boolean
  dispose?(): void
}

type Env = { server: AuthServer; fetch: typeof fetch; clock: VirtualClock; login(): Promise<Response> }

type Client = {
  name: string
  setup: string
  /** Tabs call one after another, STEP ÷ TABS apart, instead of all at the same instant. */
  staggered: boolean
  expected(latency: number): number
  tabs(env: Env): Promise<Tab[]>
}

/** Where the peers keep tokens: one pair per tab, or one pair in a store every tab shares (localStorage). */
type Store = { tokens: Pair }

function stores(pair: Pair, shared: boolean): () => Store {
  const common: Store = { tokens: { ...pair } }
  return () => (shared ? common : { tokens: { ...pair } })
}

const COMMON = 'tokens per tab, all tabs at once'
const BEST = 'shared token store, 401 retried if the store has a newer AT, tabs staggered'

async function pairFrom(response: Response): Promise<Pair> {
  if (response.status !== 201) throw new Error(`login failed: HTTP ${response.status}`)
  return (await response.json()) as Pair
}

// ---- Rotor ---------------------------------------------------------------------------

let channels = 0

function rotor(name: string, expect: (latency: number) => number, options: Partial<SessionOptions>): Client {
  return {
    name,
    setup: 'all tabs at once (its hardest case)',
    staggered: false,
    expected: expect,
    async tabs(env) {
      const { createSession } = await loadRotor()
      const crossTab = { name: `bench-soak-${process.pid}-${++channels}` }
      const open = () =>
        createSession({
          scope: `${ORIGIN}/api`,
          transport: 'bearer',
          refresh: { url: REFRESH_URL, style: 'json' },
          logout: `${ORIGIN}/bearer/logout`,
          crossTab,
          fetch: env.fetch,
          now: () => env.clock.now,
          ...options,
        })
      const first = open()
      await first.start(await env.login())
      // The other tabs open on the running session and join it without rotating.
      const sessions = [first, ...Array.from({ length: TABS - 1 }, open)]
      await env.clock.settle()
      return sessions.map(session => {
        let loggedOut = false
        session.on('logout', () => (loggedOut = true))
        return {
          call: async url => (await session.fetch(url)).status === 200,
          loggedOut: () => loggedOut || session.state.status !== 'active',
          dispose: () => session.dispose(),
        }
      })
    },
  }
}

/**
 * A peer as its readme sets it up, one instance per tab: `tab` builds one tab over `own`, its
 * tokens (a pair of its own, or in the best setup the store every tab shares).
 */
function peer(name: string, best: boolean, tab: (own: Store, env: Env) => Tab): Client {
  return {
    name,
    setup: best ? BEST : COMMON,
    staggered: best,
    expected: latency => expected.on401(latency, best ? STEP_MS / TABS : STEP_MS),
    async tabs(env) {
      const store = stores(await pairFrom(await env.login()), best)
      return Array.from({ length: TABS }, () => tab(store(), env))
    },
  }
}

/** A tab of a peer library: a call counts when it ends 200; after the library gave up (its refresh failed) the app shows its login form and calls nothing. */
function libraryTab(get: (url: string) => Promise<{ status: number }>, loggedOut: () => boolean): Tab {
  return {
    async call(url) {
      if (loggedOut()) return false
      try {
        return (await get(url)).status === 200
      } catch {
        return false
      }
    },
    loggedOut,
  }
}

// ---- the hand-written interceptor ---------------------------------------------------------

/** The common hand-written pattern: on a 401, refresh and retry once. */
function naive(best: boolean): Client {
  return peer('hand-written interceptor (refresh on 401, retry once)', best, (own, env) => {
    let loggedOut = false
    const send = (url: string, at: string) => env.fetch(url, { headers: { authorization: `Bearer ${at}` } })
    const refresh = async () => {
      const res = await env.fetch(REFRESH_URL, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: own.tokens.refreshToken }),
      })
      if (res.status !== 201) return false
      own.tokens = (await res.json()) as Pair
      return true
    }
    return {
      async call(url) {
        if (loggedOut) return false // signed out: the app shows its login form instead
        const sent = own.tokens.accessToken
        let res = await send(url, sent)
        if (res.status === 401) {
          // Best setup: another tab already refreshed; use its AT instead of spending the RT again.
          if (!(best && own.tokens.accessToken !== sent) && !(await refresh())) {
            loggedOut = true
            return false
          }
          res = await send(url, own.tokens.accessToken)
        }
        return res.status === 200
      },
      loggedOut: () => loggedOut,
    }
  })
}

// ---- axios + axios-auth-refresh -----------------------------------------------------------

/** axios-auth-refresh as its readme sets it up, one axios instance per tab. */
function axiosAuthRefresh(best: boolean): Client {
  return peer('axios + axios-auth-refresh (one instance per tab)', best, (own, env) => {
    let loggedOut = false
    const adapter = fetchAdapter(env.fetch)
    const api = axios.create({ adapter })
    api.interceptors.request.use(config => {
      config.headers.Authorization = `Bearer ${own.tokens.accessToken}`
      return config
    })
    // The readme's refreshAuthLogic: refresh with plain axios, store, fix the failed request.
    createAuthRefresh(api, failedRequest => {
      const current = `Bearer ${own.tokens.accessToken}`
      if (best && failedRequest.response.config.headers.Authorization !== current) {
        // Another tab already refreshed: retry with its AT.
        failedRequest.response.config.headers.Authorization = current
        return Promise.resolve()
      }
      return axios.post<Pair>(REFRESH_URL, { refreshToken: own.tokens.refreshToken }, { adapter }).then(
        tokenRefreshResponse => {
          own.tokens = tokenRefreshResponse.data
          failedRequest.response.config.headers.Authorization = `Bearer ${own.tokens.accessToken}`
          return Promise.resolve()
        },
        error => {
          loggedOut = true
          throw error
        },
      )
    })
    return libraryTab(
      url => api.get(url),
      () => loggedOut,
    )
  })
}

// ---- ky's documented recipe ----------------------------------------------------------------

/** ky's readme recipe (hooks.afterResponse: on a first 401, refresh, then `ky.retry` with the new token). */
function kyRecipe(best: boolean): Client {
  return peer("ky's afterResponse 401 recipe (one instance per tab)", best, (own, env) => {
    const http = ky.create({ fetch: env.fetch })
    let loggedOut = false
    const api = http.extend({
      hooks: {
        beforeRequest: [
          request => {
            request.headers.set('Authorization', `Bearer ${own.tokens.accessToken}`)
          },
        ],
        afterResponse: [
          async (request, _options, response, state) => {
            if (response.status === 401 && state.retryCount === 0) {
              // Best setup: another tab already refreshed; retry with its AT.
              const replaced = best && request.headers.get('Authorization') !== `Bearer ${own.tokens.accessToken}`
              // Only refresh on first 401, not on subsequent retries
              if (!replaced) {
                try {
                  own.tokens = await http.post(REFRESH_URL, { json: { refreshToken: own.tokens.refreshToken } }).json<Pair>()
                } catch (error) {
                  loggedOut = true
                  throw error
                }
              }
              const headers = new Headers(request.headers)
              headers.set('Authorization', `Bearer ${own.tokens.accessToken}`)
              return ky.retry({ request: new Request(request, { headers }), code: 'TOKEN_REFRESHED' })
            }
            return undefined
          },
        ],
      },
    })
    return libraryTab(
      url => api.get(url),
      () => loggedOut,
    )
  })
}

// ---- the simulation ----------------------------------------------------------------------

type Outcome = { refreshCalls: number; reused: number; ok: number; failed: number; logouts: number; calls: number; wallMs: number }

async function simulate(client: Client, latency: number): Promise<Outcome> {
  const started = performance.now()
  // The clock waits for the server's real-time work (JWT crypto) before it moves.
  const clock = new VirtualClock(T0, () => fetchImpl.inflight > 0)
  const server = createAuthServer({ accessTokenTtl: AT_TTL, refreshTokenTtl: HOUR, now: () => clock.now })
  const fetchImpl = serverFetch(server, latency)
  const restore = clock.install()
  let tabs: Tab[] = []
  try {
    const env: Env = {
      server,
      fetch: fetchImpl,
      clock,
      // Without latency: nothing moves the simulated clock before the hour starts.
      login: () =>
        serverFetch(server)(`${ORIGIN}/bearer/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
        }),
    }
    tabs = await client.tabs(env)
    let ok = 0
    let failed = 0
    let pending = 0
    let calls = 0
    const gap = client.staggered ? STEP_MS / TABS : 0
    for (let step = 0; step < HOUR / STEP_MS; step++) {
      for (const [i, tab] of tabs.entries()) {
        if (i > 0 && gap > 0) await clock.advance(gap)
        calls++
        pending++
        void tab
          .call(`${ORIGIN}/api/items?tab=${i}&step=${step}`)
          .then(
            good => (good ? ok++ : failed++),
            () => failed++,
          )
          .finally(() => pending--)
      }
      await clock.advance(STEP_MS - gap * (tabs.length - 1))
    }
    // The hour is over: let calls still waiting (a retry delay, a queue) finish.
    for (let i = 0; pending > 0 && i < 120; i++) await clock.advance(1_000)
    if (pending > 0) failed += pending
    return {
      refreshCalls: server.stats.refreshCalls,
      reused: server.stats.reusedRefused,
      ok,
      failed,
      logouts: tabs.filter(t => t.loggedOut()).length,
      calls,
      wallMs: performance.now() - started,
    }
  } finally {
    for (const tab of tabs) tab.dispose?.()
    restore()
  }
}

export async function runSoak(): Promise<Section> {
  const clients: Client[] = [
    rotor("Rotor, rotation 'request' (default leeway)", expected.request, { rotation: 'request' }),
    rotor("Rotor, rotation 'timer' (rotateAt 0.8)", expected.timer, { rotation: 'timer' }),
    naive(false),
    naive(true),
    axiosAuthRefresh(false),
    axiosAuthRefresh(true),
    kyRecipe(false),
    kyRecipe(true),
  ]
  const rows = []
  const verdicts: string[] = []
  for (const latency of LATENCIES) {
    for (const client of clients) {
      const o = await simulate(client, latency)
      const want = client.expected(latency)
      rows.push([latency, client.name, client.setup, o.refreshCalls, want, o.reused, o.failed, `${o.logouts}/${TABS}`, o.calls, Math.round(o.wallMs)])
      if (client.name.startsWith('Rotor')) {
        const good = Math.abs(o.refreshCalls - want) <= 1 && o.reused === 0 && o.failed === 0 && o.logouts === 0
        verdicts.push(
          `${client.name}, ${latency} ms latency: ${o.refreshCalls} refresh calls (expected ${want}), ${o.reused} reused / ${o.failed} failed / ${o.logouts} logouts: ${good ? 'met' : 'MISSED'}.`,
        )
      }
    }
  }
  // Where each peer setup breaks: the first latency at which it lost requests or tabs.
  for (const client of clients.filter(c => !c.name.startsWith('Rotor'))) {
    const mine = rows.filter(r => r[1] === client.name && r[2] === client.setup)
    const broken = mine.find(r => r[6] !== 0 || r[7] !== `0/${TABS}`)
    verdicts.push(
      `${client.name}, ${client.setup}: ` +
        (broken
          ? `breaks at ${broken[0]} ms latency (${broken[6]} failed requests, ${broken[7]} tabs logged out, ${broken[5]} reused RTs).`
          : `held at every latency swept (${LATENCIES.join(', ')} ms).`),
    )
  }
  return {
    title: 'Tabs soak: 20 tabs, one simulated hour, latency sweep',
    method:
      `${TABS} tabs, AT ${AT_TTL / 1000} s, RT 1 h, every tab calls the API every ${STEP_MS / 1000} simulated s, ` +
      'against the reference server model (`server.handle` behind an in-memory fetch / axios adapter), bearer JSON routes; ' +
      `one login, every tab starting from the same token pair; network latency ${LATENCIES.join(' / ')} ms round trip ` +
      '(half each way, on the simulated clock). Simulated clock for server, clients and timers. Peers in two setups: ' +
      `"${COMMON}" (each tab keeps the pair it got) and "${BEST}" (one pair in a store every tab reads and writes, as ` +
      'localStorage; a 401 for an AT the store has already replaced is retried with the new AT instead of refreshing; tabs call ' +
      `${STEP_MS / TABS} ms apart). Rotor always has all tabs call at the same instant. "expected" refresh calls are computed ` +
      'from the parameters (see `expected` in bench/soak.ts): one per rotation period — Rotor request mode: (TTL − leeway) ' +
      "rounded up to a whole 5 s step (the AT's lifetime counts from when its refresh was sent, so latency does not stretch it); timer mode: 0.8 × TTL + latency; refresh on 401: (TTL + latency) rounded up to the " +
      'calls\' spacing. "failed" = calls that did not give the caller a 200 (a signed-out tab\'s calls count as failed: the app ' +
      'would show a login form instead); "logouts" = tabs that ended signed out because the server refused their RT. Rotor ' +
      'tabs are 20 sessions sharing `crossTab: { name }` in one process.',
    table: {
      columns: ['latency (ms)', 'client', 'setup', 'refresh calls', 'expected', 'reused RTs', 'failed requests', 'logouts', 'API calls', 'wall ms'],
      rows,
    },
    verdicts,
  }
}
