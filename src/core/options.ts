/** Options validated up front (a TypeError names the bad one) and every default filled in. */
import type { Coordinator, Grant, IdleOptions, RefreshContext, RefreshStyle, SessionEndingOptions, SessionOptions, StorageLike } from '../types.js'
import { createPlatform } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import { TRACE_RULES, TRACE_SIZE, type DebugOption } from '../trace/options.js'
import { assertKnownOptions, invalidOption, optionError } from '../utils/option-errors.js'
import { pageBaseOf, Scope, toURL } from '../utils/scope.js'
import type { DpopAlg } from '../dpop/keys.js'
import { DEFAULT_BUDGET, type BudgetLimits } from './budget.js'
import { timingOf } from './deadlines.js'

/** The `refresh` option after validation: an endpoint (with its style) or the app's own function. */
export type RefreshSpec =
  { kind: 'url'; url: URL; style: RefreshStyle; clientId: string | undefined } | { kind: 'custom'; fn: (ctx: RefreshContext) => Promise<Response | Grant> }

/** Options after validation, with every default filled in. */
export type Config = {
  /** The `scope` option compiled once: matching, its key, the default endpoints, the per-request claim. */
  scope: Scope
  rotation: 'timer' | 'request'
  transport: 'cookie' | 'bearer'
  refresh: RefreshSpec
  refreshURL: URL | undefined
  logoutURL: URL | undefined
  headers: Headers
  rotateAt: number
  channelName: string | undefined
  /** Where the default coordinator persists the snapshot. */
  storageKey: string
  /** A coordinator given by the app, replacing the default one. */
  coordinator: Coordinator | undefined
  /** The rotation worker's script, when the session runs through one. */
  worker: URL | undefined
  /** The runtime, with the `now`, `timers` and `platform` options applied: every part's only way to it. */
  platform: Platform
  reauthenticate: SessionOptions['reauthenticate']
  idle: Required<IdleOptions> | undefined
  /** ms before the RT expires at which `session-ending` fires, or undefined (no warning, no end at RT expiry). */
  sessionEnding: number | undefined
  fetch: typeof fetch | undefined
  /** The platform's wall clock (`platform.now`), for the many parts that need only it. */
  now: () => number
  leeway: number | undefined
  queueTimeout: number
  refreshTimeout: number
  refreshRetries: number
  storage: StorageLike | undefined
  persistTokens: boolean
  /** The DPoP signing algorithm, or undefined: no DPoP. */
  dpop: DpopAlg | undefined
  /** The most refresh calls per AT lifetime and per minute (budget.ts). */
  refreshBudget: BudgetLimits
  debug: DebugOption | undefined
  traceSize: number
}

/**
 * A check of one option: what a good value passes, the wording of what it must be, and whether
 * it may be left out. Every check runs from a schema (one per object, nested too) through
 * `checked`, which also refuses keys the object does not know.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each check narrows the value itself: typing each guard would cost bytes in every page
type Rule = readonly [ok: (value: any) => boolean, expected: string | ((value: any) => string), required?: 1]

/** The checks of an object's keys; a key without one is checked by its own function below. */
type Rules = Readonly<Record<string, Rule>>

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value)
const MS: Rule = [v => finite(v) && v > 0, 'a finite number of ms > 0']
const MS_OR_ZERO: Rule = [v => finite(v) && v >= 0, 'a finite number of ms >= 0']
const FUNCTION: Rule = [v => typeof v === 'function', 'a function']
const WHOLE: Rule = [v => Number.isInteger(v) && v >= 1, 'a whole number >= 1']
const among = (...allowed: string[]): Rule => [v => allowed.includes(v), allowed.map(a => `'${a}'`).join(' or ')]
/** An object with these methods (a coordinator, timers, a storage); `words` frame their list in the message. */
const methods = (words: readonly [before: string, after: string], ...names: string[]): Rule => {
  const expected = words[0] + names.join(', ') + words[1]
  const missing = (v: any) => (typeof v === 'object' && v !== null ? names.filter(n => typeof v[n] !== 'function') : names) // eslint-disable-line @typescript-eslint/no-explicit-any -- as Rule
  // An object that lacks some methods is told which: "(missing lock)".
  return [v => missing(v).length === 0, v => (typeof v === 'object' && v !== null ? `${expected} (missing ${missing(v).join(', ')})` : expected)]
}

function fail(option: string, expected: string, got: unknown): never {
  throw optionError('rotor-auth', option, expected, got)
}

