/** A tab's connection to the rotation worker from its session's options: the worker's options as plain data, and the app's reauthenticate run for the worker. */
import type { Store } from '../coordinator/store.js'
import type { Coordinator } from '../coordinator/types.js'
import { connectWorker, type WorkerCoordinator } from '../coordinator/worker.js'
import type { Config } from '../core/options.js'
import type { ClientKit } from './client-kit.js'
import type { FormLogin, ReauthGrant, WorkerConfig } from './protocol.js'

export type ConnectTabOptions = {
  cfg: Config & { worker: URL; channelName: string }
  store: Store | undefined
  /** The page's errors and helpers (client-kit.ts). */
  kit: ClientKit
  fallbackLock: Coordinator['lock']
  onLost: (reason: string) => void
  login: (form: FormLogin) => unknown
}

/** Resolves once the worker welcomed this tab; rejects (a WorkerError), saying why, where it cannot. */
export async function connectTab(o: ConnectTabOptions): Promise<WorkerCoordinator> {
  const { cfg } = o
  return connectWorker({
    url: cfg.worker,
    name: cfg.channelName,
    // options.ts refused a refresh function with `worker`: the options are plain data.
    config: workerConfig(cfg),
    reauthenticate: cfg.reauthenticate && (signal => reauthenticateForWorker(cfg, o.kit, signal)),
    store: o.store,
    kit: o.kit,
    login: o.login,
    followerLimitMs: cfg.queueTimeout,
    fallbackLock: o.fallbackLock,
    onLost: o.onLost,
    platform: cfg.platform,
  })
}

/** The app's hook, run in this tab for the worker: its grant as the worker's session reads grants (plain data). */
async function reauthenticateForWorker(cfg: Config, { tokensFrom }: ClientKit, signal: AbortSignal): Promise<ReauthGrant | undefined> {
  const result = await cfg.reauthenticate?.({ signal })
  if (!result) return undefined
  const tokens = await tokensFrom(result, cfg.now)
  const grant: ReauthGrant = { accessTokenExpiration: tokens.accessExpiresAt }
  if (tokens.accessToken !== undefined) grant.accessToken = tokens.accessToken
  if (tokens.refreshToken !== undefined) grant.refreshToken = tokens.refreshToken
  if (tokens.refreshExpiresAt !== null) grant.refreshTokenExpiration = tokens.refreshExpiresAt
  return grant
}

/** The worker's session options from a tab's validated ones, as plain data (the refresh is a URL: options.ts checked). */
export function workerConfig(cfg: Config): WorkerConfig {
  if (cfg.refresh.kind !== 'url') throw new TypeError('rotor-auth: option `worker` needs `refresh` as a URL')
  const refresh: WorkerConfig['refresh'] = { url: cfg.refresh.url.href, style: cfg.refresh.style }
  if (cfg.refresh.clientId !== undefined) refresh.clientId = cfg.refresh.clientId
  const config: WorkerConfig = {
    transport: cfg.transport,
    rotation: cfg.rotation,
    refresh,
    logout: cfg.logoutURL?.href ?? false,
    headers: [...cfg.headers],
    rotateAt: cfg.rotateAt,
    refreshTimeout: cfg.refreshTimeout,
    refreshRetries: cfg.refreshRetries,
    queueTimeout: cfg.queueTimeout,
  }
  if (cfg.leeway !== undefined) config.leeway = cfg.leeway
  // The name createSession gives the tab's own key.
  if (cfg.dpop) config.dpop = { alg: cfg.dpop, key: cfg.channelName ?? cfg.storageKey }
  return config
}
