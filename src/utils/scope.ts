/** Which URLs a session manages: scope matching, request URL resolution and the default endpoints. */
import type { ScopeOption } from '../types.js'

export type ScopeMatcher = (url: URL) => boolean

/**
 * What a relative URL resolves against, exactly as the platform does it: a document's
 * `baseURI` (a `<base href>` changes it), a worker's `location`. Judging scope against
 * anything else would let a `<base>` tag send the token to another origin.
 */
export function baseURL(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } }
  return g.document?.baseURI ?? g.location?.href
}

/** Parses a scope or endpoint entry; relative strings resolve against the page's location. */
export function toURL(value: string | URL, option: string): URL {
  try {
    return new URL(value, baseURL())
  } catch {
    throw new TypeError(`rotor-auth: option \`${option}\` must be an absolute URL (or relative to the page), got ${JSON.stringify(String(value))}`)
  }
}

function prefixMatcher(base: URL): ScopeMatcher {
  const origin = base.origin
  const path = base.pathname.replace(/\/+$/, '')
  const below = path + '/'
  // Segment boundary: `/okapi` matches `/okapi` and `/okapi/x`, never `/okapix`.
  return url => {
    if (url.origin !== origin) return false
    const pathname = url.pathname
    return path === '' || pathname === path || pathname.startsWith(below)
  }
}

/**
 * Builds the scope test. A string/URL means same origin and a path prefix at a segment
 * boundary; an array is any of its entries; a function is used as it is.
 */
export function createScope(scope: ScopeOption): ScopeMatcher {
  if (typeof scope === 'function') return scope
  const entries = Array.isArray(scope) ? scope : [scope]
  if (entries.length === 0) throw new TypeError('rotor-auth: option `scope` must not be an empty array')
  const matchers = entries.map(entry => {
    if (typeof entry !== 'string' && !(entry instanceof URL)) {
      throw new TypeError(`rotor-auth: option \`scope\` entries must be strings or URLs, got ${typeof entry}`)
    }
    return prefixMatcher(toURL(entry, 'scope'))
  })
  return matchers.length === 1 ? matchers[0]! : url => matchers.some(match => match(url))
}

/**
 * The URL a fetch call targets, or undefined when it cannot be parsed (then it is not ours).
 * `target` is a string or a Request (see fetchTarget): exactly what fetch will be given.
 */
export function requestURL(target: string | Request): URL | undefined {
  try {
    return typeof target === 'string' ? new URL(target, baseURL()) : new URL(target.url)
  } catch {
    return undefined
  }
}

/**
 * What fetch will actually use: fetch turns anything but a Request into a string with
 * `String(input)`. A URL subclass or a `{ toString }` object may name one origin to a check
 * and another to fetch; converting once and sending that same string closes the gap.
 */
export function fetchTarget(input: RequestInfo | URL): string | Request {
  return typeof input === 'string' || input instanceof Request ? input : String(input)
}

/** A URL's path without trailing slashes. */
export function endpointPath(url: URL): string {
  let path = url.pathname
  while (path.endsWith('/')) path = path.slice(0, -1)
  return path
}

/** origin + path without trailing slashes: one string per endpoint, compared per request. */
export function endpointKey(url: URL): string {
  return url.origin + endpointPath(url)
}

/** `<first scope entry's path>/authn/<name>` for the default refresh and logout endpoints. */
export function defaultEndpoint(scope: ScopeOption, name: string, option: string): URL {
  if (typeof scope === 'function') {
    throw new TypeError(`rotor-auth: option \`${option}\` is required when \`scope\` is a function`)
  }
  const first = Array.isArray(scope) ? scope[0] : scope
  if (first === undefined) throw new TypeError('rotor-auth: option `scope` must not be an empty array')
  const base = toURL(first, 'scope')
  const url = new URL(base.href)
  url.pathname = base.pathname.replace(/\/+$/, '') + '/authn/' + name
  url.search = ''
  url.hash = ''
  return url
}
