/** The per-request opt-out (`rtrIgnore: true` or an `X-Rotor-Ignore` header): such a request bypasses the session. */
import type { SessionRequestInit } from '../types.js'

/** The header that opts a request out; it is removed before the request is sent. */
export const IGNORE_HEADER = 'x-rotor-ignore'

/**
 * Every request passes here, most with a plain object of headers (a tenant header): the names
 * are looked at in place, with no array built per request.
 */
function hasIgnoreHeader(given: HeadersInit): boolean {
  // Duck-typed: a Headers from another realm (a polyfill, a test DOM) is a Headers too.
  if (typeof (given as Headers).has === 'function') return (given as Headers).has(IGNORE_HEADER)
  if (Array.isArray(given)) {
    // fetch turns any name into a string (`[[1, 'x']]` sends a header `1`); a malformed pair
    // is fetch's to reject, asynchronously, not this check's to throw on.
    for (const pair of given) if (typeof pair?.[0] === 'string' && pair[0].toLowerCase() === IGNORE_HEADER) return true
    return false
  }
  for (const name in given) if (Object.hasOwn(given, name) && name.toLowerCase() === IGNORE_HEADER) return true
  return false
}

/**
 * The request as it is to go out untouched, when it opted out; otherwise undefined. The flag
 * and the header are the session's, never the server's: both are taken off.
 */
export function optedOut(input: RequestInfo | URL, init: SessionRequestInit | undefined): [RequestInfo | URL, RequestInit] | undefined {
  // fetch sends init's headers when given, else the Request's.
  const given = init?.headers ?? (typeof input !== 'string' && input instanceof Request ? input.headers : undefined)
  const header = given !== undefined && hasIgnoreHeader(given)
  if (!header && !init?.rtrIgnore) return undefined
  const { rtrIgnore: _, ...rest } = init ?? {}
  if (header) {
    const headers = new Headers(given)
    headers.delete(IGNORE_HEADER)
    rest.headers = headers
  }
  return [input, rest]
}
