/** The rotation worker's side: one session that owns the timer, the refresh call and the RT, and the tabs connected to it by their ports. */
import { webLocks } from '../coordinator/locks.js'
import { parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import { Mutex } from '../coordinator/realm.js'
import { normalizeOptions, type Config } from '../core/options.js'
import { callLogout } from '../core/refresh.js'
import { MAX_GENERATION_JUMP } from '../coordinator/protocol.js'
import { createSession } from '../session.js'
import { decodeJwt } from 'jose'
import { createDpop, type Dpop } from '../dpop/index.js'
import { DPOP_ALGS } from '../dpop/keys.js'
import { RotorError, RotorTypeError } from '../errors.js'
import { defaultPlatform } from '../platform/defaults.js'
import { replayableBody } from '../interceptors/fetch.js'
import { fetchTarget, requestURL } from '../utils/scope.js'
import type { Coordinator, Grant, Message, Session, SessionOptions, Snapshot } from '../types.js'
import { parseReauthGrant, PROTOCOL_VERSION, withoutRefreshToken, type FromWorker, type ReauthGrant, type WorkerConfig } from './protocol.js'

/**
 * Time limits of the hub. Any page of the origin can connect and say anything: each limit
 * bounds what one port can cost the others (see docs/security.md).
 */
export type HubLimits = {
  /** A tab's lock lapses when it has not said `held` for this long (a tab that crashed holding it). */
  leaseMs: number
  /** The longest one lock is held, `held` or not: past it, the next in line gets it. */
  maxHoldMs: number
  /** A tab asked to re-authenticate that has said nothing for this long is gone (crashed, discarded, frozen): the next one is asked. */
  silentMs: number
  /** How often the hub asks such a tab whether it is still there. */
  probeEveryMs: number
}

const LIMITS: HubLimits = { leaseMs: 6_000, maxHoldMs: 60_000, silentMs: 5_000, probeEveryMs: 1_000 }
/** Lock requests one port may have waiting; a tab's own code never has more than two. */
const MAX_QUEUED_LOCKS = 4

type PortLike = {
  postMessage(message: FromWorker): void
  start?(): void
  close(): void
  onmessage: ((event: MessageEvent) => void) | null
}

type Tab = {
  port: PortLike
  id: string
  reauthenticates: boolean
  /** When this tab last said anything (ms, the worker's clock). */
  heard: number
  /** The tab said it runs a `reauthenticate` of its own (every tab stops its queueTimeout meanwhile). */
  reauthenticating: boolean
  /** This tab's lock requests, one after another: one port never holds or waits for more than one lock at a time. */
  lockChain: Promise<void>
  queuedLocks: number
  /** Locks this tab holds (or waits for): id → release. */
  locks: Map<number, { release: () => void; lease: ReturnType<typeof setTimeout> | undefined }>
  /** `reauthenticate` requests sent to this tab: id → answer (`gone`: the tab left first). */
  reauths: Map<number, (answer: ReauthGrant | undefined | 'gone') => void>
}

export type Hub = {
  /** A tab's port (a SharedWorker `connect` event). */
  connect(port: PortLike): void
  /** Tabs connected now. */
  readonly tabs: number
  /** The worker's own session, once the first tab said hello. */
  readonly session: Session | undefined
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v)

/**
 * Everything the sessions of one name share, held in the worker: the snapshot (with the RT),
 * the lock, and the message bus between the tabs and the worker's own session. That session is
 * the only member that leads, so it alone refreshes; a tab that needs a rotation asks it
 * (`rotate-request`) and adopts the state it publishes. Tabs see every snapshot without the RT.
 */
export function createHub(name: string, limits: Partial<HubLimits> = {}): Hub {
  const { leaseMs, maxHoldMs, silentMs, probeEveryMs } = { ...LIMITS, ...limits }
  let snapshot: Snapshot | undefined
  let session: Session | undefined
  let configKey: string | undefined
  let cfg: Config | undefined
  /** What the worker's own calls go out through: fetch, or fetch with a DPoP proof. */
  let send: typeof fetch = (input, init) => fetch(input, init)
  const tabs = new Set<Tab>()
  const listeners = new Set<(message: Message) => void>()
  const mutex = new Mutex()
  let nextRequest = 1
  /** The generation whose rotation a tab's `rotate-request` started, and until when a repeat is not another one. */
  let honoured: { generation: number; until: number } | undefined

  // Pages that fell back to their own coordination take the same Web Lock: the worker and
  // they never refresh at the same time (with cookies, the browser's jar is then the truth).
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const locks = webLocks()
    return locks ? (locks.request(`${name}:rotate`, fn) as Promise<T>) : mutex.run(fn)
  }

  function store(next: Snapshot): void {
    if (snapshot && supersedes(snapshot, next)) return
    snapshot = next
    const shown = withoutRefreshToken(next)
    for (const tab of tabs) tab.port.postMessage({ w: 'store', snapshot: shown })
  }

  /** To every tab but the sender (RT removed); a tab's message also to the worker's session. */
  function broadcast(message: Message, from?: Tab): void {
    const shown: Message = message.type === 'state' ? { ...message, snapshot: withoutRefreshToken(message.snapshot) } : message
    for (const tab of tabs) if (tab !== from) tab.port.postMessage({ w: 'message', message: shown })
    if (from) for (const listener of [...listeners]) listener(message)
  }

  const member: Coordinator = {
    read: () => snapshot,
    write: next => store(next),
    lock: fn => exclusive(fn),
    post: message => broadcast({ ...message, rotor: 1, from: 'worker' } as Message),
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    isLeader: () => true,
    hasPeers: () => true,
    close: () => undefined,
  }

  /**
   * The worker session's `reauthenticate`: the newest tab that has the app's hook runs it. A
   * tab that goes away meanwhile hands the job to the next one; with none left, the session ends.
   */
  function reauthenticate({ signal }: { signal: AbortSignal }): Promise<Grant | undefined> {
    return new Promise(resolve => {
      let watching: ReturnType<typeof setInterval> | undefined
      const finish = (grant: Grant | undefined) => {
        clearInterval(watching)
        resolve(grant)
      }
      const ask = (): void => {
        clearInterval(watching)
        const tab = [...tabs].reverse().find(t => t.reauthenticates)
        if (!tab || signal.aborted) return finish(undefined)
        const id = nextRequest++
        tab.reauths.set(id, answer => {
          tab.reauths.delete(id)
          if (answer === 'gone') ask()
          else finish(answer)
        })
        tab.heard = Date.now()
        tab.port.postMessage({ w: 'reauthenticate', id })
        // A tab that crashed, was discarded or sits in the back/forward cache never answers
        // nor says `bye`: waiting for it would hold every tab's requests. A live tab answers
        // the probe even while its login form is open; a silent one is dropped (its pending
        // answer becomes `gone`) and the next tab with the hook is asked.
        watching = setInterval(() => {
          if (Date.now() - tab.heard > silentMs) drop(tab)
          else tab.port.postMessage({ w: 'probe', id: nextRequest++ })
        }, probeEveryMs)
      }
      signal.addEventListener('abort', () => finish(undefined), { once: true })
      ask()
    })
  }

  /**
   * With `dpop`, the key the tabs stored in IndexedDB under the name they gave, read here: the
   * worker's refresh and logout calls are signed with it, and the nonce of the token endpoint
   * is remembered here (the tabs keep their resource servers' nonces). The worker's session is
   * given a fetch that signs instead of the `dpop` option, which would name the key after the
   * worker's own options, not the tabs'.
   */
  function dpopOf(config: WorkerConfig): Dpop | undefined {
    const given: unknown = config.dpop
    if (given === undefined) return undefined
    const { alg, key } = (typeof given === 'object' && given !== null ? given : {}) as Record<string, unknown>
    if (typeof alg !== 'string' || !Object.hasOwn(DPOP_ALGS, alg) || typeof key !== 'string' || key === '') throw new TypeError('rotor-auth: config.dpop must be { alg, key }')
    return createDpop(key, alg as keyof typeof DPOP_ALGS, [replayableBody, requestURL, fetchTarget, decodeJwt, RotorError, RotorTypeError], defaultPlatform())
  }

  function start(config: WorkerConfig): void {
    const dpop = dpopOf(config)
    // Called bare: a browser's fetch run with another `this` throws "Illegal invocation".
    const platform: typeof fetch = (input, init) => fetch(input, init)
    const own: typeof fetch = dpop ? (input, init) => dpop.send(platform, input, init) : platform
    const options: SessionOptions = {
      scope: config.refresh.url,
      transport: config.transport,
      rotation: config.rotation,
      refresh: config.refresh,
      logout: config.logout,
      headers: config.headers,
      rotateAt: config.rotateAt,
      refreshTimeout: config.refreshTimeout,
      refreshRetries: config.refreshRetries,
      queueTimeout: config.queueTimeout,
      persist: false,
      coordinator: member,
      // A login a tab made for the worker that is plainly bound to another key is refused, as a tab's session does.
      reauthenticate: dpop ? context => reauthenticate(context).then(grant => dpop.check(grant)) : reauthenticate,
      ...(dpop ? { fetch: own } : {}),
      ...(config.leeway === undefined ? {} : { leeway: config.leeway }),
    }
    cfg = normalizeOptions(options)
    session = createSession(options)
    send = own
  }

  /**
   * What a tab may put in the shared state (by `write`, `hello` or a posted `state`): a bearer
   * session's state always carries the RT while active (a tab cannot take it away), and no
   * generation leaps further ahead than sessions accept (MAX_GENERATION_JUMP): a far-ahead
   * one would be refused by every session yet count as "newer" in the store, and wedge rotation.
   */
  function acceptable(next: Snapshot): boolean {
    if (cfg?.transport === 'bearer' && next.status === 'active' && next.refreshToken === undefined && next.ending === undefined) return false
    return next.generation - (snapshot?.generation ?? 0) <= MAX_GENERATION_JUMP
  }

  /**
   * A tab's `rotate-request` starts a rotation only for the worker's current generation, and
   * once per generation (until the session's own wait for it has given up): a forged one for
   * a generation ahead would otherwise make the worker refresh until it got there.
   */
  function rotateRequested(tab: Tab, message: Extract<Message, { type: 'rotate-request' }>): void {
    const current = snapshot?.generation ?? 0
    // Behind: the newer state is the answer.
    if (message.generation < current && snapshot) return tab.port.postMessage({ w: 'store', snapshot: withoutRefreshToken(snapshot) })
    if (message.generation > current) return
    const now = Date.now()
    if (honoured && honoured.generation === current && now < honoured.until) return
    honoured = { generation: current, until: now + (cfg?.queueTimeout ?? 30_000) }
    for (const listener of [...listeners]) listener(message)
  }

  function drop(tab: Tab): void {
    if (!tabs.delete(tab)) return
    for (const { release } of tab.locks.values()) release()
    tab.locks.clear()
    for (const answer of [...tab.reauths.values()]) answer('gone')
    // Its `reauthenticating` flag would otherwise hold every tab's requests without a deadline.
    if (tab.reauthenticating) broadcast({ rotor: 1, type: 'reauthenticating', from: tab.id, active: false }, tab)
    tab.port.close()
  }

  /** One lock for `tab`, after its previous one: bounded by the lease (renewed by `held`) and by `maxHoldMs` in all. */
  function lock(tab: Tab, id: number): void {
    if (tab.queuedLocks >= MAX_QUEUED_LOCKS) return
    tab.queuedLocks++
    const hold = () =>
      exclusive(
        () =>
          new Promise<void>(resolve => {
            if (!tabs.has(tab)) return resolve()
            const release = () => (clearTimeout(limit), resolve())
            const limit = setTimeout(release, maxHoldMs)
            tab.locks.set(id, { release, lease: setTimeout(release, leaseMs) })
            tab.port.postMessage({ w: 'done', id })
          }),
      ).finally(() => {
        clearTimeout(tab.locks.get(id)?.lease)
        tab.locks.delete(id)
        tab.queuedLocks--
      })
    tab.lockChain = tab.lockChain.then(hold, hold)
  }

  function handle(tab: Tab, data: unknown): void {
    if (typeof data !== 'object' || data === null) return
    const m = data as Record<string, unknown>
    tab.heard = Date.now()
    const id = m['id']
    const done = () => isId(id) && tab.port.postMessage({ w: 'done', id })
    switch (m['w']) {
      case 'hello': {
        if (!isId(id)) return
        if (m['version'] !== PROTOCOL_VERSION) {
          const theirs = isId(m['version']) ? `protocol ${m['version']}` : 'an older protocol'
          tab.port.postMessage({ w: 'refused', id, reason: `the worker script is another version of rotor-auth (it speaks protocol ${PROTOCOL_VERSION}, this page ${theirs}): serve the script of the page's version` })
          return
        }
        const key = JSON.stringify(m['config'])
        if (configKey !== undefined && key !== configKey) {
          tab.port.postMessage({ w: 'refused', id, reason: 'the worker runs this session with other options (another version of the app is open)' })
          return
        }
        // A new worker starts from what the page remembers (cookie sessions survive the last tab's reload).
        const stored = parseSnapshot(m['stored'])
        if (stored && (!snapshot || supersedes(stored, snapshot)) && acceptable(stored)) {
          store(stored)
          if (session) for (const listener of [...listeners]) listener({ rotor: 1, type: 'state', from: tab.id, snapshot: stored })
        }
        if (!session) {
          try {
            start(m['config'] as WorkerConfig)
            configKey = key
          } catch (error) {
            tab.port.postMessage({ w: 'refused', id, reason: `the worker cannot run this session: ${(error as Error).message}` })
            return
          }
        }
        tab.reauthenticates = m['reauthenticates'] === true
        tabs.add(tab)
        const version = PROTOCOL_VERSION
        tab.port.postMessage(snapshot ? { w: 'welcome', id, version, snapshot: withoutRefreshToken(snapshot) } : { w: 'welcome', id, version })
        return
      }
      case 'bye':
        drop(tab)
        return
    }
    if (!tabs.has(tab)) return
    switch (m['w']) {
      case 'write': {
        const next = parseSnapshot(m['snapshot'])
        if (next && acceptable(next)) store(next)
        done()
        return
      }
      case 'post': {
        // Checked as a channel message is, and then as what the tab may change.
        const message = typeof m['message'] === 'object' && m['message'] !== null ? parseMessage({ ...m['message'], rotor: 1, from: tab.id }) : undefined
        if (!message) return
        if (message.type === 'rotate-request') return rotateRequested(tab, message)
        if (message.type === 'state' && !acceptable(message.snapshot)) return
        if (message.type === 'reauthenticating') tab.reauthenticating = message.active
        broadcast(message, tab)
        return
      }
      case 'lock':
        if (isId(id) && !tab.locks.has(id)) lock(tab, id)
        return
      case 'held': {
        const held = isId(id) ? tab.locks.get(id) : undefined
        if (held) {
          clearTimeout(held.lease)
          held.lease = setTimeout(held.release, leaseMs)
        }
        return
      }
      case 'unlock':
        if (isId(id)) tab.locks.get(id)?.release()
        return
      case 'ping':
        done()
        return
      case 'logout': {
        const held = snapshot
        const call = held?.status === 'active' && cfg ? callLogout(cfg, send, held) : Promise.resolve()
        void call.then(done)
        return
      }
      case 'reauthenticated':
        if (isId(id)) tab.reauths.get(id)?.(parseReauthGrant(m['grant']))
        return
      case 'alive':
        return
    }
  }

  return {
    connect(port) {
      const tab: Tab = {
        port,
        id: `tab-${nextRequest++}`,
        reauthenticates: false,
        heard: Date.now(),
        reauthenticating: false,
        lockChain: Promise.resolve(),
        queuedLocks: 0,
        locks: new Map(),
        reauths: new Map(),
      }
      port.onmessage = event => handle(tab, event.data)
      port.start?.()
    },
    get tabs() {
      return tabs.size
    },
    get session() {
      return session
    },
  }
}
