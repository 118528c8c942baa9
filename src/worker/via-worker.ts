/** The coordinator of a session with `worker`: the rotation worker's once it welcomed the tab, the page's own where it cannot start or was lost, the worker's again once it can be reached (the worker client loads on demand). */
import { parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import { joinRealm } from '../coordinator/realm.js'
import { ReplaceableCoordinator } from '../coordinator/replaceable.js'
import { createStore } from '../coordinator/store.js'
import type { Coordinator } from '../coordinator/types.js'
import { tokensFrom } from '../core/grant.js'
import { outlives } from '../core/login-order.js'
import { RotorError, SessionExpiredError } from '../errors.js'
import { backoff } from '../utils/backoff.js'
import { Listeners } from '../utils/listeners.js'
import { Waiters } from '../utils/until.js'
import type { LinkKit } from './client-kit.js'
import type { ViaWorkerOptions } from './link.js'

export type { ViaWorkerOptions } from './link.js'

/** What the worker client shares with the page, handed to it (client-kit.ts: why not imported). */
export const LINK_KIT: LinkKit = [parseMessage, parseSnapshot, supersedes, RotorError, SessionExpiredError, backoff, tokensFrom, Listeners, Waiters, outlives]

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
  // The link (src/worker/link.ts) connects, falls back and rejoins; where it cannot load, the page's coordinator serves.
  void import('./link.js').then(
    ({ WorkerLink }) => new WorkerLink(o, store, coordinator, LINK_KIT).connect(),
    (error: unknown) => {
      coordinator.use(o.local())
      if (!coordinator.closed) o.onFallback(`the worker client did not load (${String(error)})`)
    },
  )
  return coordinator
}
