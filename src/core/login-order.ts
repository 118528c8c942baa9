/** Orders a fresh login against an older session's logout when generations cannot: each state names its login, and a signed-out one says when it ended. */
import { plausible, supersedes } from '../coordinator/protocol.js'
import type { Snapshot } from '../types.js'

/**
 * Why generations are not enough: a tab that finds nothing stored (no `persist`, or a garbled
 * store) numbers its login from 0, while a tab frozen meanwhile may hold an older session's
 * logout at a higher generation; told of it (an answer to `hello`), the new session took it for
 * its own end (sim seed 993927). A logout must still win over any state of the login it ended,
 * however late that state speaks (a tab opened as another logged out never hears the logout).
 */

/** True when `stored`, read from the store, is a session newer than `held` (a login or a rotation since: active, not marked) and no forged leap. */
export function newerSession(stored: Snapshot | undefined, held: Snapshot): boolean {
  return stored?.status === 'active' && !stored.ending && stored.generation > held.generation && plausible(stored, held)
}

/** What a signed-out state records of the session `held` it ends at `at`: its login, and the time. */
export function endOf(held: Snapshot, at: number): Pick<Snapshot, 'login' | 'endedAt'> {
  const endedAt = held.status === 'signed-out' ? held.endedAt : at
  if (endedAt === undefined) return {}
  return held.login === undefined ? { endedAt } : { login: held.login, endedAt }
}

/**
 * True when `held`, an active session, outlives `ended`, a signed-out state numbered above it:
 * `ended` ended another login (never this one: a logout of this login always wins, at any
 * time and whatever the clocks say), and it ended before this login was made, so it cannot be
 * the user's answer to it. A state missing either mark (a tab of an earlier version, which
 * drops them) outlives nothing: the logout wins, as it always did.
 *
 * The times are two tabs' wall clocks (one clock in a browser): a clock set back between the
 * old logout and the new login makes the login look older, and the logout wins (the safe way
 * to be wrong: the user logs in again).
 */
export function outlives(held: Snapshot, ended: Snapshot): boolean {
  const { login } = held
  if (held.status !== 'active' || login === undefined || ended.status !== 'signed-out' || ended.endedAt === undefined) return false
  return ended.login?.id !== login.id && ended.endedAt < login.at
}

/**
 * True when `mark`, a state whose RT is dead and which owes a login (`ending`), belongs to a login
 * older than `login`'s: `login` is the one it owes. A tab frozen as its user signed in numbers the
 * login from what it knew, below the mark it hears on resume (sim `--worker --no-locks --extended`
 * seed 30199: the login was dropped for the mark, and the session ended while it lived).
 */
export function owes(mark: Snapshot, login: Snapshot): boolean {
  const [a, b] = [mark.login, login.login]
  return !!(mark.ending && !login.ending && a && b && a.id !== b.id && a.at < b.at)
}

/** How many ended logins a tab remembers: more than a tab sees end in its life, bounded against forgeries. */
const REMEMBERED = 16

/**
 * The logins this tab heard end, each with the state that ended it: a logout is final for its
 * login, so a state of one of them is a stale tab's (one that missed the logout, then outlived
 * an older logout: see outlives), never news. The tab answers it with that end, above it.
 */
export class EndedLogins {
  readonly #ended = new Map<string, Snapshot>()

  /**
   * Takes in a state heard: remembers the login a signed-out one names (the latest REMEMBERED);
   * for one that revives a login heard to end, above `held`, returns that end numbered above it.
   */
  hear(state: Snapshot, held?: Snapshot): Snapshot | undefined {
    const id = state.login?.id
    if (id === undefined) return undefined
    if (state.status === 'active') {
      const end = this.#ended.get(id)
      return end && (!held || supersedes(state, held)) ? { ...end, generation: Math.max(end.generation, state.generation) + 1 } : undefined
    }
    this.#ended.delete(id)
    this.#ended.set(id, state)
    for (const oldest of this.#ended.keys()) if (this.#ended.size > REMEMBERED) this.#ended.delete(oldest)
    return undefined
  }
}
