/** The coordinator of a session with `worker`: the rotation worker's once it welcomed the tab, the page's own where it cannot start or was lost (the worker client loads on demand). */
import { parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import { joinRealm } from '../coordinator/realm.js'
import { ReplaceableCoordinator } from '../coordinator/replaceable.js'
import { createStore } from '../coordinator/store.js'
import type { Coordinator } from '../coordinator/types.js'
import type { Config } from '../core/options.js'

export type ViaWorkerOptions = {
  cfg: Config & { worker: URL; channelName: string }
  /** The coordinator the session has without the worker. */
  local: () => Coordinator
  /** The worker cannot serve this tab (or stopped): the session goes on with `local()`. */
  onFallback: (reason: string) => void
  onStorageError: (error: unknown, cleared: boolean) => void
}

/**
 * Calls made before the worker welcomed the tab wait for it. After a fallback (at once or
 * later) the session's listeners move to the page's coordinator, and a tab waiting for the
 * lost worker's rotation takes the page's lock instead: nothing the session holds is lost.
 */
export function viaWorker(o: ViaWorkerOptions): Coordinator {
  const { cfg } = o
  // The page remembers the state between loads (a new worker starts from it); tokens never:
  // with the bearer transport they stay in the worker.
  const store = cfg.storage && createStore(joinRealm(undefined, 'worker'), { ...cfg, persistTokens: false, onStorageError: o.onStorageError })
  const coordinator = new ReplaceableCoordinator()
  const fallBack = (reason: string) => {
    coordinator.use(o.local())
    if (!coordinator.closed) o.onFallback(reason)
  }
  void import('./tab.js').then(
    ({ connectTab }) =>
      connectTab({
        cfg,
        store,
        wire: { parseMessage, parseSnapshot, supersedes },
        fallbackLock: (fn, options) => coordinator.lock(fn, options),
        onLost: reason => fallBack(`the worker was lost: ${reason}`),
      }).then(
        worker => void coordinator.use(worker),
        (error: unknown) => fallBack(error instanceof Error ? error.message : String(error)),
      ),
    (error: unknown) => fallBack(`the worker client did not load (${String(error)})`),
  )
  return coordinator
}
