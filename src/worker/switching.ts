/** A session's coordinator with `worker`: the rotation worker's while it answers, the page's own where it cannot start or was lost. */
import type { Store } from '../coordinator/store.js'
import type { Config } from '../core/options.js'
import type { Coordinator, Message } from '../types.js'
import { connectWorker } from './client.js'
import { workerConfig, type Wire } from './protocol.js'

export type WorkerOrLocalOptions = {
  cfg: Config & { worker: URL; channelName: string }
  /** The coordinator the session would have without the worker. */
  local: () => Coordinator
  /** The worker cannot serve this tab (or stopped): the session goes on with `local()`. */
  onFallback: (reason: string) => void
  /** The page's storage of the state (no tokens), if it has one: a new worker starts from it. */
  store: Store | undefined
  wire: Wire
}

/**
 * Resolves once the worker welcomed the tab, or once the tab fell back. After a fallback (at
 * once or later) the session's listeners move to the page's coordinator, and a tab waiting
 * for the lost worker's rotation takes the page's lock instead: nothing the session holds is lost.
 */
export function workerOrLocal(o: WorkerOrLocalOptions): Promise<Coordinator> {
  const { cfg } = o
  let current: Coordinator | undefined
  let closed = false
  let unsubscribe = () => undefined as void
  const listeners = new Set<(message: Message) => void>()

  function use(next: Coordinator): Coordinator {
    unsubscribe()
    const previous = current
    current = next
    unsubscribe = next.subscribe(message => {
      for (const listener of [...listeners]) listener(message)
    })
    if (previous !== next) previous?.close()
    if (closed) next.close()
    return coordinator
  }

  function fallBack(reason: string): Coordinator {
    use(o.local())
    if (!closed) o.onFallback(reason)
    return coordinator
  }

  // Always there once this resolves (use() or fallBack() ran).
  const now = () => current!
  const coordinator: Coordinator = {
    read: () => now().read(),
    write: snapshot => now().write(snapshot),
    lock: (fn, options) => now().lock(fn, options),
    post: message => now().post(message),
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    isLeader: () => now().isLeader(),
    hasPeers: () => now().hasPeers(),
    logout: () => now().logout?.(),
    close() {
      closed = true
      current?.close()
    },
  }

  return connectWorker({
    url: cfg.worker,
    name: cfg.channelName,
    // options.ts refused a refresh function with `worker`: the options are plain data.
    config: workerConfig(cfg),
    reauthenticate: cfg.reauthenticate,
    now: cfg.now,
    store: o.store,
    wire: o.wire,
    followerLimitMs: cfg.queueTimeout,
    fallbackLock: (fn, options) => coordinator.lock(fn, options),
    onLost: reason => void fallBack(`the worker was lost: ${reason}`),
  }).then(use, (error: unknown) => fallBack(error instanceof Error ? error.message : String(error)))
}
