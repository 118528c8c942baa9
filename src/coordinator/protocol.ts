/** The cross-tab wire format: snapshot ordering and validation of everything read from peers. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import type { LogoutReason, Message, Snapshot } from '../types.js'

export type { Message, Snapshot }

/** The snapshot before any login: generation 0, signed out, no expirations. */
export const SIGNED_OUT: Snapshot = {
  generation: 0,
  status: 'signed-out',
  issuedAt: null,
  accessExpiresAt: null,
  refreshExpiresAt: null,
}

/** What ordering two states reads of them. */
export type Ordered = Pick<Snapshot, 'generation' | 'status' | 'ending'>

/**
 * True when `a` supersedes `b`. Generations only grow; at an equal generation a logout wins,
 * so a rotation answer that raced a logout in another tab can never revive the session, and so
 * does the mark that the generation's RT is dead (a 2xx spent it, its grant still on the way).
 */
export function supersedes(a: Ordered, b: Ordered): boolean {
  return a.generation > b.generation || (a.generation === b.generation && b.status === 'active' && (a.status === 'signed-out' || (!!a.ending && !b.ending)))
}

/**
 * The furthest a generation may lie ahead of the newest one a member knows: 2^20 rotations,
 * about twelve days at one per second. Further is a forgery, not a tab that slept.
 */
export const MAX_GENERATION_JUMP = 2 ** 20

/**
 * The far-ahead rule, the one every member applies to a generation it did not make itself (a
 * peer's state, storage, a tab's write to the worker, the state a follower waits to see):
 * `generation` is **far ahead** of `known`, the newest generation this member holds (0 when it
 * holds none yet), when it lies more than MAX_GENERATION_JUMP past it. A far-ahead generation
 * is a forgery (any page of the origin can post on the channel and write storage), never news.
 *
 * Why a bound: a forged generation taken for news can never be overtaken by a real rotation,
 * so every later one waits for tokens that never come (a stored 2^40 once wedged all tabs
 * until reload); a follower would ask for it forever. Why this one: no member that slept,
 * froze or was offline falls 2^20 rotations behind the others. Why from 0 too: a member that
 * knows nothing yet (a reload, the worker's first hello) would otherwise take a leap the
 * others refuse, and members that disagree on "newest" wedge each other.
 * (A `rotate-request` ahead of the generation held is refused at any distance: see
 * rotateRequestVerdict.)
 */
export function farAhead(generation: number, known: number): boolean {
  return generation - known > MAX_GENERATION_JUMP
}

/**
 * Whether `next` may be taken for news at all, seen from `current` (undefined: nothing held
 * yet): not far ahead (see farAhead). Every place that reads a peer's or storage's generation
 * asks this first, so a refused state never counts as "newer" anywhere.
 */
export function plausible(next: Pick<Snapshot, 'generation'>, current: Pick<Snapshot, 'generation'> | undefined): boolean {
  // Bug zoo: the forged generation (a 2^40 state wedged every tab until reload).
  if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('forged-generation')) return true
  return !farAhead(next.generation, current?.generation ?? 0)
}

/**
 * What the member that refreshes for everyone (a leader, the worker) does with a peer's
 * `rotate-request` for `requested`, holding `current`; `honoured` is the last generation it
 * rotated for on request. Behind us: `answer` with our state (the peer missed it). Our own
 * generation, the first time: `rotate`. Anything else is `ignore`d: a generation we do not hold
 * yet is a forgery (or news we will hear anyway), and rotating "until a generation above it"
 * would refresh in a loop; a second request for one generation changes nothing (the first
 * rotation, or its backoff, is under way).
 */
export function rotateRequestVerdict(requested: number, current: number, honoured: number | undefined): 'answer' | 'rotate' | 'ignore' {
  if (requested < current) return 'answer'
  // Bug zoo: a peer's rotate-request honoured for any generation, any number of times (a storm trigger).
  if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('rotate-request-any')) return 'rotate'
  if (requested > current || honoured === current) return 'ignore'
  return 'rotate'
}

/**
 * The highest generation accepted from a peer or storage: one rotation a second for 35,000
 * years. A forged `Number.MAX_SAFE_INTEGER` would otherwise leave no room to count up (+1 is
 * lost to rounding beyond it) and wedge every tab in an endless rotation loop.
 */
export const MAX_GENERATION = 2 ** 40

const validGeneration = (g: unknown): g is number => typeof g === 'number' && Number.isSafeInteger(g) && g >= 0 && g <= MAX_GENERATION

const nullableNumber = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v))
/** A token from a peer travels into headers: visible ASCII only (see isTokenText in core/grant). */
const optionalToken = (v: unknown) => v === undefined || (typeof v === 'string' && /^[\x21-\x7e]+$/.test(v))
const REASONS = new Set(['expired', 'rejected', 'user', 'idle'])

