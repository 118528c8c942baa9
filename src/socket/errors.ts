/** The socket's own error: the socket or stream was closed, which ends whatever it was waiting for. */
import { RotorError } from '../errors.js'

/**
 * What a wait of a closed socket or stream (for the session's tokens, for a rotation it asked
 * for) is aborted with; `message` says why it closed (close(), the session's end, refusals).
 */
export class ConnectionClosedError extends RotorError {
  readonly code = 'ERR_CONNECTION_CLOSED' as const
  override readonly name = 'ConnectionClosedError'
}
