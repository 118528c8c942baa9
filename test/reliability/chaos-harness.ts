/**
 * The chaos harness: runs one schedule (several tabs of one browser, a jumpable clock shared
 * with the reference server, a random sequence of commands) against the server's model
 * through an in-memory fetch, and returns every invariant violation it saw. Used by the
 * property test (chaos.test.ts) and to replay shrunk counterexamples (firstViolations in
 * helpers.ts, from test/behaviour/: dispose-mid-rotation, logout-mid-rotation, clock-jumps).
 */
import { randomUUID } from 'node:crypto'
import { decodeJwt } from 'jose'
import fc from 'fast-check'
import { createSession, RotationError, SessionExpiredError, type Session } from '../../src/index.js'
import type { SessionOptions } from '../../src/types.js'
import { ACCESS_COOKIE, cookieFetch, createAuthServer, type AuthServer } from '../../src/testing/index.js'
import { CREDENTIALS, flowingClock, sleep } from '../helpers/index.js'

export const AT = 60_000
export const RT = 6 * AT
const ORIGIN = 'http://auth.test'
/** Latency of every answer during a `slow` fault: beyond the harness's refreshTimeout (100 ms). */
const SLOW_MS = 150
/** Real ms within which every request and rotate() must settle. */
export const SETTLE_BOUND = 3000
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/**
 * `html`: a proxy's 200 maintenance page (transient for every transport); `slow`: every answer
 * takes 150 ms for a while, longer than the harness's refreshTimeout (a late answer must be
 * adopted, never followed by a second refresh with the same RT); `cut`: the server rotates, then
 * the connection breaks after the headers (cookie: the new RT cookie landed, a retry presents
 * it; bearer: definitive, the spent RT is never presented again, the session ends 'rejected').
 */
export type FaultKind = '503' | 'drop' | '429' | 'hang' | 'refuse' | 'html' | 'slow' | 'cut'

export type Command =
  | { t: 'request'; tab: number; post: boolean }
  | { t: 'wait'; ms: number }
  | { t: 'jump'; ms: number }
  | { t: 'fault'; kind: FaultKind; times: number }
  | { t: 'revoke' }
  | { t: 'logout'; tab: number }
  | { t: 'rotate'; tab: number }
  | { t: 'cycle'; tab: number }
  | { t: 'login'; tab: number }

export type Schedule = {
  tabs: number
  transport: 'cookie' | 'bearer'
  rotation: 'timer' | 'request'
  /**
   * Sessions have a `reauthenticate` hook that logs in again (a few ms later): a refused or
   * dead RT brings a new login, not a logout, and a tab closed (`cycle`) while its hook runs
   * hands the job to another tab.
   */
  reauth?: boolean
  commands: Command[]
}

/** The schedule generator. `refuse` is a 401 from refresh: the only legitimate 'rejected'. */
export function scheduleArb(options: { maxCommands?: number } = {}): fc.Arbitrary<Schedule> {
  const tab = fc.nat({ max: 3 })
  const command: fc.Arbitrary<Command> = fc.oneof(
    { weight: 7, arbitrary: fc.record({ t: fc.constant('request' as const), tab, post: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('jump' as const),
        ms: fc.oneof(fc.integer({ min: 200, max: 10_000 }), fc.integer({ min: AT / 2, max: 3 * AT })),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('fault' as const),
        kind: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom<FaultKind>('503', 'drop', '429', 'hang', 'html', 'slow', 'cut') },
          { weight: 1, arbitrary: fc.constant<FaultKind>('refuse') },
        ),
        times: fc.integer({ min: 1, max: 3 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('revoke' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('logout' as const), tab }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('rotate' as const), tab }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('cycle' as const), tab }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('login' as const), tab }) },
  )
  return fc.record({
    tabs: fc.integer({ min: 2, max: 4 }),
    transport: fc.constantFrom('cookie' as const, 'bearer' as const),
    rotation: fc.constantFrom('timer' as const, 'request' as const),
    reauth: fc.boolean(),
    commands: fc.array(command, { minLength: 1, maxLength: options.maxCommands ?? 24 }),
  })
}

const macrotask = () => new Promise<void>(resolve => setImmediate(resolve))

type Attempt = { status: number; jti: string | undefined; why: 'ok' | 'expired' | 'revoked' | 'missing' }

