/** The coordinator of a tab whose session runs through the rotation worker: the worker keeps the state and the RT, leads and refreshes; the tab asks it over its own port. */
import type { Platform, Timer } from '../platform/types.js'
import type { Listeners } from '../utils/listeners.js'
import { every } from '../utils/every.js'
import type { Waiters } from '../utils/until.js'
import type { ClientKit } from '../worker/client-kit.js'
import { PortRpc } from '../worker/port-rpc.js'
import { HEARTBEAT_EVERY_MS, parseFromWorker, PING_LIMIT_MS, PROTOCOL_VERSION } from '../worker/protocol.js'
import type { FormLogin, FromWorker, ReauthGrant, ToWorker, WorkerConfig } from '../worker/protocol.js'
import type { Store } from './store.js'
import type { Coordinator, LockOptions, Message, OutgoingMessage, Snapshot } from './types.js'

/** How long a new worker has to answer the first hello (its script loads and starts meanwhile). */
const CONNECT_TIMEOUT_MS = 5_000
/** Without a welcome by then, the tab fetches the script to see if it is served: a failed load's `error` event may miss a tab that connects meanwhile. */
const PROBE_AFTER_MS = 750
/** A tab waiting for the worker's rotation repeats its request (and pings) this often. */
const REQUEST_EVERY_MS = 1_000
/** A tab holding the worker's lock says so this often; the worker lets a silent holder's lock lapse. */
const HELD_EVERY_MS = 2_000
/** A ping's limit run out this much late did not run on time (the page was frozen or throttled): the answer may wait in its queue. */
const LATE_BY_MS = 250

export type WorkerCoordinatorOptions = {
  url: URL
  /** The session's name: the SharedWorker's name, so sessions of other names get workers of their own. */
  name: string
  config: WorkerConfig
  /** Runs the app's hook for the worker (its RT was refused) and hands back the grant as plain data; undefined: the app has none. */
  reauthenticate: ((signal: AbortSignal) => Promise<ReauthGrant | undefined>) | undefined
  /** Where the page keeps the state (no tokens) between page loads: a new worker starts from it. */
  store: Store | undefined
  /** The page's errors and helpers (the worker client's kit: client-kit.ts). */
  kit: ClientKit
  /** How long a tab waits for the worker's rotation before its own fails (transiently). */
  followerLimitMs: number
  /** The lock of whatever coordinator the session uses after the worker was lost. */
  fallbackLock: Coordinator['lock']
  /** The worker stopped answering after it had connected. */
  onLost: (reason: string) => void
  /** A login this tab's form made (`at`: when) that the worker never took: the session starts on it where it still owes one (link.ts), else it is revoked. */
  login: (form: FormLogin) => unknown
  platform: Pick<Platform, 'now' | 'after' | 'on' | 'randomId' | 'sharedWorker' | 'fetch'> & { monotonic?: Platform['monotonic'] }
}

/**
 * Resolves once the worker welcomed this tab; rejects (WorkerError), saying why, where it
 * cannot (no SharedWorker, a CSP that forbids it, the script not served, no answer, other options).
 */
export function connectWorker(o: WorkerCoordinatorOptions): Promise<WorkerCoordinator> {
  const start = o.platform.sharedWorker
  const { WorkerError } = o.kit
  if (!start) return Promise.reject(new WorkerError('this browser has no SharedWorker'))
  let worker: ReturnType<typeof start>
  try {
    worker = start(o.url, o.name)
  } catch (error) {
    return Promise.reject(new WorkerError(`the worker could not be started (${(error as Error)?.message ?? String(error)})`))
  }
  const coordinator = new WorkerCoordinator(o, worker.port)
  worker.addEventListener('error', () => coordinator.lose(`the worker script ${o.url.href} failed to load or threw`))
  return coordinator.connect()
}

