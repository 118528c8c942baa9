/**
 * The page of the latency bench (bench/latency.ts): one tab running Rotor in request mode that
 * records, on the browser-wide clock, when each API call was made, handed to the browser's fetch
 * and put on the wire, and when the tab received each new generation. Bundled with esbuild and
 * run after `/rotor.js` (global `Rotor`). Query: `transport`, `tab` (a label), `worker` (a URL),
 * `join` (make one call at script start: the join measurement).
 */
import type * as RotorModule from '../../src/index.js'

declare const Rotor: typeof RotorModule

/** Epoch ms with sub-ms resolution, on a clock every tab of the browser shares. */
const now = (): number => performance.timeOrigin + performance.now()
const scriptStart = now()

export type CallRecord = { seq: number; calledAt: number; settledAt: number; status: number }
export type Timing = { name: string; startTime: number; requestStart: number; responseEnd: number }
export type LatencyStats = {
  scriptStart: number
  /** createSession returned; the session first turned active here (a joiner: it joined). */
  createdAt: number
  activeAt: number
  calls: CallRecord[]
  /** Every generation this tab entered after its start, and whether it rotated itself. */
  rotations: Array<{ at: number; generation: number; origin: string }>
  /** Resource Timing of API and refresh requests, on the same clock as the rest. */
  timings: Timing[]
  errors: string[]
  /** With `probe=1`: each refresh's wait under the lock, granted → RT presented (the bearer probe), ms. */
  probes: number[]
  /**
   * When Rotor called the browser's fetch, by path (window.fetch wrapped): Resource Timing's
   * startTime lags that call by whatever the tab's busy main thread makes the loader wait.
   */
  handed: Record<string, number>
  /** With `probe=1`: after each rotate event, how long the next task waited to run (the tab's main thread busy), ms. */
  lag: number[]
  /**
   * This tab's rotation steps, from the session's decisions (its `trace` event): lock asked and
   * granted, RT presented (`rotation-started`, with the generation it rotates from) and the answer
   * published (`rotation-answered`, with the generation it entered). The shares of a held call's wait.
   */
  steps: Step[]
  /** This tab's refresh calls: when Rotor called fetch with one, and when its answer (headers) reached the page. */
  refreshes: Array<{ called: number; resolved: number }>
}

export type Step = { kind: string; at: number; generation: number | undefined; ok: boolean | undefined }
const STEPS = new Set(['lock-asked', 'lock-granted', 'rotation-started', 'rotation-answered'])

declare global {
  interface Window {
    latency: {
      stats: LatencyStats
      login(): Promise<number>
      startTraffic(intervalMs: number): void
      stopTraffic(): void
      active(): boolean
    }
  }
}

const params = new URLSearchParams(location.search)
const bearer = params.get('transport') === 'bearer'
const tab = params.get('tab') ?? 'tab'
let granted = 0
/** The session's decisions, read only with `probe=1` (recording them costs a little on every rotation). */
const debug = (entry: { kind: string }): void => {
  if (entry.kind === 'lock-granted') granted = now()
  if (entry.kind === 'rotation-started' && granted) stats.probes.push(now() - granted)
}
const session = Rotor.createSession({
  scope: bearer ? `${location.origin}/api` : location.origin,
  headers: { 'X-Okapi-Tenant': 'diku' },
  rotation: 'request',
  ...(params.has('worker') ? { worker: params.get('worker')! } : {}),
  ...(params.has('probe') ? { debug } : {}),
  ...(bearer ? { transport: 'bearer', refresh: { url: '/bearer/refresh', style: 'json' }, logout: '/bearer/logout' } : {}),
})

const stats: LatencyStats = {
  scriptStart,
  createdAt: now(),
  activeAt: 0,
  calls: [],
  rotations: [],
  timings: [],
  errors: [],
  probes: [],
  handed: {},
  lag: [],
  steps: [],
  refreshes: [],
}
session.on('change', state => void (state.status === 'active' && !stats.activeAt && (stats.activeAt = now())))
session.on('rotate', ({ state, origin }) => void stats.rotations.push({ at: now(), generation: state.generation, origin }))
session.on('trace', entry => {
  if (!STEPS.has(entry.kind)) return
  const { generation, ok } = entry as { generation?: number; ok?: boolean }
  stats.steps.push({ kind: entry.kind, at: now(), generation, ok })
})
const send = window.fetch.bind(window)
window.fetch = (input, init) => {
  const path = new URL(input instanceof Request ? input.url : String(input), location.href).pathname
  // The first hand-over only: a replay after a 401 is the same path again.
  if (path.startsWith('/api/')) stats.handed[path] ??= now()
  if (!path.endsWith('/refresh')) return send(input, init)
  const call = { called: now(), resolved: 0 }
  stats.refreshes.push(call)
  const sent = send(input, init)
  sent.then(
    () => (call.resolved = now()),
    () => undefined,
  )
  return sent
}
if (params.has('probe')) {
  session.on('rotate', () => {
    const at = now()
    setTimeout(() => stats.lag.push(now() - at), 0)
  })
}

performance.setResourceTimingBufferSize(100_000)
new PerformanceObserver(list => {
  for (const entry of list.getEntries() as PerformanceResourceTiming[]) {
    if (!entry.name.includes('/api/') && !entry.name.includes('/refresh')) continue
    const origin = performance.timeOrigin
    stats.timings.push({
      name: new URL(entry.name).pathname,
      startTime: origin + entry.startTime,
      requestStart: entry.requestStart > 0 ? origin + entry.requestStart : 0,
      responseEnd: origin + entry.responseEnd,
    })
  }
}).observe({ type: 'resource', buffered: true })

let seq = 0
function call(): void {
  const record: CallRecord = { seq: seq++, calledAt: now(), settledAt: 0, status: 0 }
  stats.calls.push(record)
  session.fetch(`/api/ping/${tab}/${record.seq}`).then(
    response => {
      record.settledAt = now()
      record.status = response.status
      void response.body?.cancel()
    },
    (error: unknown) => {
      record.settledAt = now()
      stats.errors.push(String((error as { code?: unknown } | null)?.code ?? error))
    },
  )
}

// A joining tab's first call goes at once: the bench measures it from scriptStart to the wire.
if (params.has('join')) call()

let traffic: ReturnType<typeof setInterval> | undefined
window.latency = {
  stats,
  async login() {
    const response = await fetch(bearer ? '/bearer/login' : '/authn/login-with-expiry', {
      method: 'POST',
      credentials: bearer ? 'omit' : 'include',
      headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': 'diku' },
      body: JSON.stringify({ username: 'diku_admin', password: 'admin' }),
    })
    if (response.ok) await session.start(response)
    return response.status
  },
  startTraffic(intervalMs) {
    clearInterval(traffic)
    traffic = setInterval(call, intervalMs)
  },
  stopTraffic() {
    clearInterval(traffic)
  },
  active: () => session.state.status === 'active',
}
