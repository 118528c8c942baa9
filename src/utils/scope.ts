/** Which URLs a session manages: scope matching, request URL resolution (with a parse-free fast path) and the default endpoints. */
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

/**
 * Decides per request whether the session manages it: the target is in scope and is not the
 * refresh or logout endpoint (those must never wait for a rotation: it would wait for itself).
 * Returns the target's origin, which is all a managed request needs afterwards (credentials
 * are judged by it), or undefined when the request is not the session's.
 */
export type Claim = (target: string | Request) => string | undefined

/** A string scope entry as the fast path compares it: canonical origin, path without trailing slashes. */
type Prefix = { origin: string; path: string; below: string; endpoints: string[] }

/**
 * Builds the per-request decision. `new URL()` was nearly half of Rotor's own time per
 * request, so a string (or a Request's url) that provably parses to one of the scope's origins
 * and a path the parser leaves as it is, is judged without parsing (see `fastOrigin`);
 * everything else, and every function scope, takes the full parse.
 */
export function createClaim(scope: ScopeOption, matches: ScopeMatcher, endpoints: readonly URL[]): Claim {
  const keys = new Set(endpoints.map(endpointKey))
  const paths = new Set(endpoints.map(endpointPath))
  const prefixes: Prefix[] | undefined =
    typeof scope === 'function'
      ? undefined
      : (Array.isArray(scope) ? scope : [scope]).map(entry => {
          const url = toURL(entry, 'scope')
          const path = endpointPath(url)
          return { origin: url.origin, path, below: path + '/', endpoints: endpoints.filter(e => e.origin === url.origin).map(endpointPath) }
        })
  // An origin that serialises as "null" (file:, data:) cannot be compared as text.
  const fast = prefixes?.some(p => p.origin === 'null') ? undefined : prefixes
  return target => {
    if (fast !== undefined) {
      const origin = fastOrigin(typeof target === 'string' ? target : target.url, fast)
      if (origin !== undefined) return origin
    }
    const url = requestURL(target)
    if (url === undefined || !matches(url)) return undefined
    // The path first: it rules out nearly every request without reading url.origin.
    const path = endpointPath(url)
    if (paths.has(path) && keys.has(url.origin + path)) return undefined
    return url.origin
  }
}

/**
 * The ASCII characters a path may hold for the parser to leave it as it is: letters, digits
 * and `_-.~!$&'()*+,;=:/%`, one look per character (no regex run per request, no substring
 * built). Anything else it may encode or strip (controls, space, tab, newline, quotes,
 * brackets, non-ASCII), or read as something else: a backslash is a '/' in http(s), '@'
 * starts userinfo.
 */
const KEEP = new Uint8Array(128).map((_, code) => +/[\w\-.~!$&'()*+,;=:/%]/.test(String.fromCharCode(code)))

/**
 * The origin of `s` when it is certainly in one of the string scope entries and not one of
 * their endpoints, judged without parsing; undefined means "not decided here" (the caller
 * parses), never "out of scope".
 *
 * Exact because it accepts only what the parser provably leaves alone:
 * - `s` starts with an entry's canonical origin (lowercase scheme and host, no default port)
 *   followed by '/': the authority is then exactly that origin. A mixed-case host, ':443',
 *   userinfo, a trailing-dot host, IPv6 or IDN spelled otherwise do not match the text and
 *   are parsed. A path-absolute `/x` (not `//` or `/\`, which name another host) takes the
 *   page's base origin, as the platform resolves it.
 * - the path, up to the first '?' or '#', has only KEEP characters and no possible dot
 *   segment ('/.' or a percent-encoded dot), so `pathname` is that text unchanged.
 *
 * Every request passes here: it scans `s` in place, one charCodeAt and one table look per
 * character of the path.
 */
function fastOrigin(s: string, prefixes: readonly Prefix[]): string | undefined {
  let origin: string | undefined
  let start = 0
  // '/' is 47, a backslash 92.
  if (s.charCodeAt(0) === 47) {
    const second = s.charCodeAt(1)
    origin = second === 47 || second === 92 ? undefined : baseOrigin()
  } else {
    // A loop, not find(): no closure allocated per request.
    for (const p of prefixes) {
      if (s.charCodeAt(p.origin.length) === 47 && s.startsWith(p.origin)) {
        origin = p.origin
        start = origin.length
        break
      }
    }
  }
  if (origin === undefined) return undefined
  // The path: from `start` (a '/') to the first '?' (63) or '#' (35).
  let end = start
  for (let c; end < s.length && (c = s.charCodeAt(end)) !== 63 && c !== 35; end++) {
    if (c > 127 || !KEEP[c]) return undefined
    // '/.' may start a dot segment ('/..'), '%2e' / '%2E' is a dot to the parser: it would rewrite either.
    if ((c === 46 && s.charCodeAt(end - 1) === 47) || (c === 37 && s.charCodeAt(end + 1) === 50 && (s.charCodeAt(end + 2) | 32) === 101)) return undefined
  }
  // One substring per request, for the comparisons below.
  const path = s.slice(start, end)
  for (const p of prefixes) {
    if (p.origin === origin && (path === p.path || path.startsWith(p.below))) {
      // The refresh or logout endpoint (any trailing slashes): let the full check say no.
      return p.endpoints.includes(path.endsWith('/') ? path.replace(/\/+$/, '') : path) ? undefined : origin
    }
  }
  return undefined
}

let cachedBase: string | undefined
let cachedBaseOrigin: string | undefined

/**
 * The origin of the page's base URL (`<base href>` included), parsed once per distinct base:
 * it is read on every call because a script may change `<base>` at any time.
 */
function baseOrigin(): string | undefined {
  const base = baseURL()
  if (base === undefined) return undefined
  if (base !== cachedBase) {
    let origin: string | undefined
    try {
      const url = new URL(base)
      origin = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined
    } catch {
      origin = undefined
    }
    cachedBase = base
    cachedBaseOrigin = origin
  }
  return cachedBaseOrigin
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
