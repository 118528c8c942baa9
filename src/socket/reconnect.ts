/** When a socket or stream reconnects after a failure: a capped exponential backoff with jitter, and the count of token refusals after which it gives up. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { defaultPlatform } from '../platform/defaults.js'
import { backoff } from '../utils/backoff.js'

/** A connection that stayed authenticated this long (or half its token's life, if shorter) proved its token worked. */
const PROVEN_AFTER_MS = 30_000
/** A connection that stayed up this long was no failure: the next one starts from the initial delay. */
const STABLE_AFTER_MS = 5_000

export type Backoff = { initial: number; max: number }

/** What to do about a refused token. */
export type RefusalVerdict =
  /** Give up: this many refusals in a row, each after a fresh rotation, are the server's problem. */
  | { giveUp: true; refusals: number }
  /** Report the generation to `session.authFailed` (once per generation), then reconnect after `delay` ms. */
  | { giveUp: false; refusals: number; report: boolean; delay: number }

/** The delay before retry number `n` under the socket's `backoff` option: the shared formula, drawn from the upper half (the name the socket's tests know). */
export { backoff as backoffDelay } from '../utils/backoff.js'

/**
 * True when a connection authenticated at `since` (its token expiring at `expiresAt`, same
 * clock) lived long enough for a refusal now to be news rather than a repeat. A server that
 * acknowledges and then refuses at once (a permission check after the handshake, a gateway
 * that disagrees with the API) never gets there; a token that simply ran out always does.
 */
export function proven(since: number | undefined, expiresAt: number | null, now: number): boolean {
  if (since === undefined) return false
  // An expiry not after `since` says nothing (the clocks disagree): it must not make every
  // refusal look like news, which would let the loop run unbounded again.
  const half = expiresAt === null || expiresAt <= since ? PROVEN_AFTER_MS : (expiresAt - since) / 2
  return now - since >= Math.min(PROVEN_AFTER_MS, half)
}

/**
 * One per socket or stream. Connection failures back off; token refusals are counted apart,
 * because a refusal costs a refresh and the loop "refresh, reconnect, refused" must end even
 * when every connection is acknowledged first (the server that acked and then closed 4401
 * made 634 refreshes in 6 s). The first refusal reconnects at once (the usual case: a token
 * cut as it expired); later ones back off; the `maxRefusals`-th closes for good.
 */
export class Reconnects {
  #failures = 0
  #refusals = 0
  /** The newest generation reported to the session: a repeat would rotate nothing. */
  #reported = -1

  readonly #backoff: Backoff
  readonly #maxRefusals: number
  /** Uniform in [0, 1): the jitter (the platform's random, or a test's). */
  readonly #random: () => number

  constructor(shape: Backoff, maxRefusals: number, random: () => number = defaultPlatform().random) {
    this.#backoff = shape
    this.#maxRefusals = maxRefusals
    this.#random = random
  }

  /** A connection failed (not a refusal): the delay before the next attempt. */
  failed(): number {
    // Bug zoo: no backoff, every failed connection retried at once (a reconnect storm against a refusing server).
    if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('socket-no-backoff')) return 0
    return backoff(++this.#failures, this.#backoff, this.#random)
  }

  /**
   * A connection acknowledged (or a stream opened) at `since` ended at `now`. Only one that
   * lasted starts the counts over: resetting at the acknowledgement let a server that
   * acknowledges and closes at once hold every delay at `initial`, and every refusal at "first".
   */
  ended(since: number | undefined, expiresAt: number | null, now: number): void {
    if (since !== undefined && now - since >= STABLE_AFTER_MS) this.#failures = 0
    if (proven(since, expiresAt, now)) this.#refusals = 0
  }

  /** The token in use outlived its rotation (handed over, or left for the new one): it worked. */
  cured(): void {
    this.#failures = 0
    this.#refusals = 0
  }

  /** The token of `generation` was refused. */
  refused(generation: number): RefusalVerdict {
    const refusals = ++this.#refusals
    // Bug zoo: refusals never counted, each reconnecting at once (the server that acknowledged and closed 4401 made 634 refreshes in 6 s).
    const unbounded = typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('socket-refusals-unbounded')
    if (refusals >= this.#maxRefusals && !unbounded) return { giveUp: true, refusals }
    const report = generation > this.#reported
    if (report) this.#reported = generation
    return { giveUp: false, refusals, report, delay: refusals === 1 || unbounded ? 0 : backoff(refusals - 1, this.#backoff, this.#random) }
  }
}