type Tracked = {
  path: string
  label: string
  tab: number
  managed: boolean
  issuedAt: number
  /** Counters when issued, compared with their values when the request settled. */
  logoutsAt: number
  /** logout() commands: a tab's own logout() rejects its waiters before the event fires. */
  userLogoutsAt: number
  /** A logout() was still in flight when the request was issued. */
  logoutInProgress: boolean
  revokesAt: number
  jumpsAt: number
  faultsAt: number
  cyclesAt: number
}

export type RunResult = {
  violations: string[]
  /** Violations that followed a lost refresh answer (non-strict runs only). */
  excused: string[]
  stats: AuthServer['stats']
  trace: string[]
}

export type RunOptions = {
  trace?: boolean
  /**
   * Also run the commands that open the windows of the known engine bugs (see
   * test/behaviour/*-mid-rotation.test.ts, clock-jumps.test.ts): a clock jump, a tab closing or a logout while a refresh is in
   * flight.
   * Without it those commands are skipped while a refresh is in flight.
   */
  strict?: boolean
  /**
   * The sessions' refreshTimeout (default 100 ms, which keeps the property fast). A tab closed
   * mid-refresh waits this long for the answer: on a loaded machine 100 ms can pass before
   * the local server answers, and the tab then rightly gives up (dispose is bounded).
   */
  refreshTimeout?: number
}

