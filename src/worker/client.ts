/** A tab's side of the rotation worker: connects to the SharedWorker and is the session's coordinator through the tab's own port. */
import { SessionExpiredError } from '../errors.js'
import type { Store } from '../coordinator/store.js'
import { tokensFrom } from '../core/grant.js'
import type { Coordinator, Grant, Message, Snapshot } from '../types.js'
import { parseFromWorker, PROTOCOL_VERSION, type FromWorker, type ReauthGrant, type ToWorker, type Wire, type WorkerConfig } from './protocol.js'

/** How long a new worker has to answer the first hello (its script loads and starts meanwhile). */
const CONNECT_TIMEOUT_MS = 5_000
/**
 * Without a welcome by then, the tab fetches the script itself to see whether it is served: a
 * browser tells a failed load (a 404) to the worker's clients by an `error` event, but a tab
 * that connects while the failing load is under way may never get it.
 */
const PROBE_AFTER_MS = 750
/** A worker thread that leaves a ping this long unanswered is hung (it answers while its refresh is on the wire). */
const PING_LIMIT_MS = 3_000
/** A tab waiting for the worker's rotation repeats its request (and pings) this often. */
const REQUEST_EVERY_MS = 1_000
/** A tab holding the worker's lock says so this often; the worker lets a silent holder's lock lapse. */
const HELD_EVERY_MS = 2_000

export type ConnectOptions = {
  url: URL
  /** The session's name: the SharedWorker's name, so sessions of other names get workers of their own. */
  name: string
  config: WorkerConfig
  /** The app's hook: the worker asks a tab to run it when its RT is refused. */
  reauthenticate: ((context: { signal: AbortSignal }) => Promise<Grant | Response | void>) | undefined
  now: () => number
  /** Where the page keeps the state (no tokens) between page loads: a new worker starts from it. */
  store: Store | undefined
  wire: Wire
  /** How long a tab waits for the worker's rotation before its own fails (transiently). */
  followerLimitMs: number
  /** The lock of whatever coordinator the session uses after the worker was lost. */
  fallbackLock: Coordinator['lock']
  /** The worker stopped answering after it had connected. */
  onLost: (reason: string) => void
}

export type WorkerCoordinator = Coordinator & { logout(): Promise<void> }

/**
 * Resolves once the worker welcomed this tab; rejects, saying why, where it cannot (no
 * SharedWorker, a CSP that forbids it, the script not served, no answer, other options).
 */