/** Reads an untrusted snapshot (from the channel or storage); undefined when malformed. */
export function parseSnapshot(value: unknown): Snapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const s = value as Record<string, unknown>
  if (!validGeneration(s['generation'])) return undefined
  if (s['status'] !== 'active' && s['status'] !== 'signed-out') return undefined
  if (!nullableNumber(s['issuedAt']) || !nullableNumber(s['accessExpiresAt']) || !nullableNumber(s['refreshExpiresAt'])) return undefined
  if (!optionalToken(s['accessToken']) || !optionalToken(s['refreshToken'])) return undefined
  if (s['status'] === 'active' && (typeof s['accessExpiresAt'] !== 'number' || typeof s['issuedAt'] !== 'number')) return undefined
  if (s['reason'] !== undefined && !REASONS.has(s['reason'] as string)) return undefined
  if (s['ending'] !== undefined && s['ending'] !== 'expired' && s['ending'] !== 'rejected') return undefined
  const snapshot: Snapshot = {
    generation: s['generation'],
    status: s['status'],
    issuedAt: s['issuedAt'] as number | null,
    accessExpiresAt: s['accessExpiresAt'] as number | null,
    refreshExpiresAt: s['refreshExpiresAt'] as number | null,
  }
  if (typeof s['accessToken'] === 'string') snapshot.accessToken = s['accessToken']
  if (typeof s['refreshToken'] === 'string') snapshot.refreshToken = s['refreshToken']
  if (typeof s['reason'] === 'string') snapshot.reason = s['reason'] as LogoutReason
  if (typeof s['ending'] === 'string') snapshot.ending = s['ending'] as 'expired' | 'rejected'
  if (typeof s['rotatingSince'] === 'number' && Number.isFinite(s['rotatingSince'])) snapshot.rotatingSince = s['rotatingSince']
  // The login's mark and the end's time only order a login against an older logout: a malformed one is dropped, not the state.
  const login = parseLogin(s['login'])
  if (login) snapshot.login = login
  if (s['status'] === 'signed-out' && typeof s['endedAt'] === 'number' && Number.isFinite(s['endedAt'])) snapshot.endedAt = s['endedAt']
  return snapshot
}

/** A login's mark from a peer: a short id and a finite time; undefined otherwise. */
function parseLogin(value: unknown): Snapshot['login'] {
  const { id, at } = Object(value) as Record<string, unknown>
  return typeof id === 'string' && id.length <= 64 && typeof at === 'number' && Number.isFinite(at) ? { id, at } : undefined
}

/** Validates a channel message; anything malformed or foreign is dropped. */
export function parseMessage(data: unknown): Message | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m['rotor'] !== 1 || typeof m['from'] !== 'string') return undefined
  const from = m['from']
  switch (m['type']) {
    case 'state': {
      const snapshot = parseSnapshot(m['snapshot'])
      if (!snapshot) return undefined
      return typeof m['answers'] === 'string' ? { rotor: 1, type: 'state', from, snapshot, answers: m['answers'] } : { rotor: 1, type: 'state', from, snapshot }
    }
    case 'rotating':
    case 'rotated':
    case 'rotate-request': {
      const generation = m['generation']
      if (!validGeneration(generation)) return undefined
      if (m['type'] === 'rotating') return { rotor: 1, type: 'rotating', from, generation }
      if (m['type'] === 'rotate-request') return { rotor: 1, type: 'rotate-request', from, generation }
      return typeof m['ok'] === 'boolean' ? { rotor: 1, type: 'rotated', from, generation, ok: m['ok'] } : undefined
    }
    case 'hello':
      return typeof m['call'] === 'string' ? { rotor: 1, type: 'hello', from, call: m['call'] } : { rotor: 1, type: 'hello', from }
    case 'activity':
      return typeof m['at'] === 'number' && Number.isFinite(m['at']) ? { rotor: 1, type: 'activity', from, at: m['at'] } : undefined
    case 'reauthenticating': {
      const { active, handover } = m
      if (typeof active !== 'boolean' || (handover !== undefined && handover !== 'expired' && handover !== 'rejected')) return undefined
      return handover === undefined ? { rotor: 1, type: 'reauthenticating', from, active } : { rotor: 1, type: 'reauthenticating', from, active, handover }
    }
    case 'trace-request':
    case 'trace':
      // The answer's `tab` and `entries` are checked by the one reader of them (trace/peers.ts).
      return typeof m['id'] === 'string' && (m['type'] === 'trace-request' || Array.isArray(m['entries'])) ? ({ ...m } as Message) : undefined
    default:
      return undefined
  }
}
