/**
 * Scenario 2 — burst: 10,000 and 100,000 concurrent `session.fetch` behind one expired access
 * token: one refresh, the heap each waiting request holds, and the CPU time to release them.
 * The session's clock is a variable the bench moves past the AT's expiry; the in-memory
 * fetch answers the refresh URL with a JSON grant after a small real delay, and every other
 * URL with 'ok' at once, recording when each request reached it.
 */
import { median, QUICK } from './lib/mode.js'
import { loadRotor } from './lib/rotor.js'
import type { Section } from './table.js'

/** Burst sizes, each run this many times (the first run of the first size includes JIT warm-up). */
const SIZES: Array<{ n: number; runs: number; maxHeap: number; maxReleaseCpu: number }> = [
  { n: 10_000, runs: QUICK ? 2 : 3, maxHeap: 500, maxReleaseCpu: 25 },
  { n: 100_000, runs: QUICK ? 1 : 2, maxHeap: 500, maxReleaseCpu: 250 },
]
const REFRESH_DELAY_MS = 20
/** Requests in the unreported warm-up burst. */
const WARM_UP = 1_000
const ORIGIN = 'https://api.test'
const REFRESH_URL = `${ORIGIN}/auth/refresh`

type Run = {
  n: number
  refreshCalls: number
  ok: number
  failed: number
  /** Requests that reached the underlying fetch before the refresh answered (must be 0). */
  early: number
  /** Until the new tokens were committed (ky and the grant parser done). */
  answerToRotated: number
  answerToFirst: number
  answerToLast: number
  answerToSettled: number
  /** CPU time (user + system, all threads) from the refresh answer to the last dispatch. */
  releaseCpu: number
  heapPerRequest: number | undefined
}

/** One shared promise per macrotask turn, so the fake network costs next to nothing per request. */
let tick: Promise<void> | undefined
function nextTick(): Promise<void> {
  return (tick ??= new Promise<void>(resolve =>
    setImmediate(() => {
      tick = undefined
      resolve()
    }),
  ))
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

async function once(N: number): Promise<Run> {
  const { createSession } = await loadRotor()
  const gc = (globalThis as { gc?: () => void }).gc
  let t = Date.parse('2026-01-01T00:00:00Z')
  let refreshCalls = 0
  let dispatched = 0
  let early = 0
  let answeredAt = Number.NaN
  let firstDispatchAt = Number.NaN
  let lastDispatchAt = Number.NaN
  let cpuAtAnswer: NodeJS.CpuUsage | undefined
  let releaseCpu = Number.NaN

  const underlying: typeof fetch = async input => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    if (url === REFRESH_URL) {
      refreshCalls++
      await sleep(REFRESH_DELAY_MS)
      answeredAt = performance.now()
      cpuAtAnswer = process.cpuUsage()
      return Response.json({ accessToken: `at-${refreshCalls + 1}`, refreshToken: `rt-${refreshCalls + 1}`, expiresIn: 60 })
    }
    const at = performance.now()
    if (Number.isNaN(answeredAt)) early++
    if (dispatched++ === 0) firstDispatchAt = at
    lastDispatchAt = at
    if (dispatched === N && cpuAtAnswer) {
      const cpu = process.cpuUsage(cpuAtAnswer)
      releaseCpu = (cpu.user + cpu.system) / 1000
    }
    // Like a network, answer later (next macrotask): the time to dispatch all requests is
    // Rotor's, not this fake's building of 10,000 Response objects in between.
    await nextTick()
    return new Response('ok')
  }

  const session = createSession({
    scope: `${ORIGIN}/api`,
    transport: 'bearer',
    rotation: 'request',
    crossTab: false,
    refresh: { url: REFRESH_URL, style: 'json' },
    logout: false,
    fetch: underlying,
    now: () => t,
  })
  await session.start({ accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: 60 })
  let rotatedAt = Number.NaN
  session.on('rotate', () => (rotatedAt = performance.now()))
  t += 61_000 // the AT expired a second ago

  // The callers' own memory (URL strings, the array of promises) is allocated up front.
  const urls = Array.from({ length: N }, (_, i) => `${ORIGIN}/api/items/${i}`)
  const pending: Array<Promise<Response>> = new Array<Promise<Response>>(N).fill(Promise.resolve(new Response()))
  gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  for (let i = 0; i < N; i++) pending[i] = session.fetch(urls[i]!)
  // Everything is queued now: the refresh is still sleeping (its timer cannot fire before
  // this synchronous code returns), so this heap is N waiting requests.
  gc?.()
  const heapQueued = process.memoryUsage().heapUsed
  const settled = await Promise.allSettled(pending)
  const settledAt = performance.now()
  session.dispose()

  const ok = settled.filter(s => s.status === 'fulfilled' && s.value.status === 200).length
  return {
    n: N,
    refreshCalls,
    ok,
    failed: N - ok,
    early,
    answerToRotated: rotatedAt - answeredAt,
    answerToFirst: firstDispatchAt - answeredAt,
    answerToLast: lastDispatchAt - answeredAt,
    answerToSettled: settledAt - answeredAt,
    releaseCpu,
    heapPerRequest: gc ? (heapQueued - heapBefore) / N : undefined,
  }
}

