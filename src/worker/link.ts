/** A tab's link to the rotation worker: connects, falls back to the page's coordinator when the worker is lost, and rejoins it (loaded on demand, with the worker client). */
import type { ReplaceableCoordinator } from '../coordinator/replaceable.js'
import type { Store } from '../coordinator/store.js'
import type { Coordinator, LockOptions, Snapshot } from '../coordinator/types.js'
import type { WorkerCoordinator } from '../coordinator/worker.js'
import type { Config } from '../core/options.js'
import type { Timer } from '../platform/types.js'
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { clientKit, type ClientKit, type LinkKit } from './client-kit.js'
import { REJOIN_FIRST_MS, type FormLogin, type ReauthGrant } from './protocol.js'
import { connectTab } from './tab.js'
import { twoHolders } from './two-logins.js'

export type ViaWorkerOptions = {
  cfg: Config & { worker: URL; channelName: string }
  /** The coordinator the session has without the worker. */
  local: () => Coordinator
  /** The worker cannot serve this tab (or stopped): the session goes on with `local()`. */
  onFallback: (reason: string) => void
  onStorageError: (error: unknown, cleared: boolean) => void
  /** The session's logout call, for a login this tab's form made that the worker never took and the session does not start on. */
  revoke: (tokens: { accessToken?: string; refreshToken?: string }) => unknown
  /** The session's start(), for a login this tab's form made at `at` that the worker never took (the worker was lost first). */
  login: (grant: ReauthGrant, at: number) => Promise<void>
}

/** A user's logout waiting for the next connection (WorkerLink #logoutAgain), and its answer once asked. */
type PendingLogout = { held: Snapshot | undefined; sent?: Promise<void> }

/**
 * How often a tab that lost the worker tries it again: the first try about a second later,
 * then doubling up to every 30 s, for as long as the session lives. Only a worker that stopped
 * answering (killed by the browser, hung, or silent while this page was frozen) is tried
 * again: a refusal, a missing script or a browser without SharedWorker stays as it is.
 */
const REJOIN = { initial: REJOIN_FIRST_MS, max: 30_000 }

/**
 * The tab's link to the worker: connects, falls back to the page's coordinator, and rejoins.
 * A tab on the page's coordinator and the tabs on the worker never hear each other, so a
 * fallen-back tab tries the worker again and, once welcomed, the newer of the two states
 * wins on both sides. Never two RT holders: the tab rejoins only while it holds no lock of
 * the page's coordinator; and (bearer) where both hold an RT, one side's is dropped: the login
 * started last wins (see {@link twoHolders}).
 */
export class WorkerLink {
  readonly coordinator: ReplaceableCoordinator
  readonly #o: ViaWorkerOptions
  readonly #store: Store | undefined
  /** The page's coordinator while the session runs on it. */
  #local: Coordinator | undefined
  /** Tries of the worker since the tab last had it. */
  #tries = 0
  #retry: Timer | undefined
  /** The page's errors and helpers (via-worker.ts's LINK_KIT). */
  readonly #kit: ClientKit

