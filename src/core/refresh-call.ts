/** One refresh call over HTTP: its retries with each failed attempt reported, late answers awaited, the answer read. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import type { RefreshAnswerError, RefreshRefusedError, RotorError } from '../errors.js'
import type { backoff } from '../utils/backoff.js'
import type { Timer } from '../platform/types.js'
import type { readCapped, tokensFrom, tokensFromResponse, Tokens } from './grant.js'
import type { RefreshSpec } from './options.js'
import type { Clock } from '../utils/timers.js'

/**
 * What this chunk shares with the page, handed over by the page (refresh.ts's REFRESH_KIT) rather
 * than imported: esbuild puts every module both import in files of their own, which every page
 * then downloads as extra files, each gzipped alone (docs/performance.md).
 */
export type RefreshKit = readonly [
  RotorError: typeof RotorError,
  RefreshAnswerError: typeof RefreshAnswerError,
  RefreshRefusedError: typeof RefreshRefusedError,
  backoff: typeof backoff,
  readCapped: typeof readCapped,
  tokensFrom: typeof tokensFrom,
  tokensFromResponse: typeof tokensFromResponse,
  /** deadlines.ts's LATE_ANSWER_FACTOR. */
  lateAnswerFactor: number,
]

/** One refresh call: what it sends, with, and how long it waits. */
export type RefreshCall = {
  spec: RefreshSpec
  fetch: typeof fetch
  headers: Headers
  credentials: RequestCredentials | undefined
  refreshToken: string | undefined
  signal: AbortSignal
  now: () => number
  /** The platform's monotonic clock, if any: a wall clock set back during the call moves the send time back too (see sentClock). */
  monotonic?: (() => number) | undefined
  /** Uniform in [0, 1): the jitter of the backoff between attempts (the platform's). */
  random: () => number
  timeout: number
  retries: number
  /** A failed attempt that will be retried inside this call, `retryIn` ms from now. */
  onRetry?: (error: unknown, retryIn: number) => void
  /** An attempt has had no answer for `timeout` ms; it is still awaited (see LATE_ANSWER_FACTOR). */
  onSlow?: (error: unknown) => void
  /** A 2xx answer's headers arrived: the server has spent the RT (awaited before the body is read). */
  onAnswered?: (() => unknown) | undefined
  clock: Clock
  /** The page's errors and helpers (refresh.ts's REFRESH_KIT). */
  kit: RefreshKit
}

/** Statuses after which the server has definitively refused the refresh token. */
const REFUSED = new Set([400, 401, 403, 422])
/** Statuses retried (with backoff, jitter and Retry-After); everything else is an answer. */
const RETRIED = [408, 429, 500, 502, 503, 504]
/** Statuses whose `Retry-After` is honoured instead of the backoff. */
const AFTER = [413, 429, 503]
/** The backoff: 300 ms doubling per retry, capped (full jitter: see retryDelay). */
const BACKOFF = { initial: 300, max: 10_000 }
/**
 * The longest `Retry-After` waited inside the call, holding the rotation lock that every tab
 * and waiting request is behind. A server asking for longer (a day, or a header forged on the
 * way) ends the call at once with the error, and the session's backoff waits it out instead,
 * lock released (policy.ts bounds that wait too).
 */
const RETRY_AFTER_IN_CALL = BACKOFF.max

/**
 * A 408, 429 or 5xx answer to a refresh attempt (transient): `response` has its status. Named
 * `HTTPError` with ky's fields, as when ky made the call: `request` and `options` never carry
 * the body (it holds the RT). Its class lives in the refresh chunk: test it with isRotorError
 * and the code. Made from the page's RotorError (the kit's) at the first call.
 */
const httpErrorOf = (Base: typeof RotorError) =>
  class RefreshHttpError extends Base {
    readonly code = 'ERR_REFRESH_HTTP' as const
    override readonly name = 'HTTPError'
    readonly options: { method: 'POST' }
    /** What the answer's `Retry-After` asked for, in ms (413, 429 and 503 only), or undefined. */
    readonly retryAfter: number | undefined

    constructor(
      readonly response: Response,
      readonly request: Request,
      now: () => number,
    ) {
      super(`rotor-auth: the refresh attempt answered HTTP ${response.status}`)
      this.options = { method: 'POST' }
      this.retryAfter = AFTER.includes(response.status) ? retryAfter(response, now) : undefined
    }
  }
let HttpError: ReturnType<typeof httpErrorOf> | undefined
const httpError = ([RotorError]: RefreshKit) => (HttpError ??= httpErrorOf(RotorError))

/** `Retry-After` in ms (seconds, or an HTTP date read against the session's clock `now`), or undefined. */
function retryAfter(response: Response, now: () => number): number | undefined {
  const value = response.headers.get('retry-after')
  if (!value) return undefined
  const seconds = Number(value)
  const ms = Number.isNaN(seconds) ? Date.parse(value) - now() : seconds * 1000
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined
}

