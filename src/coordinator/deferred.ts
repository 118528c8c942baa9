/** The coordinator of a session with `worker`: the worker client loads on demand, and calls made before it is ready wait for it. */
import type { Config } from '../core/options.js'
import { parseMessage, parseSnapshot, supersedes } from './protocol.js'
import { joinRealm } from './realm.js'
import { createStore } from './store.js'
import type { Coordinator } from './types.js'

export type ViaWorkerOptions = {
  cfg: Config & { worker: URL; channelName: string }
  /** The coordinator the session has without the worker. */
  local: () => Coordinator
  onFallback: (reason: string) => void
  onStorageError: (error: unknown, cleared: boolean) => void
}

export function viaWorker(o: ViaWorkerOptions): Coordinator {
  const { cfg } = o
  // The page remembers the state between loads (a new worker starts from it); tokens never:
  // with the bearer transport they stay in the worker.
  const store = cfg.storage && createStore(joinRealm(undefined, 'worker'), { ...cfg, persistTokens: false, onStorageError: o.onStorageError })
  return deferredCoordinator(
    import('../worker/switching.js').then(
      ({ workerOrLocal }) => workerOrLocal({ ...o, store, wire: { parseMessage, parseSnapshot, supersedes } }),
      (error: unknown) => (o.onFallback(`the worker client did not load (${String(error)})`), o.local()),
    ),
  )
}

/** A coordinator that arrives later: calls made before it wait for it. */
export function deferredCoordinator(ready: Promise<Coordinator>): Coordinator {
  let current: Coordinator | undefined
  let closed = false
  void ready.then(c => {
    current = c
    if (closed) c.close()
  })
  const later = <T>(fn: (c: Coordinator) => T): T | Promise<T> => (current ? fn(current) : ready.then(fn))
  return {
    read: () => later(c => c.read()) as ReturnType<Coordinator['read']>,
    write: snapshot => later(c => c.write(snapshot)) as ReturnType<Coordinator['write']>,
    lock: (fn, options) => later(c => c.lock(fn, options)) as ReturnType<typeof fn>,
    post: message => void later(c => c.post(message)),
    subscribe(listener) {
      let off: (() => void) | undefined
      let gone = false
      void later(c => {
        if (!gone) off = c.subscribe(listener)
      })
      return () => {
        gone = true
        off?.()
      }
    },
    isLeader: () => current?.isLeader() ?? false,
    hasPeers: () => current?.hasPeers() ?? true,
    logout: () => current?.logout?.(),
    close() {
      closed = true
      current?.close()
    },
  }
}