/** A tab's member of the worker's session; built and connected by {@link connectWorker}. */
export class WorkerCoordinator implements Coordinator {
  readonly #o: WorkerCoordinatorOptions
  readonly #rpc: PortRpc
  readonly #tabId: string
  readonly #listeners: Listeners<Message>
  /** Waits re-checked whenever the worker speaks or the line goes down. */
  readonly #waiters: Waiters
  /** The app's hooks running here for the worker: aborted if this tab is disposed first (the worker then asks another). */
  readonly #reauthenticating = new Set<AbortController>()
  /** The worker keeps the tokens and alone presents the RT: a tab never needs to ask its peers for newer ones first. */
  readonly sharesTokens = 'store' as const
  #cache: Snapshot | undefined
  #connecting: { resolve: () => void; reject: (error: Error) => void; timers: Timer[] } | undefined
  #stopPageHide: () => void = () => undefined
  #heartbeat: Timer | undefined
  /** The worker said it holds an RT (bearer) when it welcomed this tab. */
  #holdsRT = false
  /**
   * The login this tab's form made and sent the worker, until the worker is seen to have taken it (#adopted). Lost first, the worker may never have had it
   * (it gave this tab up as silent and closed its port, sim seeds 104016, 10859; with cookies 2316): link.ts `#formLogin` starts the session on it where it
   * still owes one, as on one whose form answers once the worker is lost (seed 109069). Where the worker took it too, the rejoin settles the two.
   */
  #unadopted: (FormLogin & { known: number }) | undefined
  /** The clock spans count on (the rotation limit, a ping's lateness): monotonic where there is one, or a wall clock set back would stretch them. */
  readonly #elapsed: () => number

