/** The options of createRedisCoordinator, validated up front: a TypeError names the bad one. */
import { RotorTypeError } from '../errors.js'
import { createPlatform } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import { assertKnownOptions, optionError } from '../utils/option-errors.js'

/**
 * What the coordinator needs of a node-redis client (v4 to v6): a connected `createClient()`
 * fits. Typed by shape, so this entry never imports `redis` at run time.
 */
export interface RedisClientLike {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  get(key: string): Promise<unknown>
  publish(channel: string, message: string): Promise<unknown>
  /** A second connection for SUBSCRIBE (a subscribed connection can send nothing else). */
  duplicate(): RedisSubscriberLike
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: 'ready', listener: (...args: any[]) => void): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: 'ready', listener: (...args: any[]) => void): unknown
}

/** The pub/sub connection `client.duplicate()` gives: what the coordinator uses of it. */
export interface RedisSubscriberLike {
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>
  /** node-redis 5 and 6; 4 has only `disconnect()`. */
  destroy?(): unknown
  disconnect?(): Promise<unknown>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: 'ready' | 'error', listener: (...args: any[]) => void): unknown
}

/** 32 bytes, or their base64. */
export type RedisKey = Uint8Array | string

/** What `createRedisCoordinator` takes. */
export type RedisCoordinatorOptions = {
  /**
   * A connected node-redis client. It stays yours: `close()` never quits it. The
   * coordinator opens one more connection from it (`client.duplicate()`) for pub/sub.
   * @example await createClient({ url: 'redis://127.0.0.1:6379' }).on('error', log).connect()
   */
  client: RedisClientLike
  /**
   * What the sessions sharing one token pair have in common (one user's job, everywhere).
   * Keys are `rotor:{<name>}:*`, channel `rotor:{<name>}:bus`.
   * @example 'import:diku:diku_admin'
   */
  name: string
  /**
   * The deployment key: 32 bytes (a Uint8Array or Buffer, or their base64). Each name gets
   * its own AES-256-GCM key derived from it (HKDF-SHA-256), and the snapshot, tokens,
   * generation and status included, is sealed before it reaches Redis, in the key and on the
   * channel. Every process of the name needs it. A list rotates the key: the first seals,
   * every one opens (`[newKey, oldKey]` until every process has the new list). Required
   * unless `tokens: 'omit'`.
   * @example Buffer.from(process.env.ROTOR_REDIS_KEY!, 'base64')
   * @example [process.env.ROTOR_REDIS_KEY!, process.env.ROTOR_REDIS_KEY_OLD!]
   */
  key?: RedisKey | readonly RedisKey[]
  /**
   * `'omit'`: no token ever goes to Redis; only generation, status and expirations are
   * shared (in the clear), with the lock. For sessions whose tokens live where every process
   * reaches them already (the cookie transport with a shared jar, a `refresh` function with
   * its own vault). The bearer transport is refused at its first `start()`.
   * @default 'encrypt' (needs `key`)
   * @example 'omit'
   */
  tokens?: 'encrypt' | 'omit'
  /**
   * The rotation lock's lease, in ms. The holder renews it every third of it while it
   * refreshes, so a slow refresh keeps it; a process that dies holding it blocks the others
   * for at most this long. Also how long everyone waits after Redis lost its data before
   * anyone takes the lock (a holder whose refresh is still on the wire takes its lock back).
   * @default 10000
   * @example 3000
   */
  lease?: number
  /**
   * Pieces of the runtime to use instead of the real ones, for tests: the clocks (`now`,
   * `monotonic`: the lease is counted on the monotonic one, or on `now` without it), `after`
   * (timers), `random`, `randomId` and `crypto`.
   * @default the runtime's clocks, timers, random source and WebCrypto
   * @example { now: clock.now, monotonic: clock.now, after: clock.after }
   */
  platform?: Partial<Platform>
}

export type RedisConfig = {
  client: RedisClientLike
  name: string
  /** Newest first; empty with `tokens: 'omit'`. */
  keys: Uint8Array[]
  lease: number
  platform: Platform
}

const KNOWN = new Set(['client', 'name', 'key', 'tokens', 'lease', 'platform'])

function fail(option: string, expected: string, got: unknown): never {
  throw optionError('rotor-auth/redis', option, expected, got)
}

const CLIENT_METHODS = ['eval', 'get', 'publish', 'duplicate', 'on', 'off'] as const

export function normalizeRedisOptions(options: RedisCoordinatorOptions): RedisConfig {
  if (typeof options !== 'object' || options === null) fail('options', 'an object { client, name, key }', options)
  assertKnownOptions('rotor-auth/redis', KNOWN, options)
  const { client, name, key, tokens, lease, platform: pieces } = options
  if (typeof client !== 'object' || client === null) fail('client', 'a connected node-redis client', client)
  const missing = CLIENT_METHODS.filter(m => typeof (client as unknown as Record<string, unknown>)[m] !== 'function')
  if (missing.length) fail('client', `a node-redis client (missing ${missing.join(', ')})`, Object.keys(client))
  if (typeof name !== 'string' || name === '' || /[{}]/.test(name)) fail('name', 'a non-empty string without { or }', name)
  if (tokens !== undefined && tokens !== 'encrypt' && tokens !== 'omit') fail('tokens', "'encrypt' or 'omit'", tokens)
  if (lease !== undefined && (typeof lease !== 'number' || !Number.isFinite(lease) || lease < 100)) fail('lease', 'a finite number of ms >= 100', lease)
  if (pieces !== undefined && (typeof pieces !== 'object' || pieces === null)) fail('platform', 'an object of platform pieces', pieces)
  const common = { client, name, lease: lease ?? 10_000, platform: createPlatform({ platform: pieces }) }
  if (tokens === 'omit') {
    if (key !== undefined) fail('key', "absent with tokens: 'omit' (nothing is encrypted)", key)
    return { ...common, keys: [] }
  }
  if (key === undefined) {
    throw new RotorTypeError(
      'ERR_INVALID_OPTION',
      "rotor-auth/redis: option `key` is required (32 bytes for AES-256-GCM), or pass `tokens: 'omit'` to keep tokens out of Redis",
    )
  }
  const list = Array.isArray(key) ? (key as readonly RedisKey[]) : [key as RedisKey]
  if (list.length === 0) fail('key', 'a key, or a non-empty list of keys (newest first)', key)
  return { ...common, keys: list.map((k, i) => keyBytes(k, list.length > 1 ? `key[${i}]` : 'key')) }
}

function keyBytes(key: unknown, option: string): Uint8Array {
  let bytes: Uint8Array
  if (typeof key === 'string') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key)) fail(option, '32 bytes, or their base64', key.length > 12 ? `${key.slice(0, 4)}… (not base64)` : key)
    bytes = Buffer.from(key, 'base64')
  } else if (key instanceof Uint8Array) {
    bytes = key
  } else {
    fail(option, '32 bytes (a Uint8Array or Buffer), or their base64', key)
  }
  if (bytes.length !== 32) fail(option, '32 bytes for AES-256-GCM', bytes)
  // A copy: the caller may zero or reuse their buffer.
  return Uint8Array.from(bytes)
}
