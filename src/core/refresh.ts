/** The two calls to the auth server: refresh (with retries, each failed attempt reported) and logout. */
import ky, { HTTPError, TimeoutError } from 'ky'
import { MalformedGrantError, RefreshRefusedError } from '../errors.js'
import type { Grant, RefreshContext, RefreshStyle } from '../types.js'
import { tokensFrom, tokensFromResponse, type Tokens } from './grant.js'
import type { Config } from './options.js'
import type { Clock } from '../utils/timers.js'

export type RefreshSpec =
  | { kind: 'url'; url: URL; style: RefreshStyle; clientId: string | undefined }
  | { kind: 'custom'; fn: (ctx: RefreshContext) => Promise<Response | Grant> }

export type RefreshCall = {
  spec: RefreshSpec
  fetch: typeof fetch
  headers: Headers
  credentials: RequestCredentials | undefined
  refreshToken: string | undefined
  signal: AbortSignal
  now: () => number
  timeout: number
  retries: number
  /** A failed attempt that will be retried inside this call, `retryIn` ms from now. */
  onRetry?: (error: unknown, retryIn: number) => void
  /** An attempt has had no answer for `timeout` ms; it is still awaited (see LATE_ANSWER_FACTOR). */
  onSlow?: (error: unknown) => void
  clock: Clock
}

/**
 * An attempt unanswered after `refreshTimeout` is not abandoned: the server may be about to
 * accept the RT, and a second refresh with it would make the server revoke the family. The
 * session stops waiting (a `rotate-error`, waiting requests count it) but keeps the lock and
 * takes the late answer if it comes; only after this many timeouts is the answer taken for lost.
 */
export const LATE_ANSWER_FACTOR = 3

/** Statuses after which the server has definitively refused the refresh token. */
const REFUSED = new Set([400, 401, 403, 422])
/** Statuses ky retries (with backoff, jitter and Retry-After); everything else is an answer. */
const RETRIED = [408, 429, 500, 502, 503, 504]
/** Statuses whose `Retry-After` is honoured instead of the backoff. */
const AFTER = [413, 429, 503]
/** ky's backoff: 300 ms doubling per retry, capped, with full jitter. */
const BACKOFF_BASE_MS = 300
const BACKOFF_LIMIT_MS = 10_000

/** `Retry-After` in ms (seconds or an HTTP date), or undefined. */
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  if (!value) return undefined
  const seconds = Number(value)
  const ms = Number.isNaN(seconds) ? Date.parse(value) - Date.now() : seconds * 1000
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined
}

/**
 * The delay before retry number `retryCount`, or undefined when the failure is not retried.
 * ky asks before every retry; answering here (rather than in ky's `beforeRetry`, which runs
 * after the delay) lets the session report each failed attempt the moment it fails, with when
 * the next one goes.
 */
function retryDelay(error: unknown, retryCount: number, signal: AbortSignal): number | undefined {
  // A timed-out attempt is never retried here: the server may have accepted the RT.
  if (signal.aborted || error instanceof TimeoutError || (error as Error | undefined)?.name === 'TimeoutError') return undefined
  if (error instanceof HTTPError) {
    const { status } = error.response
    if (!RETRIED.includes(status)) return undefined
    const after = AFTER.includes(status) ? retryAfter(error.response) : undefined
    if (after !== undefined) return after
  }
  return Math.random() * Math.min(BACKOFF_LIMIT_MS, BACKOFF_BASE_MS * 2 ** (retryCount - 1))
}

/**
 * True for failures after which trying again later may succeed. A 2xx whose body cannot be
 * read spent the RT: with the cookie transport the new RT cookie was set anyway, so a retry
 * presents that; a bearer client would only present the spent RT, which makes the server
 * revoke the family, so there it is definitive.
 */
export function isTransient(error: unknown, transport: 'cookie' | 'bearer'): boolean {
  if (error instanceof MalformedGrantError) return transport === 'cookie'
  return !(error instanceof RefreshRefusedError)
}

async function refusal(response: Response): Promise<RefreshRefusedError> {
  let detail = ''
  try {
    const text = await response.text()
    const body = JSON.parse(text) as { error?: unknown }
    detail = typeof body.error === 'string' ? body.error : text.slice(0, 80)
  } catch {
    // The status alone is the verdict.
  }
  return new RefreshRefusedError(response.status, detail)
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
 * One refresh, with ky's timeout and retries (network errors, 408/429/5xx; exponential
 * backoff with full jitter; `Retry-After` honoured). Resolves with the new tokens; rejects
 * with RefreshRefusedError when the RT was definitively refused, anything else when the
 * failure is transient.
 *
 * A timeout is not retried here: the server may have accepted the RT and only the answer
 * was lost, and sending the same RT again would make the server revoke the whole family.
 */
