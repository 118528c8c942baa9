/** The per-request opt-out (`rtrIgnore: true` or an `X-Rotor-Ignore` header): such a request bypasses the session. */
import type { SessionRequestInit } from '../types.js'

/** The header that opts a request out; it is removed before the request is sent. */
export const IGNORE_HEADER = 'x-rotor-ignore'

/**
 * The request as it is to go out untouched, when it opted out; otherwise undefined. The flag
 * and the header are the session's, never the server's: both are taken off.
 */
export function optedOut(input: RequestInfo | URL, init: SessionRequestInit | undefined): [RequestInfo | URL, RequestInit] | undefined {
  // fetch sends init's headers when given, else the Request's.
  const given = init?.headers ?? (input instanceof Request ? input.headers : undefined)
  const header =
    given !== undefined &&
    // Duck-typed: a Headers from another realm (a polyfill, a test DOM) is a Headers too.
    (typeof (given as Headers).has === 'function'
      ? (given as Headers).has(IGNORE_HEADER)
      : (Array.isArray(given) ? given.map(pair => pair[0]) : Object.keys(given)).some(name => name?.toLowerCase() === IGNORE_HEADER))
  if (!header && !init?.rtrIgnore) return undefined
  const { rtrIgnore: _, ...rest } = init ?? {}
  if (header) {
    const headers = new Headers(given)
    headers.delete(IGNORE_HEADER)
    rest.headers = headers
  }
  return [input, rest]
}
