/**
 * The WebSocket and server-sent-events face of the reference server: a small pub/sub that
 * authenticates with the model's access tokens and closes a connection (4401) the moment the
 * AT it authenticated with stops working, counting what tests assert.
 *
 * WebSocket protocol (JSON text frames):
 * - handshake: an AT in the `folioAccessToken` cookie or `Authorization: Bearer` authenticates
 *   at once (`{type:'authenticated'}` is the first frame); without one the client has
 *   `authTimeout` ms to send `{type:'auth', token}`. Sent again on an open socket, `auth`
 *   replaces the connection's AT (a new `authenticated` answers it).
 * - `{type:'subscribe', channel, after?}`: `{type:'subscribed', channel, seq}`, then every
 *   message of the channel with a seq above `after` (resume), then the live ones as
 *   `{type:'message', channel, seq, id, data}`. `{type:'unsubscribe', channel}`.
 * - `{type:'publish', channel, data}`: `{type:'published', channel, seq}`.
 * - anything that needs auth without it, or a refused token: `{type:'unauthorized', reason}`
 *   (a refused token also closes with 4401); an AT that expires or is revoked: close 4401.
 *
 * SSE: `GET <ssePath>?channel=a&channel=b` with the AT as cookie or bearer header streams the
 * channels' messages (`id` is the face-wide id: `Last-Event-ID` resumes); without a valid AT
 * it answers 401. When the AT expires or is revoked the stream gets `event: unauthorized`
 * and ends: the client reconnects with a fresh AT (through `session.fetch`, which rotates).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket as WsSocket, WebSocketServer } from 'ws'
import { ACCESS_COOKIE } from './model.js'
import type { AuthServer } from './server.js'

/** Options of {@link createSocketFace}. */
export interface SocketFaceOptions {
  /** Path of the WebSocket endpoint. @default '/ws' */
  path?: string
  /** Path of the server-sent-events endpoint. @default '/events' */
  ssePath?: string
  /** How often open connections are checked against the model (expiry, revocation), ms. @default 20 */
  checkInterval?: number
  /** How long a connection without a handshake token may take to send `auth`, ms. @default 5000 */
  authTimeout?: number
  /** Messages kept per channel for resuming. @default 10000 */
  history?: number
}

/** Counters of the face. Reset with `face.resetStats()`. */
export interface SocketFaceStats {
  /** WebSocket handshakes accepted. */
  connections: number
  /** Successful authentications: handshake, first `auth` message, or a new AT on an open socket. */
  auths: number
  /** Of `auths`, those that replaced the AT of an already authenticated connection. */
  reauths: number
  /** Tokens refused (expired, revoked, unknown, missing in time). */
  authRefused: number
  /** Connections closed with 4401 (refused, or their AT expired or was revoked while open). */
  closedUnauthorized: number
  /** Subscriptions accepted. */
  subscribes: number
  /** Subscriptions refused because the connection was not authenticated. */
  subscribeRefused: number
  /** Messages published (by clients or `face.publish`). */
  publishes: number
  /** Messages sent to subscribers (WebSocket and SSE), resumed ones included. */
  deliveries: number
  /** SSE streams opened with a valid AT. */
  sseStreams: number
  /** SSE requests answered 401. */
  sseRefused: number
}

/** One entry of `face.log`. */
export interface SocketLogEntry {
  /** Server clock, ms. */
  at: number
  /** `server.log.length` at that moment: every HTTP entry below this index happened before it. */
  httpIndex: number
  /** Connection (or SSE stream) number, from 1. */
  connection: number
  kind: 'connect' | 'auth' | 'auth-refused' | 'subscribe' | 'subscribe-refused' | 'publish' | 'close' | 'sse' | 'sse-refused'
  channel?: string
  code?: number
}

/** What `createSocketFace` returns: the reference server's WebSocket and server-sent-events face, with what it saw. */
export interface SocketFace {
  /** `ws://127.0.0.1:PORT/ws` while the HTTP face listens. */
  readonly url: string | undefined
  /** `http://127.0.0.1:PORT/events` while the HTTP face listens. */
  readonly sseUrl: string | undefined
  readonly stats: SocketFaceStats
  readonly log: SocketLogEntry[]
  /** Connections (WebSocket and SSE) open now. */
  readonly open: number
  /** Publishes as a client would; returns the message's seq in its channel. */
  publish(channel: string, data: unknown): number
  /** Drops every connection without a close frame (a network failure); returns how many. */
  drop(): number
  resetStats(): void
  /** Detaches from the server and ends every connection. */
  close(): Promise<void>
}

type Conn = {
  id: number
  jti: string | undefined
  subs: Set<string>
  send(message: unknown): void
  /** Ends it with 4401 (WebSocket) or `event: unauthorized` (SSE). */
  refuse(reason: string): void
  end(): void
}

type Channel = { seq: number; history: Array<{ seq: number; id: number; data: unknown }> }