/** Throws for the first key of `value` not in `known`, then for the first key its rule refuses; `path` names where `value` sits. */
function checked<T>(value: T, known: readonly string[], rules: Rules, path?: string): T {
  assertKnownOptions('rotor-auth', new Set(known), value as object, path)
  for (const key in rules) {
    const [ok, expected, required] = rules[key]!
    const got = (value as Record<string, unknown>)[key]
    if ((got !== undefined || required) && !ok(got)) fail(path ? `${path}.${key}` : key, typeof expected === 'function' ? expected(got) : expected, got)
  }
  return value
}

/** A nested option's object (`idle`, `refreshBudget`…), checked like the top; `expected` words what it must be. */
function nested<T>(path: string, value: T, known: readonly string[], rules: Rules, expected: string): T {
  if (typeof value !== 'object' || value === null) fail(path, expected, value)
  return checked(value, known, rules, path)
}

/** Every option createSession knows: anything else is a typo that would silently do nothing. */
// prettier-ignore
const KNOWN = [
  'scope', 'rotation', 'transport', 'refresh', 'logout', 'headers', 'rotateAt', 'crossTab', 'coordinator', 'reauthenticate',
  'idle', 'sessionEnding', 'fetch', 'now', 'timers', 'leeway', 'queueTimeout', 'refreshTimeout', 'refreshRetries', 'persist', 'storage',
  'worker', 'dpop', 'refreshBudget', 'platform', 'debug', 'traceSize',
] satisfies Array<keyof SessionOptions>

