/** How sockets and streams wait for their session: ready() that also waits for a session not started yet, the token to connect with, and telling "over" from "not now". */
import { isRotorError, type SessionExpiredError } from '../errors.js'
import type { Session } from '../types.js'
import type { ConnectContext } from './types.js'

/**
 * The session ended (logout, expiry, refusal, dispose): the socket or stream closes for good.
 * By the cross-copy brand, not `instanceof`: the CJS build bundles each entry on its own, so
 * this entry's copy of the class is not the one the session threw.
 */
export const sessionEnded = (error: unknown): error is SessionExpiredError => isRotorError(error) && error.code === 'ERR_SESSION_EXPIRED'

/**
 * Never started: a generation only grows and every login and logout moves it, so generation 0
 * while signed out means no `start()` yet (a logged-out session has a higher one).
 */
const notStarted = (session: Session) => session.state.status === 'signed-out' && session.state.generation === 0

/** Resolves at the session's first `active` state; `signal` stops the wait. */
function started(session: Session, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (settle: () => void) => {
      off()
      signal.removeEventListener('abort', aborted)
      settle()
    }
    const aborted = () => done(() => reject(signal.reason))
    const off = session.on('change', state => state.status === 'active' && done(resolve))
    signal.addEventListener('abort', aborted, { once: true })
    if (signal.aborted) aborted()
  })
}

/**
 * `session.ready()`, except that a socket or stream made before `start()` waits for the login
 * instead of closing for good (a page opens its live feed as it loads, then signs in). Once
 * `ready()` itself waits before `start()`, the first branch is never taken.
 */
export async function sessionReady(session: Session, signal: AbortSignal): Promise<void> {
  for (;;) {
    try {
      return await session.ready({ signal })
    } catch (error) {
      if (!(sessionEnded(error) && notStarted(session))) throw error
      await started(session, signal)
    }
  }
}

/** The token to connect with, once a managed request could go (rotating first when needed). */
export async function credentials(session: Session, attempt: number, signal: AbortSignal): Promise<ConnectContext> {
  let token: string | undefined
  await sessionReady(session, signal)
  try {
    token = await session.accessToken({ signal })
  } catch (error) {
    // Cookie transport: the handshake carries the cookie; ready() above waited for a usable one.
    if (!(error instanceof TypeError)) throw error
  }
  return { token, generation: session.state.generation, attempt }
}
