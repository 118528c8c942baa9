/** The simulator's invariants, each with a name and a one-line meaning, and the book-keeping they check against. */

/** Every invariant the simulator checks after every step, with what it means. */
export const INVARIANTS = {
  'rt-presented-twice': 'no RT is presented to the server again after its answer reached a client',
  'request-settles': 'every managed request settles (a response or a typed error) within its bound',
  'no-unasked-logout': 'no tab ends the session while the server holds a live RT a client received, unless the user asked',
  'no-live-rt-after-logout': 'after logout() resolves on a fault-free network, the server holds no live RT of the session',
  'refresh-budget':
    'refreshes granted stay within what the AT lifetime, rotate() calls and faults account for, and each session within its own budget where the API refuses every AT',
  converges: 'once faults stop, every live tab agrees on one status and generation',
  'stays-alive': 'in timer mode, after the quiet, a live tab of a session whose RT the server holds live has an AT at most one lifetime past its expiry',
  answered:
    'after the quiet, with every tab awake, one request from each live tab of a session whose RT the server holds live is answered 200 within the bound of a request (a wedge shows in request mode too)',
  'no-token-leak': 'no token appears in any event payload or error',
  'step-bound': 'a schedule ends within its step bound (no storm, no livelock)',
  'typed-errors': 'a call fails only with a RotorError, a documented refresh error (TimeoutError, HTTPError), its own AbortError, or a network TypeError',
  'lock-bounded':
    'a live, running tab holds the rotation lock no longer than its documented bound (every try with its late answer and delays, a marked login awaited, the login form)',
  'dispose-releases': 'a session disposed in a live page holds no Web Lock once a refresh it had on the wire is over (whatever its reauthenticate hook does)',
  'socket-auth-first': 'a socket sends no subscription or work on a connection before the server acknowledged its token (re-authenticate before queued work resumes)',
  'socket-reconnects-bounded': 'a socket or stream opens at most 20 connections in any 10 s, whatever the server does (no reconnect storm)',
  'socket-settles': 'every (re)connect of a socket or stream ends open or with a documented error reason within the bound of a request',
  'forged-request-ignored': 'a rotate-request for a generation no tab holds rotates nothing: no young RT is refreshed after one with no other reason since its mint',
} as const

export type InvariantName = keyof typeof INVARIANTS
export type Violation = { invariant: InvariantName; detail: string; at: number }

const TOKEN = /sim-(at|rt)-\d+-\d+/

/** What a value says when logged: its own text, its message, and its fields (errors' causes included). */
function text(value: unknown, depth = 0): string {
  if (depth > 4 || value === null || value === undefined) return String(value)
  if (typeof value !== 'object') return String(value)
  const parts: string[] = []
  if (value instanceof Error) parts.push(value.name, value.message, text((value as { cause?: unknown }).cause, depth + 1))
  for (const key of Object.keys(value)) parts.push(key, text((value as Record<string, unknown>)[key], depth + 1))
  return parts.join(' ')
}

/** Whether `value` (an event payload, an error) carries a token anywhere. */
export function carriesToken(value: unknown): boolean {
  return TOKEN.test(text(value))
}

/** A managed request in flight, with its deadline on virtual time. */
export type InFlight = { tab: string; label: string; startedAt: number; settled: boolean }

/** Collects violations; the first of each name is kept with its detail (a run stops at the first). */
export class Verdict {
  readonly violations: Violation[] = []

  fail(invariant: InvariantName, detail: string, at: number): void {
    this.violations.push({ invariant, detail, at })
  }

  get ok(): boolean {
    return this.violations.length === 0
  }

  /** Requests older than `bound` that have not settled. */
  checkRequests(inFlight: InFlight[], now: number, bound: number): void {
    for (const request of inFlight) {
      if (request.settled || now - request.startedAt <= bound) continue
      request.settled = true // reported once
      this.fail('request-settles', `${request.label} open for ${now - request.startedAt} ms (bound ${bound})`, now)
    }
  }
}

/** Counters of the server whose change is a reason to rotate a young RT: a fault drawn, a 401 served, a restart. */
export type Stirs = { faults: number; api401: number; restarts: number }

/**
 * Judges `forged-request-ignored` from outside (the forged messages posted, the user's actions,
 * the server's grants): a correct leader ignores a `rotate-request` for a generation no tab
 * holds, so a young RT (minted less than half an AT lifetime ago: no timer or expiry is due)
 * refreshed after such a request, with nothing else since its mint (no user action or other
 * forgery, no fault, no 401, no restart), was refreshed for the forger alone.
 */
export class ForgedRequestWatch {
  /** The last user action, fault or forgery that may ask for a rotation. */
  #stirredAt = -Infinity
  /** The last forged rotate-request for a generation no tab holds. */
  #forgedAt = -Infinity
  #stirs = ''
  readonly #youngMs: number

  constructor(youngMs: number) {
    this.#youngMs = youngMs
  }

  /** Something happened that may ask for a rotation (anything but a plain request or this forgery). */
  stirred(now: number): void {
    this.#stirredAt = now
  }

  /** A forged rotate-request for a generation no tab holds was posted. */
  forged(now: number): void {
    this.#forgedAt = now
  }

  /**
   * The last grant's answer reached no page (its tab crashed or reloaded with the call on the
   * wire): every session still holds the generation before it, whose timer may be due, so the
   * next refresh, presenting the young RT that grant minted, is explained (sim seed 73392).
   */
  grantLost(): void {
    this.#stirs = 'lost'
  }

  /**
   * The server granted a refresh presenting an RT minted `age` ms ago; `stirs`, its counters now;
   * `faulted`, this grant's call drew a fault. Such a grant's RT is one its holder may never have
   * read (a cookie lands with the headers of a 200 whose body hangs: the rotation fails, and its
   * retry presents that RT): its next refresh is explained (sim seeds 502589, 508106).
   */
  granted(verdict: Verdict, now: number, age: number, stirs: Stirs, faulted = false): void {
    const mintedAt = now - age
    const key = `${stirs.faults}/${stirs.api401}/${stirs.restarts}`
    const quiet = key === this.#stirs && this.#stirredAt < mintedAt
    this.#stirs = faulted ? 'faulted' : key
    if (!quiet || age >= this.#youngMs || this.#forgedAt < mintedAt) return
    verdict.fail('forged-request-ignored', `an RT minted ${age} ms ago refreshed after a forged rotate-request at ${this.#forgedAt}`, now)
  }
}
