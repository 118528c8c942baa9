/** The refresh budget: the one limit every refresh call passes, whatever asked for it (timer, 401, peer, socket, clock jump). */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)

/** The limits, after validation (see `refreshBudget` in SessionOptions). */
export type BudgetLimits = { perLifetime: number; perMinute: number }

export const DEFAULT_BUDGET: BudgetLimits = { perLifetime: 3, perMinute: 6 }

const MINUTE_MS = 60_000
/**
 * Windows shorter than this are stretched to it: a lifetime of a few ms (noise on a 1 s AT,
 * a server answering `expires_in: 0.001`) must not allow hundreds of calls a second.
 */
export const MIN_LIFETIME_WINDOW_MS = 1000

/**
 * The cap per minute: `perMinute`, raised to `perLifetime` per AT lifetime for a server whose
 * ATs live so briefly that a healthy timer needs more (2 s ATs rotate every 1.6 s). An AT that
 * arrived expired, or whose lifetime is unknown, has no lifetime: then `perMinute` holds.
 */
export function perMinuteCap(limits: BudgetLimits, lifetime: number | undefined): number {
  if (lifetime === undefined || !(lifetime > 0)) return limits.perMinute
  return Math.max(limits.perMinute, Math.ceil((limits.perLifetime * MINUTE_MS) / Math.max(lifetime, MIN_LIFETIME_WINDOW_MS)))
}

/**
 * Start times of recent refresh calls, on the session's clock. Counted where the call is
 * made (the rotator, under the lock, after every adopt-instead check), so no trigger and no
 * forged message can add a call the budget did not allow: a storm is impossible by
 * construction, not by each caller's care.
 */
export class RefreshBudget {
  readonly #limits: BudgetLimits
  readonly #now: () => number
  /** `spent`: the call reached a verdict (tokens or a refusal); a transient failure did not. */
  #starts: Array<{ at: number; spent: boolean }> = []

  constructor(limits: BudgetLimits, now: () => number) {
    this.#limits = limits
    this.#now = now
  }

  /**
   * ms until a refresh may start (0: now), given the lifetime of the AT held (its expiry
   * minus its receipt; undefined when unknown).
   */
  wait(lifetime: number | undefined): number {
    const t = this.#now()
    // Bug zoo: no refresh budget (every trigger refreshed as often as it fired).
    if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('no-refresh-budget')) return 0
    // A clock set back must not leave past calls "in the future", out of every window for
    // as long as the jump: they count from now instead, so a budget is never lost to a jump.
    for (const start of this.#starts) start.at = Math.min(start.at, t)
    const lifeWindow = lifetime !== undefined && lifetime > 0 ? Math.max(lifetime, MIN_LIFETIME_WINDOW_MS) : MINUTE_MS
    this.#starts = this.#starts.filter(s => t - s.at < Math.max(lifeWindow, MINUTE_MS))
    // Calls that failed transiently count per minute only: the backoff already paces a failing
    // server, and retrying it must not wait a whole AT lifetime (its AT would expire first).
    const spent = this.#starts.filter(s => s.spent).map(s => s.at)
    const all = this.#starts.map(s => s.at)
    return Math.max(waitIn(spent, t, lifeWindow, this.#limits.perLifetime), waitIn(all, t, MINUTE_MS, perMinuteCap(this.#limits, lifetime)))
  }

  /** The limits, as a trace entry shows them. */
  get limits(): string {
    return `${this.#limits.perLifetime} per lifetime, ${this.#limits.perMinute} per minute`
  }

  /** A refresh call starts now; call the returned function if it fails transiently. */
  spend(): () => void {
    const start = { at: this.#now(), spent: true }
    this.#starts.push(start)
    return () => void (start.spent = false)
  }
}

/** ms until one more start fits `limit` within `window` (0: now); `starts` ascending. */
function waitIn(starts: number[], t: number, window: number, limit: number): number {
  const recent = starts.filter(s => t - s < window)
  if (recent.length < limit) return 0
  // The call that must leave the window before one more fits.
  return recent[recent.length - limit]! + window - t
}
