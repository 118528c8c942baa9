/** The calls to the auth server as the session sees them: refresh (loaded on demand), its verdicts, and logout. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { MalformedGrantError, RefreshAnswerError, RefreshRefusedError, RotorError } from '../errors.js'
import type { Platform } from '../platform/types.js'
import { timeoutSignal } from '../utils/abort.js'
import { backoff } from '../utils/backoff.js'
import type { Clock } from '../utils/timers.js'
import { LATE_ANSWER_FACTOR } from './deadlines.js'
import { readCapped, tokensFrom, tokensFromResponse, type Tokens } from './grant.js'
import type { Config } from './options.js'
import type { RefreshCall, RefreshKit } from './refresh-call.js'

export type { RefreshSpec } from './options.js'

export type { RefreshCall }

export { LATE_ANSWER_FACTOR }

/** What the refresh chunk shares with the page, handed to it (refresh-call.ts's RefreshKit: why not imported). */
export const REFRESH_KIT: RefreshKit = [RotorError, RefreshAnswerError, RefreshRefusedError, backoff, readCapped, tokensFrom, tokensFromResponse, LATE_ANSWER_FACTOR]

/**
 * True for failures after which trying again later may succeed. A 2xx whose body cannot be
 * read spent the RT: with the cookie transport the new RT cookie was set anyway, so a retry
 * presents that; a bearer client would only present the spent RT, which makes the server
 * revoke the family, so there it is definitive.
 */
export function isTransient(error: unknown, transport: 'cookie' | 'bearer'): boolean {
  // Bug zoo: the lost bearer answer (a 2xx cut off was retried with the spent RT).
  if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('lost-bearer-answer')) return !(error instanceof RefreshRefusedError)
  if (error instanceof MalformedGrantError) return transport === 'cookie'
  return !(error instanceof RefreshRefusedError)
}

/**
 * The refresh call with the session's configuration bound; the rotator supplies the rest.
 * The call itself (ky among it) is a chunk of its own: a page needs it only when it rotates,
 * so it loads in the background at creation and the main bundle stays small. A chunk that
 * failed to load (offline) is tried again at the next refresh, a transient failure meanwhile.
 */
export function refresher(cfg: Config, base: () => typeof fetch, clock: Clock) {
  let loading: Promise<typeof import('./refresh-call.js')> | undefined
  const load = () =>
    (loading ??= import('./refresh-call.js').catch((error: unknown) => {
      loading = undefined
      throw error
    }))
  void load().catch(() => undefined)
  return async (call: Pick<RefreshCall, 'refreshToken' | 'signal' | 'onRetry' | 'onSlow' | 'onAnswered'>): Promise<Tokens> => {
    const { callRefresh } = await load()
    return callRefresh({
      ...call,
      clock,
      spec: cfg.refresh,
      fetch: base(),
      headers: cfg.headers,
      credentials: cfg.transport === 'cookie' ? 'include' : undefined,
      now: cfg.now,
      monotonic: cfg.platform.monotonic,
      random: cfg.platform.random,
      timeout: cfg.refreshTimeout,
      retries: cfg.refreshRetries,
      kit: REFRESH_KIT,
    })
  }
}

/** Best-effort server logout (it revokes the RT family); the answer does not matter. */
export async function callLogout(
  cfg: Pick<Config, 'logoutURL' | 'headers' | 'transport' | 'refreshTimeout'> & { platform: Pick<Platform, 'after'> },
  send: typeof fetch,
  tokens: { accessToken?: string; refreshToken?: string },
): Promise<void> {
  if (!cfg.logoutURL) return
  const headers = new Headers(cfg.headers)
  const timeout = timeoutSignal(cfg.platform.after, cfg.refreshTimeout)
  // Never follow: a redirect would carry the RT (or the logout) to wherever it points.
  const init: RequestInit = { method: 'POST', headers, redirect: 'manual', signal: timeout.signal }
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
  } finally {
    timeout.cancel()
  }
}
