/** Grants (login and refresh answers in their several shapes) turned into deadlines on the local clock. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { decodeJwt } from '../utils/decode-jwt.js'
import { LoginFailedError, MalformedGrantError, RotorTypeError } from '../errors.js'
import type { Grant } from '../types.js'

export { MalformedGrantError }

/** A grant turned into deadlines on the local clock. */
export type Tokens = {
  accessToken?: string
  refreshToken?: string
  /** Local epoch ms at which the answer was received: the AT's lifetime starts here. */
  issuedAt: number
  accessExpiresAt: number
  /** null: the RT's expiry is not known (opaque RT), valid until the server refuses it. */
  refreshExpiresAt: number | null
  /** How the absolute expirations were put on the local clock, when the clocks disagree (see ClockSkew). */
  skew?: ClockSkew
}

/**
 * Server clock minus local clock (ms) and where the estimate came from: the answer's `Date`
 * header, the JWT's `iat` (a cross-origin answer hides `Date`), or `assumed`: the AT arrived
 * already expired and nothing readable told the offset, so the AT is taken to live
 * ASSUMED_LIFETIME_MS from receipt and the RT's expiry keeps its spacing from the AT's.
 */
export type ClockSkew = { offset: number; source: 'date' | 'iat' | 'assumed' }

/**
 * The lifetime taken for an AT that arrived already expired (the client clock ahead with no
 * readable `Date`, or a server answering `expires_in <= 0`): rotating at once would loop as
 * fast as the server answers. A minute keeps every real AT fresh (they live longer); a
 * shorter one gets its 401, which rotates within the refresh budget.
 */
export const ASSUMED_LIFETIME_MS = 60_000

/**
 * The server's `Date` header has whole-second resolution, so a difference below this is
 * measurement noise, not skew: correcting for it would shorten short-lived tokens by up to
 * a second for nothing.
 */
const SKEW_NOISE_MS = 1500

/**
 * Server clock minus local clock, from a server time in whole seconds (`Date`, a JWT's `iat`)
 * stamped while a request sent at `sentAt` was answered, the answer arriving at `arrivedAt`.
 * The server stamped it somewhere in between: time the request waited to go out (a browser's
 * six connections per host, all busy) or its answer took is no skew, and read as skew it
 * shortened the new AT by all of it (a refresh queued 2 s brought an AT of 2 s already dead,
 * and a second refresh at once).
 */
function offsetWithin(serverSecond: number, sentAt: number, arrivedAt: number): number {
  // Truncated to the second: the server's clock was somewhere in [t, t+1000).
  const stampedAtArrival = serverSecond + 500 - arrivedAt
  const stampedAtSend = serverSecond + 500 - sentAt
  // Skew only where every moment of the round trip says so; then the least that does.
  if (stampedAtArrival >= SKEW_NOISE_MS) return stampedAtArrival
  return stampedAtSend <= -SKEW_NOISE_MS ? stampedAtSend : 0
}

/** Server clock minus local clock, from a `Date` header (see offsetWithin; `arrivedAt` defaults to `sentAt`). */
export function clockOffset(dateHeader: string | null | undefined, sentAt: number, arrivedAt = sentAt): number {
  if (!dateHeader) return 0
  const serverTime = Date.parse(dateHeader)
  if (Number.isNaN(serverTime)) return 0
  return offsetWithin(serverTime, sentAt, arrivedAt)
}

type Raw = Record<string, unknown>

/**
 * The most a login or refresh answer may weigh: a grant is a few hundred bytes, a few KiB with
 * large JWTs. The body is read as a stream and abandoned past this (a 150 MB answer was read
 * whole before).
 */
export const MAX_ANSWER_BYTES = 64 * 1024
/** The longest lifetime taken from a grant (10 years): `expiresIn: 1e306` made deadlines `Infinity`. */
export const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600_000

