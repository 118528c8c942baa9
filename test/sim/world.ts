/** The simulated world of one schedule: the model server, one origin, its tabs, and what the user does to them. */
import { rotationLimitMs, timingOf } from '../../src/core/deadlines.js'
import { isRotorError } from '../../src/errors.js'
import type { SessionOptions, StorageLike } from '../../src/types.js'
import { CROSS_TAB_NAME, Forger } from './forger.js'
import { carriesToken, ForgedRequestWatch, type InFlight, type Verdict } from './invariants.js'
import { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'
import { AT_TTL, ModelServer } from './server.js'
import { SharedWorkers } from './shared-worker.js'
import { Sockets } from './sockets.js'
import { EPOCH, Tab } from './tab.js'

/** A participant the user acts in: a tab, or a Node process (redis-world.ts). */
export type Member = Pick<Tab, 'id' | 'session' | 'disposed'>

/** What a schedule drew before it began: the shape of the world. */
export type WorldConfig = {
  /** Bearer (tokens in JS, JSON refresh) or cookie (FOLIO: HttpOnly cookies in the browser's jar, no token in JS). */
  transport: 'bearer' | 'cookie'
  tabs: number
  rotation: 'timer' | 'request'
  locks: boolean
  refreshTimeout: number
  queueTimeout: number
  /** Bearer tokens kept in localStorage (`persist: true`): a reload resumes, foreign writes reach them. */
  persist: boolean
  /** The `reauthenticate` hook: none, a login form the user fills in, one that fails, one the user dismisses. */
  hook: 'none' | 'answers' | 'fails' | 'dismissed'
  /** The extended model (zoo.test.ts): the stricter oracle, stronger forgeries, and a server answering `expiresIn: 0` (`brokenExpiry`). */
  extended?: { brokenExpiry: boolean }
  /** Node processes on the Redis coordinator instead of tabs (redis-world.ts): its lock's lease in ms. */
  redis?: { lease: number }
  /** Tabs behind the rotation worker (`worker: true`, shared-worker.ts). */
  worker?: boolean
  /** Every tab's app keeps a socket and an event stream open (`--sockets`, sockets.ts). */
  sockets?: boolean
}

/** Longest a user takes with the login form of the `reauthenticate` hook. */
export const HOOK_MAX_MS = 30_000

const EVENTS = ['change', 'rotate', 'rotate-error', 'logout', 'storage-error', 'clock-skew'] as const

export class World {
  readonly server: ModelServer
  readonly origin: Origin
  /** The origin's rotation worker, in worlds of tabs behind it. */
  readonly workers: SharedWorkers | undefined
  /** The socket server and events endpoint, and each tab's socket and stream, in `--sockets` worlds. */
  readonly sockets: Sockets | undefined
  readonly tabs: Tab[] = []
  readonly inFlight: InFlight[] = []
  /** The family of the newest login: the session every tab should be on. */
  family = 0
  rotateCalls = 0
  logins = 0
  #opened = 0
  /** logout() calls not yet settled, and the logins that wait for them (an app awaits its logout before its login form). */
  #loggingOut = 0
  #afterLogout: Array<() => void> = []
  /** Logins a tab's form answered into a worker run the browser had killed (see #reauthenticate): the tab starts or revokes each once it notices. */
  readonly #unheard: Array<{ tab: Tab; family: number }> = []
  /** Tabs whose start() of a login is on its way (its grant read, not yet published). */
  readonly #starting = new Set<Member>()
  /** Each end (a signed-out state's generation and reason) is judged once, when its first tab hears it (see #heard). */
  readonly #endsJudged = new Set<string>()
  readonly #scheduler: Scheduler
  readonly #verdict: Verdict
  readonly #config: WorldConfig
  /** Extended model without Web Locks (where the forger asks the leader to rotate): judges `forged-request-ignored`. */
  readonly #forgedRequests: ForgedRequestWatch | undefined
  readonly #forger: Forger

  constructor(scheduler: Scheduler, verdict: Verdict, config: WorldConfig) {
    this.#scheduler = scheduler
    this.#verdict = verdict
    this.#config = config
    this.server = new ModelServer(scheduler, EPOCH)
    this.server.refreshTimeout = config.refreshTimeout
    this.origin = new Origin(scheduler)
    this.workers = config.worker ? new SharedWorkers(scheduler, this.origin, this.server, config.locks) : undefined
    this.sockets = config.sockets ? new Sockets(scheduler, verdict, this.server, this.origin, config.transport === 'bearer') : undefined
    if (this.workers) this.#trackHolders(this.workers)
    if (this.workers && config.transport === 'bearer') this.server.onPresented = family => this.#presented(family)
    const watch = config.extended && !config.locks ? new ForgedRequestWatch(AT_TTL / 2) : undefined
    if (watch) this.server.onGrant = (age, faulted) => watch.granted(verdict, scheduler.now, age, this.server.stats, faulted)
    if (watch) this.server.onGrantLost = () => watch.grantLost()
    this.#forgedRequests = watch
    this.#forger = new Forger(scheduler, this.origin, { extended: config.extended !== undefined, locks: config.locks }, () => this.live(), watch)
  }

  /** Something that may ask for a rotation happened (a user action, a fault): see ForgedRequestWatch. */
  stirred(): void {
    this.#forgedRequests?.stirred(this.#scheduler.now)
  }

  /**
   * Behind the worker, a bearer RT may sit in one participant alone (the worker's run, or the
   * page that signed in): the server follows where each RT went, so that an RT whose every
   * holder is gone counts as held by no client (sim seed 56: a login whose page crashed and
   * whose worker the browser killed). A page that is gone runs no more code: its memory is lost.
   */
  #trackHolders(workers: SharedWorkers): void {
    const tabLives = (id: string) => this.tabs.some(tab => tab.id === id && !tab.disposed && !tab.unmounted)
    this.server.trackHolders(participant => participant === 'storage' || workers.alive(participant) || tabLives(participant))
    this.origin.heard = (tab, data) => this.server.heard(tab, data)
  }

  /** Tabs neither closed nor frozen, whose session the app still uses. */
  live(): Tab[] {
    return this.tabs.filter(tab => !tab.disposed && !tab.unmounted)
  }

  /**
   * The app disposes `tab`'s session while the page lives on (an SPA unmounting it), then
   * mounts a new one (a new tab of the model). The browser frees nothing, so the disposed
   * session must let go of every Web Lock itself, whatever its `reauthenticate` hook does: at
   * once, or once a refresh on the wire is over (its give-up, 3 × `refreshTimeout` from its send).
   * That refresh is finished as a live tab's, retries included (sim seed 23612: two 503s, then a
   * retry whose body hung): held while an attempt it sent may still be answered, never past the
   * longest a rotation may take (deadlines.ts `rotationLimitMs`).
   */
  unmount(tab: Tab): Tab {
    if (tab.unmounted) return tab
    this.#scheduler.note(`unmount ${tab.id}`)
    tab.unmounted = true
    tab.session.dispose()
    const attempt = this.#config.refreshTimeout * 3 + 1000
    const disposedAt = this.#scheduler.now
    const check = (): void => {
      const held = tab.disposed ? [] : this.origin.heldBy(tab.id)
      if (held.length === 0) return
      const now = this.#scheduler.now
      const until = Math.min(disposedAt + rotationLimitMs(timingOf(this.#config)), (this.server.refreshSentAt.get(tab.id) ?? -Infinity) + attempt)
      if (until > now) return void this.#scheduler.after(until - now, `unmounted ${tab.id}`, check)
      this.#verdict.fail('dispose-releases', `${tab.id} disposed ${now - disposedAt} ms ago, still holds ${held.join(', ')}`, now)
    }
    this.#scheduler.after(attempt, `unmounted ${tab.id}`, check)
    const next = this.openTab()
    this.workers?.samePage(tab.id, next.id)
    return next
  }

  /**
   * A form's login that reached no worker run (see #reauthenticate) and that a session presented: its tab started the session
   * on it, as Rotor does where the session still owed a login (link.ts `#formLogin`). The session's family from now on, where
   * it is the newest login; else it lost to a later one (two-logins.ts) and is no longer the oracle's to follow.
   */
  #presented(family: number): void {
    const at = this.#unheard.findIndex(unheard => unheard.family === family)
    if (at < 0) return
    this.#unheard.splice(at, 1)
    this.#scheduler.note(`form login family ${family} started`)
    if (family === this.server.newestFamily) this.family = family
  }

  /**
   * At the end: each login a form answered into a killed worker run was started by its tab (#presented, or its RT sent on) or revoked, where the tab
   * lived to notice and the network carried its revocation (best effort, one call: sim `--worker --no-locks --extended` seed 20749's met a 503).
   */
  checkUnheard(): void {
    for (const { tab, family } of this.#unheard) {
      // Its RT went on to a run or another tab: the tab started it, and it lost to a later login there (dropped, not revoked: two-logins.ts).
      const started = this.server.holdersOf(family)?.some(holder => holder !== tab.id)
      if (!started && !tab.disposed && this.server.liveFamilies().includes(family) && !this.server.revocationsLost.has(family))
        this.#verdict.fail('no-live-rt-after-logout', `${tab.id}'s form answered into a killed worker run: family ${family} still live at the end`, this.#scheduler.now)
    }
  }

  /**
   * At the end, in timer mode: a live tab holding the session of a family the server still holds
   * live has an AT that expired at most an AT lifetime ago. After the quiet, a session that stopped
   * rotating is wedged, however well its tabs agree (sim `--worker --extended` seed 134868: every
   * rotation the worker's session was asked for joined one that had already ended).
   */
  checkAlive(): void {
    if (this.#config.rotation !== 'timer' || !this.server.liveDeliveredFamilies().includes(this.family)) return
    const now = this.origin.now()
    for (const tab of this.live()) {
      const { status, accessExpiresAt } = tab.session.state
      if (status === 'active' && accessExpiresAt !== null && accessExpiresAt < now - AT_TTL)
        this.#verdict.fail('stays-alive', `${tab.id} holds an AT expired ${Math.round((now - accessExpiresAt) / 1000)} s ago`, this.#scheduler.now)
    }
  }

  /**
   * The rotation lock is not held for good by a live tab (a refresh body that never came, a wait
   * that never ends). Its bound: every try of the refresh call (3, each awaited to 3 ×
   * `refreshTimeout` plus a delay of at most 10 s), a marked login awaited (`queueTimeout`), the
   * login form, and 10 s of slack for the catch-ups; counted from the grant or the holder's last
   * resume (a frozen page keeps its locks and runs nothing, as a browser's does).
   */
  checkLocks(): void {
    const { refreshTimeout, queueTimeout } = this.#config
    const bound = 3 * (3 * refreshTimeout + 10_000) + queueTimeout + HOOK_MAX_MS + 10_000
    const now = this.#scheduler.now
    for (const { name, holder, since } of this.origin.holds()) {
      const tab = name.endsWith(':rotate') ? this.live().find(t => t.id === holder && !t.frozen) : undefined
      if (tab && now - Math.max(since, tab.resumedAt) > bound) this.#verdict.fail('lock-bounded', `${tab.id} has held ${name} since ${since} ms (bound ${bound})`, now)
    }
  }

  openTab(): Tab {
    const { rotation, locks, refreshTimeout, queueTimeout } = this.#config
    let tab: Tab | undefined
    const fetch = this.server.fetchFor(() => tab?.disposed === false, `t${this.#opened + 1}`)
    const options: SessionOptions & { locks: boolean } = {
      scope: 'https://app.sim/api',
      transport: this.#config.transport,
      refresh: { url: 'https://app.sim/auth/refresh', style: this.#config.transport === 'bearer' ? 'json' : 'folio' },
      logout: 'https://app.sim/auth/logout',
      crossTab: { name: CROSS_TAB_NAME },
      rotation,
      refreshTimeout,
      queueTimeout,
      persist: this.#config.persist,
      storage: this.#storageOf(() => tab?.disposed === true),
      ...(this.#config.hook === 'none' ? {} : { reauthenticate: ({ signal }) => this.#reauthenticate(tab!, signal) }),
      fetch: this.sockets?.fetchFor(() => tab, fetch) ?? fetch,
      locks,
      // A port's message is a task of its own, also when a frozen page's queue runs on resume: microtasks run between.
      ...this.workers?.optionsFor(`t${this.#opened + 1}`, fn => tab?.run(() => void this.#scheduler.after(0, `task ${tab?.id}`, () => tab?.run(fn)))),
      ...(process.env['SIM_DEBUG'] ? { debug: (entry: unknown) => this.#scheduler.note(`  dbg ${tab?.id} ${JSON.stringify(entry)}`) } : {}),
    }
    const opened = (tab = new Tab(`t${++this.#opened}`, this.#scheduler, this.origin, options))
    this.watch(opened)
    this.tabs.push(opened)
    this.#scheduler.note(`open ${opened.id}`)
    this.sockets?.attach(opened)
    return opened
  }

  /** Checks what `member`'s session emits (no token, no unasked logout). */
  watch(member: Member): void {
    for (const event of EVENTS) member.session.on(event, payload => this.#heard(member, event, payload))
  }

  /**
   * The origin's localStorage as a page sees it: once the page is gone (closed, crashed, reloaded)
   * its script runs no more, so its session's late writes never land (in the classic model since
   * seed 319249: a login settling after its page reloaded stored a session nobody had been told of).
   */
  #storageOf(gone: () => boolean): StorageLike {
    const { storage } = this.origin
    return {
      getItem: key => storage.getItem(key),
      setItem: (key, value) => void (gone() || (this.server.heard('storage', value), storage.setItem(key, value))),
      removeItem: key => void (gone() || storage.removeItem(key)),
    }
  }

  #heard(tab: Member, event: string, payload: unknown): void {
    const now = this.#scheduler.now
    if (carriesToken(payload)) this.#verdict.fail('no-token-leak', `${tab.id} event ${event}`, now)
    if (event !== 'logout') return
    // A page that is gone ends nothing (its session object may still settle a hook; the extended model's fix, docs/simulation.md).
    if (this.#config.extended && tab.disposed) return
    const { reason } = payload as { reason: string }
    this.#scheduler.note(`logout ${tab.id} ${reason}`)
    if (reason === 'user' || reason === 'idle') return
    // Its own login on its way, a tab may adopt another tab's login and hear it end: that end is the other login's,
    // and this tab's is published above it next (sim seed 100025: the frozen tab's login, the peer's refused one).
    if (this.#starting.has(tab)) return
    // One end, heard late: a tab frozen across it and a newer login hears it on resume, its queue in order, the newer
    // login's state next (sim `--worker --extended` seed 127439). The end is judged once, when its first tab heard it.
    const end = `${tab.session.state.generation} ${reason}`
    if (this.#endsJudged.has(end)) return
    this.#endsJudged.add(end)
    if (this.heldLive()) this.#verdict.fail('no-unasked-logout', `${tab.id} ended (${reason}) while family ${this.family} lives`, now)
  }

  /** The session's family is live at the server, and a client that can present its RT lives. */
  heldLive(): boolean {
    // With cookies the RT is the jar's: a login whose cookie a late Set-Cookie overwrote is held by no client.
    // With bearer, a rotation worker's RT is its run's alone: it dies with the run (docs/guides/worker.md).
    const held = this.#config.transport === 'bearer' ? this.server.mayHold(this.family) : this.server.jarHolds(this.family)
    return held && this.server.liveDeliveredFamilies().includes(this.family)
  }

  /**
   * The login form of the `reauthenticate` hook: answered, failed or dismissed after a while
   * the user takes. It ignores its signal (the worst hook). The form is the page's: a frozen
   * page's form settles on resume, and a page that is gone (crashed, reloaded) settles nothing
   * and runs no more code (its session once ended a newer login after a crash: seeds 1367, 3509).
   * A login it brings after the session told it to close (`signal`: the user logged out) is not the
   * session's: Rotor revokes it, best effort, and never publishes it (sim seed 27020: its revocation
   * met a proxy's 502, and a later logout was held to account for it). Bearer, behind a worker the
   * browser killed, before its tab noticed, the form's login reaches no one (with cookies the jar
   * holds it): no other tab can know of it (a logout there leaves it live), and its tab revokes it once it notices the loss
   * (WorkerCoordinator's `#unadopted`): not the session's, and checked at the end (checkUnheard;
   * sim `--worker --extended` seed 105650: a logout in another tab 430 ms after the form answered).
   */
  #reauthenticate(tab: Tab, signal: AbortSignal): Promise<Partial<ReturnType<ModelServer['login']>> | void> {
    const { hook } = this.#config
    return new Promise((resolve, reject) => {
      this.#scheduler.after(this.#scheduler.random.int(100, HOOK_MAX_MS), `hook ${hook} ${tab.id}`, () =>
        tab.run(() => {
          if (hook === 'fails') return reject(new TypeError('the login form failed'))
          if (hook === 'dismissed') return resolve()
          const grant = this.#loginAnswer(this.server.login())
          this.server.heard(tab.id, grant)
          // Behind a worker a form's signal aborts when its tab lost the worker (link.ts `#formLogin` then starts or revokes the login), or is disposed (not followed).
          if (this.#config.transport === 'bearer' && (this.workers?.cutOff(tab.id) || (this.workers && signal.aborted && !tab.unmounted)))
            this.#unheard.push({ tab, family: this.server.newestFamily })
          else if (!signal.aborted) this.family = this.server.newestFamily
          this.logins++
          resolve(grant)
        }),
      )
    })
  }

  /** What a login answer gives the page: the pair (bearer), or expirations while the cookies land in the jar. */
  #loginAnswer(pair: ReturnType<ModelServer['login']>): Partial<ReturnType<ModelServer['login']>> {
    if (this.#config.transport === 'bearer') return pair
    this.server.cookies.set('at', pair.accessToken).set('rt', pair.refreshToken)
    return { expiresIn: pair.expiresIn, refreshExpiresIn: pair.refreshExpiresIn }
  }

  /** A fresh login in `tab`, as the app's login form would do it. */
  login(tab: Member): void {
    // A logout still on the wire would expire this login's cookies with its answer (sim seed 16151).
    if (this.#loggingOut > 0) return void this.#afterLogout.push(() => void (!tab.disposed && this.login(tab)))
    const grant = this.#loginAnswer(this.server.login())
    this.server.heard(tab.id, grant)
    this.family = this.server.newestFamily
    this.#scheduler.note(`login ${tab.id} family ${this.family}`)
    this.logins++
    this.#starting.add(tab)
    void tab.session
      .start(grant)
      .catch(error => this.#settledWith(tab, 'start', error, undefined))
      .finally(() => this.#starting.delete(tab))
  }

  /** A managed request from `tab`, maybe with a body, maybe aborted by its caller. */
  request(tab: Member): void {
    const random = this.#scheduler.random
    const post = random.chance(0.3)
    const controller = random.chance(0.2) ? new AbortController() : undefined
    if (controller) this.#scheduler.after(random.int(0, 3000), `abort ${tab.id}`, () => controller.abort())
    const entry: InFlight = { tab: tab.id, label: `${tab.id} ${post ? 'POST' : 'GET'}`, startedAt: this.#scheduler.now, settled: false }
    this.inFlight.push(entry)
    const init: RequestInit = post ? { method: 'POST', body: JSON.stringify({ n: this.inFlight.length }) } : {}
    if (controller) init.signal = controller.signal
    tab.session.fetch('https://app.sim/api/data', init).then(
      response => void ((entry.settled = true), response.body?.cancel()),
      error => ((entry.settled = true), this.#settledWith(tab, 'request', error, controller?.signal)),
    )
  }

  /** A call of `tab` failed: it must be typed, and carry no token. */
  #settledWith(tab: Member, what: string, error: unknown, signal: AbortSignal | undefined): void {
    const now = this.#scheduler.now
    if (carriesToken(error)) this.#verdict.fail('no-token-leak', `${tab.id} ${what} error`, now)
    const name = (error as { name?: string } | undefined)?.name
    // Documented besides RotorErrors (docs/api.md, Errors): a refresh attempt's TimeoutError and, for a
    // failed 408/429/5xx attempt, ky's HTTPError (issue 27 wants codes on both: see the report).
    const typed =
      isRotorError(error) ||
      name === 'TimeoutError' ||
      name === 'HTTPError' ||
      (signal?.aborted && name === 'AbortError') ||
      (error instanceof TypeError && error.message === 'fetch failed')
    if (!typed) this.#verdict.fail('typed-errors', `${tab.id} ${what}: ${name ?? typeof error}`, now)
  }

  rotate(tab: Member): void {
    this.rotateCalls++
    void tab.session.rotate().catch(error => this.#settledWith(tab, 'rotate', error, undefined))
  }

  /** The user signs out in `tab`; with a fault-free network the server must forget the session. */
  logout(tab: Member): void {
    const family = this.family
    // A tab without the session (a reload lost a bearer RT kept in memory) has nothing to revoke;
    // nor has one whose jar lost the login's cookie to a late Set-Cookie of an older family (the
    // logout then revokes that family: sim seed 54946, the shape of 18369).
    const held = this.#config.transport === 'bearer' || this.server.jarHolds(family)
    const clean = !this.server.faultsOn && tab.session.state.status === 'active' && held
    this.#loggingOut++
    const settled = () => {
      if (--this.#loggingOut > 0) return
      for (const login of this.#afterLogout.splice(0)) login()
    }
    void tab.session
      .logout()
      .finally(settled)
      .then(
        () => {
          if (clean && !this.server.faultsOn && this.server.liveFamilies().includes(family))
            this.#verdict.fail('no-live-rt-after-logout', `${tab.id} logged out, family ${family} still live`, this.#scheduler.now)
        },
        error => this.#settledWith(tab, 'logout', error, undefined),
      )
  }

  /** `tab` closes without a goodbye (`crash`) or reloads; its requests die with the page (nobody is left to wait for them). */
  close(tab: Tab, how: 'crash' | 'reload'): void {
    // A reload says goodbye (dispose) and then the page goes: the browser releases what it held either way.
    if (how === 'reload') tab.dispose()
    tab.crash(this.origin)
    for (const request of this.inFlight) if (request.tab === tab.id) request.settled = true
  }

  forge(): void {
    this.#forger.forge()
  }

  foreignWrite(): void {
    this.#forger.foreignWrite()
  }
}
