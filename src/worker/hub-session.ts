/** The rotation worker's own session, built from the options the first tab sent: the only member that leads and refreshes, signing with the tabs' DPoP key when they use one. */
import { decodeJwt } from '../utils/decode-jwt.js'
import type { Config } from '../core/options.js'
import { createDpop, type Dpop } from '../dpop/index.js'
import { RotorError, RotorTypeError } from '../errors.js'
import { replayableBody } from '../interceptors/fetch.js'
import type { Platform } from '../platform/types.js'
import { createSession } from '../session.js'
import type { Coordinator, Grant, Session, SessionOptions } from '../types.js'
import { fetchTarget, requestURL } from '../utils/scope.js'
import { checkWorkerConfig, configOf } from './hub-config.js'
import type { WorkerConfig } from './protocol.js'

export type WorkerSession = {
  session: Session
  cfg: Config
  /** What the worker's own calls (the logout) go out through: fetch, or fetch with a DPoP proof. */
  send: typeof fetch
}

export type WorkerSessionOptions = {
  /** What the first tab's hello carried: checked here, as anything a port says. */
  config: unknown
  /** The worker's member of the shared state: the session's coordinator. */
  member: Coordinator
  /** Asks a tab to run the app's hook. */
  reauthenticate: (context: { signal: AbortSignal }) => Promise<Grant | undefined>
  platform: Platform
}

/**
 * With `dpop`, the key the tabs stored in IndexedDB under the name they gave, read here: the
 * worker's refresh and logout calls are signed with it, and the nonce of the token endpoint
 * is remembered here (the tabs keep their resource servers' nonces). The worker's session is
 * given a fetch that signs instead of the `dpop` option, which would name the key after the
 * worker's own options, not the tabs'.
 */
function dpopOf({ dpop }: WorkerConfig, platform: Platform): Dpop | undefined {
  return dpop && createDpop(dpop.key, dpop.alg, [replayableBody, requestURL, fetchTarget, decodeJwt, RotorError, RotorTypeError], platform)
}

/** Starts the worker's session; throws (a TypeError naming what, code `ERR_INVALID_OPTION`) when the tab's options cannot make one. */
export function startWorkerSession({ config: posted, member, reauthenticate, platform }: WorkerSessionOptions): WorkerSession {
  const config = checkWorkerConfig(posted)
  const dpop = dpopOf(config, platform)
  // Called bare: a browser's fetch run with another `this` throws "Illegal invocation".
  const plain: typeof fetch = (input, init) => platform.fetch()(input, init)
  const send: typeof fetch = dpop ? (input, init) => dpop.send(plain, input, init) : plain
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
    platform,
    // A login a tab made for the worker that is plainly bound to another key is refused, as a tab's session does.
    reauthenticate: dpop ? context => reauthenticate(context).then(grant => dpop.check(grant)) : reauthenticate,
    ...(dpop ? { fetch: send } : {}),
    ...(config.leeway === undefined ? {} : { leeway: config.leeway }),
  }
  return { cfg: configOf(options), session: createSession(options), send }
}
