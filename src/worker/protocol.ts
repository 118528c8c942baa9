/** What a tab and the rotation worker say over the tab's own MessagePort, and the options the worker's session is built from. */
import type * as Protocol from '../coordinator/protocol.js'
import type { DpopAlg } from '../dpop/keys.js'
import type { Message, Snapshot } from '../types.js'

/**
 * The options of the session the worker runs, as plain data (functions cannot cross a port).
 * The first tab to connect sends them; a tab whose options differ is refused and falls back.
 */
export type WorkerConfig = {
  transport: 'cookie' | 'bearer'
  rotation: 'timer' | 'request'
  refresh: { url: string; style: 'folio' | 'json' | 'oauth2'; clientId?: string }
  logout: string | false
  headers: Array<[string, string]>
  rotateAt: number
  leeway?: number
  refreshTimeout: number
  refreshRetries: number
  queueTimeout: number
  /**
   * With `dpop`: the algorithm and the name the tabs' key is stored under (src/dpop/keys.ts).
   * The worker reads that key from IndexedDB and signs its refresh and logout calls with it:
   * an RT bound to one key is refused to any other.
   */
  dpop?: { alg: DpopAlg; key: string }
}

/**
 * The version of this protocol, said in `hello` and `welcome`. A SharedWorker outlives a
 * deploy (it runs while one tab of the old page is open) and a copied script can lag the
 * library (`npx rotor-auth init` not run again): either side refuses the other's version,
 * saying so, and the tab runs without the worker instead of misreading it. 3: `config.dpop`
 * (a worker of protocol 2 would ignore it and refresh a DPoP-bound RT without a proof). 4:
 * `welcome.rt` (a worker of protocol 3 never says it holds an RT, and a rejoining bearer tab
 * would hand its own RT to a worker that holds one).
 */
export const PROTOCOL_VERSION = 4

/** A worker thread that leaves a tab's ping this long unanswered is hung (it answers while its refresh is on the wire). */
export const PING_LIMIT_MS = 3_000
/**
 * A connected tab pings the worker this often even when it asks nothing: a worker the browser
 * killed says nothing, and a tab that never asked would stay on it, hearing no other tab.
 */
export const HEARTBEAT_EVERY_MS = 10_000
/** A tab that lost the worker tries it again about this long later (then doubling: link.ts). */
export const REJOIN_FIRST_MS = 1_000
/**
 * How long a new bearer run that holds the session without its RT (the browser killed the run
 * that held it) lets a rotation wait for the tabs to come back: a tab that signed in holds the
 * family's RT and brings it once it notices the kill, within a heartbeat and a ping's limit,
 * and tries again a rejoin's delay later (twice it: the backoff's jitter).
 */
export const RT_GRACE_MS = HEARTBEAT_EVERY_MS + PING_LIMIT_MS + 2 * REJOIN_FIRST_MS

/** Tab → worker. `id` pairs a request with the worker's `done`. */
export type ToWorker =
  | { w: 'hello'; id: number; version: number; config: WorkerConfig; stored?: Snapshot; reauthenticates: boolean }
  | { w: 'write'; id: number; snapshot: Snapshot }
  | { w: 'post'; message: Message }
  | { w: 'lock'; id: number }
  /** Still holding lock `id` (a tab that crashed stops saying so, and its lock lapses). */
  | { w: 'held'; id: number }
  | { w: 'unlock'; id: number }
  | { w: 'ping'; id: number }
  /** End the session on the server with the tokens the worker holds (where its own session ended, with the tab's AT). */
  | { w: 'logout'; id: number; accessToken?: string }
  /** The answer to the worker's `reauthenticate`: the new grant (plain data), or none. */
  | { w: 'reauthenticated'; id: number; grant?: ReauthGrant }
  /** The answer to the worker's `probe`: this tab is still there. */
  | { w: 'alive'; id: number }
  | { w: 'bye' }

/** A login done in a tab for the worker, as the worker's session reads grants. */
export type ReauthGrant = {
  accessToken?: string
  refreshToken?: string
  accessTokenExpiration: number
  refreshTokenExpiration?: number
}