export async function callRefresh(call: RefreshCall): Promise<Tokens> {
  const { spec } = call
  // ky calls `options.fetch(…)` and a custom refresh calls `ctx.fetch(…)`: a bare
  // `window.fetch` invoked with such a `this` throws "Illegal invocation" in browsers.
  const base = call.fetch
  // Deadlines count from when the answering attempt was *sent*: a laptop that slept while the
  // answer was on its way must not read the sleep as clock skew and stretch the new AT.
  let sentAt = call.now()
  const sentClock = () => sentAt
  const send: typeof fetch = (input, init) => {
    sentAt = call.now()
    const timedOut = () => new DOMException(`rotor-auth: no refresh answer within ${call.timeout} ms`, 'TimeoutError')
    const lost = new AbortController()
    const given = init?.signal ?? (input instanceof Request ? input.signal : undefined)
    const slow = call.clock.after(call.timeout, () => call.onSlow?.(timedOut()))
    const giveUp = call.clock.after(call.timeout * LATE_ANSWER_FACTOR, () => lost.abort(timedOut()))
    const signal = given ? AbortSignal.any([given, lost.signal]) : lost.signal
    // Never follow a redirect with a refresh token, whatever fetch wrapper is underneath
    // (ky sets it on its Request; a cookie-jar wrapper may only read it from init).
    return base(input, { ...init, redirect: 'manual', signal }).finally(() => {
      slow.cancel()
      giveUp.cancel()
    })
  }
  if (spec.kind === 'custom') {
    const result = await spec.fn({ fetch: send, refreshToken: call.refreshToken, signal: call.signal, headers: new Headers(call.headers) })
    if (typeof Response !== 'undefined' && result instanceof Response) return readAnswer(result, sentClock)
    return tokensFrom(result, sentClock)
  }
  if ((spec.style === 'json' || spec.style === 'oauth2') && call.refreshToken === undefined) {
    throw new RefreshRefusedError(0, 'no refresh token is held')
  }
  const headers = new Headers(call.headers)
  const requestBody = body(spec, call.refreshToken, headers)
  let delay = 0
  const response = await ky.post(spec.url, {
    fetch: send,
    headers,
    ...(requestBody === undefined ? {} : { body: requestBody }),
    ...(call.credentials === undefined ? {} : { credentials: call.credentials }),
    // Never follow: a 307 to another origin would re-post the RT there.
    redirect: 'manual',
    signal: call.signal,
    // Timeouts are send()'s: a late answer is still taken (LATE_ANSWER_FACTOR).
    timeout: false,
    throwHttpErrors: status => RETRIED.includes(status),
    retry: {
      limit: call.retries,
      methods: ['post'],
      statusCodes: RETRIED,
      shouldRetry: ({ error, retryCount }) => {
        const ms = retryDelay(error, retryCount, call.signal)
        if (ms === undefined) return false
        delay = ms
        call.onRetry?.(error, ms)
        return true
      },
      // The delay was decided in shouldRetry, Retry-After and jitter included.
      delay: () => delay,
      jitter: false,
      backoffLimit: Number.POSITIVE_INFINITY,
    },
  })
  return readAnswer(response, sentClock)
}

/** The refresh call with the session's configuration bound; the rotator supplies the rest. */
export function refresher(cfg: Config, base: () => typeof fetch, clock: Clock) {
  return (call: Pick<RefreshCall, 'refreshToken' | 'signal' | 'onRetry' | 'onSlow'>): Promise<Tokens> =>
    callRefresh({
      ...call,
      clock,
      spec: cfg.refresh,
      fetch: base(),
      headers: cfg.headers,
      credentials: cfg.transport === 'cookie' ? 'include' : undefined,
      now: cfg.now,
      timeout: cfg.refreshTimeout,
      retries: cfg.refreshRetries,
    })
}

/** Best-effort server logout (it revokes the RT family); the answer does not matter. */
export async function callLogout(
  cfg: Pick<Config, 'logoutURL' | 'headers' | 'transport' | 'refreshTimeout'>,
  send: typeof fetch,
  tokens: { accessToken?: string; refreshToken?: string },
): Promise<void> {
  if (!cfg.logoutURL) return
  const headers = new Headers(cfg.headers)
  // Never follow: a redirect would carry the RT (or the logout) to wherever it points.
  const init: RequestInit = { method: 'POST', headers, redirect: 'manual', signal: AbortSignal.timeout(cfg.refreshTimeout) }
  if (cfg.transport === 'cookie') init.credentials = 'include'
  else {
    if (tokens.accessToken) headers.set('authorization', `Bearer ${tokens.accessToken}`)
    if (tokens.refreshToken) {
      headers.set('content-type', 'application/json')
      init.body = JSON.stringify({ refreshToken: tokens.refreshToken })
    }
  }
  try {
    // Called bare (never as `obj.fetch(…)`): a browser's fetch run with another `this`
    // throws "Illegal invocation", and this call swallows errors.
    const response = await send(cfg.logoutURL, init)
    await response.body?.cancel()
  } catch {
    // Best effort: the session has ended locally whatever the server says.
  }
}

/**
 * A 2xx that is not JSON (an HTML maintenance page, a captive portal) came from something in
 * front of the auth server, which never saw the RT: transient, for every transport. A JSON
 * answer that is no grant, or a body cut off on the way, came from the server itself, which
 * may have spent the RT (see isTransient).
 */
async function readAnswer(response: Response, now: () => number): Promise<Tokens> {
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    await response.body?.cancel().catch(() => undefined)
    throw new Error(`rotor-auth: the refresh endpoint redirected (HTTP ${response.status}); redirects are not followed with a refresh token`)
  }
  if (REFUSED.has(response.status)) throw await refusal(response)
  if (!response.ok) throw new Error(`rotor-auth: refresh answered HTTP ${response.status}`)
  const type = response.headers.get('content-type') ?? ''
  if (/html|text\/plain/i.test(type)) {
    await response.body?.cancel().catch(() => undefined)
    throw new Error(`rotor-auth: refresh answered HTTP ${response.status} with ${type}, not a grant (a proxy or maintenance page?)`)
  }
  return tokensFromResponse(response, now)
}

