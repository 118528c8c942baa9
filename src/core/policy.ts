/** The rotation policy: the one place that decides "rotate, end, or wait?", and the backoff after a failed refresh. */
import type { DebugSink, Platform, Timer } from '../platform/types.js'
import { backoff } from '../utils/backoff.js'
import { Listeners } from '../utils/listeners.js'
import type { ClockWatch } from './clock-watch.js'
import type { RotationOutcomes, Rotator } from './rotator.js'
import type { SessionView } from './state.js'

/** The retry delays after consecutive transient failures: 1 s doubling up to 30 s, jittered. */
const RETRY_SHAPE = { initial: 1000, max: 30_000 }
/** The longest `Retry-After` a failed refresh's answer makes the session wait: a day, or a forged header, must not stop refreshing for good. */
export const RETRY_AFTER_MAX = 600_000

/** The last failure waiting requests may be told about, and when (the session's clock). */
export type Failure = { error: unknown; at: number }

/**
 * After a transient failure no new attempt goes until the retry timer fires (exponential,
 * with jitter, bounded); then whoever waits tries again. A success resets it. It also keeps
 * the last failure, which decides whether a waiting request's deadline is a RotationError.
 */
export class FailureBackoff implements RotationOutcomes {
  readonly #platform: Pick<Platform, 'after' | 'now' | 'random'>
  readonly #retries = new Listeners<void>()
  #failures = 0
  #retry: Timer | undefined
  #last: Failure | undefined
  #disposed = false

  constructor(platform: Pick<Platform, 'after' | 'now' | 'random'>) {
    this.#platform = platform
  }

  /**
   * A transient failure: the next attempt goes after the returned delay (ms), growing with each
   * failure, and never sooner than the server's `Retry-After` on it (bounded by RETRY_AFTER_MAX).
   */
  failed(error: unknown): number {
    this.stalled(error)
    if (this.#disposed) return 0
    // Read as a number only: a custom refresh function may throw anything with any `retryAfter`.
    const said = (error as { retryAfter?: unknown } | undefined)?.retryAfter
    const asked = typeof said === 'number' && said > 0 ? Math.min(RETRY_AFTER_MAX, said) : 0
    const delay = Math.max(asked, backoff(++this.#failures, RETRY_SHAPE, this.#platform.random))
    this.#retryIn(delay)
    return delay
  }

  /** The refresh is slow but still awaited: waiting requests count it as a failure, nothing is retried. */
  stalled(error: unknown): void {
    this.#last = { error, at: this.#platform.now() }
  }

  /** The refresh budget is spent: the next attempt goes in `ms` (no growth: nothing failed). */
  deferred(error: unknown, ms: number): void {
    this.stalled(error)
    if (!this.#disposed) this.#retryIn(ms)
  }

  succeeded(): void {
    this.#failures = 0
    this.#last = undefined
    this.#retry?.cancel()
    this.#retry = undefined
  }

  /** A failure is being backed off: no new attempt until the retry timer fires. */
  backingOff(): boolean {
    return this.#retry !== undefined
  }

  lastFailure(): Failure | undefined {
    return this.#last
  }

  /** Runs `listener` each time a backoff runs out; returns its undo. */
  onRetry(listener: () => void): () => void {
    return this.#retries.add(listener)
  }

  /** The session ended: no retry is owed (the count of failures stays, as the server's health does). */
  cancel(): void {
    this.#retry?.cancel()
    this.#retry = undefined
  }

  dispose(): void {
    this.#disposed = true
    this.cancel()
  }

  #retryIn(ms: number): void {
    this.#retry?.cancel()
    this.#retry = this.#platform.after(ms, () => {
      this.#retry = undefined
      this.#retries.emit()
    })
  }
}

export type RotationPolicyOptions = {
  view: SessionView
  /** The wall clock was set: deadlines are in doubt, ask the server instead of ending. */
  watch: Pick<ClockWatch, 'inDoubt' | 'lastJump' | 'bornAt' | 'jumpSeenAt'>
  /** Records a decision in the session's trace. */
  trace?: DebugSink
  rotation: 'timer' | 'request'
  /** Idle long enough that keep-alive rotations stop. */
  isIdle: () => boolean
  rotator: Pick<Rotator, 'rotateFrom' | 'endOrReauthenticate'>
  backoff: FailureBackoff
}

/**
 * Everything that may want a rotation (the timer, waiting requests, a peer, a clock jump, a
 * backoff that ran out) asks here, and only here is it decided whether to rotate, end the
 * session (both tokens dead), or wait (a failure is being backed off).
 */
export class RotationPolicy {
  readonly #options: RotationPolicyOptions
  /** A peer asked for a generation above this one and has not got it yet (see peerAsked). */
  #owed: number | undefined
  /** The generation end() last asked the server about instead of ending (once per state). */
  #asked: number | undefined

