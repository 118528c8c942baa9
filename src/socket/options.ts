/** The options of sockets and event streams validated up front (a TypeError names the bad one, nested ones included) with defaults filled in. */
import { RotorTypeError } from '../errors.js'
import { assertKnownOptions, optionError } from '../utils/option-errors.js'
import type { Timers } from '../types.js'
import { defaultPlatform, platformTimers } from '../platform/defaults.js'
import type { Backoff } from './reconnect.js'
import type { ConnectContext, EventStreamOptions, SocketOptions, WebSocketConstructor } from './types.js'

const PREFIX = 'rotor-auth/socket'

export type SocketConfig = {
  WebSocket: WebSocketConstructor
  url: (ctx: ConnectContext) => Promise<string>
  protocols: (ctx: ConnectContext) => Promise<string | string[] | undefined>
  init: ((ctx: ConnectContext) => unknown) | undefined
  authMessage: ((ctx: ConnectContext) => unknown) | undefined
  isAuthenticated: (message: unknown) => boolean
  isUnauthorized: (message: unknown) => boolean
  authCloseCodes: number[]
  onRotate: ((ctx: ConnectContext) => unknown) | undefined
  parse: (data: unknown) => unknown
  serialize: (message: unknown) => string
  backoff: Backoff
  maxRefusals: number
  quiet: number
  connectTimeout: number
  timers: Timers
  now: () => number
  /** Uniform in [0, 1): the reconnect jitter. */
  random: () => number
}

const KNOWN = new Set<string>([
  'WebSocket',
  'url',
  'protocols',
  'init',
  'authMessage',
  'isAuthenticated',
  'isUnauthorized',
  'authCloseCodes',
  'onRotate',
  'parse',
  'serialize',
  'backoff',
  'maxRefusals',
  'quiet',
  'connectTimeout',
  'timers',
  'now',
  'random',
] satisfies Array<keyof SocketOptions>)

const KNOWN_STREAM = new Set<string>(['url', 'init', 'unauthorizedEvent', 'backoff', 'maxRefusals', 'connectTimeout', 'timers', 'now', 'random'] satisfies Array<
  keyof EventStreamOptions
>)

function fail(option: string, expected: string, got: unknown): never {
  throw optionError(PREFIX, option, expected, got)
}

/**
 * Unknown keys of a nested option (`backoff: { inital }`) are refused as top-level ones are,
 * named by their path: a misspelt `initial` would silently leave the default in place.
 */
function assertKnownNested(option: string, known: readonly string[], value: object): void {
  const named = (key: string) => `${option}.${key}`
  assertKnownOptions(PREFIX, new Set(known.map(named)), Object.fromEntries(Object.keys(value).map(key => [named(key), true])))
}

/**
 * `on(event, listener)` checked at the call: a misspelt event name would never fire, and a
 * listener that is not a function would throw later, inside the socket's own flow.
 */
export function assertListener(known: readonly string[], event: unknown, listener: unknown): void {
  if (typeof event !== 'string' || !known.includes(event)) {
    throw new RotorTypeError('ERR_USAGE', `${PREFIX}: on(event, listener): unknown event ${JSON.stringify(event) ?? String(event)} (one of ${known.join(', ')})`)
  }
  if (typeof listener !== 'function') throw new RotorTypeError('ERR_USAGE', `${PREFIX}: on('${event}', listener): the listener must be a function`)
}

/** `backoff: { initial?, max? }`, shared by sockets and streams. */
function backoffOption(value: unknown): Backoff {
  const backoff = value ?? {}
  if (typeof backoff !== 'object' || backoff === null || Array.isArray(backoff)) fail('backoff', '{ initial?, max? }', backoff)
  assertKnownNested('backoff', ['initial', 'max'], backoff)
  const { initial: i, max: m } = backoff as { initial?: unknown; max?: unknown }
  const initial = positive('backoff.initial', i, 250)
  const max = positive('backoff.max', m, 30_000)
  if (max < initial) fail('backoff.max', `at least backoff.initial (${initial})`, max)
  return { initial, max }
}

function maxRefusalsOption(value: unknown): number {
  if (value === undefined) return 3
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail('maxRefusals', 'an integer >= 1', value)
  return value
}

