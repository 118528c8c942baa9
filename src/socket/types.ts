/** The public types of `rotor-auth/socket`: options, the connect context, the socket and its events. */
import type { Timers } from '../types.js'

/** What a (re)connect is built from: read after `session.ready()` resolved. */
export type ConnectContext = {
  /** Bearer transport: the access token to authenticate with. Cookie transport: undefined (the handshake carries the cookie). */
  token: string | undefined
  /** The session generation `token` belongs to (what `authFailed` is told when it is refused). */
  generation: number
  /** 0 for the first connection, +1 for every one after it. */
  attempt: number
}

/**
 * An event handler property, compared bivariantly (as methods are): `ws` types its handlers'
 * events as its own richer classes (`WebSocket.MessageEvent`, …), which a plain function type
 * would refuse (TS2322 on `{ WebSocket }` from `import WebSocket from 'ws'`).
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack']

/** The part of a WebSocket the helper uses: the browser's and Node's `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: Handler<unknown> | null
  onmessage: Handler<{ data: unknown }> | null
  onclose: Handler<{ code: number; reason: string }> | null
  onerror: Handler<unknown> | null
}

/** `new WebSocket(url, protocols, init)`: the third argument is Node `ws`'s options (headers); browsers ignore it. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], init?: never) => WebSocketLike

/** What `createSocket(session, options)` takes. */
export type SocketOptions = {
  /**
   * The WebSocket constructor.
   * @default globalThis.WebSocket
   * @example WebSocket   // import WebSocket from 'ws' (Node)
   */
  WebSocket?: WebSocketConstructor
  /**
   * Where to connect, built before every (re)connect from the current token (a function may
   * be async).
   * @example ctx => `wss://api.example.org/live?v=2`
   */
  url: string | URL | ((ctx: ConnectContext) => string | URL | Promise<string | URL>)
  /**
   * Subprotocols, e.g. a token carried in `Sec-WebSocket-Protocol`.
   * @default none
   * @example ctx => ['v1', `bearer.${ctx.token}`]
   */
  protocols?: string | string[] | ((ctx: ConnectContext) => string | string[] | undefined | Promise<string | string[] | undefined>)
  /**
   * The constructor's third argument (Node `ws`: `{ headers }`; browsers ignore it); may be
   * async, e.g. to read a cookie jar for the cookie transport in Node.
   * @default none
   * @example ctx => ({ headers: { Authorization: `Bearer ${ctx.token}` } })
   * @example async () => ({ headers: { cookie: await jar.cookieString(wsUrl) } })
   */
  init?: (ctx: ConnectContext) => unknown
  /**
   * The first message after open, when the server authenticates by message rather than by
   * the handshake. Return undefined to send nothing.
   * @default none (the handshake authenticates: cookie, header or protocol)
   * @example ctx => ({ type: 'auth', token: ctx.token })
   */
  authMessage?: (ctx: ConnectContext) => unknown
  /**
   * The server's acknowledgement: subscriptions are replayed after it, never before.
   * @default message => message.type === 'authenticated'
   */
  isAuthenticated?: (message: unknown) => boolean
  /**
   * A message saying the token was refused: `authFailed(generation)`, then a reconnect.
   * @default message => message.type === 'unauthorized'
   */
  isUnauthorized?: (message: unknown) => boolean
  /**
   * Close codes that mean "the token was refused or ran out".
   * @default [4401]
   * @example [4401, 4403, 1008]
   */
  authCloseCodes?: number[]
  /**
   * After a rotation: the message that hands the new token to the open socket (as supabase
   * realtime's `setAuth` does). Without it (or when it returns undefined) the socket
   * reconnects at a quiet moment, before the old token runs out.
   * @default none
   * @example ctx => ({ type: 'auth', token: ctx.token })
   */
  onRotate?: (ctx: ConnectContext) => unknown
  /**
   * Turns a received frame into a message.
   * @default JSON.parse for text frames (the text itself when it is not JSON)
   */
  parse?: (data: unknown) => unknown
  /**
   * Turns a message into a frame.
   * @default strings as they are, anything else JSON.stringify
   */
  serialize?: (message: unknown) => string
  /**
   * Reconnect delays after a failure: exponential from `initial` to `max` ms, with jitter.
   * @default { initial: 250, max: 30000 }
   * @example { initial: 1000, max: 60000 }
   */
  backoff?: { initial?: number; max?: number }
  /**
   * Consecutive refusals of the token (each reported, so each after a fresh rotation) after
   * which the socket closes for good with cause `unauthorized-repeated`. A connection that
   * stays authenticated long enough (30 s, or half its token's life) counts from zero again.
   * @default 3
   * @example 5
   */
  maxRefusals?: number
  /**
   * A rotation reconnect waits for this many ms without traffic (at most until halfway to
   * the old token's expiry).
   * @default 100
   * @example 20
   */
  quiet?: number
  /**
   * The longest a connection may take from its start (the session's token in hand) to the
   * server's acknowledgement of that token: past it the attempt is given up (`connect-failed`),
   * and the next one follows the backoff. A server that accepts the handshake and never answers
   * would otherwise leave the socket `connecting` or `authenticating` for good.
   * @default 10000
   * @example 30000
   */
  connectTimeout?: number
  /** Timers, for tests. @default the platform's @example { setTimeout: fake.set, clearTimeout: fake.clear } */
  timers?: Timers
  /** Clock, the session's. @default the platform's wall clock @example () => fakeNow */
  now?: () => number
  /** Uniform in [0, 1): the reconnect jitter, for tests and simulators. @default the platform's random @example () => 0.5 */
  random?: () => number
}

