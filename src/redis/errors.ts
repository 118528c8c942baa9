/** The Redis coordinator's own error: what Redis holds for the name cannot be trusted, and is treated as absent. */
import { RotorError } from '../errors.js'

/**
 * Why a stored (or published) state was set aside:
 * - `unreadable`: none of the configured keys opens it — sealed with another key (a key
 *   rotated without listing the old one), written by an older rotor-auth, edited, or not
 *   Rotor's at all. It is treated as absent; this process's next write replaces it.
 * - `rolled-back`: it opens, but it is older than a state this process has already seen (an
 *   old sealed value put back): it is not adopted, and this process writes back the newer one.
 */
export type RedisStateProblem = 'unreadable' | 'rolled-back'

/** Handed to the coordinator's `error` listeners (`coordinator.on('error', …)`); never thrown at a request. */
export class RedisStateError extends RotorError {
  readonly code = 'ERR_REDIS_STATE' as const
  override readonly name = 'RedisStateError'
  readonly problem: RedisStateProblem
  /** The name whose state it is (never a token: nothing read from Redis is quoted). */
  readonly stateName: string

  constructor(problem: RedisStateProblem, stateName: string) {
    super(
      problem === 'unreadable'
        ? `rotor-auth/redis: the state stored for "${stateName}" cannot be opened with any configured key (sealed with another key, edited, or not Rotor's); treated as absent`
        : `rotor-auth/redis: the state stored for "${stateName}" is older than one this process has seen (an old value put back); not adopted`,
    )
    this.problem = problem
    this.stateName = stateName
  }
}

/** A call that waited on the Redis coordinator (for the lock, or for Redis to answer) was cut short by `close()` (its session was disposed). */
export class RedisClosedError extends RotorError {
  readonly code = 'ERR_COORDINATOR_CLOSED' as const
  override readonly name = 'RedisClosedError'
}

/**
 * A write lost its compare-and-set to other writers every time it tried (a writer without the
 * key can keep it losing): transient, the session's next write tries again.
 */
export class RedisConflictError extends RotorError {
  readonly code = 'ERR_REDIS_CONFLICT' as const
  override readonly name = 'RedisConflictError'
}