  constructor(options: RotationPolicyOptions) {
    this.#options = options
    let generation = options.view.snapshot.generation
    options.view.watch(transition => {
      // A retry is of the generation that failed: once a newer one came (a peer rotated, a login), it would rotate that young one for nothing (sim `--extended --no-locks` seed 30121: a budget's deferral ran out after a peer's rotation).
      if (transition === 'ended' || options.view.snapshot.generation > generation) options.backoff.cancel()
      generation = options.view.snapshot.generation
    })
    options.backoff.onRetry(() => {
      this.due()
      this.#serveOwed()
    })
  }

  /** Rotate from `generation` now, joining the rotation in flight (session.rotate()). */
  rotate(generation: number): Promise<void> {
    return this.#options.rotator.rotateFrom(generation)
  }

  /** Both tokens look dead: end (or reauthenticate), unless the clock jumped; then ask the server. */
  end(): Promise<void> {
    const { view, watch, rotator } = this.#options
    const { generation, issuedAt, rotatingSince } = view.snapshot
    // Issued before this tab's watch began, a jump meanwhile went unseen (sim seed 14078); issued before the last jump it saw, it was
    // measured on the clock before it, even if adopting it settled the doubt (189535). Ask once; a refusal ends it `rejected`.
    const unwatched = issuedAt !== null && issuedAt < Math.max(watch.bornAt, watch.jumpSeenAt) && this.#asked !== generation
    // A refresh under way (a cookie tab sent it; or a 2xx spent the RT, its grant a message behind) is no end, however dead the times look
    // after a clock set forward (sim `--worker --no-locks` seed 83752): the rotator waits for that answer, then re-authenticates or ends.
    if (rotatingSince) return rotator.rotateFrom(generation)
    if (!watch.inDoubt() && !unwatched) return rotator.endOrReauthenticate('expired')
    this.#asked = generation
    this.#options.trace?.('clock-probe', { jumpMs: Math.round(watch.lastJump) })
    return rotator.rotateFrom(generation)
  }

  /** The scheduler's timer (or a backoff) ran out: end a session whose tokens both died, or (timer mode, not idle) rotate. */
  due(): void {
    const { view, rotation, isIdle } = this.#options
    if (!this.#active()) return
    if (view.refreshExpired() && !view.usable()) return void this.end().catch(() => undefined)
    if (rotation === 'timer' && !isIdle()) this.#rotateQuietly()
  }

  /** The wall clock jumped: rotate now; the answer re-derives every deadline. */
  clockJumped(): void {
    if (!this.#active()) return
    this.#options.trace?.('clock-probe', { jumpMs: Math.round(this.#options.watch.lastJump) })
    this.#rotateQuietly()
  }

  /** Requests wait for an AT newer than the one held: rotate, or end when both tokens are dead; not while backing off. */
  requestsWaiting(): void {
    if (this.#options.backoff.backingOff()) return
    this.#rotateOrEnd()
  }

  /**
   * A peer (no lock across tabs: this tab leads) needs a generation above `generation`. It is
   * served like a waiting request: now, or when the backoff runs out, until a newer one exists.
   */
  peerAsked(generation: number): void {
    this.#owed = Math.max(this.#owed ?? generation, generation)
    this.#serveOwed()
  }

  /** The tab running reauthenticate() was disposed: this one takes the job over (the rotator re-reads the state). */
  handover(): void {
    this.#rotateQuietly()
  }

  #serveOwed(): void {
    const owed = this.#owed
    if (owed === undefined) return
    if (!this.#active() || this.#options.view.snapshot.generation > owed) return void (this.#owed = undefined)
    this.requestsWaiting()
  }

  #rotateOrEnd(): void {
    const { view } = this.#options
    if (view.refreshExpired() && !view.usable()) void this.end().catch(() => undefined)
    else this.#rotateQuietly()
  }

  /**
   * A rotation nobody awaits: its outcome is a transition (and a `rotate-error`), not a rejection. One that failed with no
   * retry armed (before any refresh: no leader answered, a peer's tokens never came) goes again after a backoff: nothing
   * else asks again in timer mode, and a session without requests was kept alive no more (sim `--extended --no-locks` seed
   * 100878). The worker's build drops it: see script-drops.test.ts.
   */
  #rotateQuietly(): void {
    void this.#options.rotator.rotateFrom(this.#options.view.snapshot.generation).catch((error: unknown) => {
      notInWorker: if (this.#active() && !this.#options.backoff.backingOff()) this.#options.backoff.failed(error)
    })
  }

  #active(): boolean {
    const { view } = this.#options
    return !view.disposed && view.snapshot.status === 'active'
  }
}