/**
 * A token as it may travel in a header or a form: visible ASCII, no space (RFC 6750's
 * b64token is a subset). Anything else (a CR/LF put the whole AT into a Headers TypeError) is
 * refused at parsing, and the error never repeats the token.
 */
export const isTokenText = (value: string): boolean => /^[\x21-\x7e]+$/.test(value)

/** The body as text, abandoned past `cap` bytes (MalformedGrantError, nothing of it echoed). */
export async function readCapped(response: Response, cap = MAX_ANSWER_BYTES): Promise<string> {
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  // A declared length past the cap is refused before a byte is read.
  let size = Number(response.headers.get('content-length')) > cap ? Infinity : 0
  let text = ''
  for (;;) {
    if (size > cap) {
      await reader?.cancel().catch(() => undefined)
      throw new MalformedGrantError(`rotor-auth: the answer (HTTP ${response.status}) is larger than ${cap} bytes`)
    }
    if (!reader) return ''
    const { done, value } = await reader.read()
    if (done) return text + decoder.decode()
    size += value.byteLength
    text += decoder.decode(value, { stream: true })
  }
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function token(value: unknown, field: string): string | undefined {
  const text = str(value)
  if (text !== undefined && !isTokenText(text)) {
    throw new MalformedGrantError(`rotor-auth: the grant's ${field} is not a token (only visible ASCII without spaces may travel in a header)`)
  }
  return text
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

/** Reads the FOLIO, OAuth2 and camelCase shapes into one Grant. */
export function toGrant(body: unknown): Grant {
  if (!isObject(body)) throw new MalformedGrantError('rotor-auth: the grant is not a JSON object')
  const nested = isObject(body['tokenExpiration']) ? body['tokenExpiration'] : {}
  const grant: Grant = {}
  const accessToken = token(body['accessToken'], 'accessToken') ?? token(body['access_token'], 'access_token')
  const refreshToken = token(body['refreshToken'], 'refreshToken') ?? token(body['refresh_token'], 'refresh_token')
  const accessExp = body['accessTokenExpiration'] ?? nested['accessTokenExpiration']
  const refreshExp = body['refreshTokenExpiration'] ?? nested['refreshTokenExpiration']
  const expiresIn = num(body['expiresIn']) ?? num(body['expires_in'])
  const refreshExpiresIn = num(body['refreshExpiresIn']) ?? num(body['refresh_expires_in'])
  if (accessToken !== undefined) grant.accessToken = accessToken
  if (refreshToken !== undefined) grant.refreshToken = refreshToken
  if (typeof accessExp === 'string' || typeof accessExp === 'number' || accessExp instanceof Date) grant.accessTokenExpiration = accessExp
  if (typeof refreshExp === 'string' || typeof refreshExp === 'number' || refreshExp instanceof Date) grant.refreshTokenExpiration = refreshExp
  if (expiresIn !== undefined) grant.expiresIn = expiresIn
  if (refreshExpiresIn !== undefined) grant.refreshExpiresIn = refreshExpiresIn
  return grant
}

function absolute(value: string | number | Date, field: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value)
  if (!Number.isFinite(ms)) throw new MalformedGrantError(`rotor-auth: grant field \`${field}\` is not a date: ${JSON.stringify(String(value))}`)
  return ms
}

/** Server minus local clock from a JWT's `iat` (whole seconds, like `Date`; see offsetWithin); undefined without one. */
function iatOffset(token: string | undefined, receivedAt: number, arrivedAt: number): number | undefined {
  if (token === undefined || token.split('.').length !== 3) return undefined
  try {
    const { iat } = decodeJwt(token)
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return undefined
    return offsetWithin(iat * 1000, receivedAt, arrivedAt)
  } catch {
    return undefined
  }
}

/**
 * The lifetime (ms) a JWT's `iat` and `exp` leave from receipt. Whole seconds (most servers
 * floor both) hide up to a second: a token minted 0.9 s into its `iat` second dies at `exp`,
 * 0.9 s before `exp - iat` seconds have passed since it was minted. Counted that second
 * short (at most half the lifetime, for tokens of a second), no AT is used past the server's
 * expiry for want of a fraction (the leeway covers the network's share).
 */
export function jwtLifetime(iat: number, exp: number): number {
  const lifetime = (exp - iat) * 1000
  return Number.isInteger(iat) && Number.isInteger(exp) ? lifetime - Math.min(1000, lifetime / 2) : lifetime
}

/** Expiry of a JWT on the local clock; undefined for an opaque token. */
function jwtExpiry(token: string | undefined, receivedAt: number, offset: number): number | undefined {
  if (token === undefined || token.split('.').length !== 3) return undefined
  let claims: { exp?: number; iat?: number }
  try {
    claims = decodeJwt(token)
  } catch {
    return undefined
  }
  if (typeof claims.exp !== 'number') return undefined
  // exp - iat is a lifetime the server chose; measured from receipt it needs no clock at all.
  // (From the send, for a refresh: no round trip proves the server minted it later.)
  if (typeof claims.iat === 'number' && claims.exp > claims.iat) return receivedAt + jwtLifetime(claims.iat, claims.exp)
  return claims.exp * 1000 - offset
}

/**
 * Turns a grant into local deadlines. Lifetimes (`expiresIn`, JWT exp−iat) are measured from
 * `receivedAt`; absolute expirations are on the server's clock and shifted by `offset`
 * (server − local, from the `Date` header), so a client clock hours off still works.
 */
export function toTokens(grant: Grant, receivedAt: number, dateOffset?: number, arrivedAt = receivedAt): Tokens {
  // No readable `Date` (cross-origin, or a grant object): the JWTs' `iat` is the server's clock.
  const iat = dateOffset === undefined ? (iatOffset(grant.accessToken, receivedAt, arrivedAt) ?? iatOffset(grant.refreshToken, receivedAt, arrivedAt)) : undefined
  let offset = dateOffset ?? iat ?? 0
  let accessExpiresAt =
    grant.expiresIn !== undefined
      ? receivedAt + grant.expiresIn * 1000
      : grant.accessTokenExpiration !== undefined
        ? absolute(grant.accessTokenExpiration, 'accessTokenExpiration') - offset
        : jwtExpiry(grant.accessToken, receivedAt, offset)
  if (accessExpiresAt === undefined) {
    throw new MalformedGrantError(
      'rotor-auth: the grant does not say when the access token expires (expected accessTokenExpiration, expires_in or a JWT access token with exp)',
    )
  }
  let refreshExpiresAt =
    grant.refreshExpiresIn !== undefined
      ? receivedAt + grant.refreshExpiresIn * 1000
      : grant.refreshTokenExpiration !== undefined
        ? absolute(grant.refreshTokenExpiration, 'refreshTokenExpiration') - offset
        : (jwtExpiry(grant.refreshToken, receivedAt, offset) ?? null)
  let skew: ClockSkew | undefined = iat ? { offset: iat, source: 'iat' } : undefined
  // Arrived expired, while the RT still lives: evidence of a clock ahead with no readable
  // offset, or of a broken server, not of a dead session (a grant whose RT is dead too is
  // refused as such). Rotating now would loop as fast as the server answers.
  const refreshAlive = refreshExpiresAt === null || refreshExpiresAt > receivedAt
  // With a measured offset (±0.5 s) a 1 s AT may look expired: that is noise, not skew.
  const unmeasured = (dateOffset === undefined && iat === undefined) || grant.expiresIn !== undefined
  // (Bug zoo: the AT that arrives expired, taken as such, rotated again at once.)
  if (!(typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('expired-at-rotates')) && accessExpiresAt <= receivedAt && refreshAlive && unmeasured) {
    const shift = receivedAt + ASSUMED_LIFETIME_MS - accessExpiresAt
    accessExpiresAt += shift
    // The RT keeps its spacing from the AT: both were off by the same unknown offset. A
    // relative RT lifetime (`refresh_expires_in`) needs no correction.
    if (refreshExpiresAt !== null && grant.refreshExpiresIn === undefined) refreshExpiresAt += shift
    offset -= shift
    skew = { offset, source: 'assumed' }
  }
  // Beyond ten years is no lifetime but a bug or an attack; capped, deadlines stay finite.
  const latest = receivedAt + MAX_LIFETIME_MS
  const tokens: Tokens = {
    issuedAt: receivedAt,
    accessExpiresAt: Math.min(accessExpiresAt, latest),
    refreshExpiresAt: refreshExpiresAt === null ? null : Math.min(refreshExpiresAt, latest),
  }
  if (skew) tokens.skew = skew
  if (grant.accessToken !== undefined) tokens.accessToken = grant.accessToken
  if (grant.refreshToken !== undefined) tokens.refreshToken = grant.refreshToken
  return tokens
}

/**
 * Reads a login or refresh answer. The body is consumed. Lifetimes count from `now()` (a
 * refresh's: when it was sent); `arrivedAt`, when the answer came, bounds the clock offset.
 */
export async function tokensFromResponse(response: Response, now: () => number, arrivedAt?: number): Promise<Tokens> {
  const receivedAt = now()
  let text: string
  try {
    text = await readCapped(response)
  } catch (error) {
    if (error instanceof MalformedGrantError) throw error
    // The headers arrived, the body did not (connection cut): the server has answered, so
    // it may well have spent the RT. The caller decides what that means for its transport.
    throw new MalformedGrantError(`rotor-auth: the answer (HTTP ${response.status}) was cut off before its body arrived`, { cause: error })
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    // Never an excerpt: a form-encoded grant (access_token=…&refresh_token=…) would put the
    // tokens into the error, and from there into `rotate-error` and logs.
    const type = response.headers.get('content-type') ?? 'no content-type'
    throw new MalformedGrantError(`rotor-auth: the answer (HTTP ${response.status}, ${type}, ${text.length} characters) is not JSON`)
  }
  // A cross-origin answer hides `Date` unless the server exposes it: then the offset is unknown, not 0.
  const date = response.headers.get('date')
  const offset = date && !Number.isNaN(Date.parse(date)) ? clockOffset(date, receivedAt, arrivedAt ?? receivedAt) : undefined
  const tokens = toTokens(toGrant(body), receivedAt, offset, arrivedAt)
  if (offset && !tokens.skew) tokens.skew = { offset, source: 'date' }
  return tokens
}

/** A grant whose AT and RT have both already expired cannot start anything. */
export function assertUsable(tokens: Tokens, now: number, transport: 'cookie' | 'bearer'): void {
  const { accessExpiresAt, refreshExpiresAt } = tokens
  if (transport === 'bearer' && tokens.accessToken === undefined) {
    throw new RotorTypeError('ERR_BAD_GRANT', "rotor-auth: with transport 'bearer' a grant must carry the access token")
  }
  if (accessExpiresAt <= now && refreshExpiresAt !== null && refreshExpiresAt <= now) {
    throw new RotorTypeError(
      'ERR_BAD_GRANT',
      `rotor-auth: the grant's access and refresh tokens have both already expired (${new Date(accessExpiresAt).toISOString()}, ${new Date(refreshExpiresAt).toISOString()} on this clock)`,
    )
  }
}

/** `start()`/`reauthenticate` accept a Response or a Grant object. */
export async function tokensFrom(input: Grant | Response, now: () => number): Promise<Tokens> {
  if (typeof Response !== 'undefined' && input instanceof Response) {
    if (!input.ok) throw new LoginFailedError(input.status, `rotor-auth: start() got a failed login answer (HTTP ${input.status})`)
    return tokensFromResponse(input, now)
  }
  if (!isObject(input)) throw new RotorTypeError('ERR_BAD_GRANT', 'rotor-auth: start() takes a Grant object or a login Response')
  return toTokens(toGrant(input), now())
}
