/** The rotation lock where tabs share no exclusive lock (no Web Locks: plain-http origins): only the elected leader refreshes, and the others ask it. */
import type { RotationPendingError, SessionExpiredError } from '../errors.js'
import type { Platform } from '../platform/types.js'
import type { sleep, Waiters } from '../utils/until.js'
import type { Channel } from './channel.js'
import { CLAIM_SILENT_MS, Claims } from './claims.js'
import { Election, packageRoom, type OpenRoom } from './election.js'
import type { farAhead } from './protocol.js'
import type { Mutex } from './realm.js'
import type { LockOptions, Message, Snapshot } from './types.js'

/** A follower repeats its request this often: a leader elected meanwhile never heard the first. */
const REQUEST_EVERY_MS = 1000

/** What the leader lock asks of the platform. */
export type LeaderPlatform = Pick<Platform, 'now' | 'after' | 'random' | 'randomId' | 'on'> & Partial<Pick<Platform, 'debug' | 'election' | 'monotonic'>>

/**
 * What this chunk shares with the page, handed over by the page (locks.ts's LEADER_KIT) rather
 * than imported: esbuild puts every module both import in chunks of their own, which every page
 * then downloads as extra files (measured: 622 B min+gzip of every page's main chunk).
 */
export type LeaderKit = {
  Waiters: typeof Waiters
  sleep: typeof sleep
  farAhead: typeof farAhead
  SessionExpiredError: typeof SessionExpiredError
  RotationPendingError: typeof RotationPendingError
}

export type LeaderLockOptions = {
  /** The page's errors and helpers (locks.ts's LEADER_KIT). */
  kit: LeaderKit
  name: string
  /** The platform channel of the session protocol: requests go out on it, state comes in. */
  channel: Channel
  /** The shared store (localStorage here): a follower wakes when it moves past what it had. */
  read: () => Snapshot | undefined
  /** The realm's mutex: one holder among the sessions of this tab. */
  mutex: Mutex
  /** The longest another tab's claim counts in all, however often its holder renews it. */
  holdLimitMs: number
  /** How long a follower waits for a new state before its rotation fails (transiently). */
  followerLimitMs: number
  /** How long a claim counts without a word from its holder (default CLAIM_SILENT_MS; tests shorten it). */
  claimSilentMs?: number
  /** Clock, timers, ids and page events: the session's platform. */
  platform: LeaderPlatform
  /** How this tab joins the election (default: the broadcast-channel package on the platform's channel). */
  openRoom?: OpenRoom
}

/**
 * Two layers, because messages are all these tabs share: the election (election.ts) says who
 * leads, and only the leader ever refreshes; the claims (claims.ts) keep holders exclusive
 * while two tabs briefly both believe they lead. A follower that needs a rotation posts
 * `rotate-request` with the newest generation it knows and waits until a newer state arrives
 * (then it takes the claims and adopts instead of presenting a spent RT) or it becomes the leader, at most
 * `followerLimitMs`.
 */
export class LeaderLock {
  readonly #o: LeaderLockOptions
  readonly #platform: LeaderPlatform
  readonly #waiters: Waiters
  readonly #claims: Claims
  readonly #election: Election
  readonly #unsubscribe: () => void
  /** The newest generation seen in a state message that was not far ahead. */
  #seen = 0
  #closed = false

  constructor(options: LeaderLockOptions) {
    this.#o = options
    const platform = (this.#platform = options.platform)
    const waiters = (this.#waiters = new options.kit.Waiters(platform.after))
    const claims = (this.#claims = new Claims({
      kit: options.kit,
      id: platform.randomId(),
      clock: platform,
      waiters,
      post: message => this.#election.post(message),
      holdLimitMs: options.holdLimitMs,
      silentMs: options.claimSilentMs ?? CLAIM_SILENT_MS,
      closed: () => this.#closed,
    }))
    this.#unsubscribe = options.channel.subscribe(message => this.#heard(message))
    this.#election = new Election({
      name: `${options.name}:leader`,
      platform,
      sleep: options.kit.sleep,
      open: options.openRoom ?? platform.election ?? packageRoom(),
      hear: data => claims.hear(data),
      elected: () => {
        platform.debug?.('election-won')
        waiters.wake()
      },
      holding: () => claims.holding,
      farewell: withdraw => claims.farewell(withdraw),
    })
  }

  lock<T>(fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    // Only a refresh must come from the leader; the rest (an ending, the idle logout)
    // presents no RT twice and needs exclusion only.
    return this.#o.mutex.run(() => (options?.refresh && !this.isLeader() ? this.#asFollower(fn, options.generation) : this.#claimed(fn)))
  }

  isLeader(): boolean {
    return !this.#closed && this.#election.isLeader()
  }

  release(): void {
    if (this.#closed) return
    this.#closed = true
    this.#waiters.wake()
    this.#unsubscribe()
    this.#election.close()
  }

  #heard(message: Message): void {
    if (message.type !== 'state') return
    // A forged far-ahead generation must not become the one followers ask for forever.
    const { generation } = message.snapshot
    if (generation > this.#seen && !this.#o.kit.farAhead(generation, this.#known())) this.#seen = generation
    // After the session's own listener has adopted it (it runs later in the same dispatch).
    queueMicrotask(() => this.#waiters.wake())
  }

  /** The newest generation this tab knows: the store's or the newest state heard. */
  #known(): number {
    return Math.max(this.#o.read()?.generation ?? 0, this.#seen)
  }

  /** Runs `fn` holding the claims: one holder among the tabs, the leader or a follower that heard of a newer state. */
  async #claimed<T>(fn: () => Promise<T>): Promise<T> {
    await this.#claims.acquire()
    try {
      return await fn()
    } finally {
      await this.#claims.release()
      this.#election.released()
    }
  }

  /**
   * A follower's turn: ask the leader for a generation above `from` (the one the rotation is to
   * supersede; by default the newest this tab knows of), and run `fn` once a newer state is here
   * (it adopts it) or we lead. Asked for the newest known instead, a leader that had just rotated
   * past the follower's own generation rotated once more for a state the follower was about to
   * adopt (sim seed 503223: two refreshes 128 ms apart).
   */
  async #asFollower<T>(fn: () => Promise<T>, from?: number): Promise<T> {
    // A span: on the monotonic clock, or a wall clock set back would stretch the limit by the jump.
    const now = this.#platform.monotonic ?? this.#platform.now
    const { SessionExpiredError, RotationPendingError } = this.#o.kit
    const deadline = now() + this.#o.followerLimitMs
    if (!this.isLeader()) this.#platform.debug?.('election-lost', { leader: 'another tab' })
    for (;;) {
      if (this.#closed) throw new SessionExpiredError('disposed')
      if (this.isLeader()) return this.#claimed(fn)
      const known = from ?? this.#known()
      this.#o.channel.post({ type: 'rotate-request', generation: known })
      const newer = () => this.#known() > known
      await this.#waiters.until(() => newer() || this.isLeader() || this.#closed, Math.min(REQUEST_EVERY_MS, Math.max(0, deadline - now())))
      // Newer news is no licence to skip the lock: the session may refuse that state (forged, or
      // a bearer state without its tokens) and refresh after all, beside the leader (sim seed 3331).
      if (newer()) return this.#claimed(fn)
      if (now() >= deadline && !this.isLeader()) {
        throw new RotationPendingError('rotor-auth: no tab rotated the session (the leading tab did not answer)')
      }
    }
  }
}

export function createLeaderLock(options: LeaderLockOptions): LeaderLock {
  return new LeaderLock(options)
}