export async function runBurst(): Promise<Section> {
  // A first burst compiles the queueing path; its code and feedback are allocated once, not
  // per waiting request, and would be counted as if they were. It is run, not reported.
  await once(WARM_UP)
  const runs: Run[] = []
  for (const { n, runs: count } of SIZES) for (let i = 0; i < count; i++) runs.push(await once(n))
  const rows = runs.map((r, i) => [
    `run ${i + 1}`,
    r.n,
    r.refreshCalls,
    r.ok,
    r.failed + r.early,
    Math.round(r.answerToRotated * 100) / 100,
    Math.round(r.answerToFirst * 100) / 100,
    Math.round(r.answerToLast * 10) / 10,
    Math.round(r.releaseCpu * 10) / 10,
    Math.round(r.answerToSettled * 10) / 10,
    r.heapPerRequest === undefined ? 'n/a (no --expose-gc)' : Math.round(r.heapPerRequest),
  ])
  const failed = runs.reduce((n, r) => n + r.failed + r.early, 0)
  const verdicts = [
    `Refresh calls: ${runs.map(r => r.refreshCalls).join(', ')} (target 1 per burst): ${runs.every(r => r.refreshCalls === 1) ? 'met' : 'MISSED'}.`,
    `Requests not answered 200 (or sent before the refresh answered): ${failed}.`,
  ]
  for (const { n, maxHeap, maxReleaseCpu } of SIZES) {
    const of = runs.filter(r => r.n === n)
    const heap = of.map(r => r.heapPerRequest).filter((h): h is number => h !== undefined)
    const size = n.toLocaleString('en-US')
    verdicts.push(
      heap.length
        ? `Heap per waiting request at ${size}: ${heap.map(h => Math.round(h)).join(', ')} B (target ≤ ${maxHeap} B): ` +
            (Math.max(...heap) <= maxHeap ? 'met.' : `MISSED by ${Math.round(Math.max(...heap) - maxHeap)} B.`)
        : `Heap per waiting request at ${size}: not measured (run with node --expose-gc).`,
      `Release of ${size} (refresh answer → last request dispatched), CPU time by run: ${of.map(r => r.releaseCpu.toFixed(1)).join(', ')} ms, ` +
        `median ${median(of.map(r => r.releaseCpu)).toFixed(1)} ms (target ≤ ${maxReleaseCpu} ms): ` +
        `${median(of.map(r => r.releaseCpu)) <= maxReleaseCpu ? 'met' : 'MISSED'} (worst run ${Math.max(...of.map(r => r.releaseCpu)) <= maxReleaseCpu ? 'within' : 'over'}); ` +
        `wall time ${of.map(r => r.answerToLast.toFixed(1)).join(', ')} ms.`,
    )
  }
  const notes = [
    `A warm-up burst of ${WARM_UP.toLocaleString('en-US')} requests ran first, unreported; every run is the same process, ` +
      'and run 1 is still the first at its size (larger tables, more JIT tiers). CPU time is ' +
      '`process.cpuUsage()` (user + system, every thread of the process, GC helpers included) between the refresh answer ' +
      'and the last dispatch: unlike wall time it does not grow when other processes take the cores.',
  ]
  return {
    title: 'Burst: 10,000 and 100,000 concurrent requests behind one expired AT',
    method:
      'Rotor as built for users (bench/lib/rotor.ts). ' +
      'N `session.fetch` calls issued in one synchronous loop after the session\'s clock ' +
      `(\`now\` option) moved past the AT's expiry; bearer transport, rotation 'request', crossTab false, ` +
      `refresh \`{ url, style: 'json' }\` answered by the in-memory fetch after ${REFRESH_DELAY_MS} ms (real time) with ` +
      '`{ accessToken, refreshToken, expiresIn: 60 }`. Times are from the moment the refresh answer is handed back ' +
      'to Rotor; "rotated" = the new tokens committed (`rotate` event); "dispatched" = reached the underlying fetch, ' +
      'which answers each request on the next macrotask, as a network would. Heap: `heapUsed` after `gc()` with all requests queued, ' +
      'minus before, divided by N (callers\' URL strings and result array allocated before; the promise each caller holds is counted).',
    table: {
      columns: ['run', 'requests', 'refresh calls', '200s', 'failed', 'answer → rotated (ms)', 'answer → first (ms)', 'answer → last (ms)', 'release CPU (ms)', 'answer → all settled (ms)', 'heap/queued req (B)'],
      rows,
    },
    verdicts,
    notes,
  }
}
