/** Rotation: one refresh at a time under the coordinator's lock, once per generation everywhere (a dead RT goes to relogin.ts: `reauthenticate` once, or the end). */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { LeaseLostError, RefreshBudgetError, RefreshRefusedError, RotationPendingError, SessionExpiredError } from '../errors.js'
import type { Coordinator, Lease, Snapshot } from '../coordinator/types.js'
import type { DebugSink } from '../platform/types.js'
import type { Tokens } from './grant.js'
import { Relogin, type ReloginOptions } from './relogin.js'
import type { RefreshBudget } from './budget.js'
import type { RefreshCall } from './refresh.js'
import type { SessionMachine } from './state.js'
import type { Sync } from './sync.js'
import type { Clock } from '../utils/timers.js'
import { LoginElsewhere, newer, type Newer } from './login-elsewhere.js'
import { leftOf } from './deadlines.js'

/** What a trace entry says of a failed refresh: its HTTP status (if any), its error's code, else its name (never its message: it may quote the server). */
type Failed = { status?: unknown; code?: unknown; name?: unknown } | undefined

/** How long a lock holder waits for the tokens of a generation another tab already published. */
const TOKENS_IN_FLIGHT_MS = 1000
/** How long a lock holder listens for other tabs' newer state before it refreshes (see Sync.probe). */
const PROBE_MS = 60

/** What the rotator reports to whoever paces the next attempt. */
export type RotationOutcomes = {
  /** A transient failure: returns when the next attempt goes (ms). */
  failed(error: unknown): number
  succeeded(): void
  /** Slow, still awaited: waiting requests count it, nothing is retried. */
  stalled(error: unknown): void
  /** The budget is spent: the next attempt goes in `ms`. */
  deferred(error: unknown, ms: number): void
}

export type RotatorOptions = {
  machine: SessionMachine
  sync: Sync
  lock: Coordinator['lock']
  now: () => number
  /** Timers, for waiting on another tab's login. */
  clock: Clock
  /** Longest a lock holder waits for the login another tab owes before it takes it over (queueTimeout). */
  loginWaitMs: number
  transport: 'cookie' | 'bearer'
  /** The refresh call, with everything but the per-call parts bound. */
  refresh: (call: Pick<RefreshCall, 'refreshToken' | 'signal' | 'onRetry' | 'onSlow' | 'onAnswered'>) => Promise<Tokens>
  isTransient: (error: unknown) => boolean
  /** Mark the RT dead in the shared state when a refresh's 2xx headers arrive, before its body (see session.ts). */
  markSpent: boolean
  /** Ask the other tabs before refreshing: bearer tokens shared by message only, peers present. */
  probeFirst: () => boolean
  /**
   * Cookie transport: how long a refresh recorded in the shared state by a tab that is gone
   * (reloaded mid-refresh) may still complete; 0 where nothing can complete without its tab.
   */
  inFlightLimitMs: number
  reauthenticate: ReloginOptions['reauthenticate']
  revoke?: ReloginOptions['revoke'] | undefined
  /** Every refresh call passes it, whatever asked for the rotation. */
  budget: RefreshBudget
  /** Told every outcome (the policy's FailureBackoff): a failure returns when the next attempt goes. */
  backoff: RotationOutcomes
  /** Records a decision in the session's trace. */
  trace?: DebugSink
}

export class Rotator {
  readonly #options: RotatorOptions
  /** Consecutive failed attempts since the last success, for `rotate-error`'s `attempt`. */
  #failures = 0
  /** A newer generation the store announced whose tokens no tab answered with (see #rotateLocked). */
  #unclaimed: number | undefined
  /** The generation the rotation in flight rotates from. */
  #from = 0
  /** This tab holds the rotation lock now (granted, not yet released): a dispose may have a refresh to finish. */
  holding = false
  readonly #loginElsewhere: LoginElsewhere
  readonly #relogin: Relogin

  constructor(options: RotatorOptions) {
    this.#options = options
    this.#loginElsewhere = new LoginElsewhere(options.machine, options.clock, options.now)
    this.#relogin = new Relogin(options)
  }

