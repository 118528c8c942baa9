/** The error of the rotation worker's tab side, in its on-demand chunk (as the DPoP binding error is in the DPoP chunk): the code is in RotorErrorCode. */
import type { RotorError } from '../errors.js'

/**
 * The rotation worker (the `worker` option) could not be started, refused this tab, stopped
 * answering, or did not rotate the session in time. The session falls back to its own
 * coordination where it can (a `worker-fallback` event says why); a request that waited for
 * the worker's rotation meanwhile fails with it, transiently.
 */
export interface WorkerError extends RotorError {
  readonly code: 'ERR_WORKER'
  /** The worker stopped answering (it may answer again, or a new one start): the session tries it again later. */
  readonly transient: boolean
}

export type WorkerErrorClass = new (message: string, transient?: boolean) => WorkerError

/** WorkerError's class, made from the page's RotorError (client-kit.ts), which the chunk does not import. */
export const workerErrorOf = (Base: typeof RotorError): WorkerErrorClass =>
  class WorkerError extends Base {
    readonly code = 'ERR_WORKER' as const
    override readonly name = 'WorkerError'
    readonly transient: boolean

    constructor(message: string, transient = false) {
      super(message)
      this.transient = transient
    }
  }
