/** rotor-auth/folio: the FOLIO preset, and a Stripes app's own settings (`okapi`, `config.rtr`) turned into session options. */
// The main entry, and in the build the package itself (tsup.config.ts): one createSession,
// never a second copy of the library inside this entry.
import { createSession, LoginFailedError, type Session, type SessionOptions } from '../index.js'
import { closest, invalidOption, shown } from '../utils/option-errors.js'
import { defaultPlatform } from '../platform/defaults.js'

/** What `createFolioSession` takes. */
export type FolioOptions = {
  /** The Okapi (or Kong/Eureka gateway) base URL; every request below it is managed. */
  okapiUrl: string
  /** The FOLIO tenant, sent as `X-Okapi-Tenant` on refresh and logout. @example 'diku' */
  tenant: string
  /** Anything else createSession takes (idle timeout, reauthenticate, fetch for Node…). */
  overrides?: Partial<SessionOptions>
}

/** stripes-core's `config.rtr`, as a stripes.config.js has it: durations are strings `ms` reads ("4h", "1m") or numbers of ms. */
export type StripesRtrConfig = {
  /** Log out after this long without activity in any tab. @default '4h' */
  idleSessionTTL?: string | number
  /** How long the "Keep working?" modal shows before that logout. @default '1m' */
  idleModalTTL?: string | number
  /** DOM events that count as activity. @default ['keydown', 'mousedown'] */
  activityEvents?: string[]
  /** How long before the RT expires the "your session will end" warning shows. @default '1m' */
  fixedLengthSessionWarningTTL?: string | number
  /** Fraction of the AT lifetime at which to rotate (Rotor's `rotateAt`). @default 0.8 */
  rotationIntervalFraction?: number
}

/** The parts of a Stripes configuration the session needs; anything else in it is ignored. */
export type StripesConfig = {
  okapi: { url: string; tenant: string }
  config?: { rtr?: StripesRtrConfig }
}

/** stripes-core's defaults (src/components/Root/constants.js). */
export const STRIPES_RTR_DEFAULTS = {
  idleSessionTTL: '4h',
  idleModalTTL: '1m',
  activityEvents: ['keydown', 'mousedown'],
  fixedLengthSessionWarningTTL: '1m',
} as const

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_557_600_000 }
const DURATION = /^(\d*\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$/i

/**
 * A duration as stripes-core reads it (with the `ms` package): "4h", "1m", "90 seconds",
 * "1.5h", "500" (ms), or a number of ms. Anything else, zero or negative is a TypeError
 * naming `key`: a typo must not silently become a session that never (or instantly) ends.
 */
export function parseDuration(value: unknown, key: string): number {
  let ms: number | undefined
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim())
    if (match) {
      const unit = (match[2] ?? 'ms').toLowerCase()
      // 'ms', 'msec(s)', 'millisecond(s)' are milliseconds; otherwise the first letter decides.
      ms = Number(match[1]) * UNITS[unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0]!]!
    }
  }
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw invalidOption(`rotor-auth/folio: \`${key}\` must be a duration such as "4h", "30m", "90s" or a number of ms > 0, got ${shown(value)}`)
  }
  return ms
}

/** The `config.rtr` keys this preset reads. */
const RTR_KEYS = ['idleSessionTTL', 'idleModalTTL', 'activityEvents', 'fixedLengthSessionWarningTTL', 'rotationIntervalFraction'] satisfies Array<keyof StripesRtrConfig>

/**
 * A key of `config.rtr` that is a near miss of one this preset reads (`idleSesionTTL`) is a
 * TypeError: it would silently leave the 4 h default in place. Keys nowhere near (settings
 * of another stripes-core version) are left alone, as stripes-core leaves them.
 */
function assertNoTypos(rtr: object): void {
  const known: readonly string[] = RTR_KEYS
  for (const key of Object.keys(rtr)) {
    if (known.includes(key)) continue
    const hint = closest(key, known)
    if (hint) throw invalidOption(`rotor-auth/folio: unknown option \`config.rtr.${key}\` (did you mean \`config.rtr.${hint}\`?)`)
  }
}

/** The preset every FOLIO session shares: Okapi scope, tenant header, cookie transport, timer mode. */
function folioOptions(okapiUrl: string, tenant: string): SessionOptions {
  if (typeof okapiUrl !== 'string' || okapiUrl === '') throw invalidOption(`rotor-auth/folio: \`okapi.url\` must be a URL string, got ${shown(okapiUrl)}`)
  if (typeof tenant !== 'string' || tenant === '') throw invalidOption(`rotor-auth/folio: \`okapi.tenant\` must be a tenant id, got ${shown(tenant)}`)
  const base = okapiUrl.replace(/\/+$/, '')
  return {
    scope: base,
    // FOLIO keeps both tokens in HttpOnly cookies (folioAccessToken, folioRefreshToken).
    transport: 'cookie',
    // An idle session stays alive until the idle timeout ends it.
    rotation: 'timer',
    refresh: { url: `${base}/authn/refresh`, style: 'folio' },
    logout: `${base}/authn/logout`,
    headers: { 'X-Okapi-Tenant': tenant },
  }
}

