/** Options validated up front (a TypeError names the bad one) and every default filled in. */
import type { Coordinator, Grant, IdleOptions, RefreshContext, RefreshStyle, SessionEndingOptions, SessionOptions, StorageLike } from '../types.js'
import { createPlatform } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import { checkDebug, checkTraceSize, type DebugOption } from '../trace/options.js'
import { assertKnownOptions, invalidOption, optionError } from '../utils/option-errors.js'
import { pageBaseOf, Scope, toURL } from '../utils/scope.js'
import type { DpopAlg } from '../dpop/keys.js'
import { DEFAULT_BUDGET, type BudgetLimits } from './budget.js'
import { DEFAULT_TIMING } from './deadlines.js'

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

const COORDINATOR_METHODS = ['read', 'write', 'lock', 'post', 'subscribe', 'isLeader', 'hasPeers', 'close'] as const

const DEFAULT_ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart', 'visibilitychange']

function fail(option: string, expected: string, got: unknown): never {
  throw optionError('rotor-auth', option, expected, got)
}

function nonNegative(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(option, 'a finite number of ms >= 0', value)
  return value
}

function positive(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(option, 'a finite number of ms > 0', value)
  return value
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) fail(option, allowed.map(a => `'${a}'`).join(' or '), value)
  return value as T
}

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

/** Every option createSession knows: anything else is a typo that would silently do nothing. */
// prettier-ignore
const KNOWN = new Set<string>([
  'scope', 'rotation', 'transport', 'refresh', 'logout', 'headers', 'rotateAt', 'crossTab', 'coordinator', 'reauthenticate',
  'idle', 'sessionEnding', 'fetch', 'now', 'timers', 'leeway', 'queueTimeout', 'refreshTimeout', 'refreshRetries', 'persist', 'storage',
  'worker', 'dpop', 'refreshBudget', 'platform', 'debug', 'traceSize',
] satisfies Array<keyof SessionOptions>)

/** The keys of the nested options: a typo there (`idle: { timout }`) must fail as loudly as at the top. */
const KNOWN_REFRESH = new Set<string>(['url', 'style', 'clientId'])
const KNOWN_IDLE = new Set<string>(['timeout', 'warning', 'activityEvents'] satisfies Array<keyof IdleOptions>)
const KNOWN_ENDING = new Set<string>(['warning'] satisfies Array<keyof SessionEndingOptions>)

// prettier-ignore
const KNOWN_PLATFORM = new Set<string>([
  'now', 'monotonic', 'after', 'random', 'randomId', 'on', 'channel', 'locks', 'realms', 'storage', 'location', 'browsing', 'fetch', 'sharedWorker', 'indexedDB', 'crypto', 'debug',
] satisfies Array<keyof Platform>)

/** `sessionEnding`: `{ warning }` or false. */
function endingWarning(ending: SessionOptions['sessionEnding']): number | undefined {
  if (ending === undefined || ending === false) return undefined
  if (typeof ending !== 'object' || ending === null) fail('sessionEnding', '{ warning } (`sessionEnding.warning`: ms before the RT expires) or false', ending)
  assertKnownOptions('rotor-auth', KNOWN_ENDING, ending, 'sessionEnding')
  if (ending.warning === undefined) fail('sessionEnding.warning', 'a finite number of ms > 0', undefined)
  return positive('sessionEnding.warning', ending.warning, 0)
}

function refreshSpec(options: SessionOptions, scope: Scope): { spec: RefreshSpec; url: URL | undefined } {
  const { refresh } = options
  if (refresh === undefined) {
    const url = scope.endpoint('refresh')
    return { spec: { kind: 'url', url, style: 'folio', clientId: undefined }, url }
  }
  if (typeof refresh === 'function') return { spec: { kind: 'custom', fn: refresh }, url: undefined }
  if (typeof refresh === 'string' || refresh instanceof URL) {
    const url = toURL(refresh, 'refresh')
    return { spec: { kind: 'url', url, style: 'folio', clientId: undefined }, url }
  }
  if (typeof refresh !== 'object' || refresh === null || !('url' in refresh)) {
    fail('refresh', 'a URL, { url, style, clientId } or a function', refresh)
  }
  assertKnownOptions('rotor-auth', KNOWN_REFRESH, refresh, 'refresh')
  const url = toURL(refresh.url, 'refresh.url')
  const style = oneOf('refresh.style', refresh.style, ['folio', 'json', 'oauth2'] as const, 'folio')
  if (refresh.clientId !== undefined && typeof refresh.clientId !== 'string') fail('refresh.clientId', 'a string', refresh.clientId)
  return { spec: { kind: 'url', url, style, clientId: refresh.clientId }, url }
}