/** Runs one schedule; never throws for an invariant, returns the violations instead. */
export async function runSchedule(schedule: Schedule, options: RunOptions = {}): Promise<RunResult> {
  const clock = flowingClock() // jumps on command; the server shares it
  const server = createAuthServer({ now: clock.now, accessTokenTtl: AT, refreshTokenTtl: RT })
  const violations: string[] = []
  const trace: string[] = []
  const note = (line: string) => {
    if (options.trace) trace.push(`${String(clock.now() - Date.parse('2026-11-22T12:00:00Z')).padStart(8)} ${line}`)
  }

  // What the server did, seen from the wire.
  let lastGrantAt = -Infinity
  let expiredAt401 = 0
  let lostAnswers = 0
  /** Every attempt the server saw of each managed request (paths are unique per request). */
  const attempts = new Map<string, Attempt[]>()
  /** Ends a `slow` fault. */
  let slowUntil: ReturnType<typeof setTimeout> | undefined
  /** Refresh calls between reaching the server and (a macrotask after) their answer. */
  let refreshInFlight = 0
  const memoryFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    const body = request.body ? await request.text() : ''
    const signal = request.signal
    if (signal.aborted) throw signal.reason
    const isRefresh = url.pathname.endsWith('/refresh')
    if (isRefresh) refreshInFlight++
    try {
      return await answer(request, url, body, signal)
    } finally {
      if (isRefresh) setImmediate(() => refreshInFlight--)
    }
  }
  const answer = async (request: Request, url: URL, body: string, signal: AbortSignal): Promise<Response> => {
    const serverNow = server.now()
    const outcome = await server.handle({ method: request.method, path: url.pathname + url.search, headers: request.headers, body })
    if (outcome.type === 'drop') throw new TypeError('fetch failed (connection dropped)')
    if (outcome.type === 'hang') {
      await new Promise<void>((_, reject) => {
        void outcome.released.then(() => reject(new TypeError('fetch failed (hung connection dropped)')))
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      })
    }
    if (outcome.type !== 'response' && outcome.type !== 'cut') throw new Error('unreachable')
    const { status, headers, body: text } = outcome.response
    const path = url.pathname
    const granted = status >= 200 && status < 300 && /\/(login|login-with-expiry|refresh)$/.test(path)
    if (granted) lastGrantAt = serverNow
    if (granted && path.endsWith('/refresh') && signal.aborted) {
      // The server rotated, but the client had already given up on this call (timeout,
      // dispose, logout): the "response lost" case, which the property leaves out.
      lostAnswers++
      note(`server: granted a refresh whose caller had already given up (${String((signal.reason as Error)?.name)})`)
    }
    if (path.startsWith('/api/')) {
      const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
      const cookie = new RegExp(`${ACCESS_COOKIE}=([^;]+)`).exec(request.headers.get('cookie') ?? '')?.[1]
      const token = bearer ?? cookie
      let jti: string | undefined
      let why: Attempt['why'] = status === 401 ? 'missing' : 'ok'
      try {
        const claims = token ? decodeJwt(token) : undefined
        jti = claims?.jti
        // exp is the server's own deadline (to the millisecond): past it the AT expired for sure.
        if (status === 401 && claims) why = claims.exp !== undefined && serverNow >= claims.exp * 1000 ? 'expired' : 'revoked'
      } catch {
        // not a JWT (e.g. an empty bearer while signed out)
      }
      const list = attempts.get(path) ?? []
      list.push({ status, jti, why })
      attempts.set(path, list)
      if (why === 'expired') {
        expiredAt401++
        note(`server: 401 for an EXPIRED AT on ${path}`)
      }
    }
    const h = new Headers()
    for (const [k, v] of headers) h.append(k, v)
    // `cut`: the status and headers (Set-Cookie included) arrive, then the body fails.
    const broken = () => new ReadableStream({ start: controller => controller.error(new TypeError('terminated (connection cut)')) })
    const response = new Response(NULL_BODY.has(status) ? null : outcome.type === 'cut' ? broken() : text, { status, headers: h })
    // fetch-cookie stores Set-Cookie against response.url, as a real fetch sets it.
    Object.defineProperty(response, 'url', { value: request.url })
    return response
  }

  const jar = schedule.transport === 'cookie' ? cookieFetch(memoryFetch) : undefined
  const sessionFetch: typeof fetch = jar ?? memoryFetch
  const name = randomUUID()
  const base: SessionOptions =
    schedule.transport === 'cookie'
      ? { scope: ORIGIN, transport: 'cookie', headers: { 'X-Okapi-Tenant': 'diku' } }
      : {
          scope: `${ORIGIN}/api`,
          transport: 'bearer',
          refresh: { url: `${ORIGIN}/bearer/refresh`, style: 'json' },
          logout: `${ORIGIN}/bearer/logout`,
        }

  // Counters the invariants are judged by.
  let logoutEvents = 0
  let revokes = 0
  let jumps = 0
  let faults = 0
  let cycles = 0
  let userLogouts = 0
  let logoutsInProgress = 0
  let refusalsInjected = 0
  const generations = new Map<number, number>()
  let nextId = 0

  type Tab = { id: number; session: Session; alive: boolean }
  const tabs: Tab[] = []
  const open = (): Tab => {
    const id = nextId++
    const session = createSession({
      ...base,
      fetch: sessionFetch,
      crossTab: { name },
      rotation: schedule.rotation,
      now: clock.now,
      refreshTimeout: options.refreshTimeout ?? 100,
      queueTimeout: Math.max(300, 3 * (options.refreshTimeout ?? 100)),
      refreshRetries: 1,
      ...(schedule.reauth
        ? {
            reauthenticate: async ({ signal }: { signal: AbortSignal }) => {
              await sleep(5)
              if (signal.aborted) throw signal.reason
              note(`tab ${id}: reauthenticate() logs in again`)
              return loginAnswer()
            },
          }
        : {}),
    })
    const tab: Tab = { id, session, alive: true }
    session.on('change', s => {
      const before = generations.get(id) ?? 0
      if (s.generation < before) violations.push(`tab ${id}: generation went back ${before} → ${s.generation}`)
      generations.set(id, Math.max(before, s.generation))
    })
    session.on('logout', ({ reason, origin }) => {
      logoutEvents++
      const now = clock.now()
      const rtExpired = now >= lastGrantAt + RT - 1500
      note(`tab ${id}: logout ${reason} (${origin})`)
      const ok = (reason === 'user' && userLogouts > 0) || (reason === 'expired' && rtExpired) || (reason === 'rejected' && (refusalsInjected > 0 || rtExpired))
      if (!ok)
        violations.push(
          `tab ${id}: logout '${reason}' (${origin}) without a contract reason (user logouts ${userLogouts}, refusals injected ${refusalsInjected}, RT expired ${rtExpired})`,
        )
    })
    session.on('rotate-error', ({ error, willRetry }) => note(`tab ${id}: rotate-error ${(error as Error)?.name} willRetry=${willRetry}`))
    session.on('rotate', ({ state, origin }) => note(`tab ${id}: rotate → gen ${state.generation} (${origin})`))
    generations.set(id, session.state.generation)
    return tab
  }
  const sample = () => {
    for (const tab of tabs) {
      if (!tab.alive) continue
      const g = tab.session.state.generation
      const before = generations.get(tab.id) ?? 0
      if (g < before) violations.push(`tab ${tab.id}: generation went back ${before} → ${g}`)
      generations.set(tab.id, Math.max(before, g))
    }
  }

  const loginAnswer = () =>
    schedule.transport === 'cookie'
      ? jar!(`${ORIGIN}/authn/login-with-expiry`, { method: 'POST', headers: { 'X-Okapi-Tenant': 'diku', 'content-type': 'application/json' }, body: CREDENTIALS })
      : memoryFetch(`${ORIGIN}/bearer/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: CREDENTIALS })
  const login = async (tab: Tab) => {
    await tab.session.start(await loginAnswer())
  }

  const pending: Array<Promise<void>> = []
  const track = (t: Tracked, work: Promise<Response | void>) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<'hung'>(resolve => (timer = setTimeout(() => resolve('hung'), SETTLE_BOUND)))
    const settled = work.then(
      value => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    )
    pending.push(
      Promise.race([settled, bound]).then(result => {
        clearTimeout(timer)
        if (result === 'hung') {
          violations.push(`${t.label}: did not settle within ${SETTLE_BOUND} ms`)
          return
        }
        const during = {
          logout: logoutEvents > t.logoutsAt || userLogouts > t.userLogoutsAt || t.logoutInProgress,
          revoke: revokes > t.revokesAt,
          jump: jumps > t.jumpsAt,
          fault: faults > 0,
          cycle: cycles > t.cyclesAt,
        }
        const rtExpired = clock.now() >= lastGrantAt + RT - 1500
        if (result.ok) {
          const response = result.value
          if (!(response instanceof Response)) return // rotate()
          note(`${t.label}: ${response.status}`)
          if (response.status === 401 && t.managed && !during.logout && !rtExpired) {
            // Excused: the replay carried a newer AT that the server had revoked as well (a
            // revokeAccessTokens() also kills the AT of a rotation already in flight); with
            // cookies the jar can be ahead of the tab's generation, so the same AT may show.
            const tries = attempts.get(t.path) ?? []
            const last = tries.at(-1)
            const excused = tries.length === 2 && last?.why === 'revoked' && (schedule.transport === 'cookie' || tries[0]!.jti !== last.jti)
            if (!excused) {
              violations.push(`${t.label}: a 401 reached the caller while the RT was valid and the server up (attempts: ${tries.map(a => `${a.status}/${a.why}`).join(', ')})`)
            }
          }
          if (response.status !== 200 && response.status !== 401) violations.push(`${t.label}: unexpected status ${response.status}`)
          return
        }
        const error = result.error
        note(`${t.label}: ${(error as Error)?.name} ${(error as SessionExpiredError).reason ?? ''}`)
        if (t.label.includes('rotate()')) {
          return // rotate() may reject with the transient cause; it only has to settle
        }
        if (error instanceof SessionExpiredError) {
          const fine = error.reason === 'disposed' ? during.cycle : during.logout || rtExpired
          if (!fine) violations.push(`${t.label}: SessionExpiredError '${error.reason}' without a logout during its life`)
        } else if (error instanceof RotationError) {
          if (!during.fault && !during.jump) violations.push(`${t.label}: RotationError with no fault and no clock jump`)
        } else {
          violations.push(`${t.label}: untyped rejection ${(error as Error)?.name}: ${(error as Error)?.message}`)
        }
      }),
    )
  }
  const snapshot = (label: string, tab: Tab, managed: boolean, path = ''): Tracked => ({
    path,
    label,
    tab: tab.id,
    managed,
    issuedAt: clock.now(),
    logoutsAt: logoutEvents,
    userLogoutsAt: userLogouts,
    logoutInProgress: logoutsInProgress > 0,
    revokesAt: revokes,
    jumpsAt: jumps,
    faultsAt: faults,
    cyclesAt: cycles,
  })

  try {
    for (let i = 0; i < schedule.tabs; i++) tabs.push(open())
    await login(tabs[0]!)
    await macrotask()
    sample()
    let step = 0
    for (const command of schedule.commands) {
      step++
      const pick = (n: number) => tabs[n % tabs.length]!
      switch (command.t) {
        case 'request': {
          const tab = pick(command.tab)
          const managed = tab.session.state.status === 'active'
          const label = `#${step} tab ${tab.id} ${command.post ? 'POST' : 'GET'} /api/r${step}`
          note(`${label} (managed ${managed})`)
          const init: RequestInit = command.post ? { method: 'POST', body: `step=${step}` } : {}
          track(snapshot(label, tab, managed, `/api/r${step}`), tab.session.fetch(`${ORIGIN}/api/r${step}`, init))
          break
        }
        case 'wait':
          await sleep(command.ms)
          break
        case 'jump':
          if (!options.strict && refreshInFlight > 0) {
            note(`#${step} (jump skipped: a refresh is in flight)`)
            break
          }
          note(`#${step} clock +${command.ms}`)
          jumps++
          clock.advance(command.ms)
          break
        case 'fault': {
          faults++
          note(`#${step} fault ${command.kind} ×${command.times}`)
          const times = command.kind === 'refuse' ? 1 : command.times
          // A refusal, or (bearer) a cut answer: the only legitimate 'rejected'.
          if (command.kind === 'refuse' || (command.kind === 'cut' && schedule.transport === 'bearer')) refusalsInjected++
          if (command.kind === 'slow') {
            server.setLatency(SLOW_MS)
            clearTimeout(slowUntil)
            slowUntil = setTimeout(() => server.setLatency(0), 300 * command.times)
            break
          }
          server.fault('refresh', {
            times,
            ...(command.kind === 'html' ? { status: 200, body: '<html><body>Maintenance</body></html>', headers: { 'Content-Type': 'text/html' } } : {}),
            ...(command.kind === '503' ? { status: 503 } : {}),
            ...(command.kind === '429' ? { status: 429, retryAfter: 0 } : {}),
            ...(command.kind === 'drop' ? { drop: true } : {}),
            ...(command.kind === 'hang' ? { hang: true } : {}),
            ...(command.kind === 'refuse' ? { status: 401 } : {}),
            ...(command.kind === 'cut' ? { cut: true as const, afterProcessing: true as const } : {}),
          })
          break
        }
        case 'revoke':
          revokes++
          note(`#${step} revokeAccessTokens`)
          server.revokeAccessTokens()
          break
        case 'logout': {
          const tab = pick(command.tab)
          if (tab.session.state.status !== 'active') break
          if (!options.strict && refreshInFlight > 0) {
            note(`#${step} (logout skipped: a refresh is in flight)`)
            break
          }
          userLogouts++
          logoutsInProgress++
          note(`#${step} tab ${tab.id} logout()`)
          const done = tab.session.logout()
          void done.then(
            () => logoutsInProgress--,
            () => logoutsInProgress--,
          )
          track(snapshot(`#${step} tab ${tab.id} logout()`, tab, false), done)
          break
        }
        case 'rotate': {
          const tab = pick(command.tab)
          note(`#${step} tab ${tab.id} rotate()`)
          track(snapshot(`#${step} tab ${tab.id} rotate()`, tab, false), tab.session.rotate())
          break
        }
        case 'cycle': {
          if (!options.strict && refreshInFlight > 0) {
            note(`#${step} (cycle skipped: a refresh is in flight)`)
            break
          }
          const index = command.tab % tabs.length
          const old = tabs[index]!
          cycles++
          note(`#${step} tab ${old.id} closed, a new tab opens`)
          old.alive = false
          old.session.dispose()
          tabs[index] = open()
          note(`tab ${tabs[index]!.id} joined: ${tabs[index]!.session.state.status} gen ${tabs[index]!.session.state.generation}`)
          break
        }
        case 'login': {
          const tab = pick(command.tab)
          if (tabs.some(t => t.session.state.status === 'active')) break
          note(`#${step} tab ${tab.id} logs in`)
          await login(tab)
          break
        }
      }
      await macrotask()
      sample()
    }
    await Promise.all(pending)
    await sleep(5)
    sample()
    const stats = { ...server.stats }
    if (stats.reusedRefused !== 0) violations.push(`the server refused ${stats.reusedRefused} reused RT(s)`)
    if (expiredAt401 > 0 && jumps === 0) violations.push(`the server answered ${expiredAt401} 401(s) for an expired AT with no clock jump at all`)
    if (lostAnswers > 0 && !options.strict && violations.length > 0) {
      // A refresh answer was lost (the client timed out on a slow server, or aborted the call):
      // what follows is the "response lost" row of the fault matrix, not part of the property.
      note(`excused (response lost ×${lostAnswers}): ${violations.join(' | ')}`)
      return { violations: [], stats, trace, excused: violations }
    }
    return { violations, stats, trace, excused: [] }
  } finally {
    clearTimeout(slowUntil)
    server.setLatency(0)
    for (const tab of tabs) tab.session.dispose()
    server.releaseHung()
    server.clearFaults()
  }
}