export function connectWorker(o: ConnectOptions): Promise<WorkerCoordinator> {
  return new Promise((resolve, reject) => {
    const Shared = (globalThis as { SharedWorker?: typeof SharedWorker }).SharedWorker
    if (typeof Shared !== 'function') return reject(new Error('this browser has no SharedWorker'))
    let worker: SharedWorker
    try {
      worker = new Shared(o.url, { name: o.name })
    } catch (error) {
      return reject(new Error(`the worker could not be started (${(error as Error)?.message ?? String(error)})`))
    }
    const { port } = worker
    const tabId = globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2)
    let cache: Snapshot | undefined = o.store?.read()
    let lost: string | undefined
    let closed = false
    let nextId = 1
    const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
    const listeners = new Set<(message: Message) => void>()
    const wakers = new Set<() => void>()
    const wake = () => {
      for (const fn of [...wakers]) fn()
    }

    const send = (message: ToWorker) => {
      if (!lost && !closed) port.postMessage(message)
    }
    /** Sends a request and resolves on the worker's `done`; rejects if it is lost meanwhile or `limitMs` passes. */
    function request(message: ToWorker & { id: number }, limitMs?: number): Promise<void> {
      if (lost) return Promise.reject(new Error(`rotor-auth: the rotation worker was lost (${lost})`))
      return new Promise((done, failed) => {
        const timer = limitMs === undefined ? undefined : setTimeout(() => finish(new Error('no answer')), limitMs)
        const finish = (error?: Error) => {
          clearTimeout(timer)
          pending.delete(message.id)
          if (error) failed(error)
          else done()
        }
        pending.set(message.id, { resolve: () => finish(), reject: finish })
        send(message)
      })
    }

    function fail(reason: string): void {
      if (lost || closed) return
      lost = reason
      clearTimeout(connecting)
      clearTimeout(probing)
      port.close()
      for (const { reject: r } of [...pending.values()]) r(new Error(`rotor-auth: the rotation worker was lost (${reason})`))
      if (connected) o.onLost(reason)
      else reject(new Error(reason))
      wake()
    }

    /** Keeps the page's copy (and the stored one) at the newest state the worker holds. */
    function keep(snapshot: Snapshot): void {
      if (cache && o.wire.supersedes(cache, snapshot)) return
      cache = snapshot
      o.store?.write(snapshot)
    }

    /** The app's hook, run here for the worker; aborted if this tab is disposed first (the worker then asks another). */
    const reauthenticating = new Set<AbortController>()
    async function reauthenticate(id: number): Promise<void> {
      let grant: ReauthGrant | undefined
      const controller = new AbortController()
      reauthenticating.add(controller)
      try {
        const result = await o.reauthenticate?.({ signal: controller.signal })
        if (result) {
          const tokens = await tokensFrom(result, o.now)
          grant = { accessTokenExpiration: tokens.accessExpiresAt }
          if (tokens.accessToken !== undefined) grant.accessToken = tokens.accessToken
          if (tokens.refreshToken !== undefined) grant.refreshToken = tokens.refreshToken
          if (tokens.refreshExpiresAt !== null) grant.refreshTokenExpiration = tokens.refreshExpiresAt
        }
      } catch {
        grant = undefined
      } finally {
        reauthenticating.delete(controller)
      }
      send(grant ? { w: 'reauthenticated', id, grant } : { w: 'reauthenticated', id })
    }

    let connected = false
    const helloId = nextId++
    port.onmessage = (event: MessageEvent) => {
      const m: FromWorker | undefined = parseFromWorker(event.data, o.wire)
      if (!m || lost || closed) return
      if (m.w === 'welcome' && m.id === helloId && !connected) {
        // A stale script (a worker started by an older page, a copy not updated) may misread
        // this tab's messages: refused, saying which, and the tab goes on without it.
        if (m.version !== PROTOCOL_VERSION) {
          send({ w: 'bye' })
          return fail(`the worker script is another version of rotor-auth (it speaks protocol ${m.version || 'unknown'}, this page ${PROTOCOL_VERSION}): serve the script of the page's version`)
        }
        connected = true
        clearTimeout(connecting)
        clearTimeout(probing)
        // The worker's state is the truth: one it refused (a forged far-ahead generation in
        // this page's storage) must not stay this tab's, or it would wait for it forever.
        cache = m.snapshot
        if (m.snapshot) o.store?.write(m.snapshot)
        resolve(coordinator)
      } else if (m.w === 'probe') send({ w: 'alive', id: m.id })
      else if (m.w === 'refused') fail(m.reason)
      else if (m.w === 'done') pending.get(m.id)?.resolve()
      else if (m.w === 'store') {
        keep(m.snapshot)
        wake()
      } else if (m.w === 'message') {
        for (const listener of [...listeners]) listener(m.message)
        wake()
      } else if (m.w === 'reauthenticate') void reauthenticate(m.id)
    }
    const script = o.url.href
    worker.addEventListener('error', () => fail(`the worker script ${script} failed to load or threw`))
    port.start()
    const connecting = setTimeout(() => fail(`the worker ${script} did not answer within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS)
    const probing = setTimeout(() => {
      if (connected || lost || closed) return
      fetch(script, { credentials: 'same-origin' }).then(
        response => {
          void response.body?.cancel()
          if (!response.ok) fail(`the worker script ${script} answered ${response.status}`)
        },
        () => undefined,
      )
    }, PROBE_AFTER_MS)
    const hello: ToWorker = { w: 'hello', id: helloId, version: PROTOCOL_VERSION, config: o.config, reauthenticates: o.reauthenticate !== undefined }
    if (cache) hello.stored = cache
    send(hello)

    // A tab going away lets go of the worker's locks at once (a crashed one's lapse). One
    // kept in the back/forward cache may come back: it stays connected.
    const onPageHide = (event: Event) => {
      if (!(event as Event & { persisted?: boolean }).persisted) send({ w: 'bye' })
    }
    globalThis.addEventListener?.('pagehide', onPageHide)

    /** Resolves when `condition()` holds (checked whenever the worker speaks) or after `ms`. */
    function until(condition: () => boolean, ms: number): Promise<void> {
      if (condition()) return Promise.resolve()
      return new Promise(resolve => {
        const timer = setTimeout(finish, ms)
        const check = () => condition() && finish()
        function finish(): void {
          clearTimeout(timer)
          wakers.delete(check)
          resolve()
        }
        wakers.add(check)
      })
    }

    /** The worker alone refreshes: ask it, and run `fn` (it adopts) once a newer state is here. */
    async function afterWorkerRotation<T>(fn: () => Promise<T>, options: { refresh?: boolean }): Promise<T> {
      const deadline = Date.now() + o.followerLimitMs
      const known = cache?.generation ?? 0
      const newer = () => (cache?.generation ?? 0) > known
      for (;;) {
        if (lost) return o.fallbackLock(fn, options)
        if (closed) throw new SessionExpiredError('disposed')
        send({ w: 'post', message: { rotor: 1, from: tabId, type: 'rotate-request', generation: known } })
        request({ w: 'ping', id: nextId++ }, PING_LIMIT_MS).catch(() => fail(`the worker stopped answering (no answer within ${PING_LIMIT_MS} ms)`))
        await until(() => newer() || lost !== undefined || closed, Math.min(REQUEST_EVERY_MS, Math.max(0, deadline - Date.now())))
        if (newer()) return fn()
        if (!lost && Date.now() >= deadline) throw new Error('rotor-auth: the rotation worker did not rotate the session in time')
      }
    }

    /** Anything else that must not overlap another tab's (an ending, the idle logout): the worker's lock. */
    async function holdingWorkerLock<T>(fn: () => Promise<T>, options: { refresh?: boolean }): Promise<T> {
      const id = nextId++
      try {
        await request({ w: 'lock', id })
      } catch (error) {
        if (lost) return o.fallbackLock(fn, options)
        throw error
      }
      const heartbeat = setInterval(() => send({ w: 'held', id }), HELD_EVERY_MS)
      try {
        return await fn()
      } finally {
        clearInterval(heartbeat)
        send({ w: 'unlock', id })
      }
    }

    const coordinator: WorkerCoordinator = {
      read: () => cache,
      write(snapshot) {
        keep(snapshot)
        return request({ w: 'write', id: nextId++, snapshot })
      },
      lock(fn, options = {}) {
        if (lost) return o.fallbackLock(fn, options)
        return options.refresh ? afterWorkerRotation(fn, options) : holdingWorkerLock(fn, options)
      },
      post(message) {
        send({ w: 'post', message: { ...message, rotor: 1, from: tabId } as Message })
      },
      subscribe(listener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      // The worker leads: tabs only ask it, so their timers are the backup ones.
      isLeader: () => false,
      hasPeers: () => true,
      logout() {
        return request({ w: 'logout', id: nextId++ }, o.config.refreshTimeout).catch(() => undefined)
      },
      close() {
        if (closed) return
        send({ w: 'bye' })
        closed = true
        for (const controller of reauthenticating) controller.abort(new SessionExpiredError('disposed'))
        clearTimeout(connecting)
        clearTimeout(probing)
        for (const { reject: r } of [...pending.values()]) r(new SessionExpiredError('disposed'))
        globalThis.removeEventListener?.('pagehide', onPageHide)
        port.close()
        wake()
      },
    }
  })
}