function timersOption(timers: Timers | undefined): Timers {
  if (timers !== undefined && (typeof timers?.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function')) {
    fail('timers', '{ setTimeout, clearTimeout }', timers)
  }
  return timers ?? platformTimers
}

/** The jitter's source: a simulator passes its seeded one, so that every reconnect delay replays. */
function randomOption(random: unknown): () => number {
  if (random !== undefined && typeof random !== 'function') fail('random', 'a function returning a number in [0, 1)', random)
  return (random as (() => number) | undefined) ?? defaultPlatform().random
}

function nowOption(now: unknown): () => number {
  if (now !== undefined && typeof now !== 'function') fail('now', 'a function', now)
  return (now as (() => number) | undefined) ?? defaultPlatform().now
}

const typeIs = (type: string) => (message: unknown) => typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type

function parseFrame(data: unknown): unknown {
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}

function positive(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(option, 'a number of ms > 0', value)
  return value
}

export function normalizeSocketOptions(options: SocketOptions): SocketConfig {
  if (typeof options !== 'object' || options === null)
    throw new RotorTypeError('ERR_INVALID_OPTION', 'rotor-auth/socket: createSocket(session, options) takes an options object')
  assertKnownOptions(PREFIX, KNOWN, options)
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WebSocket !== 'function') fail('WebSocket', "a WebSocket constructor (in Node: import WebSocket from 'ws')", options.WebSocket)
  const { url, protocols } = options
  if (typeof url !== 'string' && !(url instanceof URL) && typeof url !== 'function') fail('url', 'a URL or a function of the connect context', url)
  const isProtocols = (p: unknown) => typeof p === 'string' || (Array.isArray(p) && p.every(x => typeof x === 'string'))
  if (protocols !== undefined && typeof protocols !== 'function' && !isProtocols(protocols)) fail('protocols', 'a string, an array of strings or a function', protocols)
  for (const name of ['init', 'authMessage', 'isAuthenticated', 'isUnauthorized', 'onRotate', 'parse', 'serialize'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') fail(name, 'a function', options[name])
  }
  const codes = options.authCloseCodes ?? [4401]
  if (!Array.isArray(codes) || !codes.every(c => Number.isInteger(c))) fail('authCloseCodes', 'an array of close codes', codes)
  return {
    WebSocket,
    url: async ctx => String(typeof url === 'function' ? await url(ctx) : url),
    protocols: async ctx => (typeof protocols === 'function' ? protocols(ctx) : protocols),
    init: options.init,
    authMessage: options.authMessage,
    isAuthenticated: options.isAuthenticated ?? typeIs('authenticated'),
    isUnauthorized: options.isUnauthorized ?? typeIs('unauthorized'),
    authCloseCodes: codes,
    onRotate: options.onRotate,
    parse: options.parse ?? parseFrame,
    serialize: options.serialize ?? (message => (typeof message === 'string' ? message : JSON.stringify(message))),
    backoff: backoffOption(options.backoff),
    maxRefusals: maxRefusalsOption(options.maxRefusals),
    quiet: positive('quiet', options.quiet, 100),
    connectTimeout: positive('connectTimeout', options.connectTimeout, 10_000),
    timers: timersOption(options.timers),
    now: nowOption(options.now),
    random: randomOption(options.random),
  }
}

export type StreamConfig = {
  url: () => string
  init: Omit<RequestInit, 'signal'> | undefined
  unauthorizedEvent: string
  backoff: Backoff
  maxRefusals: number
  connectTimeout: number
  timers: Timers
  now: () => number
  /** Uniform in [0, 1): the reconnect jitter. */
  random: () => number
}

export function normalizeStreamOptions(options: EventStreamOptions): StreamConfig {
  if (typeof options !== 'object' || options === null)
    throw new RotorTypeError('ERR_INVALID_OPTION', 'rotor-auth/socket: createEventStream(session, options) takes an options object')
  assertKnownOptions(PREFIX, KNOWN_STREAM, options)
  const { url, init, unauthorizedEvent = 'unauthorized' } = options
  if (typeof url !== 'string' && !(url instanceof URL) && typeof url !== 'function') fail('url', 'a URL or a function returning one', url)
  if (init !== undefined && (typeof init !== 'object' || init === null)) fail('init', 'a RequestInit object', init)
  // The stream's own signal ends it on close() and rotation: one passed here would be dropped.
  if (init !== undefined && 'signal' in init) fail('init.signal', 'absent (close() ends the stream)', 'a signal')
  if (typeof unauthorizedEvent !== 'string' || unauthorizedEvent === '') fail('unauthorizedEvent', 'an event name', unauthorizedEvent)
  return {
    url: () => String(typeof url === 'function' ? url() : url),
    init,
    unauthorizedEvent,
    backoff: backoffOption(options.backoff),
    maxRefusals: maxRefusalsOption(options.maxRefusals),
    connectTimeout: positive('connectTimeout', options.connectTimeout, 10_000),
    timers: timersOption(options.timers),
    now: nowOption(options.now),
    random: randomOption(options.random),
  }
}
