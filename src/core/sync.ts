/** The cross-tab protocol over the coordinator: publish our state, adopt the others', join, and the rotating flag. */
import type { DebugSink } from '../platform/types.js'
import type { Coordinator, LogoutReason, Message, Origin, Snapshot } from '../types.js'
import type { Clock } from '../utils/timers.js'
import { plausible, SIGNED_OUT, supersedes } from '../coordinator/protocol.js'
import type { Tokens } from './grant.js'
import { RollCall } from './roll-call.js'
import { rotateRequests } from './rotate-requests.js'
import { RotationNews } from './rotation-news.js'
import { ReauthFlag } from './reauth-flag.js'
import { SpentTokens } from './spent.js'
import { EndedLogins, endOf, newerSession, outlives, owes } from './login-order.js'
import type { SessionMachine } from './state.js'
import { Listeners } from '../utils/listeners.js'
import { InTurn } from '../utils/in-turn.js'
import { settled, when } from '../utils/when.js'
import { Waiters } from '../utils/until.js'

/** How long a joining bearer tab waits for a peer to hand it the tokens. */
const JOIN_WAIT_MS = 300
export { REMOTE_FLAG_MS } from './reauth-flag.js'

export type SyncOptions = {
  coordinator: Coordinator
  machine: SessionMachine
  clock: Clock
  now: () => number
  transport: 'cookie' | 'bearer'
  /** Whether other sessions may share this one's name (false: crossTab off, nothing to join). */
  shared: boolean
  /** Longest a refresh may take anywhere: a tab closed mid-rotation never says it is done. */
  rotatingTimeout: number
  /** Records a decision in the session's trace. */
  trace?: DebugSink
  /** Another tab asks for this one's trace, or answers (src/trace/peers.ts). */
  onTraceMessage?: (message: Message) => void
  /** Ids for the lock holder's roll calls and for logins (the platform's randomId). */
  randomId?: () => string
}

export class Sync {
  readonly #options: SyncOptions
  readonly #unsubscribe: () => void
  readonly #news: RotationNews
  /** Hashes of RTs this tab held and moved past, with their expiry: a snapshot that brings one back is a replay. */
  readonly #spent: SpentTokens
  readonly #reauthFlag: ReauthFlag
  readonly #endedLogins = new EndedLogins()
  /** What this tab writes after reading the store, one at a time: two logins at once on Redis both read generation 0 and wrote 1. */
  readonly #writes = new InTurn()
  /** A peer's hello heard with nothing to tell it (the login's state on its way): answered once a session is adopted, or that peer stays signed out (sim seed 198742). */
  #helloOwed = false
  readonly #activity = new Listeners<number>()
  readonly #handovers = new Listeners<void>()
  readonly #rotateRequests = new Listeners<number>()
  /** Weighs a peer's rotate-request (rotate-requests.ts). */
  readonly #rotateRequested: (generation: number) => void
  /** Waits on this tab's state (#until), re-checked at every change. */
  readonly #changes: Waiters
  readonly #rollCall: RollCall
  /** Asked the peers at construction (bearer tokens only they hold): join() does not ask again. */
  readonly #asked: boolean

