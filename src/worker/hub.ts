/** The rotation worker's side: one session that owns the timer, the refresh call and the RT, and the tabs connected to it by their ports. */
import { webLocks } from '../coordinator/locks.js'
import { parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import { Mutex } from '../coordinator/realm.js'
import { normalizeOptions, type Config } from '../core/options.js'
import { callLogout } from '../core/refresh.js'
import { createSession } from '../session.js'
import type { Coordinator, Grant, Message, Session, SessionOptions, Snapshot } from '../types.js'
import { withoutRefreshToken, type FromWorker, type ReauthGrant, type WorkerConfig } from './protocol.js'

/** A tab's lock lapses when it has not said `held` for this long (a tab that crashed holding it). */
const LEASE_MS = 10_000

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
export function createHub(name: string): Hub {
  let snapshot: Snapshot | undefined
  let session: Session | undefined
  let configKey: string | undefined
  let cfg: Config | undefined
  const tabs = new Set<Tab>()
  const listeners = new Set<(message: Message) => void>()
  const mutex = new Mutex()
  let nextRequest = 1

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
      const ask = (): void => {
        const tab = [...tabs].reverse().find(t => t.reauthenticates)
        if (!tab || signal.aborted) return resolve(undefined)
        const id = nextRequest++
        tab.reauths.set(id, answer => {
          tab.reauths.delete(id)
          if (answer === 'gone') ask()
          else resolve(answer)
        })
        tab.port.postMessage({ w: 'reauthenticate', id })
      }
      signal.addEventListener('abort', () => resolve(undefined), { once: true })
      ask()
    })
  }

  function start(config: WorkerConfig): void {
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
      reauthenticate,
      ...(config.leeway === undefined ? {} : { leeway: config.leeway }),
    }
    cfg = normalizeOptions(options)
    session = createSession(options)
  }

  /** A bearer session's shared state always carries the RT while active: a tab cannot take it away. */
  function acceptable(next: Snapshot): boolean {
    return !(cfg?.transport === 'bearer' && next.status === 'active' && next.refreshToken === undefined && next.ending === undefined)
  }

  function drop(tab: Tab): void {
    if (!tabs.delete(tab)) return
    for (const { release } of tab.locks.values()) release()
    tab.locks.clear()
    for (const answer of [...tab.reauths.values()]) answer('gone')
    tab.port.close()
  }

  function handle(tab: Tab, data: unknown): void {
    if (typeof data !== 'object' || data === null) return
    const m = data as Record<string, unknown>
    const id = m['id']
    const done = () => isId(id) && tab.port.postMessage({ w: 'done', id })
    switch (m['w']) {
      case 'hello': {
        if (!isId(id)) return
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
        tab.port.postMessage(snapshot ? { w: 'welcome', id, snapshot: withoutRefreshToken(snapshot) } : { w: 'welcome', id })
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
        const message = parseMessage({ ...(m['message'] as object), rotor: 1, from: tab.id })
        if (message) broadcast(message, tab)
        return
      }
      case 'lock':
        if (!isId(id)) return
        void exclusive(
          () =>
            new Promise<void>(release => {
              if (!tabs.has(tab)) return release()
              tab.locks.set(id, { release, lease: setTimeout(release, LEASE_MS) })
              done()
            }),
        ).finally(() => {
          const held = isId(id) ? tab.locks.get(id) : undefined
          clearTimeout(held?.lease)
          tab.locks.delete(id as number)
        })
        return
      case 'held': {
        const held = isId(id) ? tab.locks.get(id) : undefined
        if (held) {
          clearTimeout(held.lease)
          held.lease = setTimeout(held.release, LEASE_MS)
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
        const call = held?.status === 'active' && cfg ? callLogout(cfg, (input, init) => fetch(input, init), held) : Promise.resolve()
        void call.then(done)
        return
      }
      case 'reauthenticated': {
        if (!isId(id)) return
        const grant = m['grant'] as ReauthGrant | undefined
        tab.reauths.get(id)?.(typeof grant === 'object' && grant !== null ? grant : undefined)
        return
      }
    }
  }

  return {
    connect(port) {
      const tab: Tab = { port, id: `tab-${nextRequest++}`, reauthenticates: false, locks: new Map(), reauths: new Map() }
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
