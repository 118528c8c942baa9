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
import { endedOnItsOwn, keepTokens, reconcile } from './reconcile.js'

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
    return this.#tryNow()
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

  /** A try of the worker asked now (#tryNow: a rotation, see {@link #rejoinFirst}, or a logout) and under way: what waits for it holds no lock yet. */
  #first: Promise<void> | undefined
  /** Tries the worker now, not at the scheduled try (the one under way, if any): a rotation or a logout that must ask it first waits for this. */
  #tryNow(): Promise<void> {
    this.#retry?.cancel()
    return (this.#first ??= this.connect().finally(() => (this.#first = undefined)))
  }

  /** The worker was lost by not answering: it may answer again (a refusal would not change). */
  #transient = false
  /** Locks of the page's coordinator granted and running: one may be presenting the RT. */
  #holding = 0
  /** Locks of the page's coordinator asked for and not yet settled. */
  #asking = 0
  /** A scheduled rejoin under way: without Web Locks, a lock asked meanwhile waits for it (see #schedule). */
  #rejoining: Promise<void> | undefined

  /**
   * The page's coordinator, whose rotation of a bearer tab first tries the worker. One holding no
   * RT of its own (the worker kept it, and may still) could on the page's lock only
   * re-authenticate or end while a worker holds the family's RT (sim seed 183). So does every
   * tab's rotation without Web Locks: the page's lock is not the worker's, and a tab that has just
   * lost the worker (the browser killed it) would refresh beside a new run another tab started,
   * with the one cookie (sim `--worker --no-locks --extended` seed 6626) or the login's RT that tabs
   * which rejoined brought the run (bearer: the fallen-back pages share it by message; seed 163513:
   * the run rotated it and the pages' elected leader presented it 0.4 s later). With Web Locks too for a
   * bearer tab holding an RT: the lock keeps the run's refresh and the tab's apart, but neither learns
   * the other's rotation, and a run another tab brought that RT to presented it after this tab had
   * (sim `--worker --extended` seed 180555). Bounded by the connect timeout; where the worker cannot
   * be reached, the page's lock serves as before.
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
      // With them, every bearer tab: the run may hold the RT this tab would present (see above).
      const workerFirst = !platform.locks || transport === 'bearer'
      if (this.#local === local && options?.refresh && this.#transient && workerFirst) {
        await this.#tryNow()
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