  constructor(options: SyncOptions) {
    this.#options = options
    this.#news = new RotationNews(options)
    this.#reauthFlag = new ReauthFlag(options)
    this.#spent = new SpentTokens(options.now)
    this.#changes = new Waiters((ms, fn) => options.clock.after(ms, fn))
    this.#rotateRequested = rotateRequests({
      ...options,
      answer: () => this.#answer(),
      catchUp: () => this.catchUp(),
      rotate: generation => this.#rotateRequests.emit(generation),
    })
    this.#rollCall = new RollCall({ ...options, waiters: this.#changes, held: () => options.machine.snapshot })
    const offChange = options.machine.on('change', () => (this.#rollCall.holding(), this.#changes.wake()))
    const offMessages = options.coordinator.subscribe(message => this.#receive(message))
    // Asked now, the peers answer while the rest of the session is built (a joining bearer tab's first request waits for it).
    this.#asked = options.shared && options.transport === 'bearer' && options.coordinator.sharesTokens === 'message'
    if (this.#asked) options.coordinator.post({ type: 'hello' })
    this.#unsubscribe = () => (offMessages(), offChange())
  }

  /** Another tab's user activity (at `at`, epoch ms); returns the undo. */
  onActivity(listener: (at: number) => void): () => void {
    return this.#activity.add(listener)
  }

  /** A tab that was re-authenticating was disposed first: this one may take the job. */
  onHandover(listener: () => void): () => void {
    return this.#handovers.add(listener)
  }

  /** This tab leads, and another needs a generation above the one given (no lock across tabs). */
  onRotateRequest(listener: (generation: number) => void): () => void {
    return this.#rotateRequests.add(listener)
  }

  /** A new tab joins the running session without rotating. */
  join(): void {
    const { coordinator, machine } = this.#options
    const joined = when(coordinator.read(), shared => this.#joinFrom(shared))
    if (joined instanceof Promise) machine.track('joining', settled(joined)) // an asynchronous store (a worker, Redis): requests hold until its answer is in
  }

  #joinFrom(shared: Snapshot | undefined): void {
    const { machine, now, transport } = this.#options
    if (shared && shared.status === 'active' && !(shared.refreshExpiresAt !== null && now() >= shared.refreshExpiresAt)) {
      this.adopt(shared, 'store')
    } else if (shared && !this.#refused(shared)) {
      // The generation counter stays monotonic across a logout and the next login. (A forged leap is no logout to number above: a tab that took one stayed signed out for good, sim seed 504059.)
      this.#endedLogins.hear(shared)
      machine.end({ ...SIGNED_OUT, generation: shared.generation, ...endOf(shared, now()) }, 'remote')
      this.#rollCall.holding() // an end that was no change (signed out already, a later logout): named all the same
    }
    if (machine.snapshot.status === 'active' || !this.#options.shared) return
    if (transport === 'bearer' && shared?.status === 'active') {
      // Tokens are not in storage: ask the peers, and hold requests briefly for the answer.
      const joining = this.#until(state => state.status === 'active', JOIN_WAIT_MS)
      machine.track('joining', joining)
    }
    if (!this.#asked) this.#options.coordinator.post({ type: 'hello' })
  }

  /** Resolves once this tab's state meets `condition` (checked at every `change`), or after `ms`. */
  #until(condition: (state: Snapshot) => boolean, ms: number): Promise<void> {
    return this.#changes.until(() => condition(this.#options.machine.snapshot), ms).then(() => undefined)
  }

  /** Adopts whatever newer state the store holds (another tab's rotation or logout); resolves with a newer one it could not adopt (bearer tokens still on their way by message). */
  catchUp(): Promise<Snapshot | undefined> {
    return Promise.resolve(this.#options.coordinator.read()).then(shared => {
      if (!shared) return undefined
      this.adopt(shared, 'store')
      const held = this.#options.machine.snapshot
      return supersedes(shared, held) && !this.#refused(shared) && !outlives(held, shared) ? shared : undefined
    })
  }

  /** Asks the other tabs for their state and waits `ms` for newer answers, or (`early`) until every live tab answered (bearer tokens travel by message only). */
  probe(ms: number, early = true): Promise<void> {
    const generation = this.#options.machine.snapshot.generation
    return this.#rollCall.call(ms, () => this.#options.machine.snapshot.generation > generation, early)
  }

  /** Resolves once this tab holds a generation above `generation`, or after `ms`. */
  awaitNewer(generation: number, ms: number): Promise<void> {
    return this.#options.machine.snapshot.generation > generation ? Promise.resolve() : this.#until(state => state.generation > generation, ms)
  }

  /** Resolves once the rotation another tab announced delivered (a generation above `generation`) or failed, or after `ms` (or `limit` from when it was heard, if later); at once when none was announced. */
  awaitElsewhere(generation: number, ms: number, limit = 0): Promise<void> {
    const { machine } = this.#options
    if (!machine.rotatingElsewhere || machine.snapshot.generation > generation) return Promise.resolve()
    return this.#until(state => state.generation > generation || !machine.rotatingElsewhere, Math.max(ms, this.#news.heardFor(limit)))
  }

  /** Takes a newer state (another tab's rotation, login or logout) heard by message or read from the store. */
  adopt(snapshot: Snapshot, source: 'store' | 'message' = 'message'): void {
    const { machine, transport, coordinator } = this.#options
    // A login heard to end comes back (a stale tab that missed its logout): its end is the answer, above it, here too; written as told, or a store left holding that login (the worker's, tokens and all) welcomed the next tab into it (sim seed 210921).
    const end = plausible(snapshot, machine.snapshot) ? this.#endedLogins.hear(snapshot, machine.snapshot) : undefined
    if (end) return void (settled(Promise.resolve(coordinator.write(end))), coordinator.post({ type: 'state', snapshot: end }), this.adopt(end))
    if (!supersedes(snapshot, machine.snapshot) || this.#refused(snapshot)) return
    // An older session's logout this login could not be numbered above (nothing stored): ours goes above it.
    if (outlives(machine.snapshot, snapshot)) return void settled(Promise.resolve(this.#renumber(snapshot)))
    machine.setRemoteReauth(false)
    if (snapshot.status === 'signed-out') return void (this.#news.clear(), machine.end(snapshot, 'remote'), this.#rollCall.holding())
    // The bearer transport cannot use a snapshot without tokens (one read back from storage when tokens are not persisted): wait for a peer's message instead.
    if (transport === 'bearer' && snapshot.accessToken === undefined) return
    if (machine.snapshot.status === 'active') {
      if (machine.rotatingElsewhere) this.#options.trace?.('rotation-waited', { generation: snapshot.generation, outcome: 'adopted' })
      this.#options.trace?.('rotation-adopted', { generation: snapshot.generation, origin: source })
    }
    this.#news.clear()
    this.#enter(snapshot, 'remote', 'adopt')
    if (this.#helloOwed) this.#answer()
  }

  /** A forged or replayed state (any same-origin script can post and write storage) must not wedge the counter near its limit or move this tab back onto an RT it already spent. */
  #refused(snapshot: Snapshot): boolean {
    return !plausible(snapshot, this.#options.machine.snapshot) || (snapshot.refreshToken !== undefined && this.#spent.has(snapshot.refreshToken))
  }

  /** The store's generation where it may count (not a forged leap), for numbering what we write. */
  #base(stored: Snapshot | undefined): number {
    return stored && !this.#refused(stored) ? stored.generation : 0
  }

  /** Applies new tokens from this tab and tells every other tab (a login dated `madeAt`, start()'s call, else now); false (nothing written) when `life` ended first. */
  publish(tokens: Tokens, how: 'login' | 'rotate', life?: AbortSignal, madeAt?: number): boolean | Promise<boolean> {
    const { coordinator, machine, now } = this.#options
    // One write at a time; a login written again (below) stays this one's turn, at most twice more (forged marks could keep coming).
    let again = 0
    const attempt = (made: number | undefined): boolean | Promise<boolean> =>
      when(coordinator.read(), base => {
        if (life?.aborted) return false
        const current = machine.snapshot
        const snapshot: Snapshot = {
          generation: Math.max(current.generation, this.#base(base)) + 1,
          status: 'active',
          issuedAt: tokens.issuedAt,
          accessExpiresAt: tokens.accessExpiresAt,
          refreshExpiresAt: tokens.refreshExpiresAt,
        }
        const login = how === 'login' ? { id: this.#options.randomId?.() ?? String(now()), at: made ?? now() } : current.login
        if (login !== undefined) snapshot.login = login
        if (tokens.accessToken !== undefined) snapshot.accessToken = tokens.accessToken
        const refreshToken = tokens.refreshToken ?? (how === 'rotate' ? current.refreshToken : undefined) // an RT-less refresh answer (some OAuth2 servers) keeps the RT we had
        if (refreshToken !== undefined) snapshot.refreshToken = refreshToken
        return when(coordinator.write(snapshot), () => {
          // Newer adopted while an asynchronous store wrote (two logins written at once, numbered above both by the worker: sim seed 118848): it stands, but an older login's mark, which owes this login (see owes): this login goes again, above it. The worker's own store is synchronous.
          notInWorker: if (supersedes(machine.snapshot, snapshot)) return owes(machine.snapshot, snapshot) && again++ < 2 ? attempt(login!.at) : true
          coordinator.post({ type: 'state', snapshot })
          this.#news.published()
          this.#enter(snapshot, 'local', how)
          if (tokens.skew) machine.emit('clock-skew', tokens.skew)
          return true
        })
      })
    return this.#writes.run(() => attempt(madeAt))
  }

  /** Ends the session here and in every tab: at once here (at the generation a synchronous store writes; an asynchronous one's, a step above ours); the shared end is above every generation known anywhere, so no tab can take it for old news. */
  publishEnd(reason: LogoutReason): void | Promise<void> {
    const { coordinator, machine } = this.#options
    if (machine.snapshot.status !== 'active') return
    const { generation: local } = machine.snapshot
    const ended = endOf(machine.snapshot, this.#options.now())
    const signedOut = (generation: number): Snapshot => ({ ...SIGNED_OUT, generation, reason, ...ended })
    this.#news.clear()
    const shared = this.#writes.run(() =>
      when(coordinator.read(), stored => {
        // A disposed tab finishing its last refresh hears no tab: a newer session in the store is not this end's (ended above it, every tab dropped that login while it lived: sim `--no-locks --extended` seed 100070), so here alone, below it. The worker's session is never disposed: dropped there.
        notInWorker: if (machine.disposed && newerSession(stored, machine.snapshot)) return void machine.end(signedOut(local), 'local')
        const snapshot = signedOut(Math.max(local, this.#base(stored)) + 1)
        this.#endedLogins.hear(snapshot)
        if (machine.snapshot.status === 'active') machine.end(snapshot, 'local')
        return when(coordinator.write(snapshot), () => coordinator.post({ type: 'state', snapshot }))
      }),
    )
    if (machine.snapshot.status === 'active') machine.end(signedOut(local + 1), 'local')
    return shared
  }

  /** Records, under the lock, that this generation's RT is dead and re-authentication is owed: the next holder of the lock re-authenticates instead of presenting the RT again (once: a session already marked, or over, is left as it is). `spent`: a 2xx spent the RT of that generation, its grant (a generation above) on its way since now: marked at this generation, which supersedes the unmarked one (another tab's login adopted meanwhile is not marked: sim seed 425704). */
  markEnding(reason: 'expired' | 'rejected', spent?: number): void | Promise<void> {
    const { generation, status, ending } = this.#options.machine.snapshot
    if (status !== 'active' || ending || (spent !== undefined && spent !== generation)) return
    // Queued behind a login (or a logout): that generation is not the one found dead.
    const mark = (held: Snapshot, top: number): Snapshot =>
      spent !== undefined ? { ...held, ending: reason, rotatingSince: this.#options.now() } : { ...held, generation: top + 1, ending: reason }
    return this.#amend((held, top) => (held.generation === generation && held.status === 'active' ? mark(held, top) : undefined))
  }

  /** Publishes the session held again above `ended`, an older session's logout (see outlives): the tab that told us adopts ours. */
  #renumber(ended: Snapshot): void | Promise<void> {
    // Numbered above it meanwhile (another tab of this session did it), or over: nothing to do.
    return this.#amend((held, top) => (supersedes(ended, held) && outlives(held, ended) ? { ...held, generation: Math.max(top, ended.generation) + 1 } : undefined))
  }

  /** Writes, posts and enters (no rotation) what `next` makes of the held state above `top`, the highest generation known (undefined: nothing), one write at a time. */
  #amend(next: (held: Snapshot, top: number) => Snapshot | undefined): void | Promise<void> {
    const { coordinator, machine } = this.#options
    return this.#writes.run(() =>
      when(coordinator.read(), stored => {
        const snapshot = next(machine.snapshot, Math.max(machine.snapshot.generation, this.#base(stored)))
        if (!snapshot) return
        return when(coordinator.write(snapshot), () => {
          coordinator.post({ type: 'state', snapshot })
          this.#enter(snapshot, 'local', 'mark')
        })
      }),
    )
  }

  /** Records in the shared store (not by message: live tabs hear `rotating`) that this tab's refresh of the current generation is on the wire since `since`, or no longer (undefined). */
  markRotating(since: number | undefined): void | Promise<void> {
    const { rotatingSince: _, ...snapshot } = this.#options.machine.snapshot
    return this.#options.coordinator.write(since === undefined ? snapshot : { ...snapshot, rotatingSince: since })
  }

  // What this tab tells the others: its re-authentication, its rotation begun and ended, its user's activity.
  reauthenticating(active: boolean, handover?: 'expired' | 'rejected'): void {
    this.#reauthFlag.post(active, handover)
  }
  rotating(generation: number): void {
    this.#news.started(generation)
  }
  rotated(generation: number, ok: boolean): void {
    this.#news.failed(generation, ok)
  }
  activity(at: number): void {
    this.#options.coordinator.post({ type: 'activity', at })
  }

  close(): void {
    // Bearer tokens travel by message only: a tab going away tells its newest pair, which a tab behind may have from nowhere else (sim seed 20582), unless the store says a newer state exists: that pair's RT is spent, and a tab that joined with nothing would present it (seed 1479).
    if (this.#asked) when(this.#options.coordinator.read(), stored => void (stored && supersedes(stored, this.#options.machine.snapshot) ? 0 : this.#answer()))
    this.#unsubscribe()
    this.#news.clear()
    this.#reauthFlag.close()
  }

  #receive(message: Message): void {
    const { machine } = this.#options
    if (machine.disposed) return
    switch (message.type) {
      case 'state':
        this.adopt(message.snapshot)
        this.#rollCall.heard(message)
        return
      case 'rotating':
        return this.#news.heard(message.generation)
      case 'rotated':
        return this.#news.clear()
      case 'hello':
        return this.#answer(message.call, message.call === undefined && this.#options.transport === 'cookie')
      case 'rotate-request':
        return this.#rotateRequested(message.generation)
      case 'activity':
        this.#activity.emit(message.at)
        return
      case 'trace-request':
      case 'trace':
        return this.#options.onTraceMessage?.(message)
      case 'reauthenticating':
        this.#reauthFlag.heard(message.active)
        if (message.handover) this.#handovers.emit()
        return
    }
  }

  /** Enters `snapshot`, remembering the RT this tab moves past. */
  #enter(snapshot: Snapshot, origin: Origin, how: 'login' | 'rotate' | 'adopt' | 'mark'): void {
    this.#spent.leave(this.#options.machine.snapshot, snapshot)
    this.#options.machine.enter(snapshot, origin, how)
  }

  /** Tells an asking tab what this one holds: active, or signed out past generation 0 (what a login must pass: sim seed 248). */
  #answer(call?: string, relay = false): void {
    const { snapshot } = this.#options.machine
    // Owed until a session can be told (one answer however many hellos came: bounded by us, not them).
    this.#helloOwed = snapshot.status !== 'active'
    const silent = typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('signed-out-silent') // bug zoo: the silent signed-out tab
    if (snapshot.status === 'active' || (snapshot.generation > 0 && !silent)) this.#options.coordinator.post({ type: 'state', snapshot, answers: call })
    this.#news.repeat(relay)
  }
}