  constructor(o: ViaWorkerOptions, store: Store | undefined, coordinator: ReplaceableCoordinator, kit: LinkKit) {
    this.#o = o
    this.#kit = clientKit(kit)
    this.#store = store
    this.coordinator = coordinator
    coordinator.keep = keepTokens
    // Disposed while it waits to try the worker again: no timer outlives the session.
    coordinator.onClose(() => this.#retry?.cancel())
    const logout = coordinator.logout.bind(coordinator)
    coordinator.logout = held => (logout(held) ?? Promise.reject(new this.#kit.WorkerError('the worker was lost'))).catch(error => this.#logoutAgain(held, error))
  }

  /** A user's logout the worker is to take from the next connection, before the rejoin tells it the end (see #logoutAgain); `sent`: its answer. */
  #logoutFirst: PendingLogout | undefined

  /**
   * A user's logout the worker could not take, lost on the way (a run that gave this tab up as silent while its page was frozen) or
   * before, where it may answer again: the run may hold an RT this tab never had (a login another tab's form made there). The logout
   * goes to a new connection once more, asked before the rejoin tells the run the end: told the end first, the run holds no session
   * whose RT it could revoke, and that login stayed live (sim `--worker --extended --no-locks` seed 177092). Bounded by the connect
   * timeout; the session then calls the endpoint with what this tab holds, as it did (`error` goes on to it).
   */
  #logoutAgain(held: Snapshot | undefined, error: unknown): Promise<void> {
    if (!this.#transient || !this.#local || this.coordinator.closed) return Promise.reject(error)
    const pending: PendingLogout = (this.#logoutFirst = { held })
    this.#retry?.cancel()
    const connected = (this.#first ??= this.connect().finally(() => (this.#first = undefined)))
    return connected
      .then(() => pending.sent)
      .finally(() => this.#logoutFirst === pending && (this.#logoutFirst = undefined))
      .then(() => Promise.reject(error))
  }

  /** A form's login being started on the page's coordinator (see #formLogin): a rejoin waits for it. */
  #starting: Promise<unknown> | undefined

  connect(): Promise<void> {
    // After the form's login is in the page's store: the run's own end (it knew no login) would otherwise reach the tab first (sim seed 1962).
    return Promise.resolve(this.#starting).then(() =>
      connectTab({
        cfg: this.#o.cfg,
        store: this.#store,
        kit: this.#kit,
        fallbackLock: (fn, options) => this.#fallbackLock(fn, options),
        login: form => this.#formLogin(form),
        onLost: reason => this.#fallBack(`the worker was lost: ${reason}`, true),
      }).then(
        worker => this.#adopt(worker),
        (error: unknown) => this.#fallBack(error instanceof Error ? error.message : String(error), error instanceof this.#kit.WorkerError && error.transient),
      ),
    )
  }

  /**
   * A login this tab's form made that the lost worker never took (WorkerCoordinator's `#unadopted`): the session starts on it
   * where it still owes one (its RT refused, or it ended on its own), as a form's login ends that wait in one coordinator (sim
   * seed 10859: revoked, the user's password was typed for nothing). Revoked where it does not (disposed; the session heard a
   * logout, or a newer login since), and where start() refuses it; with cookies (the jar's login, sim seed 2316) only started.
   */
  #formLogin({ grant, at }: FormLogin): Promise<unknown> {
    const { revoke, login, cfg } = this.#o
    // A cookie login is the jar's: not revoked here (a later login's cookie may have landed since), only started where owed.
    const drop = () => cfg.transport === 'bearer' && revoke(grant)
    const held = this.coordinator.newest
    const owed = held?.status === 'active' ? held.ending !== undefined : held === undefined || endedOnItsOwn(held)
    if (this.coordinator.closed || !owed) return Promise.resolve(drop())
    const started: Promise<unknown> = login(grant, at)
      .catch(drop)
      .finally(() => this.#starting === started && (this.#starting = undefined))
    return (this.#starting = started)
  }

  /**
   * The lock of a lost worker's waiting request: the current coordinator's. It is never that
   * lost worker (a lost one is never adopted, and replaced the moment it is lost); if it were,
   * the lock would bounce between the two for ever, so a re-entry fails instead.
   */
  #bouncing = false
  #fallbackLock<T>(fn: () => Promise<T>, options: LockOptions | undefined): Promise<T> {
    if (this.#bouncing) return Promise.reject(new this.#kit.WorkerError('rotor-auth: the rotation worker was lost and no coordinator took over its lock'))
    this.#bouncing = true
    try {
      return this.coordinator.lock(fn, options)
    } finally {
      this.#bouncing = false
    }
  }

  #adopt(worker: WorkerCoordinator): void {
    // Lost between its welcome and now (its fallback already ran): the page's coordinator stays.
    if (worker.lost) return
    if (!this.#local) return void this.coordinator.use(worker)
    const logout = this.#logoutFirst
    if (logout) logout.sent = worker.logout(logout.held)
    // A rejoin. The session's own lock on the page's coordinator may be presenting the RT (with
    // Web Locks, not one only asked: see #rejoinFirst); and where this tab and the worker each
    // hold a bearer RT, one of the two logins wins (twoHolders), else neither yet.
    const mine = this.coordinator.newest
    const theirs = worker.read()
    const both = this.#o.cfg.transport === 'bearer' && mine?.refreshToken !== undefined && worker.holdsRT
    const settled = both && theirs ? twoHolders(mine, theirs) : undefined
    // Without Web Locks the page's lock is not the worker's: one only asked keeps the tab away too (sim seed 1226 of `--worker --no-locks --extended`:
    // a follower rejoined while the page's leader refreshed, and the worker presented the same cookie).
    const locked = this.#o.cfg.platform.locks ? this.#holding : this.#asking
    if ((locked > 0 && !this.#first) || (both && !settled)) {
      worker.close()
      return this.#schedule()
    }
    this.#rejoin(worker, mine, theirs, settled)
  }

  /** Back on the worker: the newer state wins (see {@link reconcile}); each side learns what it lacks. */
  #rejoin(worker: WorkerCoordinator, mine: Snapshot | undefined, theirs: Snapshot | undefined, settled: Snapshot | undefined): void {
    this.#local = undefined
    this.#tries = 0
    this.coordinator.use(worker)
    const shared = settled ?? reconcile(mine, theirs, this.#o.cfg.transport, this.#kit)
    if (!shared) return
    if (shared !== theirs) {
      void worker.write(shared).catch(() => undefined)
      worker.post({ type: 'state', snapshot: shared })
    }
    if (shared !== mine) this.coordinator.tell({ rotor: 1, type: 'state', from: 'worker', snapshot: shared })
  }

  #fallBack(reason: string, transient: boolean): void {
    if (this.coordinator.closed) return
    this.#transient = transient
    if (!this.#local) {
      this.coordinator.use((this.#local = this.#rejoinFirst(this.#o.local())))
      if (!this.coordinator.closed) this.#o.onFallback(reason)
    }
    // Bug zoo: a tab that lost the worker never tries it again (it and the worker's tabs never converge).
    if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('no-rejoin')) return
    if (transient) this.#schedule()
  }

  /** A rejoin-first try under way (see {@link #rejoinFirst}): the rotation that waits for it holds no lock yet. */
  #first: Promise<void> | undefined
  /** The worker was lost by not answering: it may answer again (a refusal would not change). */
  #transient = false
  /** Locks of the page's coordinator granted and running: one may be presenting the RT. */
  #holding = 0
  /** Locks of the page's coordinator asked for and not yet settled. */
  #asking = 0
  /** A scheduled rejoin under way: without Web Locks, a lock asked meanwhile waits for it (see #schedule). */
  #rejoining: Promise<void> | undefined

  /**
   * The page's coordinator, whose rotation of a bearer tab holding no RT of its own (the worker
   * kept it, and may still) first tries the worker: on the page's lock it could only
   * re-authenticate or end while a worker holds the family's RT (sim seed 183). So does every
   * tab's rotation without Web Locks: the page's lock is not the worker's, and a tab that has just
   * lost the worker (the browser killed it) would refresh beside a new run another tab started,
   * with the one cookie (sim `--worker --no-locks --extended` seed 6626) or the login's RT that tabs
   * which rejoined brought the run (bearer: the fallen-back pages share it by message; seed 163513:
   * the run rotated it and the pages' elected leader presented it 0.4 s later). Bounded by the connect
   * timeout; where the worker cannot be reached, the page's lock serves as before.
   * With Web Locks (the worker's lock is the pages'), a lock only asked does not keep the tab from
   * rejoining: granted once the tab is back on the worker, it lets go at once and is asked of the
   * worker. A thawed tab holding the family's RT had asked the page's lock, which the worker's
   * session held while its login form was open (the same Web Lock); the tab would not rejoin while
   * it asked, and the form, dismissed, ended the session while that RT lived (sim `--worker
   * --extended` seed 134868).
   */
  #rejoinFirst(local: Coordinator): Coordinator {
    const lock = local.lock.bind(local)
    local.lock = async (fn, options) => {
      const { platform, transport } = this.#o.cfg
      if (!platform.locks) await this.#rejoining
      // Without Web Locks the page's lock is not the worker's, which another tab's new run may hold
      // with the one RT (the jar's; bearer, the login's, told to the fallen-back pages by message).
      // With them, a bearer tab that holds no RT (the worker may).
      const workerFirst = !platform.locks || (transport === 'bearer' && this.coordinator.newest?.refreshToken === undefined)
      if (this.#local === local && options?.refresh && this.#transient && workerFirst) {
        this.#retry?.cancel()
        await (this.#first ??= this.connect().finally(() => (this.#first = undefined)))
      }
      if (this.#local !== local) return this.coordinator.lock(fn, options)
      let moved = false
      this.#asking++
      const result = await lock(async lease => {
        if (this.#local !== local) return void (moved = true) as never
        this.#holding++
        try {
          return await fn(lease)
        } finally {
          this.#holding--
        }
      }, options).finally(() => this.#asking--)
      return moved ? this.coordinator.lock(fn, options) : result
    }
    return local
  }

  #schedule(): void {
    const { platform } = this.#o.cfg
    this.#retry?.cancel()
    this.#retry = platform.after(this.#kit.backoff(++this.#tries, REJOIN, platform.random), () => {
      if (this.coordinator.closed || !this.#local) return
      // Without Web Locks the page's lock is not the worker's, and a tab's hello starts a run
      // whose session rotates at once if its AT is due: a tab asking or holding the page's lock
      // would let that run go and present the cookie the run was rotating (sim `--worker
      // --no-locks --extended` seed 6478). Such a tab tries later, and a lock asked while it
      // rejoins waits for the rejoin (then asked of the worker, if adopted).
      if (!platform.locks && this.#asking + this.#holding > 0) return this.#schedule()
      void (this.#rejoining = this.connect().finally(() => (this.#rejoining = undefined)))
    })
  }
}

/**
 * The state a rejoining tab and the worker settle on, after each went on without the other.
 * The newer one, as everywhere; but the two counted generations apart, so a tie says nothing
 * of which came first. One case is decided by what the server must hold: with cookies (one
 * jar), a worker whose session ended on its own (its RT refused or expired) and a tab that
 * signed in meanwhile: the jar holds the tab's login, which wins one generation above.
 */
export function reconcile(
  mine: Snapshot | undefined,
  theirs: Snapshot | undefined,
  transport: 'cookie' | 'bearer',
  { supersedes, outlives }: Pick<ClientKit, 'supersedes' | 'outlives'>,
): Snapshot | undefined {
  if (!mine || !theirs) return mine ?? theirs
  // A user's logout on either side stands: the other side's state, however far it counted, may
  // be the very session that logout ended. Where it counted further, the logout goes one above
  // it, so that each side takes the logout as news. A login made after it (another login's, dated
  // later: login-order.ts `outlives`) stands over it the same way: a tab that slept through the
  // logout and a new login rejoined with that logout, the run went signed out for a turn, and every
  // tab dropped the new login's RT with it (sim `--worker --no-locks --extended` seed 94893).
  const above = (state: Snapshot, other: Snapshot) => (supersedes(state, other) ? state : { ...state, generation: other.generation + 1 })
  if (loggedOut(theirs) && mine.status === 'active') return outlives(mine, theirs) ? above(mine, theirs) : above(theirs, mine)
  if (loggedOut(mine) && theirs.status === 'active') return outlives(theirs, mine) ? above(theirs, mine) : above(mine, theirs)
  if (supersedes(mine, theirs)) return mine
  // Bearer: a worker that holds no RT (this tab's was checked) and a tab that does: its RT wins,
  // one generation above. So does the AT of a tab that holds no RT either (the killed worker
  // took it along) over a worker that holds no token at all (started from a page's memory,
  // which keeps none): the tabs share that AT until it expires, then re-authenticate (seed 189).
  // That AT goes even with its RT refused (`ending`): a run that holds the dying state without
  // it cannot use it, its session stays signed out and ignores the tabs' requests, which wait for
  // ever (sim seed 109805); with it, the run takes over the re-authentication, as a tab would.
  // Only an AT of the run's own login: a newer login's state (a form answered into the killed run,
  // told to the page's store) must not give way to an older login's AT, or the user's logout then
  // presents that AT and leaves the newer login live (sim `--worker --extended` seed 65199).
  const holdsMore =
    (mine.refreshToken !== undefined && !mine.ending) || (mine.accessToken !== undefined && theirs.accessToken === undefined && mine.login?.id === theirs.login?.id)
  if (transport === 'bearer' && holdsMore && theirs.status === 'active' && theirs.refreshToken === undefined) {
    return { ...mine, generation: theirs.generation + 1 }
  }
  // So with a bearer tab holding the RT of another login (its form's, which the run never took: #formLogin; sim seed 1962).
  const signedIn = transport === 'cookie' || (mine.refreshToken !== undefined && mine.login?.id !== theirs.login?.id)
  if (signedIn && mine.status === 'active' && !mine.ending && endedOnItsOwn(theirs) && theirs.generation === mine.generation) {
    return { ...mine, generation: theirs.generation + 1 }
  }
  return theirs
}

/**
 * What the tab's coordinator keeps as its newest state: the state heard, and where it is the same
 * grant numbered anew (a rejoin's, told without tokens by the page's store, which keeps none) the
 * tokens this tab holds of it. Without them a tab holding its login's RT rejoined a new worker run
 * as one without, and the run, holding no RT either, ended the session (sim seed 111409).
 */
export function keepTokens(heard: Snapshot, held: Snapshot | undefined): Snapshot {
  const next = { ...heard }
  if (held?.status === 'active' && heard.status === 'active' && sameGrant(heard, held)) {
    if (next.accessToken === undefined && held.accessToken !== undefined) next.accessToken = held.accessToken
    if (next.refreshToken === undefined && held.refreshToken !== undefined) next.refreshToken = held.refreshToken
  }
  return next
}

/** One grant told twice: its times and login, and its AT where both carry one. */
function sameGrant(a: Snapshot, b: Snapshot): boolean {
  const tokens = a.accessToken === undefined || b.accessToken === undefined || a.accessToken === b.accessToken
  return tokens && a.issuedAt === b.issuedAt && a.accessExpiresAt === b.accessExpiresAt && a.login?.id === b.login?.id
}

/** A session the user ended (`logout()`), not one that ended on its own. */
function loggedOut(snapshot: Snapshot): boolean {
  return snapshot.status === 'signed-out' && snapshot.reason === 'user'
}

/** A session that ended on its own (its RT refused, or both tokens expired): it still owes a login. */
function endedOnItsOwn(snapshot: Snapshot): boolean {
  return snapshot.status === 'signed-out' && (snapshot.reason === 'rejected' || snapshot.reason === 'expired')
}
