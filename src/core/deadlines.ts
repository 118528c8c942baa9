/** Every deadline the session derives from its timing options, computed in this one place. */

/**
 * An attempt unanswered after `refreshTimeout` is not abandoned: the server may be about to
 * accept the RT, and a second refresh with it would make the server revoke the family. The
 * session stops waiting (a `rotate-error`, waiting requests count it) but keeps the lock and
 * takes the late answer if it comes; only after this many timeouts is the answer taken for lost.
 */
export const LATE_ANSWER_FACTOR = 3

/** The timing options' defaults (see SessionOptions). */
export const DEFAULT_TIMING = { queueTimeout: 30_000, refreshTimeout: 10_000, refreshRetries: 2 } as const

/** The timing options a deadline is derived from. */
export type Timing = { queueTimeout: number; refreshTimeout: number; refreshRetries: number }

/** The timing options as given, each left out one filled with its default (the page's options and the worker's config alike). */
export function timingOf(options: Partial<Timing>): Timing {
  return {
    queueTimeout: options.queueTimeout ?? DEFAULT_TIMING.queueTimeout,
    refreshTimeout: options.refreshTimeout ?? DEFAULT_TIMING.refreshTimeout,
    refreshRetries: options.refreshRetries ?? DEFAULT_TIMING.refreshRetries,
  }
}

/**
 * Longest a refresh may take anywhere, every retry's late answer awaited, plus a second of
 * slack: a tab closed mid-rotation never says it is done, so its claim runs out after this.
 */
export function rotationLimitMs(timing: Timing): number {
  return timing.refreshTimeout * LATE_ANSWER_FACTOR * (timing.refreshRetries + 1) + 1000
}

/** Where tabs share no lock, how long a follower waits for the leader's rotation: as long as a request waits. */
export function followerLimitMs(timing: Timing): number {
  return timing.queueTimeout
}

/**
 * Cookie transport: how long a refresh recorded in the shared state by a tab that is gone (a
 * reload mid-refresh) may still complete and store the new RT cookie (its `keepalive` request
 * goes on). Bearer tokens travel in answers no gone tab can pass on: 0, nothing to wait for.
 */
export function inFlightLimitMs(timing: Timing, transport: 'cookie' | 'bearer'): number {
  return transport === 'cookie' ? timing.refreshTimeout : 0
}

/**
 * What is left of `limit` since `since` (none recorded: 0), never more than `limit`: a stamp
 * from before the wall clock was set back lies in the future (sim seed 75255 waited 697 s under the lock).
 */
export function leftOf(limit: number, since: number | undefined, now: number): number {
  return since === undefined ? 0 : Math.min(limit, since + limit - now)
}