/** A login the app's form made for the worker, and when (the tab's wall clock): the later of two logins is the session (two-logins.ts). Never sent. */
export type FormLogin = { grant: ReauthGrant; at: number }

/** Worker → tab. Snapshots never carry the RT: it stays in the worker. */
export type FromWorker =
  /** `rt`: the worker holds an RT (bearer); a tab that falls back and rejoins hands its own RT only to a worker without one. */
  | { w: 'welcome'; id: number; version: number; snapshot?: Snapshot; rt?: true }
  /** `code`: the RotorErrorCode of what was refused, when it is one (`ERR_INVALID_OPTION`: the config). */
  | { w: 'refused'; id: number; reason: string; code?: string }
  | { w: 'done'; id: number }
  | { w: 'store'; snapshot: Snapshot }
  | { w: 'message'; message: Message }
  /** Run the app's `reauthenticate` and answer with `reauthenticated`. */
  | { w: 'reauthenticate'; id: number }
  /** Is this tab still there? (A tab that crashed or was discarded never says `bye`.) */
  | { w: 'probe'; id: number }

/**
 * The session protocol's validation, handed to the page's worker client by the main bundle:
 * imported, it would make a bundler split it into a chunk of its own that every page loads.
 */
export type Wire = Pick<typeof Protocol, 'parseSnapshot' | 'parseMessage' | 'supersedes'>

/** A request id (or protocol version) as a port may send it: a safe integer (isSafeInteger is false for anything but a number). */
export const isId = (v: unknown): v is number => Number.isSafeInteger(v)

/** Validates what the worker sent; undefined when malformed. */
export function parseFromWorker(data: unknown, { parseSnapshot, parseMessage }: Wire): FromWorker | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  switch (m['w']) {
    case 'welcome': {
      if (!isId(m['id'])) return undefined
      // A worker of another version still welcomes: the tab reads the version and refuses it.
      const version = isId(m['version']) ? m['version'] : 0
      const snapshot = m['snapshot'] === undefined ? undefined : parseSnapshot(m['snapshot'])
      return { w: 'welcome', id: m['id'], version, ...(snapshot ? { snapshot } : {}), ...(m['rt'] === true ? { rt: true as const } : {}) }
    }
    case 'refused':
      return isId(m['id']) && typeof m['reason'] === 'string' ? { w: 'refused', id: m['id'], reason: m['reason'] } : undefined
    case 'done':
    case 'reauthenticate':
    case 'probe':
      return isId(m['id']) ? { w: m['w'], id: m['id'] } : undefined
    case 'store': {
      const snapshot = parseSnapshot(m['snapshot'])
      return snapshot && { w: 'store', snapshot }
    }
    case 'message': {
      const message = parseMessage(m['message'])
      return message && { w: 'message', message }
    }
    default:
      return undefined
  }
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** Validates a tab's `reauthenticated` grant (any page of the origin can send one); undefined when malformed. */
export function parseReauthGrant(value: unknown): ReauthGrant | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const g = value as Record<string, unknown>
  if (!isTime(g['accessTokenExpiration'])) return undefined
  if (g['refreshTokenExpiration'] !== undefined && !isTime(g['refreshTokenExpiration'])) return undefined
  if (g['accessToken'] !== undefined && typeof g['accessToken'] !== 'string') return undefined
  if (g['refreshToken'] !== undefined && typeof g['refreshToken'] !== 'string') return undefined
  const grant: ReauthGrant = { accessTokenExpiration: g['accessTokenExpiration'] }
  if (typeof g['accessToken'] === 'string') grant.accessToken = g['accessToken']
  if (typeof g['refreshToken'] === 'string') grant.refreshToken = g['refreshToken']
  if (isTime(g['refreshTokenExpiration'])) grant.refreshTokenExpiration = g['refreshTokenExpiration']
  return grant
}

/** What a tab may see of a snapshot: everything but the RT. */
export function withoutRefreshToken(snapshot: Snapshot): Snapshot {
  if (snapshot.refreshToken === undefined) return snapshot
  const { refreshToken: _, ...rest } = snapshot
  return rest
}
