/** What the worker client (an on-demand chunk) takes from the page: the kit the page hands over, unpacked once, with the chunk's WorkerError made from it. */
import type { parseMessage, parseSnapshot, supersedes } from '../coordinator/protocol.js'
import type { tokensFrom } from '../core/grant.js'
import type { outlives } from '../core/login-order.js'
import type { RotorError, SessionExpiredError } from '../errors.js'
import type { backoff } from '../utils/backoff.js'
import type { Listeners } from '../utils/listeners.js'
import type { Waiters } from '../utils/until.js'
import type { Wire } from './protocol.js'
import { workerErrorOf, type WorkerErrorClass } from './worker-error.js'

/**
 * What the worker client shares with the page, handed over by the page (via-worker.ts's
 * LINK_KIT) rather than imported: esbuild puts every module both import in a file of their own,
 * which every page then downloads, gzipped alone (docs/performance.md). A list, not an object:
 * the page's copy carries no names.
 */
export type LinkKit = readonly [
  parseMessage: typeof parseMessage,
  parseSnapshot: typeof parseSnapshot,
  supersedes: typeof supersedes,
  RotorError: typeof RotorError,
  SessionExpiredError: typeof SessionExpiredError,
  backoff: typeof backoff,
  tokensFrom: typeof tokensFrom,
  Listeners: typeof Listeners,
  Waiters: typeof Waiters,
  outlives: typeof outlives,
]

/** The kit as the chunk's modules use it. */
export type ClientKit = Wire & {
  SessionExpiredError: typeof SessionExpiredError
  WorkerError: WorkerErrorClass
  backoff: typeof backoff
  tokensFrom: typeof tokensFrom
  Listeners: typeof Listeners
  Waiters: typeof Waiters
  outlives: typeof outlives
}

let unpacked: ClientKit | undefined

/** The kit unpacked, once per page: one WorkerError class for every session. */
export function clientKit(kit: LinkKit): ClientKit {
  const [parseMessage, parseSnapshot, supersedes, RotorError, SessionExpiredError, backoff, tokensFrom, Listeners, Waiters, outlives] = kit
  return (unpacked ??= {
    parseMessage,
    parseSnapshot,
    supersedes,
    SessionExpiredError,
    WorkerError: workerErrorOf(RotorError),
    backoff,
    tokensFrom,
    Listeners,
    Waiters,
    outlives,
  })
}
