/** The platform's defaults: the one file in src/ (outside src/testing/) that names the runtime's globals. */
import type { StorageLike, Timers } from '../types.js'
import type { ChannelLike, LockManagerLike, Platform, SharedWorkerLike, Timer } from './types.js'

/** setTimeout's delay is a signed 32-bit int; a longer delay fires at once. */
export const MAX_TIMEOUT = 2 ** 31 - 1

type Listening = {
  addEventListener?: (type: string, listener: () => void, options?: object) => void
  removeEventListener?: (type: string, listener: () => void, options?: object) => void
}
type Globals = Listening & {
  document?: Listening & { baseURI?: string }
  location?: { href?: string; origin?: string }
  navigator?: { locks?: LockManagerLike }
  localStorage?: StorageLike
  SharedWorker?: new (url: URL, options: { name: string; type?: string }) => SharedWorkerLike
  WorkerGlobalScope?: unknown
  indexedDB?: IDBFactory
}
const g = globalThis as typeof globalThis & Globals

/** The platform's timers, looked up at call time so fake timers installed later still apply. */
export const platformTimers: Timers = {
  setTimeout: (callback, ms) => g.setTimeout(callback, ms),
  clearTimeout: handle => g.clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** `after` on top of `{ setTimeout, clearTimeout }` (the `timers` option's shape). */
export function afterOn(timers: Timers): Platform['after'] {
  return (ms, fn, keepAlive = false): Timer => {
    const handle = timers.setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMEOUT))
    if (!keepAlive) (handle as { unref?: () => void } | undefined)?.unref?.()
    return { cancel: () => timers.clearTimeout(handle) }
  }
}

/** Reading localStorage throws in sandboxed iframes and with storage disabled. A worker has none (its build drops the read: `notInWorker:`). */
function localStorage(): StorageLike | undefined {
  notInWorker: try {
    return g.localStorage ?? undefined
  } catch {
    return undefined
  }
}

const ON_DOCUMENT = new Set(['visibilitychange', 'freeze', 'resume'])
const ACTIVITY = { passive: true, capture: true }

function on(type: string, listener: () => void): () => void {
  const target = ON_DOCUMENT.has(type) ? g.document : g
  const { addEventListener: add, removeEventListener: remove } = target ?? {}
  if (typeof add !== 'function' || typeof remove !== 'function') return () => undefined
  // Capture and passive: activity anywhere on the page counts and never delays scrolling.
  add.call(target, type, listener, ACTIVITY)
  return () => remove.call(target, type, listener, ACTIVITY)
}

/** The page's address, base URL and origin, read at call time (a script may change `<base href>` whenever it likes). */
export function pageLocation(): ReturnType<Platform['location']> {
  return { href: g.location?.href, base: g.document?.baseURI ?? g.location?.href, origin: g.location?.origin }
}

function randomId(): string {
  return g.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2) + Date.now().toString(36)
}

const REALMS_KEY = Symbol.for('rotor-auth.realms')

/** This JS realm's registry; Symbol.for keeps it single even with the ESM and CJS builds loaded side by side. */
function realmRegistry(): Map<string, unknown> {
  const holder = g as { [REALMS_KEY]?: Map<string, unknown> }
  return (holder[REALMS_KEY] ??= new Map())
}

/** The runtime's own platform, every piece looked up when used where tests may patch it later. */
export function defaultPlatform(): Platform {
  return {
    now: () => Date.now(),
    monotonic: typeof g.performance?.now === 'function' ? () => g.performance.now() : undefined,
    after: afterOn(platformTimers),
    random: Math.random,
    randomId,
    on,
    channel: typeof g.BroadcastChannel === 'function' ? name => new g.BroadcastChannel(name) as unknown as ChannelLike : undefined,
    locks: g.navigator?.locks,
    realms: realmRegistry(),
    storage: localStorage(),
    location: pageLocation,
    browsing: g.document !== undefined || g.WorkerGlobalScope !== undefined,
    fetch: () => g.fetch,
    // Classic, as every page of the origin starts it: the rotation worker's script is one IIFE.
    sharedWorker: g.SharedWorker && ((url, name) => new g.SharedWorker!(url, { name })),
    indexedDB: g.indexedDB,
    crypto: g.crypto,
    debug: undefined,
    election: undefined,
  }
}

/** What a session's options may say about its platform. */
export type PlatformOptions = {
  now?: (() => number) | undefined
  timers?: Timers | undefined
  platform?: Partial<Platform> | undefined
}

/**
 * The session's platform: the runtime's, with the `now` and `timers` options and then any
 * piece of the `platform` option on top. An injected `now` is a clock a test moves on
 * purpose: no monotonic clock is paired with it, so no clock jump is ever inferred.
 */
export function createPlatform(options: PlatformOptions = {}): Platform {
  const base = defaultPlatform()
  if (options.now) Object.assign(base, { now: options.now, monotonic: undefined })
  if (options.timers) base.after = afterOn(options.timers)
  const { platform = {} } = options
  // A virtual wall clock without a virtual monotonic one would see every move as a jump.
  if (platform.now && !('monotonic' in platform)) base.monotonic = undefined
  return { ...base, ...platform }
}
