/** Claims on the rotation lock of tabs without Web Locks: who claims it until when, as heard on the election channel, each lapsing on the platform's clock. */
import type { SessionExpiredError } from '../errors.js'
import type { Platform } from '../platform/types.js'
import type { sleep, Waiters } from '../utils/until.js'

/** How long a claim listens for a competing one before it holds (a message crosses tabs in ~1 ms). */
export const CLAIM_WINDOW_MS = 50

/**
 * A claim stops counting after this long without word from its holder. Any page of the origin
 * can post a claim: a forged one costs the others this much, not the whole hold limit. A live
 * holder loses nothing by it: it answers the next claim with `held`, which counts afresh.
 */
export const CLAIM_SILENT_MS = 10_000

/** The claim protocol on the election channel (unchanged on the wire since round 2). */
export type ClaimMessage =
  { rotorLock: 1; t: 'claim'; id: string; at: number } | { rotorLock: 1; t: 'held'; id: string; to: string } | { rotorLock: 1; t: 'release'; id: string }

/** Reads an untrusted message of the election channel; undefined when it is no claim message. */
export function parseClaim(data: unknown): ClaimMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m['rotorLock'] !== 1 || typeof m['id'] !== 'string') return undefined
  if (m['t'] === 'claim' && typeof m['at'] === 'number') return m as ClaimMessage
  if (m['t'] === 'held' && typeof m['to'] === 'string') return m as ClaimMessage
  if (m['t'] === 'release') return m as ClaimMessage
  return undefined
}

export type ClaimsOptions = {
  /** The page's sleep and errors (leader-lock.ts's kit). */
  kit: { sleep: typeof sleep; SessionExpiredError: typeof SessionExpiredError }
  /** This tab's id on the election channel. */
  id: string
  /** `now` dates this tab's claims for the others (one clock for all tabs); lapses count on `monotonic` where there is one. */
  clock: Pick<Platform, 'now' | 'after'> & { monotonic?: Platform['monotonic'] }
  /** Woken whenever a claim is dropped; the lock's other waits share it. */
  waiters: Waiters
  /** Posts on the election channel (settles even when the channel is gone); false: this tab is in no room (it left the page, or is rejoining), so nobody heard it. */
  post: (message: ClaimMessage) => Promise<boolean>
  /** The longest another tab's claim counts in all, however often its holder renews it. */
  holdLimitMs: number
  /** How long a claim counts without a word from its holder. */
  silentMs: number
  /** The lock was released (the session disposed): nothing may be acquired any more. */
  closed: () => boolean
}

/**
 * Before it runs, a holder posts a claim and listens for CLAIM_WINDOW_MS: a tab holding the
 * lock answers `held`, and of two claims the earlier (then the lower id) wins. The loser
 * withdraws and waits for the winner's `release` (or for its claim to lapse), then claims again.
 */
export class Claims {
  readonly #o: ClaimsOptions
  /** Claims of other tabs that hold (or compete for) the lock: id → since when, and until when it counts. */
  readonly #others = new Map<string, { since: number; until: number }>()
  #mine: { at: number; lost: boolean } | undefined
  #holding = false
  /**
   * The clock claims lapse on: a claim heard before the wall clock was set back would otherwise
   * count for as long as the jump, and its holder long gone, no tab rotated (sim `--no-locks` seed
   * 7801: a lapse 543 s away held the leader's rotation and every request).
   */
  readonly #elapsed: () => number

  constructor(options: ClaimsOptions) {
    this.#o = options
    this.#elapsed = options.clock.monotonic ?? options.clock.now
  }

  /** This tab holds the lock (between acquire and release). */
  get holding(): boolean {
    return this.#holding
  }

  /**
   * What to post when this tab leaves the channel: a holder must not leave the others waiting on
   * it. Nor must a claim still in its window when the tab leaves the page (`withdraw`): every other
   * tab counted it, and would wait out the silence limit for a tab that is gone (measured: a tab
   * closed mid-claim held ten tabs' rotations for 10 s, bench/latency.ts). Withdrawn, it is lost:
   * back on the page, the tab claims afresh. A rejoin (a duplicate leader) keeps it: the tab stays.
   */
  farewell(withdraw: boolean): ClaimMessage | undefined {
    const claiming = withdraw && this.#mine !== undefined
    if (claiming) this.#mine!.lost = true
    return this.#holding || claiming ? { rotorLock: 1, t: 'release', id: this.#o.id } : undefined
  }

  /** A message heard on the election channel (anything but a claim message is ignored). */
  hear(data: unknown): void {
    const m = parseClaim(data)
    const { id } = this.#o
    if (!m || m.id === id) return
    if (m.t === 'release') {
      this.#others.delete(m.id)
      this.#o.waiters.wake()
    } else if (m.t === 'held') {
      if (m.to !== id) return
      this.#counts(m.id)
      if (this.#mine) this.#mine.lost = true
    } else {
      this.#counts(m.id)
      const mine = this.#mine
      if (this.#holding) void this.#o.post({ rotorLock: 1, t: 'held', id, to: m.id })
      else if (mine && (m.at < mine.at || (m.at === mine.at && m.id < id))) mine.lost = true
    }
  }

  /** Resolves holding the lock; waits for other holders first. */
  async acquire(): Promise<void> {
    const { clock, id, kit } = this.#o
    const deadline = this.#elapsed() + this.#o.holdLimitMs
    for (;;) {
      if (this.#o.closed()) throw new kit.SessionExpiredError('disposed')
      if (this.#live()) {
        // Someone holds: wait for its release (or its claim to lapse), then try again.
        const lapse = Math.min(...[...this.#others.values()].map(o => o.until)) - this.#elapsed()
        await this.#o.waiters.until(() => !this.#live() || this.#o.closed(), Math.max(10, lapse))
        continue
      }
      const claim: { at: number; lost: boolean } = (this.#mine = { at: clock.now(), lost: false })
      // Heard by nobody (out of the room), a claim excludes nobody: it never holds, and is made again.
      if (!(await this.#o.post({ rotorLock: 1, t: 'claim', id, at: claim.at }))) claim.lost = true
      await kit.sleep(clock.after, CLAIM_WINDOW_MS)
      this.#mine = undefined
      if (!claim.lost) {
        this.#holding = true
        return
      }
      // Withdraw, so that nobody waits on a claim that lost.
      await this.#o.post({ rotorLock: 1, t: 'release', id })
      if (this.#elapsed() > deadline) this.#others.clear()
    }
  }

  /** Ends this tab's hold and tells the others. */
  async release(): Promise<void> {
    this.#holding = false
    await this.#o.post({ rotorLock: 1, t: 'release', id: this.#o.id })
  }

  /** `other` claims the lock: it counts for the silence limit from now, never past the hold limit from its first word. */
  #counts(other: string): void {
    const now = this.#elapsed()
    const since = this.#others.get(other)?.since ?? now
    this.#others.set(other, { since, until: Math.min(since + this.#o.holdLimitMs, now + this.#o.silentMs) })
  }

  /** Whether another tab's claim still counts (lapsed ones are dropped). */
  #live(): boolean {
    const now = this.#elapsed()
    for (const [other, { until }] of this.#others) if (until <= now) this.#others.delete(other)
    return this.#others.size > 0
  }
}