/** The checks of the options that need no function of their own. */
const RULES = {
  rotation: among('timer', 'request'),
  transport: among('cookie', 'bearer'),
  rotateAt: [v => typeof v === 'number' && v > 0 && v < 1, 'a number in (0, 1)'],
  coordinator: methods(['an object with ', ''], 'read', 'write', 'lock', 'post', 'subscribe', 'isLeader', 'hasPeers', 'close'),
  reauthenticate: FUNCTION,
  fetch: FUNCTION,
  now: FUNCTION,
  timers: methods(['{ ', ' }'], 'setTimeout', 'clearTimeout'),
  leeway: MS_OR_ZERO,
  // 0 would fail every request before a refresh was even sent, or every refresh at once.
  queueTimeout: MS,
  refreshTimeout: MS,
  refreshRetries: [v => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
  persist: [v => typeof v === 'boolean', 'a boolean'],
  storage: methods(['a Storage-like object (', ')'], 'getItem', 'setItem', 'removeItem'),
  ...TRACE_RULES,
} satisfies Partial<Record<keyof SessionOptions, Rule>>

/** The keys of the nested options, and their checks: a typo there (`idle: { timout }`) must fail as loudly as at the top. */
const KNOWN_REFRESH = ['url', 'style', 'clientId']
const REFRESH: Rules = { style: among('folio', 'json', 'oauth2'), clientId: [v => typeof v === 'string', 'a string'] }
const KNOWN_IDLE = ['timeout', 'warning', 'activityEvents'] satisfies Array<keyof IdleOptions>
const IDLE: Rules = {
  timeout: [v => finite(v) && v > 0, 'a number of ms > 0', 1],
  warning: MS_OR_ZERO,
  activityEvents: [v => Array.isArray(v) && v.every(e => typeof e === 'string'), 'an array of event names'],
}
const KNOWN_ENDING = ['warning'] satisfies Array<keyof SessionEndingOptions>
const ENDING: Rules = { warning: [MS[0], MS[1], 1] }
const KNOWN_BUDGET = ['perLifetime', 'perMinute'] satisfies Array<keyof BudgetLimits>
const BUDGET: Rules = { perLifetime: WHOLE, perMinute: WHOLE }
// prettier-ignore
const KNOWN_PLATFORM = [
  'now', 'monotonic', 'after', 'random', 'randomId', 'on', 'channel', 'locks', 'realms', 'storage', 'location', 'browsing', 'fetch', 'sharedWorker', 'indexedDB', 'crypto', 'debug', 'election',
] satisfies Array<keyof Platform>

const DEFAULT_ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart', 'visibilitychange']

/**
 * The name a session shares under when none is given: its scope and both endpoints, so that two
 * apps of one origin (or two scopes with other refresh endpoints) never join each other's
 * session and send one app's tokens to the other's API or token endpoint. A function scope
 * says nothing comparable: it must be named (`crossTab: { name }`) or not shared.
 */
export function defaultChannelName(options: SessionOptions, refresh: URL | undefined, logout: URL | undefined, scope = new Scope(options.scope)): string {
  if (typeof options.scope === 'function') fail('crossTab', '{ name } or false with a function `scope`', options.crossTab)
  return `rotor-auth:${scope.key} ${refresh?.href} ${logout?.href}`
}

function refreshSpec({ refresh }: SessionOptions, scope: Scope): { spec: RefreshSpec; url: URL | undefined } {
  if (typeof refresh === 'function') return { spec: { kind: 'custom', fn: refresh }, url: undefined }
  let style: RefreshStyle = 'folio'
  let clientId: string | undefined
  let url: URL
  if (refresh === undefined) url = scope.endpoint('refresh')
  else if (typeof refresh === 'string' || refresh instanceof URL) url = toURL(refresh, 'refresh')
  else {
    if (typeof refresh !== 'object' || refresh === null || !('url' in refresh)) fail('refresh', 'a URL, { url, style, clientId } or a function', refresh)
    checked(refresh, KNOWN_REFRESH, REFRESH, 'refresh')
    url = toURL(refresh.url, 'refresh.url')
    style = refresh.style ?? style
    clientId = refresh.clientId
  }
  return { spec: { kind: 'url', url, style, clientId }, url }
}

function idleConfig(idle: SessionOptions['idle']): Config['idle'] {
  if (idle === undefined || idle === false) return undefined
  const { timeout, warning = 0, activityEvents = DEFAULT_ACTIVITY } = nested('idle', idle, KNOWN_IDLE, IDLE, '{ timeout, warning?, activityEvents? } or false')
  if (warning >= timeout) fail('idle.warning', 'less than idle.timeout', warning)
  return { timeout, warning, activityEvents }
}

/** The `worker` option, checked against the options it cannot go with. */
function workerURL(options: SessionOptions, pageHref: string | undefined, coordinator: boolean, crossTab: boolean, persistTokens: boolean, custom: boolean): URL | undefined {
  const { worker } = options
  if (worker === undefined || worker === false) return undefined
  if (typeof worker !== 'string' && !(worker instanceof URL)) fail('worker', 'the URL of rotor-auth/worker or false', worker)
  // What the worker cannot do: another coordinator, a function's refresh, no tabs, bearer tokens in storage.
  const clash = coordinator ? 'coordinator' : custom ? 'refresh: a function' : !crossTab ? 'crossTab: false' : persistTokens ? 'persist: true' : undefined
  if (clash) throw invalidOption(`rotor-auth: option \`worker\` cannot go with ${clash}`)
  // Against the page's own address, not `document.baseURI`: an injected `<base href>` must not
  // choose which script runs the session and holds its RT.
  return toURL(worker, 'worker', pageHref)
}

const DPOP_ALG = among('ES256', 'ES384', 'EdDSA', 'Ed25519' satisfies DpopAlg)

/**
 * The `dpop` option: the algorithm. A proof binds tokens the session holds (HttpOnly cookies are
 * the browser's). With `worker`, the worker signs its refreshes with the same key (docs/guides/dpop.md).
 */
function dpopAlg({ dpop }: SessionOptions, transport: 'cookie' | 'bearer'): DpopAlg | undefined {
  if (dpop === undefined || dpop === false) return undefined
  if (transport !== 'bearer') throw invalidOption("rotor-auth: option `dpop` needs transport: 'bearer'")
  const alg = dpop === true ? 'ES256' : typeof dpop === 'object' && dpop ? (dpop.alg ?? 'ES256') : dpop
  if (!DPOP_ALG[0](alg)) fail('dpop.alg', DPOP_ALG[1] as string, alg)
  return alg
}

/** The required `scope` option, checked and compiled once (relative entries against the page's base). */
function scopeOf({ scope }: SessionOptions, platform: Platform): Scope {
  if (scope === undefined) throw invalidOption('rotor-auth: option `scope` is required')
  if (typeof scope !== 'string' && typeof scope !== 'function' && !(scope instanceof URL) && !Array.isArray(scope)) {
    fail('scope', 'a URL string, URL, array of them, or a function', scope)
  }
  return new Scope(scope, pageBaseOf(platform))
}

/** The logout endpoint: the `logout` option, or derived from `scope`; undefined: none. */
function logoutURLOf({ logout, scope: given }: SessionOptions, scope: Scope): URL | undefined {
  if (logout === undefined) return typeof given === 'function' ? undefined : scope.endpoint('logout')
  if (logout === false) return undefined
  if (typeof logout !== 'string' && !(logout instanceof URL)) fail('logout', 'a URL or false', logout)
  return toURL(logout, 'logout')
}

function headersOf(options: SessionOptions): Headers {
  try {
    return new Headers(options.headers)
  } catch (error) {
    throw invalidOption(`rotor-auth: option \`headers\` is not valid HeadersInit: ${(error as Error).message}`)
  }
}

/** The name sessions share state under (the `crossTab` option); undefined: this session shares nothing. */
function channelNameOf(options: SessionOptions, platform: Platform, scope: Scope, refreshURL: URL | undefined, logoutURL: URL | undefined): string | undefined {
  const hasChannel = platform.channel !== undefined
  const { crossTab } = options
  // A page or a worker: tabs of one user, who share one session. A server process (Node) may
  // act for several users at once, so there sharing is opt-in.
  if (crossTab === true || (crossTab === undefined && platform.browsing)) {
    const derived = defaultChannelName(options, refreshURL, logoutURL, scope)
    return hasChannel ? derived : undefined
  } else if (crossTab === false || crossTab === undefined) {
    // Node: two users' jobs in one process must never share a session unless asked to.
    return undefined
  } else if (typeof crossTab === 'object' && crossTab !== null && typeof crossTab.name === 'string' && crossTab.name !== '') {
    if (!hasChannel) throw invalidOption('rotor-auth: option `crossTab` was given but this runtime has no BroadcastChannel')
    return `rotor-auth:${crossTab.name}`
  }
  return fail('crossTab', 'a boolean or { name: string }', crossTab)
}

/** Validates every option up front; a bad one throws a TypeError naming it. */
export function normalizeOptions(options: SessionOptions): Config {
  if (typeof options !== 'object' || options === null) throw invalidOption('rotor-auth: createSession() takes an options object')
  checked(options, KNOWN, RULES)
  const { platform: pieces, now, timers, coordinator, sessionEnding: ending, refreshBudget: budget, rotation = 'timer', transport = 'cookie', rotateAt = 0.8 } = options
  if (pieces !== undefined) nested('platform', pieces, KNOWN_PLATFORM, {}, 'an object with pieces of the Platform')
  const platform = createPlatform({ now, timers, platform: pieces })
  const scope = scopeOf(options, platform)
  const { spec, url: refreshURL } = refreshSpec(options, scope)
  const logoutURL = logoutURLOf(options, scope)
  const channelName = channelNameOf(options, platform, scope, refreshURL, logoutURL)
  const persist = options.persist ?? transport === 'cookie'
  const worker = workerURL(options, platform.location().href, coordinator !== undefined, channelName !== undefined, persist && transport === 'bearer', spec.kind === 'custom')
  return {
    scope,
    rotation,
    transport,
    refresh: spec,
    refreshURL,
    logoutURL,
    headers: headersOf(options),
    rotateAt,
    channelName,
    // Keyed by the session's identity: sessions for two APIs never read each other's state.
    storageKey: channelName ?? `rotor-auth:${scope.key}|${refreshURL?.href ?? 'custom'}`,
    coordinator,
    worker,
    platform,
    reauthenticate: options.reauthenticate,
    idle: idleConfig(options.idle),
    // `{ warning }`: ms before the RT expires; false: no warning, no end at RT expiry.
    sessionEnding:
      ending === undefined || ending === false
        ? undefined
        : nested('sessionEnding', ending, KNOWN_ENDING, ENDING, '{ warning } (`sessionEnding.warning`: ms before the RT expires) or false').warning,
    fetch: options.fetch,
    now: platform.now,
    leeway: options.leeway,
    ...timingOf(options),
    // Bearer tabs sharing a name keep the generation and expirations (never the tokens) where
    // every tab reads them synchronously: the tab that takes the lock next must see that a
    // newer generation exists even before the message carrying its tokens has arrived.
    storage: persist || (transport === 'bearer' && channelName !== undefined) ? (options.storage ?? platform.storage) : undefined,
    persistTokens: persist && transport === 'bearer',
    dpop: dpopAlg(options, transport),
    // 0 would forbid every refresh: the session could never rotate.
    refreshBudget: budget === undefined ? DEFAULT_BUDGET : { ...DEFAULT_BUDGET, ...nested('refreshBudget', budget, KNOWN_BUDGET, BUDGET, '{ perLifetime?, perMinute? }') },
    debug: options.debug,
    traceSize: options.traceSize ?? TRACE_SIZE,
  }
}
