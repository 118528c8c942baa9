import ky from 'ky'
import { RefreshRefusedError } from '../errors.js'
import type { RefreshContext, RefreshStyle } from '../types.js'
import { MalformedGrantError, tokensFrom, tokensFromResponse, type Tokens } from './grant.js'

export type RefreshSpec =
  | { kind: 'url'; url: URL; style: RefreshStyle; clientId: string | undefined }
  | { kind: 'custom'; fn: (ctx: RefreshContext) => Promise<Response | import('../types.js').Grant> }

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
}

/** Statuses after which the server has definitively refused the refresh token. */
const REFUSED = new Set([400, 401, 403, 422])
/** Statuses ky retries (with backoff, jitter and Retry-After); everything else is an answer. */
const RETRIED = [408, 429, 500, 502, 503, 504]

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
    return base(input, init)
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
  const response = await ky.post(spec.url, {
    fetch: send,
    headers,
    ...(requestBody === undefined ? {} : { body: requestBody }),
    ...(call.credentials === undefined ? {} : { credentials: call.credentials }),
    signal: call.signal,
    timeout: call.timeout,
    throwHttpErrors: status => RETRIED.includes(status),
    retry: {
      limit: call.retries,
      methods: ['post'],
      statusCodes: RETRIED,
      afterStatusCodes: [413, 429, 503],
      backoffLimit: 10_000,
      jitter: true,
      retryOnTimeout: false,
    },
  })
  return readAnswer(response, sentClock)
}

async function readAnswer(response: Response, now: () => number): Promise<Tokens> {
  if (REFUSED.has(response.status)) throw await refusal(response)
  if (!response.ok) throw new Error(`rotor-auth: refresh answered HTTP ${response.status}`)
  return tokensFromResponse(response, now)
}