/** The delay before retry number `retryCount` (1 for the first), or undefined when the failure is not retried inside this call. */
function retryDelay(error: unknown, retryCount: number, call: Pick<RefreshCall, 'signal' | 'random' | 'kit'>): number | undefined {
  const { signal } = call
  // A timed-out attempt is never retried here: the server may have accepted the RT.
  if (signal.aborted || (error as Error | undefined)?.name === 'TimeoutError') return undefined
  if (error instanceof httpError(call.kit)) {
    if (!RETRIED.includes(error.response.status)) return undefined
    const after = error.retryAfter
    if (after !== undefined) return after > RETRY_AFTER_IN_CALL ? undefined : after
  }
  // Full jitter: a refresh retry is one client's, and the least load on a struggling server wins.
  const [, , , backoff] = call.kit
  return backoff(retryCount, BACKOFF, call.random, true)
}

/**
 * Settles with `promise`, or rejects when `signal` aborts, whichever comes first. A fetch (a
 * wrapper, a polyfill, a test double) that ignores its signal, or looks at it only after it
 * fired, once kept the refresh, and with it the rotation lock and every rotate(), waiting
 * forever after a logout (chaos seed -131859687).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined)
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    const done = () => signal.removeEventListener('abort', onAbort)
    promise.then(
      value => (done(), resolve(value)),
      error => (done(), reject(error)),
    )
  })
}

async function refusal(response: Response, [, , RefreshRefusedError, , readCapped]: RefreshKit): Promise<RefreshRefusedError> {
  let said = ''
  try {
    // The server's own words (FOLIO: "Missing X-Okapi-Tenant header"), redacted: a refusal
    // body may echo the RT it refused, and this text goes into errors, events and logs.
    const text = (await readCapped(response)).slice(0, 8192)
    // The redaction is a chunk of its own, loaded on a refusal only (~390 B of every page
    // otherwise). Should it fail to load (offline), the error says the status alone: never
    // the body unredacted.
    said = (await import('../utils/redact.js')).excerpt(text)
  } catch {
    // The status alone is the verdict.
  }
  return new RefreshRefusedError(response.status, said)
}

function body(spec: Extract<RefreshSpec, { kind: 'url' }>, refreshToken: string | undefined, headers: Headers): BodyInit | undefined {
  switch (spec.style) {
    case 'folio':
      return undefined
    case 'json':
      headers.set('content-type', 'application/json')
      return JSON.stringify({ refreshToken })
    case 'oauth2': {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken ?? '' })
      if (spec.clientId !== undefined) form.set('client_id', spec.clientId)
      return form
    }
  }
}

/**
 * One refresh, with its timeout and retries (network errors, 408/429/5xx; exponential
 * backoff with full jitter; `Retry-After` honoured). Resolves with the new tokens; rejects
 * with RefreshRefusedError when the RT was definitively refused, anything else when the
 * failure is transient.
 *
 * A timeout is not retried here: the server may have accepted the RT and only the answer
 * was lost, and sending the same RT again would make the server revoke the whole family.
 */
export async function callRefresh(call: RefreshCall): Promise<Tokens> {
  // A custom refresh calls `ctx.fetch(…)`: a bare `window.fetch` invoked with such a `this`
  // throws "Illegal invocation" in browsers.
  const base = call.fetch
  const [, , , , , , , lateAnswerFactor] = call.kit
  // Deadlines count from when the answering attempt was *sent*: a laptop that slept while the
  // answer was on its way must not read the sleep as clock skew and stretch the new AT. A
  // clock set *back* meanwhile moves the send time back with it (read on the monotonic
  // clock): counted from the old reading, every deadline of the grant would lie that far
  // ahead, and the session would not rotate until long after its AT died (sim seed 6695).
  const tick = call.monotonic ?? call.now
  let sentAt = call.now()
  let sentTick = tick()
  const sentClock = () => Math.min(sentAt, call.now() - tick() + sentTick)
  // The last attempt's give-up stays armed until its body is read: a 2xx whose headers came
  // and whose body never does would otherwise hold the lock (and every waiting request) forever.
  let giveUp: Timer | undefined
  const send: typeof fetch = (input, init) => {
    sentAt = call.now()
    sentTick = tick()
    giveUp?.cancel()
    const timedOut = () => new DOMException(`rotor-auth: no refresh answer within ${call.timeout} ms`, 'TimeoutError')
    const lost = new AbortController()
    const given = init?.signal ?? (input instanceof Request ? input.signal : undefined)
    const slow = call.clock.after(call.timeout, () => call.onSlow?.(timedOut()))
    // Bug zoo: the abandoned late answer (given up at refreshTimeout, the next refresh presented the same RT).
    giveUp = call.clock.after(call.timeout * (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('late-answer-abandoned') ? 1 : lateAnswerFactor), () =>
      lost.abort(timedOut()),
    )
    const signal = given ? AbortSignal.any([given, lost.signal]) : lost.signal
    // Never follow a redirect with a refresh token, whatever fetch wrapper is underneath
    // (a cookie-jar wrapper may only read it from init).
    // Bug zoo: the unbounded body (the give-up cancelled once the headers came: sim seed 32347).
    return untilAborted(base(input, { ...init, redirect: 'manual', signal }), signal).finally(
      () => (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('body-unbounded') && giveUp?.cancel(), slow.cancel()),
    )
  }
  try {
    return await answerOf(call, send, sentClock)
  } finally {
    giveUp?.cancel()
  }
}

