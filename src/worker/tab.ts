/** A tab's connection to the rotation worker from its session's options: the worker's options as plain data, and the app's reauthenticate run for the worker. */
import type { Store } from '../coordinator/store.js'
import type { Coordinator } from '../coordinator/types.js'
import { connectWorker, type WorkerCoordinator } from '../coordinator/worker.js'
import { tokensFrom } from '../core/grant.js'
import type { Config } from '../core/options.js'
import { workerConfig, type ReauthGrant, type Wire } from './protocol.js'

export type ConnectTabOptions = {
  cfg: Config & { worker: URL; channelName: string }
  store: Store | undefined
  wire: Wire
  fallbackLock: Coordinator['lock']
  onLost: (reason: string) => void
}

/** Resolves once the worker welcomed this tab; rejects (a WorkerError), saying why, where it cannot. */
export async function connectTab(o: ConnectTabOptions): Promise<WorkerCoordinator> {
  const { cfg } = o
  return connectWorker({
    url: cfg.worker,
    name: cfg.channelName,
    // options.ts refused a refresh function with `worker`: the options are plain data.
    config: workerConfig(cfg),
    reauthenticate: cfg.reauthenticate && (signal => reauthenticateForWorker(cfg, signal)),
    store: o.store,
    wire: o.wire,
    followerLimitMs: cfg.queueTimeout,
    fallbackLock: o.fallbackLock,
    onLost: o.onLost,
    platform: cfg.platform,
  })
}

/** The app's hook, run in this tab for the worker: its grant as the worker's session reads grants (plain data). */
async function reauthenticateForWorker(cfg: Config, signal: AbortSignal): Promise<ReauthGrant | undefined> {
  const result = await cfg.reauthenticate?.({ signal })
  if (!result) return undefined
  const tokens = await tokensFrom(result, cfg.now)
  const grant: ReauthGrant = { accessTokenExpiration: tokens.accessExpiresAt }
  if (tokens.accessToken !== undefined) grant.accessToken = tokens.accessToken
  if (tokens.refreshToken !== undefined) grant.refreshToken = tokens.refreshToken
  if (tokens.refreshExpiresAt !== null) grant.refreshTokenExpiration = tokens.refreshExpiresAt
  return grant
}