  constructor(o: WorkerCoordinatorOptions, port: MessagePort) {
    this.#o = o
    this.#elapsed = o.platform.monotonic ?? o.platform.now
    this.#rpc = new PortRpc(port, o.platform.after, o.kit)
    this.#tabId = o.platform.randomId()
    this.#listeners = new o.kit.Listeners<Message>()
    this.#waiters = new o.kit.Waiters(o.platform.after)
    this.#cache = o.store?.read()
    port.onmessage = (event: MessageEvent) => {
      const message = parseFromWorker(event.data, o.kit)
      if (message && this.#rpc.lost === undefined && !this.#rpc.closed) this.#handle(message)
    }
    port.start()
  }

  /** Says hello and resolves with this coordinator on the worker's welcome; rejects when the worker is lost first. */
  connect(): Promise<this> {
    const { after } = this.#o.platform
    const script = this.#o.url.href
    return new Promise((resolve, reject) => {
      const timers = [
        after(CONNECT_TIMEOUT_MS, () => this.lose(`the worker ${script} did not answer within ${CONNECT_TIMEOUT_MS} ms`, true)),
        after(PROBE_AFTER_MS, () => this.#probeScript()),
      ]
      this.#connecting = { resolve: () => resolve(this), reject, timers }
      const hello: ToWorker = { w: 'hello', id: this.#rpc.nextId(), version: PROTOCOL_VERSION, config: this.#o.config, reauthenticates: this.#o.reauthenticate !== undefined }
      if (this.#cache) hello.stored = this.#cache
      this.#rpc.send(hello)
    })
  }

  /** The worker held an RT when it welcomed this tab (bearer): a rejoining tab's own RT must not go to it. */
  get holdsRT(): boolean {
    return this.#holdsRT
  }

  /** The worker was lost: it never serves this tab again (a new connection may). */
  get lost(): boolean {
    return this.#rpc.lost !== undefined
  }

  /**
   * The worker cannot serve this tab any more (or never could): before the welcome the
   * connection fails (`transient`: it did not answer, and may later), after it `onLost`.
   */
  lose(reason: string, transient = false): void {
    if (!this.#rpc.lose(reason)) return
    if (this.#unadopted) void this.#o.login(this.#unadopted) // before onLost, whose rejoin waits for it (link.ts); start() publishes on the page's coordinator
    this.#stopPageHide()
    this.#heartbeat?.cancel()
    const connecting = this.#connecting
    if (connecting) {
      this.#stopConnecting()
      connecting.reject(new this.#o.kit.WorkerError(reason, transient))
    } else this.#o.onLost(reason)
    this.#waiters.wake()
  }

  #stopConnecting(): void {
    for (const timer of this.#connecting?.timers ?? []) timer.cancel()
    this.#connecting = undefined
  }

  /** The script may not be served at all: a 404 lets the tab fall back now rather than at the connect timeout. */
  #probeScript(): void {
    if (!this.#connecting || this.#rpc.lost !== undefined || this.#rpc.closed) return
    const script = this.#o.url.href
    const answered = (response: Response) => void (response.body?.cancel(), response.ok || this.lose(`the worker script ${script} answered ${response.status}`))
    this.#o.platform
      .fetch()(script, { credentials: 'same-origin' })
      .then(answered, () => undefined)
  }

  #welcome(m: Extract<FromWorker, { w: 'welcome' }>): void {
    // A stale script (a worker started by an older page, a copy not updated) may misread this tab's messages: refused, saying which, and the tab goes on without it.
    if (m.version !== PROTOCOL_VERSION) {
      this.#rpc.send({ w: 'bye' })
      return this.lose(
        `the worker script is another version of rotor-auth (it speaks protocol ${m.version || 'unknown'}, this page ${PROTOCOL_VERSION}): serve the script of the page's version`,
      )
    }
    const connecting = this.#connecting!
    this.#stopConnecting()
    this.#holdsRT = m.rt === true
    // The worker's state is the truth: one it refused (a forged far-ahead generation in this page's storage) must not stay this tab's, or it would wait for it forever.
    this.#cache = m.snapshot
    if (m.snapshot) this.#o.store?.write(m.snapshot)
    // A tab going away lets go of the worker's locks at once (a crashed one's lapse). One
    // kept in the back/forward cache may come back: it stays connected.
    this.#stopPageHide = this.#o.platform.on('pagehide', event => {
      if (!event?.persisted) this.#rpc.send({ w: 'bye' })
    })
    this.#heartbeat = every(this.#o.platform.after, HEARTBEAT_EVERY_MS, () => this.#watch())
    connecting.resolve()
  }

  #handle(m: FromWorker): void {
    if (m.w === 'welcome') {
      if (this.#connecting) this.#welcome(m)
    } else if (m.w === 'probe') this.#rpc.send({ w: 'alive', id: m.id })
    else if (m.w === 'refused') this.lose(m.reason)
    else if (m.w === 'done') this.#rpc.answer(m.id)
    else if (m.w === 'store') {
      this.#adopted(m.snapshot)
      this.#keep(m.snapshot)
      this.#waiters.wake()
    } else if (m.w === 'message') {
      if (m.message.type === 'state') this.#adopted(m.message.snapshot)
      this.#listeners.emit(m.message)
      this.#waiters.wake()
    } else if (m.w === 'reauthenticate') void this.#reauthenticate(m.id)
  }

  /** Keeps the page's copy (and the stored one) at the newest state the worker holds. */
  #keep(snapshot: Snapshot): void {
    if (this.#cache && this.#o.kit.supersedes(this.#cache, snapshot)) return
    this.#cache = snapshot
    this.#o.store?.write(snapshot)
  }

  async #reauthenticate(id: number): Promise<void> {
    const controller = new AbortController()
    this.#reauthenticating.add(controller)
    // A hook that throws (synchronously too) answers nothing.
    const grant = await (async () => this.#o.reauthenticate?.(controller.signal))().catch(() => undefined)
    this.#reauthenticating.delete(controller)
    // A bearer grant must carry its AT (its state is told by it); a cookie one carries expirations (the login is the jar's).
    const form =
      grant && (grant.accessToken !== undefined || this.#o.config.transport === 'cookie')
        ? { grant, at: this.#o.platform.now(), known: this.#cache?.generation ?? 0 }
        : undefined
    if (this.#rpc.lost !== undefined || this.#rpc.closed) return void (form && this.#o.login(form))
    this.#rpc.send(grant ? { w: 'reauthenticated', id, grant } : { w: 'reauthenticated', id })
    if (form) this.#unadopted = form
  }

  /** Whether the worker took this tab's form login: bearer, a state carries its AT back; cookies, a newer state of a login comes (the jar's). */
  #adopted(snapshot: Snapshot): void {
    const form = this.#unadopted
    if (!form) return
    const login = snapshot.status === 'active' && !snapshot.ending && snapshot.generation > form.known
    if (this.#o.config.transport === 'bearer' ? snapshot.accessToken === form.grant.accessToken : login) this.#unadopted = undefined
  }

  /** The worker alone refreshes: ask it, and run `fn` (it adopts) once a newer state is here. */
  async #afterWorkerRotation<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
    const { SessionExpiredError, WorkerError } = this.#o.kit
    const rpc = this.#rpc
    const deadline = this.#elapsed() + this.#o.followerLimitMs
    const known = this.#cache?.generation ?? 0
    // The generation the rotation supersedes: one that rejoined while it waited may hold a newer state (the welcome's), adopted instead of
    // asking the worker to refresh that too (`--worker --no-locks --extended` seed 16157: an RT 6 s old). The request still names `known` (seed 2461).
    const from = Math.min(options.generation ?? known, known)
    // A mark (the RT is dead, a login is owed: the worker is running `reauthenticate`) is no rotation: wait for the login or the end.
    const newer = () => (this.#cache?.generation ?? 0) > from && !this.#cache?.ending
    for (;;) {
      if (newer()) return fn()
      if (rpc.lost !== undefined) return this.#o.fallbackLock(fn, options)
      if (rpc.closed) throw new SessionExpiredError('disposed')
      if (this.#elapsed() >= deadline) throw new WorkerError('rotor-auth: the rotation worker did not rotate the session in time')
      rpc.send({ w: 'post', message: { rotor: 1, from: this.#tabId, type: 'rotate-request', generation: known } })
      this.#watch()
      await this.#waiters.until(() => newer() || rpc.lost !== undefined || rpc.closed, Math.min(REQUEST_EVERY_MS, Math.max(0, deadline - this.#elapsed())))
    }
  }

  /**
   * Pings the worker: one that leaves it unanswered is lost (the session falls back, and tries it again later). A limit that ran out late (LATE_BY_MS)
   * asks again: given up, the tab closed the port on the worker's new state and presented the RT the run had rotated (sim seeds 133991; 96731, late
   * by 930 ms). Once: a throttled page (messages still come) runs every limit out late while the worker is dead.
   */
  #watch(again = false): void {
    const sent = this.#elapsed()
    this.#rpc.ping(PING_LIMIT_MS).catch(() => {
      if (!again && this.#elapsed() - sent > PING_LIMIT_MS + LATE_BY_MS && this.#rpc.lost === undefined && !this.#rpc.closed) return this.#watch(true)
      this.lose(`the worker stopped answering (no answer within ${PING_LIMIT_MS} ms)`)
    })
  }

  /** Anything else that must not overlap another tab's (an ending, the idle logout): the worker's lock. */
  async #holdingWorkerLock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
    let id = 0
    this.#watch()
    try {
      await this.#rpc.request(lockId => ({ w: 'lock', id: (id = lockId) }))
    } catch (error) {
      if (this.#rpc.lost !== undefined) return this.#o.fallbackLock(fn, options)
      throw error
    }
    const heartbeat = every(this.#o.platform.after, HELD_EVERY_MS, () => this.#rpc.send({ w: 'held', id }))
    try {
      return await fn()
    } finally {
      heartbeat.cancel()
      this.#rpc.send({ w: 'unlock', id })
    }
  }

  read(): Snapshot | undefined {
    return this.#cache
  }

  write(snapshot: Snapshot): Promise<void> {
    this.#keep(snapshot)
    this.#watch()
    return this.#rpc.request(id => ({ w: 'write', id, snapshot }))
  }

  lock<T>(fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    if (this.#rpc.lost !== undefined) return this.#o.fallbackLock(fn, options)
    return options.refresh ? this.#afterWorkerRotation(fn, options) : this.#holdingWorkerLock(fn, options)
  }

  post(message: OutgoingMessage): void {
    this.#rpc.send({ w: 'post', message: { ...message, rotor: 1, from: this.#tabId } as Message })
  }

  subscribe(listener: (message: Message) => void): () => void {
    return this.#listeners.add(listener)
  }

  // The worker leads: tabs only ask it, so their timers are the backup ones.
  isLeader(): boolean {
    return false
  }

  hasPeers(): boolean {
    return true
  }

  /**
   * The worker holds the RT: it ends the session on the server. A worker lost or silent (the
   * browser killed it: its RT went with it) rejects, and the session calls the logout endpoint
   * with what this tab holds (its own login's RT, its AT): sim seed 793 left that login live.
   * Disposed meanwhile, the session has nothing left to call it with. The tab's AT goes along:
   * a worker whose own session ended meanwhile presents it (sim seed 104407).
   */
  logout(held?: Snapshot): Promise<void> {
    const accessToken = held?.accessToken
    return this.#rpc
      .request(id => (accessToken ? { w: 'logout', id, accessToken } : { w: 'logout', id }), this.#o.config.refreshTimeout)
      .catch((error: unknown) => {
        if (this.#rpc.lost !== undefined || !this.#rpc.closed) throw error
      })
  }

  close(): void {
    if (this.#rpc.closed) return
    const disposed = () => new this.#o.kit.SessionExpiredError('disposed')
    for (const controller of this.#reauthenticating) controller.abort(disposed())
    // Disposed before the welcome: the connection settles, so nothing waits on it.
    this.#connecting?.reject(disposed())
    this.#stopConnecting()
    this.#stopPageHide()
    this.#heartbeat?.cancel()
    this.#rpc.close()
    this.#waiters.wake()
  }
}
