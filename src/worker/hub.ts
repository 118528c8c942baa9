/** The rotation worker's side: the shared state (with the RT) and the relay between the tabs' ports and the worker's own session, which owns the timer, the refresh call and the RT. */
import { farAhead, parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import type { Config } from '../core/options.js'
import { callLogout } from '../core/refresh.js'
import { defaultPlatform } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import type { Coordinator, Message, Session, Snapshot } from '../types.js'
import { Listeners } from '../utils/listeners.js'
import { HubLock, TabLocks, type LockLimits } from './hub-lock.js'
import { startWorkerSession, type WorkerSession } from './hub-session.js'
import { Tabs, type LivenessLimits, type PortLike, type Tab } from './hub-tabs.js'
import { isId, parseReauthGrant, PROTOCOL_VERSION, RT_GRACE_MS, withoutRefreshToken } from './protocol.js'
import { twoHolders } from './two-logins.js'
import { Waiters } from '../utils/until.js'

/**
 * Time limits of the hub. Any page of the origin can connect and say anything: each limit
 * bounds what one port can cost the others (see docs/security.md).
 */
export type HubLimits = LockLimits &
  LivenessLimits & {
    /** How long a new bearer run holding the session without its RT waits for a tab to bring it before a rotation (RT_GRACE_MS). */
    rtGraceMs: number
  }

const LIMITS: HubLimits = { leaseMs: 6_000, maxHoldMs: 60_000, silentMs: 5_000, probeEveryMs: 1_000, rtGraceMs: RT_GRACE_MS }

export type Hub = {
  /** A tab's port (a SharedWorker `connect` event). */
  connect(port: PortLike): void
  /** Tabs connected now. */
  readonly tabs: number
  /** The worker's own session, once the first tab said hello. */
  readonly session: Session | undefined
}

/**
 * Everything the sessions of one name share, held in the worker: the snapshot (with the RT),
 * the lock, and the message bus between the tabs and the worker's own session. That session is
 * the only member that leads, so it alone refreshes; a tab that needs a rotation asks it
 * (`rotate-request`) and adopts the state it publishes. Tabs see every snapshot without the RT.
 * The worker script builds one platform and hands it here; tests run the hub in Node.
 */
export function createHub(name: string, limits: Partial<HubLimits> = {}, platform: Platform = defaultPlatform()): Hub {
  return new SharedState(name, { ...LIMITS, ...limits }, platform)
}

class SharedState implements Hub {
  readonly #platform: Platform
  readonly #limits: HubLimits
  readonly #lock: HubLock
  readonly #tabs: Tabs
  /** The worker session's listeners: what the tabs post reaches it here. */
  readonly #listeners = new Listeners<Message>()
  #snapshot: Snapshot | undefined
  #worker: WorkerSession | undefined
  #configKey: string | undefined
  /**
   * The clock of every span the hub measures (a tab's silence, the run's age, a request's
   * window): monotonic where the platform has one. On the wall clock, the user setting it
   * forward made every tab the hub was probing look silent for minutes: it dropped them all,
   * and its session, asking a login form of no one, ended (sim seed 112408).
   */
  readonly #elapsed: () => number
  /** When this run started (rtGraceMs), and what waits for a tab to bring the RT (#rtOrGrace). */
  readonly #bornAt: number
  readonly #rt: Waiters
  /** The generation whose rotation a tab's `rotate-request` started, and until when a repeat is not another one. */
  #honoured: { generation: number; until: number } | undefined

  constructor(name: string, limits: HubLimits, platform: Platform) {
    this.#platform = platform
    this.#limits = limits
    const elapsed = (this.#elapsed = platform.monotonic ?? platform.now)
    this.#bornAt = elapsed()
    this.#rt = new Waiters(platform.after)
    this.#lock = new HubLock(name, platform.locks)
    this.#tabs = new Tabs({
      limits,
      platform: { now: elapsed, after: platform.after },
      // Its `reauthenticating` flag would otherwise hold every tab's requests without a deadline.
      left: tab => tab.reauthenticating && this.#broadcast({ rotor: 1, type: 'reauthenticating', from: tab.id, active: false }, tab),
    })
  }

  get tabs(): number {
    return this.#tabs.size
  }

  get session(): Session | undefined {
    return this.#worker?.session
  }

  get #cfg(): Config | undefined {
    return this.#worker?.cfg
  }

  connect(port: PortLike): void {
    const tab: Tab = {
      port,
      id: `tab-${this.#tabs.nextId()}`,
      reauthenticates: false,
      heard: this.#elapsed(),
      reauthenticating: false,
      locks: new TabLocks({
        lock: this.#lock,
        limits: this.#limits,
        after: this.#platform.after,
        connected: () => this.#tabs.has(tab),
        granted: id => port.postMessage({ w: 'done', id }),
      }),
      reauths: new Map(),
    }
    port.onmessage = event => this.#handle(tab, event.data)
    port.start?.()
  }

  /** The worker session's member of the shared state. */
  readonly #member: Coordinator = {
    marksSpent: true,
    read: () => this.#snapshot,
    write: next => this.#store(next),
    lock: fn => this.#rtOrGrace().then(() => this.#lock.run(fn)),
    post: message => this.#broadcast({ ...message, rotor: 1, from: 'worker' } as Message),
    subscribe: listener => this.#listeners.add(listener),
    isLeader: () => true,
    hasPeers: () => true,
    close: () => undefined,
  }

  /**
   * Before the worker's session rotates: a bearer run that holds the session without its RT (it
   * started after the browser killed the run that held it) and is younger than `rtGraceMs` waits
   * for a tab to bring one, at most until then. The tab that signed in holds the family's RT and
   * brings it once it notices the kill; refreshed at once, the session (its AT expired) ended in
   * every tab while that tab held a live RT (sim `--worker --extended` seed 163).
   */
  #rtOrGrace(): Promise<unknown> {
    const left = this.#limits.rtGraceMs - (this.#elapsed() - this.#bornAt)
    const lacks = () => this.#cfg?.transport === 'bearer' && this.#snapshot?.status === 'active' && !this.#snapshot.refreshToken
    return left > 0 ? this.#rt.until(() => !lacks(), left) : Promise.resolve()
  }

  #store(next: Snapshot): void {
    if (this.#snapshot && supersedes(this.#snapshot, next)) return
    this.#snapshot = next
    this.#rt.wake()
    const shown = withoutRefreshToken(next)
    for (const tab of this.#tabs) tab.port.postMessage({ w: 'store', snapshot: shown })
  }

  /**
   * A state a tab brought, or the hub made of what it brought, that is news to everyone: stored,
   * and told as a `state` to the worker's session and the other tabs (`all`: that tab too, where
   * the hub chose another state than the one it wrote).
   */
  #storeAndTell(snapshot: Snapshot, from: Tab, all?: boolean): void {
    this.#store(snapshot)
    this.#broadcast({ rotor: 1, type: 'state', from: from.id, snapshot }, from, all)
  }

  /** To every tab but the sender (RT removed; `all`: the sender too); a tab's message also to the worker's session. */
  #broadcast(message: Message, from?: Tab, all?: boolean): void {
    const shown: Message = message.type === 'state' ? { ...message, snapshot: withoutRefreshToken(message.snapshot) } : message
    for (const tab of this.#tabs) if (all || tab !== from) tab.port.postMessage({ w: 'message', message: shown })
    if (from) this.#listeners.emit(message)
  }

  /**
   * What a tab may put in the shared state (by `write`, `hello` or a posted `state`): a bearer
   * session's state carries the RT while active (a tab cannot take it away), but for one with
   * the AT at a run holding no RT (the killed run took it: the tabs share that AT, sim seed 189), and no
   * generation leaps further ahead than sessions accept (farAhead, coordinator/protocol.ts): a far-ahead
   * one would be refused by every session yet count as "newer" in the store, and wedge rotation.
   */
  #acceptable(next: Snapshot): boolean {
    if (this.#cfg?.transport === 'bearer' && next.status === 'active' && !next.refreshToken && !next.ending && (this.#snapshot?.refreshToken || !next.accessToken))
      return false
    return !farAhead(next.generation, this.#snapshot?.generation ?? 0)
  }

  /**
   * One login's state, its RT on one side only. A rejoining tab that held another RT yielded to
   * the worker's login (link.ts twoHolders) and numbers the worker's state above its own: the
   * worker keeps its tokens under that generation (one more where it rotated meanwhile, so that
   * the tab takes the new AT). Or a tab brings the RT of the very state the hub holds without one
   * (a run the browser killed took it; another tab rejoined first with the AT alone): that state
   * goes one generation up with it, or the worker's session, which adopts only a newer one, never
   * had it, and ended the session while the RT sat in the hub (sim `--worker --no-locks --extended`
   * seed 24733). Either way its session and the other tabs adopt it. Only active, not far ahead.
   */
  #renumbered(next: Snapshot): Snapshot | undefined {
    const held = this.#snapshot
    if (next.status !== 'active' || held?.status !== 'active' || held.ending || !next.login || next.login.id !== held.login?.id) return undefined
    if (!held.refreshToken)
      return next.refreshToken && next.accessToken === held.accessToken && next.generation <= held.generation ? { ...next, generation: held.generation + 1 } : undefined
    if (next.refreshToken || next.generation <= held.generation || farAhead(next.generation, held.generation)) return undefined
    return { ...held, generation: next.generation + (next.accessToken === held.accessToken ? 0 : 1) }
  }

  /**
   * A login a tab writes at a generation the hub holds for another login: two tabs signed in at
   * once, or a tab frozen while its login was on its way numbered it from a state the hub had
   * passed. Stored as it came, the worker's session kept the first login, the store the second,
   * and the logout left the one started last live (sim seed 110990). The login started last wins
   * everywhere, the writing tab included, one generation above both (two-logins.ts).
   */
  #tie(next: Snapshot): Snapshot | undefined {
    const held = this.#snapshot
    if (!held?.login || !next.login || next.login.id === held.login.id || next.generation > held.generation || !this.#acceptable(next)) return undefined
    return twoHolders(next, held)
  }

  /**
   * A tab's `rotate-request` starts a rotation only for the worker's current generation, and
   * once per generation (until the session's own wait for it has given up): a forged one for
   * a generation ahead would otherwise make the worker refresh until it got there.
   */
  #rotateRequested(tab: Tab, message: Extract<Message, { type: 'rotate-request' }>): void {
    const snapshot = this.#snapshot
    const current = snapshot?.generation ?? 0
    // Behind: the newer state is the answer.
    if (message.generation < current && snapshot) return tab.port.postMessage({ w: 'store', snapshot: withoutRefreshToken(snapshot) })
    if (message.generation > current) return
    const now = this.#elapsed()
    if (this.#honoured && this.#honoured.generation === current && now < this.#honoured.until) return
    this.#honoured = { generation: current, until: now + (this.#cfg?.queueTimeout ?? 30_000) }
    this.#listeners.emit(message)
  }

  /** A tab's hello: refused when it speaks another protocol or runs other options; else it joins (and the first one starts the worker's session). */
  #hello(tab: Tab, id: number, m: Record<string, unknown>): void {
    const refuse = (reason: string, code?: string) => tab.port.postMessage(code ? { w: 'refused', id, reason, code } : { w: 'refused', id, reason })
    if (m['version'] !== PROTOCOL_VERSION) {
      const theirs = isId(m['version']) ? `protocol ${m['version']}` : 'an older protocol'
      return refuse(`the worker script is another version of rotor-auth (it speaks protocol ${PROTOCOL_VERSION}, this page ${theirs}): serve the script of the page's version`)
    }
    const key = JSON.stringify(m['config'])
    if (this.#configKey !== undefined && key !== this.#configKey) return refuse('the worker runs this session with other options (another version of the app is open)')
    // A new worker starts from what the page remembers (cookie sessions survive the last tab's
    // reload). Newer than the worker's, it is news to its session and its tabs too: a tab that fell
    // back and logged out wrote that end to the page's storage, and a tab joining with it told
    // the worker alone (sim `--worker --extended` seed 101361: the others stayed signed in).
    const stored = parseSnapshot(m['stored'])
    if (stored && (!this.#snapshot || supersedes(stored, this.#snapshot)) && this.#acceptable(stored)) {
      this.#storeAndTell(stored, tab)
    }
    if (!this.#worker) {
      try {
        this.#worker = startWorkerSession({
          config: m['config'],
          member: this.#member,
          reauthenticate: context => this.#tabs.reauthenticate(context),
          platform: this.#platform,
        })
        this.#configKey = key
      } catch (error) {
        // A forged or older page's options: that page is told which, coded (its fallback names the worker); the hub goes on serving the others.
        return refuse((error as Error).message, (error as { code?: string }).code)
      }
    }
    tab.reauthenticates = m['reauthenticates'] === true
    this.#tabs.add(tab)
    const snapshot = this.#snapshot
    tab.port.postMessage({
      w: 'welcome',
      id,
      version: PROTOCOL_VERSION,
      ...(snapshot && { snapshot: withoutRefreshToken(snapshot) }),
      ...(snapshot?.refreshToken && { rt: true }),
    })
  }

  /** A tab's `post`: checked as a channel message is, and then as what the tab may change. */
  #post(tab: Tab, posted: unknown): void {
    const message = typeof posted === 'object' && posted !== null ? parseMessage({ ...posted, rotor: 1, from: tab.id }) : undefined
    if (!message) return
    if (message.type === 'rotate-request') return this.#rotateRequested(tab, message)
    if (message.type === 'state' && !this.#acceptable(message.snapshot)) return
    if (message.type === 'reauthenticating') tab.reauthenticating = message.active
    this.#broadcast(message, tab)
  }

  #handle(tab: Tab, data: unknown): void {
    if (typeof data !== 'object' || data === null) return
    const m = data as Record<string, unknown>
    tab.heard = this.#elapsed()
    const id = m['id']
    if (m['w'] === 'hello') return isId(id) ? this.#hello(tab, id, m) : undefined
    if (m['w'] === 'bye') return this.#tabs.drop(tab)
    if (!this.#tabs.has(tab)) return
    const done = () => isId(id) && tab.port.postMessage({ w: 'done', id })
    switch (m['w']) {
      case 'write': {
        const next = parseSnapshot(m['snapshot'])
        const own = next && this.#renumbered(next)
        const tie = next && !own && this.#tie(next)
        if (own) this.#storeAndTell(own, tab, next.refreshToken !== undefined)
        else if (tie) this.#storeAndTell(tie, tab, true)
        else if (next && this.#acceptable(next)) this.#store(next)
        return void done()
      }
      case 'post':
        return this.#post(tab, m['message'])
      case 'lock':
        return isId(id) ? tab.locks.request(id) : undefined
      case 'held':
        return isId(id) ? tab.locks.renew(id) : undefined
      case 'unlock':
        return isId(id) ? tab.locks.release(id) : undefined
      case 'ping':
        return void done()
      case 'logout': {
        // The worker's session, or, where it ended meanwhile (its AT expired without an RT: a killed
        // run took it), what the tab holds: its AT, or the cookie jar. The tab, told `done`, calls
        // nothing itself, and that login stayed live (sim seed 104407).
        const held = this.#snapshot
        const worker = this.#worker
        const at = m['accessToken']
        const tokens = held?.status === 'active' ? held : typeof at === 'string' ? { accessToken: at } : this.#cfg?.transport === 'cookie' ? {} : undefined
        const call = tokens && worker ? callLogout(worker.cfg, worker.send, tokens) : Promise.resolve()
        return void call.then(done)
      }
      case 'reauthenticated':
        return void (isId(id) && tab.reauths.get(id)?.(parseReauthGrant(m['grant'])))
    }
  }
}
