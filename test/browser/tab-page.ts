/**
 * The script of `/tab.html`, one browser tab of the cross-tab tests. Bundled by
 * `harness.ts` (esbuild) and run after `/rotor.js`, the IIFE build of `src/index.ts` that
 * defines the global `Rotor`.
 *
 * Query parameters: `rotation` (`timer` | `request`), `transport` (`cookie` | `bearer`),
 * `idleTimeout`, `idleWarning` and `refreshTimeout` (ms), `worker` (the rotation worker's URL).
 * Everything the tests read is plain data under `window.rotor.stats`.
 */
import type * as RotorModule from '../../src/index.js'
import type { LogoutReason, Origin, Session } from '../../src/index.js'

declare const Rotor: typeof RotorModule

/** Page time on a clock shared by every tab of the browser (epoch ms, sub-ms resolution). */
const now = (): number => performance.timeOrigin + performance.now()

export type TabEvent =
  | { type: 'rotate'; origin: Origin; generation: number; at: number }
  | { type: 'logout'; origin: Origin; reason: LogoutReason; at: number }
  | { type: 'idle-warning'; logoutAt: number; at: number }
  | { type: 'rotate-error'; willRetry: boolean; error: string; at: number }
  | { type: 'worker-fallback'; reason: string; at: number }
  /** A call answered 401 (after Rotor's one replay): the state when it was sent and when it came back. */
  | { type: 'status401'; sent: { generation: number; accessExpiresAt: number | null; at: number }; generation: number; accessExpiresAt: number | null; at: number }

export type TabStats = {
  /** API calls sent by startTraffic and answered. */
  sent: number
  ok: number
  status401: number
  /** Other statuses, by status. */
  other: Record<string, number>
  /** Error code (or name) of every rejected API call. */
  errors: string[]
  /** Slowest API call, ms (a call held for a rotation waits for it). */
  slowestMs: number
  /**
   * API requests (first attempts and replays) the browser has been handed and not yet answered.
   * A call that has not settled while none of its requests is here is Rotor's to settle; the
   * rest wait on the browser's network stack, which no `queueTimeout` bounds.
   */
  inBrowser: number
  /**
   * Longest an API request waited inside the browser before it went on the wire, ms (Resource
   * Timing: requestStart − startTime). A cookie AT goes with the request when the page hands it
   * over: held longer than the AT lives, it reaches the server expired, whatever the client does.
   */
  queuedMs: number
  /**
   * API requests Rotor handed to the browser with an AT its own clock said had expired: a 401
   * for one of these is Rotor's doing, not the network's (every other 401 left with a live AT).
   */
  handedExpired: number
  /** Longest this tab's refresh call waited inside the browser before it went on the wire, ms (as queuedMs). */
  refreshQueuedMs: number
  rotations: { local: number; remote: number }
  /** When this tab's last login() completed (`session.start` resolved); 0 if it never logged in. */
  loggedInAt: number
  logouts: Array<{ reason: LogoutReason; origin: Origin; at: number }>
  events: TabEvent[]
}

export type TabApi = {
  session: Session
  stats: TabStats
  /** POST the FOLIO login with the page's plain fetch, then `session.start(response)`. Returns the login status. */
  login(): Promise<number>
  /** `session.fetch('/api/ping')` every `intervalMs`, counting the results. */
  startTraffic(intervalMs: number): void
  stopTraffic(): void
}

declare global {
  interface Window {
    rotor: TabApi
  }
}

const params = new URLSearchParams(location.search)
const rotation = params.get('rotation') === 'request' ? 'request' : 'timer'
const idleTimeout = Number(params.get('idleTimeout') ?? 0)
const idle = idleTimeout > 0 ? { timeout: idleTimeout, warning: Number(params.get('idleWarning') ?? 0) } : false

// ?transport=bearer: the session holds the tokens (refresh by JSON body), nothing in cookies.
const bearer = params.get('transport') === 'bearer'
const session = Rotor.createSession({
  scope: bearer ? `${location.origin}/api` : location.origin,
  headers: { 'X-Okapi-Tenant': 'diku' },
  rotation,
  idle,
  ...(params.has('refreshTimeout') ? { refreshTimeout: Number(params.get('refreshTimeout')) } : {}),
  ...(params.has('worker') ? { worker: params.get('worker')! } : {}),
  ...(bearer ? { transport: 'bearer', refresh: { url: '/bearer/refresh', style: 'json' }, logout: '/bearer/logout' } : {}),
})

