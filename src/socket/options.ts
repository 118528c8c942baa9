/** The socket helper's options validated up front (a TypeError names the bad one) with defaults filled in. */
import { assertKnownOptions, optionError } from '../utils/option-errors.js'
import type { Timers } from '../types.js'
import { platformTimers } from '../utils/timers.js'
import type { ConnectContext, SocketOptions, WebSocketConstructor } from './types.js'

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
  backoff: { initial: number; max: number }
  quiet: number
  timers: Timers
  now: () => number
}

const KNOWN = new Set<string>([
  'WebSocket', 'url', 'protocols', 'init', 'authMessage', 'isAuthenticated', 'isUnauthorized', 'authCloseCodes', 'onRotate',
  'parse', 'serialize', 'backoff', 'quiet', 'timers', 'now',
] satisfies Array<keyof SocketOptions>)

function fail(option: string, expected: string, got: unknown): never {
  throw optionError('rotor-auth/socket', option, expected, got)
}

const typeIs = (type: string) => (message: unknown) =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type

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
  if (typeof options !== 'object' || options === null) throw new TypeError('rotor-auth/socket: createSocket(session, options) takes an options object')
  assertKnownOptions('rotor-auth/socket', KNOWN, options)
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WebSocket !== 'function') fail('WebSocket', "a WebSocket constructor (in Node: import WebSocket from 'ws')", options.WebSocket)
  const { url, protocols } = options
  if (typeof url !== 'string' && !(url instanceof URL) && typeof url !== 'function') fail('url', 'a URL or a function of the connect context', url)
  const isProtocols = (p: unknown) => typeof p === 'string' || (Array.isArray(p) && p.every(x => typeof x === 'string'))
  if (protocols !== undefined && typeof protocols !== 'function' && !isProtocols(protocols)) fail('protocols', 'a string, an array of strings or a function', protocols)
  for (const name of ['init', 'authMessage', 'isAuthenticated', 'isUnauthorized', 'onRotate', 'parse', 'serialize', 'now'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') fail(name, 'a function', options[name])
  }
  const codes = options.authCloseCodes ?? [4401]
  if (!Array.isArray(codes) || !codes.every(c => Number.isInteger(c))) fail('authCloseCodes', 'an array of close codes', codes)
  const backoff = options.backoff ?? {}
  if (typeof backoff !== 'object' || backoff === null) fail('backoff', '{ initial?, max? }', backoff)
  for (const name of Object.keys(backoff)) if (name !== 'initial' && name !== 'max') fail('backoff', '{ initial?, max? }', backoff)
  const initial = positive('backoff.initial', backoff.initial, 250)
  const max = positive('backoff.max', backoff.max, 30_000)
  if (max < initial) fail('backoff.max', `at least backoff.initial (${initial})`, max)
  const { timers } = options
  if (timers !== undefined && (typeof timers?.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function')) {
    fail('timers', '{ setTimeout, clearTimeout }', timers)
  }
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
    backoff: { initial, max },
    quiet: positive('quiet', options.quiet, 100),
    timers: timers ?? platformTimers,
    now: options.now ?? (() => Date.now()),
  }
}
