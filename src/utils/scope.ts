/** Which URLs a session manages: the scope option compiled once (matching, its key, default endpoints, the per-request claim with a parse-free fast path). */
import { pageLocation } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import type { ScopeOption } from '../types.js'
import { invalidOption, shown } from './option-errors.js'

export type ScopeMatcher = (url: URL) => boolean

/**
 * What a relative URL resolves against, exactly as the platform does it: a document's
 * `baseURI` (a `<base href>` changes it), a worker's `location`. Judging scope against
 * anything else would let a `<base>` tag send the token to another origin. Read at every call.
 */
export type PageBase = () => string | undefined

/** The runtime's own page base, for callers without a session's platform (DPoP's kit, unit tests). */
const runtimeBase: PageBase = () => pageLocation().base

/** The page base of a platform. */
export const pageBaseOf =
  (platform: Pick<Platform, 'location'>): PageBase =>
  () =>
    platform.location().base

/** Parses a scope or endpoint entry; relative strings resolve against the page's location (or `base`). */
export function toURL(value: string | URL, option: string, base = runtimeBase()): URL {
  try {
    return new URL(value, base)
  } catch {
    throw invalidOption(`rotor-auth: option \`${option}\` must be an absolute URL (or relative to the page), got ${shown(value)}`)
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

/** The entries of a string, URL or array scope, each parsed once; undefined for a function scope. */
function parseEntries(scope: ScopeOption, base: string | undefined): URL[] | undefined {
  if (typeof scope === 'function') return undefined
  const entries = Array.isArray(scope) ? scope : [scope]
  if (entries.length === 0) throw invalidOption('rotor-auth: option `scope` must not be an empty array')
  return entries.map(entry => {
    if (typeof entry !== 'string' && !(entry instanceof URL)) {
      throw invalidOption(`rotor-auth: option \`scope\` entries must be strings or URLs, got ${typeof entry}`)
    }
    return toURL(entry, 'scope', base)
  })
}

/** A string/URL is same origin and a path prefix at a segment boundary; an array any of its entries. */
function matcherOf(entries: readonly URL[]): ScopeMatcher {
  const matchers = entries.map(prefixMatcher)
  return matchers.length === 1 ? matchers[0]! : url => matchers.some(match => match(url))
}

/**
 * The `scope` option compiled once: every other part (the default endpoints and session name
 * in options.ts, the per-request claim in interception.ts) asks this object instead of
 * parsing the option again.
 */
export class Scope {
  /** Whether the session manages `url` (a function scope is used as it is). */
  readonly matches: ScopeMatcher
  /** The scope as one comparable string, part of the default session name; 'default' for a function scope. */
  readonly key: string
  /** The parsed entries; undefined for a function scope. */
  readonly #entries: readonly URL[] | undefined
  readonly #base: PageBase

  constructor(option: ScopeOption, base: PageBase = runtimeBase) {
    this.#base = base
    this.#entries = parseEntries(option, base())
    this.matches = this.#entries ? matcherOf(this.#entries) : (option as ScopeMatcher)
    this.key = this.#entries ? this.#entries.map(url => url.href.replace(/\/+$/, '')).join('|') : 'default'
  }

  /** `<first entry's path>/authn/<name>`, the default refresh and logout endpoints; `option` names the option a function scope needs. */
  endpoint(name: 'refresh' | 'logout', option: string = name): URL {
    const first = this.#entries?.[0]
    if (first === undefined) throw invalidOption(`rotor-auth: option \`${option}\` is required when \`scope\` is a function`)
    const url = new URL(first.href)
    url.pathname = first.pathname.replace(/\/+$/, '') + '/authn/' + name
    url.search = ''
    url.hash = ''
    return url
  }

  /** The per-request decision, the refresh and logout `endpoints` left out (see Claim). */
  claim(endpoints: readonly URL[]): Claim {
    return claimOf(this.#entries, this.matches, endpoints, this.#base)
  }
}

/**
 * The URL a fetch call targets, or undefined when it cannot be parsed (then it is not ours).
 * `target` is a string or a Request (see fetchTarget): exactly what fetch will be given.
 */
export function requestURL(target: string | Request, base: PageBase = runtimeBase): URL | undefined {
  try {
    return typeof target === 'string' ? new URL(target, base()) : new URL(target.url)
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

/**
 * A string scope entry as the fast path tests it: its canonical origin, and two compiled tests
 * of a string that names it, spelled absolute (`https://h/okapi/x`) or path-absolute (`/okapi/x`).
 */
type Prefix = { origin: string; absolute: RegExp; relative: RegExp }

/**
 * Builds the per-request decision. `new URL()` was nearly half of Rotor's own time per
 * request, so a string (or a Request's url) that provably parses to one of the scope's origins
 * and a path the parser leaves as it is, is judged without parsing (see `fastPath`);
 * everything else, and every function scope, takes the full parse.
 */
export function createClaim(scope: ScopeOption, matches: ScopeMatcher, endpoints: readonly URL[], base: PageBase = runtimeBase): Claim {
  return claimOf(parseEntries(scope, base()), matches, endpoints, base)
}

function claimOf(entries: readonly URL[] | undefined, matches: ScopeMatcher, endpoints: readonly URL[], base: PageBase): Claim {
  const keys = new Set(endpoints.map(endpointKey))
  const paths = new Set(endpoints.map(endpointPath))
  const compiled = (entries ?? []).flatMap(url => {
    const own = endpoints.filter(e => e.origin === url.origin).map(endpointPath)
    return fastPath(url.origin, endpointPath(url), own) ?? []
  })
  // No entry the fast path can test (a function scope, file: origins): every request is parsed.
  const prefixes = compiled.length > 0 ? compiled : undefined
  const baseOrigin = baseOriginOf(base)
  // The last absolute string the fast path claimed, and its origin: an app calls the same URLs
  // over and over, and that verdict depends on the text alone (a relative one also on <base>).
  // Comparing it is cheaper than the regular expression, and a miss costs one comparison.
  let lastClaimed: string | undefined
  let lastOrigin: string | undefined
  return target => {
    if (prefixes !== undefined) {
      const s = typeof target === 'string' ? target : target.url
      if (s === lastClaimed) return lastOrigin
      const origin = fastOrigin(s, prefixes, baseOrigin)
      if (origin !== undefined) {
        if (s.charCodeAt(0) !== 47) {
          lastClaimed = s
          lastOrigin = origin
        }
        return origin
      }
    }
    const url = requestURL(target, base)
    if (url === undefined || !matches(url)) return undefined
    // The path first: it rules out nearly every request without reading url.origin.
    const path = endpointPath(url)
    if (paths.has(path) && keys.has(url.origin + path)) return undefined
    return url.origin
  }
}

/**
 * The characters a path may hold for the parser to leave it as it is: letters, digits and
 * `_-.~!$&'()*+,;=:/%`. Anything else it may encode or strip (controls, space, tab, newline,
 * quotes, brackets, non-ASCII), or read as something else: a backslash is a '/' in http(s),
 * '@' starts userinfo.
 */
const KEPT = "[\\w\\-.~!$&'()*+,;=:/%]"
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')

/**
 * The fast test for one scope entry (origin, path without trailing slashes, the endpoints'
 * paths on that origin), or undefined when its text cannot be compared (an origin that
 * serialises as "null", as file: and data: do; a path the parser would have spelled otherwise).
 *
 * A string passes only when the parser provably leaves it as it reads:
 * - it starts with the entry's canonical origin (lowercase scheme and host, no default port)
 *   followed by '/': the authority is then exactly that origin. A mixed-case host, ':443',
 *   userinfo, a trailing-dot host, IPv6 or IDN spelled otherwise do not match the text and
 *   are parsed. The path-absolute form (`/x`, never `//` or `/\`, which name another host)
 *   is tested against the page's base origin by the caller;
 * - its path, up to the first '?' or '#', has only KEPT characters and no possible dot
 *   segment ('/.' or a percent-encoded dot), so `pathname` would be that text unchanged;
 * - that path is the entry's, or below it at a segment boundary, and is not one of the
 *   endpoints (with any trailing slashes): those must never wait for a rotation.
 *
 * Compiled once to a regular expression: V8 runs it as native code, several times faster per
 * request than the same scan written as a loop of charCodeAt and startsWith calls.
 */
function fastPath(origin: string, path: string, endpoints: readonly string[]): Prefix | undefined {
  if (origin === 'null' || !new RegExp(`^${KEPT}*$`).test(path)) return undefined
  const notEndpoint = endpoints.length ? `(?!(?:${endpoints.map(escape).join('|')})/*(?:[?#]|$))` : ''
  const tail = `(?=/)${notEndpoint}(?![^?#]*(?:/\\.|%2[eE]))${escape(path)}(?:/${KEPT}*)?(?:[?#]|$)`
  return { origin, absolute: new RegExp(`^${escape(origin)}${tail}`), relative: new RegExp(`^${tail}`) }
}

/**
 * The origin of `s` when it is certainly in one of the string scope entries and not one of
 * their endpoints, judged without parsing; undefined means "not decided here" (the caller
 * parses), never "out of scope". Every request passes here.
 */
function fastOrigin(s: string, prefixes: readonly Prefix[], baseOrigin: () => string | undefined): string | undefined {
  // '/' is 47, a backslash 92: `//h/x` and `/\h/x` name another host.
  const relative = s.charCodeAt(0) === 47
  if (relative) {
    const second = s.charCodeAt(1)
    if (second === 47 || second === 92) return undefined
    const origin = baseOrigin()
    // A loop, not find(): no closure allocated per request.
    for (const p of prefixes) if (p.origin === origin && p.relative.test(s)) return origin
    return undefined
  }
  for (const p of prefixes) if (p.absolute.test(s)) return p.origin
  return undefined
}

/**
 * The origin of the page's base URL (`<base href>` included), parsed once per distinct base:
 * it is read on every call because a script may change `<base>` at any time.
 */
function baseOriginOf(pageBase: PageBase): () => string | undefined {
  let cachedBase: string | undefined
  let cachedOrigin: string | undefined
  return () => {
    const base = pageBase()
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
      cachedOrigin = origin
    }
    return cachedOrigin
  }
}