  /**
   * Single-flight: every caller joins the rotation in flight. One from an older generation ends
   * once it finds this one, without refreshing it: the caller's rotation goes after it (sim
   * `--worker --extended` seed 134868: the worker's session, its login form open under the lock,
   * adopted a tab's live RT; the rotations asked meanwhile joined that flight, which ended as the
   * form was dismissed, and nothing rotated the RT after).
   */
  rotateFrom(generation: number): Promise<void> {
    const { machine } = this.#options
    const inFlight = machine.flight('rotation')
    if (inFlight)
      return this.#from < generation
        ? inFlight.then(() => (machine.snapshot.status === 'active' && machine.snapshot.generation <= generation ? this.rotateFrom(generation) : undefined))
        : inFlight
    this.#from = generation
    const rotation = this.#rotateLocked(generation)
    machine.track('rotation', rotation)
    return rotation
  }

  async #rotateLocked(generation: number): Promise<void> {
    const { machine, trace, now } = this.#options
    const life = machine.life
    const asked = now()
    trace?.('lock-asked', { refresh: true, generation })
    await this.#options.lock(
      async lease => {
        trace?.('lock-granted', { waitedMs: now() - asked })
        this.holding = true
        try {
          await this.#rotateHolding(generation, life, lease)
        } finally {
          this.holding = false
          trace?.('lock-released')
        }
        // Where tabs share no lock, only the leader may run this; the others wait for its state.
      },
      { refresh: true, generation },
    )
  }

  /** Holding the lock: adopt another tab's rotation, take over its re-authentication, or refresh. */
  async #rotateHolding(generation: number, life: AbortSignal, lease: Lease | undefined): Promise<void> {
    const { machine } = this.#options
    const settled = (await this.#settledElsewhere(generation, life)) ?? (await this.#refreshInFlightElsewhere(machine.snapshot, generation))
    if (settled === 'rotated') return
    // Another tab found the RT dead since this rotation began: no rotation, but its login owed (its outcome, or take it over).
    if (settled === 'marked' && (await this.#loginElsewhere.outcome(this.#options.loginWaitMs, generation)) === 'rotated') return
    if (life.aborted) throw life.reason
    const snap = machine.snapshot
    // A tab that owed a re-authentication went away before it finished: take it over.
    if (snap.ending) return this.#relogin.endLocked(snap.ending, generation)
    await this.#refreshLocked(snap, generation, life, lease)
  }

  /**
   * Holding the lock: 'rotated' when another tab has rotated (or is about to publish its rotation)
   * since `generation`, and this tab adopted its state instead of refreshing ('marked': it found
   * the RT dead instead). A second refresh with the same RT makes a rotating-RT server revoke the family.
   */
  async #settledElsewhere(generation: number, life: AbortSignal): Promise<Newer> {
    const { machine, sync } = this.#options
    const unseen = await sync.catchUp()
    if (life.aborted) throw life.reason
    const snap = machine.snapshot
    if (snap.status !== 'active') throw new SessionExpiredError(snap.reason ?? 'expired')
    if (snap.generation > generation) return newer(machine.snapshot, generation)
    if (unseen) {
      // Another tab rotated and its tokens (bearer: by message only) have not arrived: ask
      // for them (this tab may have missed the message: frozen, or joined late) and wait;
      // refreshing now would present the RT that tab just spent.
      // The whole wait, even once every live tab answered: the tab that rotated may have closed with its state still on the channel.
      await sync.probe(TOKENS_IN_FLIGHT_MS, false)
      if (machine.snapshot.generation > generation) return newer(machine.snapshot, generation)
      // Asked twice, a probe apart and after a backoff, and no live tab holds it: its tokens
      // exist nowhere (a forged write, or a tab that died mid-rotation). Waiting would wedge
      // rotation until reload: refresh ourselves (within the budget) instead.
      if (this.#unclaimed !== unseen.generation) {
        this.#unclaimed = unseen.generation
        throw new RotationPendingError('rotor-auth: another tab rotated and its tokens have not reached this one yet')
      }
    }
    // The tab that held the lock before us said it was rotating. It posted its new state
    // just before it released the lock, but a browser delivers the lock and the message by
    // different paths (and localStorage across tabs lags too): the lock may come first.
    // Refreshing now would be a needless rotation with cookies, and present the RT that tab
    // just spent with bearer tokens. (No tab said so: no wait.) With cookies, a tab gone with its
    // refresh on the wire (reloaded) says nothing more, but its call lands: waited for as long as
    // a recorded one (#refreshInFlightElsewhere), from when it was heard (sim seed 45637: no
    // `persist`, the next holder presented the RT after a second, and the gone page's call came after).
    await sync.awaitElsewhere(generation, TOKENS_IN_FLIGHT_MS, this.#options.inFlightLimitMs)
    // Bearer tokens travel by message only: ask the peers before presenting the RT, even when no
    // rotation was announced here. A tab that was frozen, or lost the announcement, cannot know
    // one happened, and skipping the probe then presented an RT a peer had spent (sim seed 4517:
    // a frozen bearer tab, thawed by a request, refreshed with the RT its peer had rotated).
    if (this.#options.probeFirst()) await sync.probe(PROBE_MS)
    return newer(machine.snapshot, generation)
  }

  /**
   * A tab reloaded (or closed) while its refresh was on the wire: that refresh goes on
   * (keepalive) and its answer stores the new RT cookie. Presenting the cookie before then
   * presents the RT the server just spent. 'rotated' when its rotation arrived meanwhile.
   * Marked (a bearer 2xx spent the RT, sim seed 630), its grant may be a message behind the lock.
   */
  async #refreshInFlightElsewhere(snap: Snapshot, generation: number): Promise<Newer> {
    const { sync, machine } = this.#options
    const recorded = snap.rotatingSince
    const limit = snap.ending ? TOKENS_IN_FLIGHT_MS : this.#options.inFlightLimitMs
    const wait = leftOf(limit, recorded, this.#options.now())
    if (wait <= 0) return undefined
    await sync.awaitNewer(snap.generation, wait)
    await sync.catchUp()
    return newer(machine.snapshot, generation)
  }

  /** Holding the lock, nobody else rotated: present the RT (within the budget, while the lock is held) and publish the answer. */
  async #refreshLocked(snap: Snapshot, generation: number, life: AbortSignal, lease: Lease | undefined): Promise<void> {
    const { machine, sync, budget, backoff } = this.#options
    // The one place every refresh passes: past the budget nothing is sent, whoever asked.
    const lifetime = snap.accessExpiresAt === null || snap.issuedAt === null ? undefined : snap.accessExpiresAt - snap.issuedAt
    const budgetWait = budget.wait(lifetime)
    if (budgetWait > 0) {
      this.#options.trace?.('budget-reached', { limit: budget.limits, deferMs: Math.round(budgetWait) })
      const error = new RefreshBudgetError(budgetWait)
      backoff.deferred(error, budgetWait)
      this.#report(error, true, budgetWait)
      throw error
    }
    let tokens: Tokens
    let unspent: (() => void) | undefined
    try {
      // A lock that ran out under this tab (a paused process outlived its lease) may be held
      // by another member now: presenting the RT could spend it twice. Asked last, right before.
      // Only a Lease counts: a custom coordinator may hand its lock's own object (Web Locks pass a Lock).
      if (typeof lease?.held === 'function' && !lease.held() && !(typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('lease-unchecked'))) {
        this.#options.trace?.('lease-lost', { generation })
        throw new LeaseLostError()
      }
      unspent = budget.spend()
      this.#options.trace?.('rotation-started', { generation: snap.generation, attempt: this.#failures + 1 })
      sync.rotating(snap.generation)
      if (this.#options.inFlightLimitMs > 0) await sync.markRotating(this.#options.now())
      tokens = await this.#options.refresh({
        refreshToken: snap.refreshToken,
        signal: life,
        onRetry: (error, retryIn) => this.#report(error, true, retryIn),
        // Still awaited, under the lock: no second refresh while this one is outstanding.
        onSlow: error => {
          backoff.stalled(error)
          this.#report(error, true)
        },
        // A 2xx spent the RT: marked dead before its body, which may never come (sim seed 630); the grant replaces the mark.
        onAnswered: this.#options.markSpent ? () => sync.markEnding('rejected', snap.generation) : undefined,
      })
    } catch (error) {
      if (unspent) {
        this.#options.trace?.('rotation-answered', {
          ok: false,
          generation: snap.generation,
          status: (error as Failed)?.status,
          error: String((error as Failed)?.code ?? (error as Failed)?.name ?? 'Error'),
        })
        sync.rotated(snap.generation, false)
        if (this.#options.inFlightLimitMs > 0) await sync.markRotating(undefined)
      }
      if (life.aborted) throw life.reason
      if (!this.#options.isTransient(error) && !this.#rtMayCome(error, snap)) {
        // "RT already used" may only mean another tab rotated first: check before ending.
        await sync.catchUp()
        if (newer(machine.snapshot, generation) === 'rotated') return
        this.#report(error, false)
        // The verdict is recorded before the lock is released: the next tab in line must read "ended" (or the new login), never "active" and present the refused RT again.
        // Bug zoo: the refusal race (the verdict recorded after the lock was released).
        if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('refusal-race'))
          return void sync.probe(PROBE_MS).then(() => this.#relogin.endLocked('rejected', generation).catch(() => undefined))
        return this.#relogin.endLocked('rejected', generation)
      }
      unspent?.()
      this.#report(error, true, backoff.failed(error))
      throw error
    }
    // A late answer never revives a session that ended while it was in flight, here or in
    // another tab whose logout message may not have arrived yet (the store has it).
    if (life.aborted) throw life.reason
    await sync.catchUp()
    if (machine.snapshot.status !== 'active') throw new SessionExpiredError(machine.snapshot.reason ?? 'expired')
    this.#failures = 0
    backoff.succeeded()
    if (await this.#supersededBy(snap, tokens)) return
    await sync.publish(tokens, 'rotate')
    this.#options.trace?.('rotation-answered', { ok: true, generation: machine.snapshot.generation })
  }

  /**
   * Another tab's login came while this refresh was out: that login is the session now. Published,
   * this older login's pair would go out under the new login's name, and the new one would stay
   * live at the server, held by no tab (sim seed 425704). A bearer pair is held by this tab alone:
   * revoked. (With cookies the answer's cookie is the jar's now: published, as it is all there is.)
   */
  async #supersededBy(snap: Snapshot, tokens: Tokens): Promise<boolean> {
    if (this.#options.transport !== 'bearer' || this.#options.machine.snapshot.login?.id === snap.login?.id) return false
    this.#options.trace?.('rotation-answered', { ok: true, generation: snap.generation, superseded: true })
    await this.#options.revoke?.(tokens)
    return true
  }

  /**
   * No RT held (status 0: nothing was sent), no server refused anything: a worker run started
   * after the browser killed the one that held the RT, or a tab that fell back from it. While
   * the AT lives, a tab holding the family's RT (its own login) may still bring it to the new
   * run (docs/guides/worker.md): a transient failure, the end only at the AT's expiry. Ended at
   * once, the session ended everywhere 3 s after the kill while that tab held a live RT (sim
   * seed 101699). An AT issued "after now" says the clock was set back since: its life cannot be
   * read on this clock, and waited for, a dead AT held every request as long as the jump (sim
   * `--worker` seed 2966).
   */
  #rtMayCome(error: unknown, snap: Snapshot): boolean {
    const now = this.#options.now()
    return error instanceof RefreshRefusedError && error.status === 0 && snap.accessExpiresAt !== null && now < snap.accessExpiresAt && !(snap.issuedAt! > now)
  }

  #report(error: unknown, willRetry: boolean, retryIn?: number): void {
    const event = { error, willRetry, attempt: ++this.#failures, ...(retryIn === undefined ? {} : { retryIn: Math.round(retryIn) }) }
    this.#options.machine.emit('rotate-error', event)
  }

  /** Both tokens expired: reauthenticate once, or end. */
  endOrReauthenticate(reason: 'expired'): Promise<void> {
    return this.#relogin.endOrReauthenticate(reason)
  }

  /** This tab is being disposed: a reauthenticate() running here is told to stop, and handed over. */
  dispose(): void {
    this.#relogin.dispose()
  }
}