const stats: TabStats = {
  sent: 0,
  ok: 0,
  status401: 0,
  other: {},
  errors: [],
  slowestMs: 0,
  inBrowser: 0,
  queuedMs: 0,
  handedExpired: 0,
  refreshQueuedMs: 0,
  rotations: { local: 0, remote: 0 },
  loggedInAt: 0,
  logouts: [],
  events: [],
}

session.on('rotate', ({ state, origin }) => {
  stats.rotations[origin] += 1
  stats.events.push({ type: 'rotate', origin, generation: state.generation, at: now() })
})
session.on('logout', ({ reason, origin }) => {
  const at = now()
  stats.logouts.push({ reason, origin, at })
  stats.events.push({ type: 'logout', origin, reason, at })
})
session.on('idle-warning', ({ logoutAt }) => {
  stats.events.push({ type: 'idle-warning', logoutAt, at: now() })
})
session.on('worker-fallback', ({ reason }) => {
  stats.events.push({ type: 'worker-fallback', reason, at: now() })
})
session.on('rotate-error', ({ error, willRetry }) => {
  stats.events.push({ type: 'rotate-error', willRetry, error: String(error), at: now() })
})

// The session looks the page's fetch up at every call: wrapped here, it counts the API requests
// the browser holds (a harness's instrument; the session's options stay as an app's would).
const pageFetch = window.fetch
window.fetch = function countingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const sent = pageFetch(input, init)
  if (!String(input instanceof Request ? input.url : input).includes('/api/')) return sent
  stats.inBrowser += 1
  const { accessExpiresAt } = session.state
  if (accessExpiresAt !== null && Date.now() >= accessExpiresAt) stats.handedExpired += 1
  const done = () => void (stats.inBrowser -= 1)
  sent.then(done, done)
  return sent
}
if (typeof PerformanceObserver !== 'undefined' && PerformanceObserver.supportedEntryTypes?.includes('resource')) {
  new PerformanceObserver(list => {
    for (const entry of list.getEntries() as PerformanceResourceTiming[]) {
      // requestStart is 0 where the engine does not say (a request that never got on the wire).
      if (entry.requestStart > 0 && entry.name.includes('/api/')) stats.queuedMs = Math.max(stats.queuedMs, entry.requestStart - entry.startTime)
      if (entry.requestStart > 0 && entry.name.includes('/refresh')) stats.refreshQueuedMs = Math.max(stats.refreshQueuedMs, entry.requestStart - entry.startTime)
    }
  }).observe({ type: 'resource' })
}

let traffic: ReturnType<typeof setInterval> | undefined

function ping(): void {
  const started = now()
  const sent = { generation: session.state.generation, accessExpiresAt: session.state.accessExpiresAt, at: started }
  stats.sent += 1
  session.fetch('/api/ping').then(
    response => {
      stats.slowestMs = Math.max(stats.slowestMs, now() - started)
      if (response.status === 200) stats.ok += 1
      else if (response.status === 401) {
        stats.status401 += 1
        const { generation, accessExpiresAt } = session.state
        stats.events.push({ type: 'status401', sent, generation, accessExpiresAt, at: now() })
      } else stats.other[response.status] = (stats.other[response.status] ?? 0) + 1
      void response.body?.cancel()
    },
    (error: unknown) => {
      const e = error as { code?: unknown; name?: unknown } | null
      stats.errors.push(String(e?.code ?? e?.name ?? error))
    },
  )
}

window.rotor = {
  session,
  stats,
  async login() {
    const response = await fetch(bearer ? '/bearer/login' : '/authn/login-with-expiry', {
      method: 'POST',
      credentials: bearer ? 'omit' : 'include',
      headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': 'diku' },
      body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
    })
    if (response.ok) {
      await session.start(response)
      stats.loggedInAt = now()
    }
    return response.status
  },
  startTraffic(intervalMs) {
    clearInterval(traffic)
    traffic = setInterval(ping, intervalMs)
  },
  stopTraffic() {
    clearInterval(traffic)
    traffic = undefined
  },
}