function emptyStats(): SocketFaceStats {
  return {
    connections: 0,
    auths: 0,
    reauths: 0,
    authRefused: 0,
    closedUnauthorized: 0,
    subscribes: 0,
    subscribeRefused: 0,
    publishes: 0,
    deliveries: 0,
    sseStreams: 0,
    sseRefused: 0,
  }
}

function tokenOf(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1]
  if (bearer) return bearer
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === ACCESS_COOKIE) return part.slice(i + 1).trim() || undefined
  }
  return undefined
}

function parse(data: unknown): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(String(data))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * Adds the WebSocket and SSE face to `server` (on the port of its HTTP face, now and after
 * every later listen()). Needs the optional peer `ws` (8.x), loaded here.
 */
export async function createSocketFace(server: AuthServer, options: SocketFaceOptions = {}): Promise<SocketFace> {
  const known = new Set(['path', 'ssePath', 'checkInterval', 'authTimeout', 'history'])
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`createSocketFace: unknown option "${name}"`)
  }
  const path = options.path ?? '/ws'
  const ssePath = options.ssePath ?? '/events'
  for (const [name, value] of [
    ['path', path],
    ['ssePath', ssePath],
  ] as const) {
    if (typeof value !== 'string' || !value.startsWith('/')) throw new TypeError(`createSocketFace: option "${name}" must be a path starting with "/"`)
  }
  const number = (name: keyof SocketFaceOptions, fallback: number): number => {
    const value = options[name] ?? fallback
    if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`createSocketFace: option "${name}" must be a number > 0`)
    return value
  }
  const checkInterval = number('checkInterval', 20)
  const authTimeout = number('authTimeout', 5000)
  const historySize = number('history', 10_000)

  const { WebSocketServer: Wss } = await import('ws')
  const wss: WebSocketServer = new Wss({ noServer: true })
  const stats = emptyStats()
  const log: SocketLogEntry[] = []
  const conns = new Set<Conn>()
  const sockets = new Map<Conn, WsSocket>()
  const channels = new Map<string, Channel>()
  let nextConn = 0
  let nextId = 0

  const record = (conn: Conn, kind: SocketLogEntry['kind'], extra: { channel?: string; code?: number } = {}) =>
    log.push({ at: server.now(), httpIndex: server.log.length, connection: conn.id, kind, ...extra })

  const channelOf = (name: string): Channel => {
    let channel = channels.get(name)
    if (!channel) channels.set(name, (channel = { seq: 0, history: [] }))
    return channel
  }

  function deliver(conn: Conn, name: string, entry: Channel['history'][number]): void {
    stats.deliveries += 1
    conn.send({ type: 'message', channel: name, seq: entry.seq, id: entry.id, data: entry.data })
  }

  function publish(name: string, data: unknown): number {
    const channel = channelOf(name)
    const entry = { seq: ++channel.seq, id: ++nextId, data }
    channel.history.push(entry)
    if (channel.history.length > historySize) channel.history.shift()
    stats.publishes += 1
    for (const conn of conns) if (conn.jti !== undefined && conn.subs.has(name)) deliver(conn, name, entry)
    return entry.seq
  }

  /** Authenticates `conn` with `token`; false (and counted) when the model refuses it. */
  async function authenticate(conn: Conn, token: string | undefined): Promise<boolean> {
    const access = await server.verifyAccessToken(token)
    if (!access) {
      stats.authRefused += 1
      record(conn, 'auth-refused')
      return false
    }
    if (conn.jti !== undefined) stats.reauths += 1
    stats.auths += 1
    conn.jti = access.jti
    record(conn, 'auth')
    return true
  }

  function onMessage(conn: Conn, message: Record<string, unknown>): Promise<void> | void {
    const channel = typeof message['channel'] === 'string' ? message['channel'] : undefined
    switch (message['type']) {
      case 'auth':
        return authenticate(conn, typeof message['token'] === 'string' ? message['token'] : undefined).then(ok => {
          if (ok) conn.send({ type: 'authenticated' })
          else conn.refuse('token refused')
        })
      case 'subscribe': {
        if (channel === undefined) return conn.send({ type: 'error', reason: 'subscribe needs a channel' })
        if (conn.jti === undefined) {
          stats.subscribeRefused += 1
          record(conn, 'subscribe-refused', { channel })
          return conn.send({ type: 'unauthorized', reason: 'subscribe before authentication', channel })
        }
        stats.subscribes += 1
        record(conn, 'subscribe', { channel })
        conn.subs.add(channel)
        const state = channelOf(channel)
        conn.send({ type: 'subscribed', channel, seq: state.seq })
        const after = typeof message['after'] === 'number' ? message['after'] : state.seq
        for (const entry of state.history) if (entry.seq > after) deliver(conn, channel, entry)
        return
      }
      case 'unsubscribe':
        if (channel !== undefined) conn.subs.delete(channel)
        return
      case 'publish': {
        if (channel === undefined) return conn.send({ type: 'error', reason: 'publish needs a channel' })
        if (conn.jti === undefined) return conn.send({ type: 'unauthorized', reason: 'publish before authentication', channel })
        record(conn, 'publish', { channel })
        return conn.send({ type: 'published', channel, seq: publish(channel, message['data']) })
      }
      default:
        return conn.send({ type: 'error', reason: 'unknown message type' })
    }
  }

  function onConnection(ws: WsSocket, req: IncomingMessage): void {
    stats.connections += 1
    let queue: Promise<void> = Promise.resolve()
    let authTimer: ReturnType<typeof setTimeout> | undefined
    const conn: Conn = {
      id: ++nextConn,
      jti: undefined,
      subs: new Set(),
      send: message => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message))
      },
      refuse(reason) {
        conn.jti = undefined
        conn.subs.clear()
        // A connection already closing (the client left for a new token) is not cut.
        if (ws.readyState !== ws.OPEN) return
        stats.closedUnauthorized += 1
        conn.send({ type: 'unauthorized', reason })
        ws.close(4401, reason)
      },
      end: () => ws.terminate(),
    }
    conns.add(conn)
    sockets.set(conn, ws)
    record(conn, 'connect')
    ws.on('close', code => {
      clearTimeout(authTimer)
      conns.delete(conn)
      sockets.delete(conn)
      record(conn, 'close', { code })
    })
    ws.on('error', () => undefined)
    // One message at a time, in order: an `auth` being verified is done before the next frame.
    ws.on('message', data => {
      const message = parse(data)
      queue = queue.then(() => (message ? onMessage(conn, message) : conn.send({ type: 'error', reason: 'not JSON' })))
    })
    const token = tokenOf(req)
    if (token === undefined) {
      authTimer = setTimeout(() => conn.jti === undefined && conn.refuse('no token in time'), authTimeout)
      authTimer.unref?.()
      return
    }
    queue = queue.then(() => authenticate(conn, token).then(ok => (ok ? conn.send({ type: 'authenticated' }) : conn.refuse('token refused'))))
  }

  function onSse(req: IncomingMessage, res: ServerResponse): void {
    const id = ++nextConn
    const url = new URL(req.url ?? '/', 'http://face')
    const names = url.searchParams.getAll('channel')
    const lastId = Number(req.headers['last-event-id'] ?? NaN)
    void server.verifyAccessToken(tokenOf(req)).then(access => {
      const conn: Conn = {
        id,
        jti: access?.jti,
        subs: new Set(names),
        send: message => {
          const m = message as { type: string; id?: number }
          if (!res.writableEnded) res.write(`${m.id === undefined ? '' : `id: ${m.id}\n`}event: ${m.type}\ndata: ${JSON.stringify(message)}\n\n`)
        },
        refuse(reason) {
          conn.jti = undefined
          if (res.writableEnded || res.destroyed) return
          stats.closedUnauthorized += 1
          conn.send({ type: 'unauthorized', reason })
          res.end()
        },
        end: () => res.destroy(),
      }
      if (!access) {
        stats.sseRefused += 1
        record(conn, 'sse-refused')
        res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Invalid or expired access token')
        return
      }
      stats.sseStreams += 1
      record(conn, 'sse')
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' })
      res.flushHeaders()
      conns.add(conn)
      res.on('close', () => conns.delete(conn))
      if (Number.isFinite(lastId)) {
        for (const name of names) for (const entry of channelOf(name).history) if (entry.id > lastId) deliver(conn, name, entry)
      }
    })
  }

  const detach = server.attach({
    upgrade(req: IncomingMessage, socket: Socket, head: Buffer) {
      if (new URL(req.url ?? '/', 'http://face').pathname !== path) return false
      wss.handleUpgrade(req, socket, head, ws => onConnection(ws, req))
      return true
    },
    request(req, res) {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://face').pathname !== ssePath) return false
      onSse(req, res)
      return true
    },
  })
  // Expiry and revocation (revokeAccessTokens, logout, reuse, restart) are seen within one tick.
  const sweep = setInterval(() => {
    for (const conn of [...conns]) if (conn.jti !== undefined && !server.accessTokenAlive(conn.jti)) conn.refuse('access token expired or revoked')
  }, checkInterval)
  sweep.unref?.()

  const origin = () => (server.url === undefined ? undefined : new URL(server.url).origin)
  return {
    get url() {
      const o = origin()
      return o && o.replace(/^http/, 'ws') + path
    },
    get sseUrl() {
      const o = origin()
      return o && o + ssePath
    },
    stats,
    log,
    get open() {
      return conns.size
    },
    publish,
    drop() {
      const all = [...conns]
      // Out of the set at once: the expiry check must not count a 4401 for a dropped connection
      // whose 'close' event has not arrived yet.
      conns.clear()
      for (const conn of all) conn.end()
      return all.length
    },
    resetStats() {
      Object.assign(stats, emptyStats())
      log.length = 0
    },
    async close() {
      detach()
      clearInterval(sweep)
      const all = [...conns]
      conns.clear()
      for (const conn of all) conn.end()
      await new Promise<void>(resolve => wss.close(() => resolve()))
    },
  }
}
