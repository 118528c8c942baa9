/** Notices the wall clock being set (or a sleep the monotonic clock did not count), so that local expiry verdicts are checked with the server. */

/** A change of the wall clock against the monotonic one beyond this is a jump, not timer slack. */
export const JUMP_TOLERANCE_MS = 1500

/**
 * Deadlines are wall-clock epoch ms (every tab reads them from the shared state). When the
 * clock is set back by an hour, a rotation due now looks an hour away; set forward (or after a
 * sleep on a platform whose monotonic clock stops in suspend), both tokens look dead. Neither
 * verdict can be trusted, and the two causes of a forward jump cannot be told apart: after a
 * jump, the session asks the server (rotates) instead of waiting or logging out, and the
 * answer's lifetimes re-derive every deadline on the clock as it now is.
 */
export class ClockWatch {
  readonly #now: () => number
  readonly #monotonic: (() => number) | undefined
  /** Wall minus monotonic time at the last look. */
  #offset: number | undefined
  #doubt = false
  /** The last jump seen (ms, signed), for the trace. */
  #lastJump = 0
  /** When this watch began (wall clock): a jump before it went unseen. */
  readonly bornAt: number
  /** When the last jump was seen (wall clock, after it): a state issued before then was measured on the clock before it. */
  jumpSeenAt = Number.NEGATIVE_INFINITY

  /** Without a monotonic clock (or with an injected `now`, which tests move on purpose) nothing is ever a jump. */
  constructor(now: () => number, monotonic: (() => number) | undefined) {
    this.#now = now
    this.#monotonic = monotonic
    this.bornAt = now()
    this.#look()
  }

  #look(): number {
    if (!this.#monotonic) return 0
    const offset = this.#now() - this.#monotonic()
    const moved = this.#offset === undefined ? 0 : offset - this.#offset
    this.#offset = offset
    if (Math.abs(moved) <= JUMP_TOLERANCE_MS) return 0
    this.#doubt = true
    this.#lastJump = moved
    this.jumpSeenAt = this.#now()
    return moved
  }

  /** ms the wall clock jumped since the last look (0: no jump). */
  jumped(): number {
    return this.#look()
  }

  /** The last jump seen (ms; negative: set back). */
  get lastJump(): number {
    return this.#lastJump
  }

  /** A jump happened since the server last told us the lifetimes: local expiry verdicts are in doubt. */
  inDoubt(): boolean {
    this.#look()
    return this.#doubt
  }

  /** New tokens arrived (their deadlines were measured on the clock as it is now). */
  settled(): void {
    this.#look()
    this.#doubt = false
  }
}
