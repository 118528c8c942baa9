/** The worker session's options: what a tab posted, checked for shape, made into the Config the session runs on without the page's option validator. */
import { DEFAULT_BUDGET } from '../core/budget.js'
import { timingOf } from '../core/deadlines.js'
import type { Config } from '../core/options.js'
import { DPOP_ALGS } from '../dpop/keys.js'
import { RotorTypeError } from '../errors.js'
import { TRACE_SIZE } from '../trace/options.js'
import { createPlatform } from '../platform/defaults.js'
import type { SessionOptions } from '../types.js'
import type { WorkerConfig } from './protocol.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isPositive = (v: unknown) => isNumber(v) && v > 0
/** True when `make` does not throw: `new URL` and `new Headers` are the checks of what they take. */
const builds = (make: () => unknown) => {
  try {
    make()
    return true
  } catch {
    return false
  }
}
const isURL = (v: unknown) => typeof v === 'string' && builds(() => new URL(v))
const isHeaders = (v: unknown) =>
  Array.isArray(v) && v.every(h => Array.isArray(h) && h.length === 2 && h.every(s => typeof s === 'string')) && builds(() => new Headers(v as Array<[string, string]>))

/**
 * What each key of a posted config must be (a refusal names the key: the page's own validator
 * gave its user the full message before sending). The page built it from options it validated
 * (src/worker/tab.ts), so an honest page always passes; these stop a forged or older page's
 * message from starting a session on garbage (which would fail later, inside the session).
 */
const SHAPE: Array<[key: keyof WorkerConfig, ok: (value: unknown) => boolean]> = [
  ['transport', v => v === 'cookie' || v === 'bearer'],
  ['rotation', v => v === 'timer' || v === 'request'],
  ['refresh', v => isObject(v) && isURL(v['url']) && ['folio', 'json', 'oauth2'].includes(v['style'] as string) && ['string', 'undefined'].includes(typeof v['clientId'])],
  ['logout', v => v === false || isURL(v)],
  ['headers', isHeaders],
  ['rotateAt', v => isNumber(v) && v > 0 && v < 1],
  ['leeway', v => v === undefined || (isNumber(v) && v >= 0)],
  ['refreshTimeout', isPositive],
  ['queueTimeout', isPositive],
  ['refreshRetries', v => Number.isSafeInteger(v) && (v as number) >= 0],
  ['dpop', v => v === undefined || (isObject(v) && Object.hasOwn(DPOP_ALGS, v['alg'] as string) && typeof v['key'] === 'string' && v['key'] !== '')],
]

/** The config of a tab's hello, or a TypeError (code `ERR_INVALID_OPTION`) naming the first key that is not as a page of this version sends it. */
export function checkWorkerConfig(value: unknown): WorkerConfig {
  if (!isObject(value)) throw new RotorTypeError('ERR_INVALID_OPTION', 'rotor-auth: config is not as a page of this version sends it')
  for (const [key, ok] of SHAPE) if (!ok(value[key])) throw new RotorTypeError('ERR_INVALID_OPTION', `rotor-auth: config.${key} is not as a page of this version sends it`)
  return value as WorkerConfig
}

/**
 * The Config of the options src/worker/hub-session.ts makes of a checked WorkerConfig, as
 * normalizeOptions would make it (test/worker/hub-config.test.ts compares the two), and what the
 * worker's script runs instead of it (tsup.config.ts): the refresh is a URL, the logout a URL or
 * false, and the session never matches a request, shares no channel and keeps no storage.
 */
export function configOf(options: SessionOptions): Config {
  const platform = createPlatform({ platform: options.platform })
  const refresh = options.refresh as WorkerConfig['refresh']
  const url = new URL(refresh.url)
  const logout = options.logout as WorkerConfig['logout']
  return {
    // Only the page's request interception reads it, which the worker's session has none of
    // (tsup.config.ts leaves the interception out of the script).
    scope: undefined as never,
    rotation: options.rotation ?? 'timer',
    transport: options.transport ?? 'cookie',
    refresh: { kind: 'url', url, style: refresh.style, clientId: refresh.clientId },
    refreshURL: url,
    logoutURL: logout ? new URL(logout) : undefined,
    headers: new Headers(options.headers),
    rotateAt: options.rotateAt ?? 0.8,
    channelName: undefined,
    storageKey: '',
    coordinator: options.coordinator,
    worker: undefined,
    platform,
    reauthenticate: options.reauthenticate,
    idle: undefined,
    sessionEnding: undefined,
    fetch: options.fetch,
    now: platform.now,
    leeway: options.leeway,
    ...timingOf(options),
    storage: undefined,
    persistTokens: false,
    dpop: undefined,
    refreshBudget: DEFAULT_BUDGET,
    debug: undefined,
    traceSize: TRACE_SIZE,
  }
}