/**
 * A Stripes app's own configuration, as it is (`stripes.config.js`: `okapi` and `config.rtr`),
 * turned into createSession options: the FOLIO preset, the idle timeout and its "Keep
 * working?" warning, and the fixed-length-session warning. Missing (or empty) settings take
 * stripes-core's defaults, as stripes-core does; a bad duration is a TypeError naming the key.
 *
 * @example createSession(fromStripesConfig(stripesConfig))
 * @example createSession({ ...fromStripesConfig(stripesConfig), reauthenticate: showLogin })
 */
export function fromStripesConfig(stripes: StripesConfig): SessionOptions {
  if (typeof stripes !== 'object' || stripes === null || typeof stripes.okapi !== 'object' || stripes.okapi === null) {
    throw invalidOption('rotor-auth/folio: fromStripesConfig() takes a Stripes config: { okapi: { url, tenant }, config: { rtr } }')
  }
  const rtr: StripesRtrConfig = stripes.config?.rtr ?? {}
  if (typeof rtr !== 'object' || rtr === null) throw invalidOption(`rotor-auth/folio: \`config.rtr\` must be an object, got ${shown(rtr)}`)
  assertNoTypos(rtr)
  // stripes-core replaces falsy settings (and an empty event list) with its defaults.
  const pick = <K extends keyof typeof STRIPES_RTR_DEFAULTS>(key: K) =>
    rtr[key] === undefined || rtr[key] === null || rtr[key] === '' ? STRIPES_RTR_DEFAULTS[key] : rtr[key]!
  const timeout = parseDuration(pick('idleSessionTTL'), 'config.rtr.idleSessionTTL')
  const warning = parseDuration(pick('idleModalTTL'), 'config.rtr.idleModalTTL')
  if (warning >= timeout)
    throw invalidOption(`rotor-auth/folio: \`config.rtr.idleModalTTL\` (${warning} ms) must be shorter than \`config.rtr.idleSessionTTL\` (${timeout} ms)`)
  let activityEvents = rtr.activityEvents ?? []
  if (!Array.isArray(activityEvents) || !activityEvents.every(e => typeof e === 'string' && e !== '')) {
    throw invalidOption(`rotor-auth/folio: \`config.rtr.activityEvents\` must be an array of DOM event names, got ${shown(activityEvents)}`)
  }
  if (activityEvents.length === 0) activityEvents = [...STRIPES_RTR_DEFAULTS.activityEvents]
  const options: SessionOptions = {
    ...folioOptions(stripes.okapi.url, stripes.okapi.tenant),
    idle: { timeout, warning, activityEvents },
    sessionEnding: { warning: parseDuration(pick('fixedLengthSessionWarningTTL'), 'config.rtr.fixedLengthSessionWarningTTL') },
  }
  const fraction = rtr.rotationIntervalFraction
  if (fraction !== undefined) {
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
      throw invalidOption(`rotor-auth/folio: \`config.rtr.rotationIntervalFraction\` must be a number in (0, 1), got ${shown(fraction)}`)
    }
    options.rotateAt = fraction
  }
  return options
}

/**
 * A FOLIO session without a Stripes config: the preset plus `overrides`. Drop it into a
 * Stripes-style app in place of stripes-core's RTR:
 *
 *   const session = createFolioSession({ okapiUrl: 'https://folio.example.org/okapi', tenant: 'diku' })
 *   await loginToFolio(session, { okapiUrl, tenant, username, password })
 *   session.install()          // every fetch to Okapi now waits for, and survives, rotations
 */
export function createFolioSession({ okapiUrl, tenant, overrides = {} }: FolioOptions): Session {
  return createSession({ ...folioOptions(okapiUrl, tenant), ...overrides })
}

/** Stripes' login call (`/bl-users/login-with-expiry`), then `session.start()` with its answer. */
export async function loginToFolio(
  session: Session,
  { okapiUrl, tenant, username, password, fetch: given }: { okapiUrl: string; tenant: string; username: string; password: string; fetch?: typeof fetch },
): Promise<void> {
  // Looked up at call time, as the session's own fetch is: a fetch patched since (msw, a test) applies.
  const send = given ?? defaultPlatform().fetch()
  const response = await send(`${okapiUrl.replace(/\/+$/, '')}/bl-users/login-with-expiry`, {
    method: 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/json', 'X-Okapi-Tenant': tenant },
    body: JSON.stringify({ username, password }),
  })
  if (!response.ok) throw new LoginFailedError(response.status, `rotor-auth/folio: FOLIO login failed (HTTP ${response.status})`)
  await session.start(response)
}