/** Sends the refresh through `send` (the custom function's, or the POST's with its retries) and reads its answer. */
async function answerOf(call: RefreshCall, send: typeof fetch, sentClock: () => number): Promise<Tokens> {
  const { spec } = call
  const [, , RefreshRefusedError, , , tokensFrom] = call.kit
  if (spec.kind === 'custom') {
    const result = await untilAborted(spec.fn({ fetch: send, refreshToken: call.refreshToken, signal: call.signal, headers: new Headers(call.headers) }), call.signal)
    if (typeof Response !== 'undefined' && result instanceof Response) return readAnswer(result, sentClock, call.now(), call)
    return tokensFrom(result, sentClock)
  }
  if ((spec.style === 'json' || spec.style === 'oauth2') && call.refreshToken === undefined) {
    throw new RefreshRefusedError(0, 'no refresh token is held')
  }
  const headers = new Headers(call.headers)
  const requestBody = body(spec, call.refreshToken, headers)
  const init: RequestInit = {
    method: 'POST',
    headers,
    ...(requestBody === undefined ? {} : { body: requestBody }),
    ...(call.credentials === undefined ? {} : { credentials: call.credentials }),
    // Cookie transport: the answer's Set-Cookie must land even if the page navigates away
    // meanwhile (a reload); the server has spent the old RT by then. Bodies here are tiny.
    ...(call.credentials === 'include' ? { keepalive: true } : {}),
    // Never follow: a 307 to another origin would re-post the RT there.
    redirect: 'manual',
    signal: call.signal,
  }
  const response = await withRetries(call, spec.url, () => send(spec.url, init))
  return readAnswer(response, sentClock, call.now(), call)
}

/**
 * Sends until an answer that is not retried, or `call.retries` retries are spent. Each failed
 * attempt is reported (onRetry) the moment it fails, with when the next one goes; the delay
 * runs on the session's timers and ends early when the call is aborted. ky made this call
 * until its 4.5 KB (min+gzip) of the 20 KB page budget bought only this loop (docs/performance.md).
 */
async function withRetries(call: RefreshCall, url: URL, attempt: () => Promise<Response>): Promise<Response> {
  for (let retry = 1; ; retry++) {
    try {
      const response = await attempt()
      if (!RETRIED.includes(response.status)) return response
      throw new (httpError(call.kit))(response, new Request(url, { method: 'POST' }), call.now)
    } catch (error) {
      const ms = retry > call.retries ? undefined : retryDelay(error, retry, call)
      if (ms === undefined) throw error
      // The retried answer's body is never read: release its connection now (a browser has six
      // per host, and undici holds one until the body is garbage-collected).
      if (error instanceof httpError(call.kit)) void error.response.body?.cancel().catch(() => undefined)
      call.onRetry?.(error, ms)
      let timer: Timer | undefined
      // Kept alive: a Node script awaiting rotate() must not exit while the next attempt waits.
      await untilAborted(new Promise<void>(resolve => (timer = call.clock.after(ms, resolve, true))), call.signal).finally(() => timer?.cancel())
    }
  }
}

/**
 * A 2xx that is not JSON (an HTML maintenance page, a captive portal) came from something in
 * front of the auth server, which never saw the RT: transient, for every transport. A JSON
 * answer that is no grant, or a body cut off on the way, came from the server itself, which
 * may have spent the RT (see isTransient).
 */
async function readAnswer(response: Response, now: () => number, arrivedAt: number, call: Pick<RefreshCall, 'onAnswered' | 'kit'>): Promise<Tokens> {
  const [, RefreshAnswerError, , , , , tokensFromResponse] = call.kit
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    await response.body?.cancel().catch(() => undefined)
    throw new RefreshAnswerError(response.status, `rotor-auth: the refresh endpoint redirected (HTTP ${response.status}); redirects are not followed with a refresh token`)
  }
  if (REFUSED.has(response.status)) throw await refusal(response, call.kit)
  if (!response.ok) throw new RefreshAnswerError(response.status, `rotor-auth: refresh answered HTTP ${response.status}`)
  const type = response.headers.get('content-type') ?? ''
  if (/html|text\/plain/i.test(type)) {
    await response.body?.cancel().catch(() => undefined)
    throw new RefreshAnswerError(response.status, `rotor-auth: refresh answered HTTP ${response.status} with ${type}, not a grant (a proxy or maintenance page?)`)
  }
  // The server spent the RT: say so before the body, which may never come (sim seed 630). A mark
  // that could not be written leaves the body to tell, as before it.
  await Promise.resolve()
    .then(call.onAnswered)
    .catch(() => undefined)
  return tokensFromResponse(response, now, arrivedAt)
}