/**
 * Where a socket is: `connecting` (waiting for the session's token or the connection),
 * `authenticating` (connected, its token not yet accepted), `open`, `waiting` (for the next
 * attempt), `closed` (for good).
 */
export type SocketStatus = 'connecting' | 'authenticating' | 'open' | 'waiting' | 'closed'

/**
 * Why a connection of a socket or stream failed: the `error` event's `reason`.
 * - `connect-failed`: no connection (server down, wrong host or URL, a refused handshake, a network error, no acknowledgement within `connectTimeout`)
 * - `interrupted`: an established connection ended (the server or the network), not for its token
 * - `http-status`: (streams) the answer was not 2xx; `status` says which
 * - `not-event-stream`: (streams) a 2xx that is not `text/event-stream` (an HTML or JSON page, no body)
 * - `unauthorized`: the token was refused (an auth close code, an `unauthorized` message or event, a 401)
 * - `unauthorized-repeated`: `maxRefusals` refusals in a row, each after a fresh rotation: closes for good
 * - `rotation-failed`: the session could not make a usable token (its refresh kept failing for `queueTimeout`)
 */
export type ConnectionFailure = 'connect-failed' | 'interrupted' | 'http-status' | 'not-event-stream' | 'unauthorized' | 'unauthorized-repeated' | 'rotation-failed'

/** The `error` event of sockets and streams. Never carries a token. */
export type ConnectionError = {
  reason: ConnectionFailure
  /** false once, with `unauthorized-repeated`, right before `close`. */
  willRetry: boolean
  /** ms until the next attempt (after the session's re-authentication, for `unauthorized`). */
  retryIn?: number
  /** The close code, for a WebSocket closed by the server or the network. */
  code?: number
  /** The HTTP status, for a stream's answer. */
  status?: number
  /** The answer's Content-Type, for `not-event-stream`. */
  contentType?: string
}

/** Why a socket or stream closed for good: `close()`, the session's end or dispose, or repeated refusals. */
export type CloseCause = 'app' | 'session-ended' | 'session-disposed' | 'unauthorized-repeated'

/** Every event `socket.on()` takes, and what its listener receives. */
export type SocketEvents = {
  /** Authenticated and subscriptions replayed. */
  open: { generation: number; attempt: number }
  /** Every message that is not an authentication answer. */
  message: unknown
  /** A connection ended; another one follows unless `close` comes too. */
  disconnect: { code: number; reason: string; auth: boolean }
  /** A connection failed, or the token was refused: why, and when the next attempt goes. */
  error: ConnectionError
  /** For good: `close()`, logout, the session disposed or over, or repeated refusals. The last event. */
  close: { reason: string; cause: CloseCause }
}

/** What `createSocket` returns: a WebSocket that re-authenticates before it resumes. */
export interface RotorSocket {
  readonly status: SocketStatus
  /**
   * Keeps a subscription: `message()` is sent after every authentication (its result is read
   * then, so it can carry a resume cursor). Returns the unsubscribe, which sends
   * `unsubscribeMessage()` when given and open.
   */
  subscribe(key: string, message: () => unknown, unsubscribeMessage?: () => unknown): () => void
  /** Sends now when authenticated (true); otherwise drops it (false). */
  send(message: unknown): boolean
  on<K extends keyof SocketEvents>(event: K, listener: (payload: SocketEvents[K]) => void): () => void
  /** Closes for good with `reason`; releases every timer and listener. */
  close(reason?: string): void
}

/** What `createEventStream(session, options)` takes. */
export type EventStreamOptions = {
  /**
   * The stream's URL, in the session's scope (so `session.fetch` authorises it).
   * @example 'https://api.example.org/api/events?channel=orders'
   */
  url: string | URL | (() => string | URL)
  /**
   * Extra request options (headers, …); `Accept` and `Last-Event-ID` are set by the stream.
   * @default none
   */
  init?: Omit<RequestInit, 'signal'>
  /**
   * An event that means "your token stopped working" (the stream then ends): reconnect at once.
   * @default 'unauthorized'
   */
  unauthorizedEvent?: string
  /**
   * Reconnect delays after a failure: exponential from `initial` to `max` ms, with jitter.
   * @default { initial: 250, max: 30000 }
   * @example { initial: 1000, max: 60000 }
   */
  backoff?: { initial?: number; max?: number }
  /**
   * Consecutive refusals of the token (401 after the session's own retry, or the
   * `unauthorizedEvent`), each after a fresh rotation, after which the stream closes for good
   * with cause `unauthorized-repeated`. A stream that stays open long enough (30 s, or half
   * its token's life) counts from zero again.
   * @default 3
   * @example 5
   */
  maxRefusals?: number
  /**
   * The longest the stream's request may take, from its start (the session's token in hand) to
   * its answer's headers: past it the request is aborted (`connect-failed`) and the next follows
   * the backoff. A server that never answers would otherwise leave the stream connecting for good.
   * @default 10000
   * @example 30000
   */
  connectTimeout?: number
  /** Timers, for tests. @default the platform's @example { setTimeout: fake.set, clearTimeout: fake.clear } */
  timers?: Timers
  /** Clock, the session's. @default the platform's wall clock @example () => fakeNow */
  now?: () => number
  /** Uniform in [0, 1): the reconnect jitter, for tests and simulators. @default the platform's random @example () => 0.5 */
  random?: () => number
}