function idleConfig(idle: SessionOptions['idle']): Config['idle'] {
  if (idle === undefined || idle === false) return undefined
  if (typeof idle !== 'object' || idle === null) fail('idle', '{ timeout, warning?, activityEvents? } or false', idle)
  assertKnownOptions('rotor-auth', KNOWN_IDLE, idle, 'idle')
  if (typeof idle.timeout !== 'number' || !(idle.timeout > 0) || !Number.isFinite(idle.timeout)) fail('idle.timeout', 'a number of ms > 0', idle.timeout)
  const warning = nonNegative('idle.warning', idle.warning, 0)
  if (warning >= idle.timeout) fail('idle.warning', 'less than idle.timeout', warning)
  const events = idle.activityEvents ?? DEFAULT_ACTIVITY
  if (!Array.isArray(events) || !events.every(e => typeof e === 'string')) fail('idle.activityEvents', 'an array of event names', events)
  return { timeout: idle.timeout, warning, activityEvents: events }
}

/** `refreshBudget`: whole numbers >= 1 (0 would forbid every refresh: the session could never rotate). */
function budgetConfig(budget: SessionOptions['refreshBudget']): BudgetLimits {
  if (budget === undefined) return DEFAULT_BUDGET
  if (typeof budget !== 'object' || budget === null) fail('refreshBudget', '{ perLifetime?, perMinute? }', budget)
  const limits = { ...DEFAULT_BUDGET }
  for (const key of ['perLifetime', 'perMinute'] as const) {
    const value = budget[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(`refreshBudget.${key}`, 'a whole number >= 1', value)
    limits[key] = value
  }
  return limits
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

/**
 * The `dpop` option: the algorithm. A proof binds tokens the session holds (HttpOnly cookies are
 * the browser's). With `worker`, the worker signs its refreshes with the same key (docs/guides/dpop.md).
 */
function dpopAlg({ dpop }: SessionOptions, transport: 'cookie' | 'bearer'): DpopAlg | undefined {
  if (dpop === undefined || dpop === false) return undefined
  if (transport !== 'bearer') throw invalidOption("rotor-auth: option `dpop` needs transport: 'bearer'")
  return dpop === true
    ? 'ES256'
    : oneOf('dpop.alg', typeof dpop === 'object' && dpop ? (dpop.alg ?? 'ES256') : dpop, ['ES256', 'ES384', 'EdDSA', 'Ed25519'] satisfies DpopAlg[], 'ES256')
}

/** The `platform` option checked (an object of known pieces), and the session's platform built from it. */
function platformOf(options: SessionOptions): Platform {
  const { platform, now, timers } = options
  if (platform !== undefined) {
    if (typeof platform !== 'object' || platform === null) fail('platform', 'an object with pieces of the Platform', platform)
    assertKnownOptions('rotor-auth', KNOWN_PLATFORM, platform, 'platform')
  }
  return createPlatform({ now, timers, platform })
}

/** The required `scope` option, checked and compiled once (relative entries against the page's base). */
function scopeOf(options: SessionOptions, platform: Platform): Scope {
  if (options.scope === undefined) throw invalidOption('rotor-auth: option `scope` is required')
  const scopeType = typeof options.scope
  if (scopeType !== 'string' && scopeType !== 'function' && !(options.scope instanceof URL) && !Array.isArray(options.scope)) {
    fail('scope', 'a URL string, URL, array of them, or a function', options.scope)
  }
  return new Scope(options.scope, pageBaseOf(platform))
}

/** The logout endpoint: the `logout` option, or derived from `scope`; undefined: none. */
function logoutURLOf(options: SessionOptions, scope: Scope): URL | undefined {
  if (options.logout === undefined) return typeof options.scope === 'function' ? undefined : scope.endpoint('logout')
  if (options.logout === false) return undefined
  if (typeof options.logout !== 'string' && !(options.logout instanceof URL)) fail('logout', 'a URL or false', options.logout)
  return toURL(options.logout, 'logout')
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

/** The options that must be functions, or objects of functions (`coordinator`, `timers`). */
function assertCallables(options: SessionOptions): void {
  for (const name of ['reauthenticate', 'fetch', 'now'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') fail(name, 'a function', options[name])
  }
  const { coordinator, timers } = options
  for (const method of COORDINATOR_METHODS) {
    if (coordinator !== undefined && typeof (coordinator as unknown as Record<string, unknown> | null)?.[method] !== 'function') {
      fail('coordinator', `an object with ${COORDINATOR_METHODS.join(', ')} (missing ${method})`, coordinator)
    }
  }
  if (timers !== undefined && (typeof timers?.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function')) {
    fail('timers', '{ setTimeout, clearTimeout }', timers)
  }
}

/** The `storage` option checked, or the platform's. */
function storageOf(options: SessionOptions, platform: Platform): StorageLike | undefined {
  const given = options.storage as Partial<StorageLike> | null | undefined
  if (
    given !== undefined &&
    (typeof given !== 'object' || given === null || typeof given.getItem !== 'function' || typeof given.setItem !== 'function' || typeof given.removeItem !== 'function')
  ) {
    fail('storage', 'a Storage-like object (getItem, setItem, removeItem)', options.storage)
  }
  return options.storage ?? platform.storage
}

/** Validates every option up front; a bad one throws a TypeError naming it. */
export function normalizeOptions(options: SessionOptions): Config {
  if (typeof options !== 'object' || options === null) throw invalidOption('rotor-auth: createSession() takes an options object')
  assertKnownOptions('rotor-auth', KNOWN, options)
  const platform = platformOf(options)
  const scope = scopeOf(options, platform)
  const rotation = oneOf('rotation', options.rotation, ['timer', 'request'] as const, 'timer')
  const transport = oneOf('transport', options.transport, ['cookie', 'bearer'] as const, 'cookie')
  const { spec, url: refreshURL } = refreshSpec(options, scope)

  const logoutURL = logoutURLOf(options, scope)
  const headers = headersOf(options)

  const rotateAt = options.rotateAt ?? 0.8
  if (typeof rotateAt !== 'number' || !(rotateAt > 0 && rotateAt < 1)) fail('rotateAt', 'a number in (0, 1)', rotateAt)

  const channelName = channelNameOf(options, platform, scope, refreshURL, logoutURL)

  assertCallables(options)
  const { coordinator } = options

  const persist = options.persist ?? transport === 'cookie'
  if (typeof persist !== 'boolean') fail('persist', 'a boolean', persist)
  const storage = storageOf(options, platform)

  const worker = workerURL(options, platform.location().href, coordinator !== undefined, channelName !== undefined, persist && transport === 'bearer', spec.kind === 'custom')

  const refreshRetries = nonNegative('refreshRetries', options.refreshRetries, DEFAULT_TIMING.refreshRetries)
  if (!Number.isInteger(refreshRetries)) fail('refreshRetries', 'a whole number', refreshRetries)

  return {
    scope,
    rotation,
    transport,
    refresh: spec,
    refreshURL,
    logoutURL,
    headers,
    rotateAt,
    channelName,
    // Keyed by the session's identity: sessions for two APIs never read each other's state.
    storageKey: channelName ?? `rotor-auth:${scope.key}|${refreshURL?.href ?? 'custom'}`,
    coordinator,
    worker,
    platform,
    reauthenticate: options.reauthenticate,
    idle: idleConfig(options.idle),
    sessionEnding: endingWarning(options.sessionEnding),
    fetch: options.fetch,
    now: platform.now,
    leeway: options.leeway === undefined ? undefined : nonNegative('leeway', options.leeway, 0),
    // 0 would fail every request before a refresh was even sent, or every refresh at once.
    queueTimeout: positive('queueTimeout', options.queueTimeout, DEFAULT_TIMING.queueTimeout),
    refreshTimeout: positive('refreshTimeout', options.refreshTimeout, DEFAULT_TIMING.refreshTimeout),
    refreshRetries,
    // Bearer tabs sharing a name keep the generation and expirations (never the tokens) where
    // every tab reads them synchronously: the tab that takes the lock next must see that a
    // newer generation exists even before the message carrying its tokens has arrived.
    storage: persist || (transport === 'bearer' && channelName !== undefined) ? storage : undefined,
    persistTokens: persist && transport === 'bearer',
    dpop: dpopAlg(options, transport),
    refreshBudget: budgetConfig(options.refreshBudget),
    debug: checkDebug(options.debug),
    traceSize: checkTraceSize(options.traceSize),
  }
}
