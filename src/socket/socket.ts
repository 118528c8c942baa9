/** One authenticated WebSocket over a session: ready() before every (re)connect, subscriptions after the server's ack, re-auth on refusal and rotation. */
import type { SessionExpiredError } from '../errors.js'
import type { Session } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, type Timer } from '../utils/timers.js'
import { normalizeSocketOptions } from './options.js'
import type { ConnectContext, RotorSocket, SocketEvents, SocketOptions, SocketStatus, WebSocketLike } from './types.js'

/**
 * By code, not instanceof: the CJS build bundles each entry on its own, so this entry's copy
 * of the class is not the one the session threw.
 */
const ended = (error: unknown): error is SessionExpiredError => (error as { code?: unknown } | null)?.code === 'ERR_SESSION_EXPIRED'

type Subscription = { message: () => unknown; unsubscribe: (() => unknown) | undefined }

/** The token to connect with, once a managed request could go (rotating first when needed). */
async function credentials(session: Session, attempt: number, signal: AbortSignal): Promise<ConnectContext> {
  let token: string | undefined
  try {
    token = await session.accessToken({ signal })
  } catch (error) {
    // Cookie transport: the handshake carries the cookie; we only wait for a usable one.
    if (!(error instanceof TypeError)) throw error
    await session.ready({ signal })
  }
  return { token, generation: session.state.generation, attempt }
}

/** A close reason must fit in 123 bytes of UTF-8. */
const short = (reason: string) => (reason.length > 120 ? reason.slice(0, 117) + '...' : reason)

/**
 * Wraps a WebSocket with reconnect and backoff. The SocketCluster failure it prevents: after a
 * reconnect with an expired token, every replayed subscription was refused. Here the token is
 * made usable (`ready()`) before the socket opens, and subscriptions go out only after the
 * server acknowledged the authentication.
 */
export function createSocket(session: Session, options: SocketOptions): RotorSocket {
  if (typeof session?.ready !== 'function' || typeof session.authFailed !== 'function') {
    throw new TypeError('rotor-auth/socket: createSocket(session, options) needs a session from createSession()')
  }
  const o = normalizeSocketOptions(options)
  const clock = createClock(o.timers)
  const events = new Emitter<SocketEvents>()
  const subscriptions = new Map<string, Subscription>()
  let status: SocketStatus = 'connecting'
  let ws: WebSocketLike | undefined
  /** Every connection attempt gets a number: callbacks of an older one are ignored. */
  let epoch = 0
  let attempt = 0
  /** Consecutive connections that failed (backoff) and that were refused (a second one backs off). */
  let failures = 0
  let refusals = 0
  /**
   * The generation, and local AT expiry, of the token the current connection authenticated
   * with. A token handed over by onRotate counts once the server acknowledged it: a 4401 that
   * crosses the hand-over may be for the old token, and reporting the new one would rotate
   * again for nothing (at worst the reconnect, made with the new token, is refused and
   * reports that one).
   */
  let generation = -1
  let handedOver: number | undefined
  let expiresAt: number | null = null
  let lastTraffic = 0
  let timer: Timer | undefined
  /** Aborted by close(): a wait in ready() or authFailed() leaves the session's queue at once. */
  const life = new AbortController()

  const unlisten = [
    session.on('rotate', () => rotated()),
    session.on('logout', ({ reason }) => shutdown(`rotor-auth: session ended (${reason})`)),
    session.on('dispose', () => shutdown('rotor-auth: session disposed')),
  ]

  /** Read through a call: TypeScript would narrow `status` across an await. */
  const closed = () => status === 'closed'

  function later(ms: number, fn: () => void): void {
    timer?.cancel()
    // Kept alive in Node: a process whose only work is this socket must not exit while it waits.
    timer = clock.after(ms, () => ((timer = undefined), fn()), true)
  }

  function rawSend(message: unknown): void {
    ws?.send(o.serialize(message))
    lastTraffic = o.now()
  }

  /** Stops listening to the current socket and closes it; its close event is ignored. */
  function detach(reason: string): void {
    epoch++
    const old = ws
    ws = undefined
    if (!old) return
    old.onopen = old.onmessage = old.onclose = null
    // Not null: Node's ws reports a close before the handshake finished as an 'error' event,
    // which an EventEmitter without a listener throws as an uncaught exception.
    old.onerror = () => undefined
    try {
      old.close(1000, short(reason))
    } catch {
      // Already closing: nothing to do.
    }
  }

  async function connect(): Promise<void> {
    timer?.cancel()
    const my = ++epoch
    status = 'connecting'
    let ctx: ConnectContext
    try {
      ctx = await credentials(session, attempt, life.signal)
    } catch (error) {
      if (my !== epoch || closed()) return
      if (ended(error)) return shutdown(`rotor-auth: session ended (${error.reason})`)
      // RotationError: refresh kept failing for queueTimeout; keep trying, backing off.
      return retry()
    }
    if (my !== epoch || closed()) return
    let socket: WebSocketLike
    try {
      const [target, protocols, init] = await Promise.all([o.url(ctx), o.protocols(ctx), o.init?.(ctx)])
      if (my !== epoch || closed()) return
      socket = o.init ? new o.WebSocket(target, protocols, init as never) : new o.WebSocket(target, protocols)
    } catch {
      if (my === epoch) retry()
      return
    }
    attempt++
    generation = ctx.generation
    handedOver = undefined
    expiresAt = session.state.accessExpiresAt
    ws = socket
    socket.onopen = () => {
      if (my !== epoch) return
      status = 'authenticating'
      const first = o.authMessage?.(ctx)
      if (first !== undefined) rawSend(first)
    }
    socket.onmessage = event => {
      if (my !== epoch) return
      lastTraffic = o.now()
      const message = o.parse(event.data)
      if (o.isAuthenticated(message)) authenticated()
      else if (o.isUnauthorized(message)) refused()
      else events.emit('message', message)
    }
    socket.onerror = () => undefined
    socket.onclose = ({ code, reason }) => {
      if (my !== epoch) return
      ws = undefined
      const auth = o.authCloseCodes.includes(code)
      events.emit('disconnect', { code, reason, auth })
      if (status === 'closed') return
      if (auth) void recover()
      else retry()
    }
  }

  function authenticated(): void {
    // An open socket acknowledging the token onRotate handed it: nothing to replay.
    if (status === 'open') {
      if (handedOver !== undefined && handedOver > generation) generation = handedOver
      handedOver = undefined
      return
    }
    status = 'open'
    failures = 0
    refusals = 0
    for (const subscription of subscriptions.values()) rawSend(subscription.message())
    events.emit('open', { generation, attempt: attempt - 1 })
    // A rotation that landed while this connection was being made.
    if (session.state.generation > generation) rotated()
  }

  /** The server refused the token: the session rotates (once per generation), then we reconnect. */
  function refused(): void {
    detach('rotor-auth: token refused')
    void recover()
  }

  async function recover(): Promise<void> {
    status = 'waiting'
    const my = epoch
    refusals++
    try {
      await session.authFailed(generation, { signal: life.signal })
    } catch (error) {
      if (ended(error)) return shutdown(`rotor-auth: session ended (${error.reason})`)
    }
    if (my !== epoch || closed()) return
    // A token refused right after a rotation again is the server's problem: back off.
    if (refusals > 1) retry()
    else void connect()
  }

  function retry(): void {
    if (status === 'closed') return
    status = 'waiting'
    failures++
    const ceiling = Math.min(o.backoff.max, o.backoff.initial * 2 ** (failures - 1))
    later(ceiling / 2 + Math.random() * (ceiling / 2), () => void connect())
  }

  /** The session holds a newer token: hand it over the open socket, or reconnect at a quiet moment. */
  function rotated(): void {
    if (status !== 'open' || session.state.generation <= generation) return
    if (o.onRotate) {
      const my = epoch
      void credentials(session, attempt, life.signal).then(
        ctx => {
          if (my !== epoch || status !== 'open' || ctx.generation <= (handedOver ?? generation)) return
          const message = o.onRotate?.(ctx)
          if (message === undefined) return quietReconnect()
          handedOver = ctx.generation
          expiresAt = session.state.accessExpiresAt
          rawSend(message)
        },
        () => undefined,
      )
      return
    }
    quietReconnect()
  }

  function quietReconnect(): void {
    const start = o.now()
    // The old token still works until it expires: use the first half of what is left.
    const deadline = start + Math.max(0, ((expiresAt ?? start) - start) / 2)
    const check = () => {
      if (status !== 'open') return
      const now = o.now()
      const quietFor = now - lastTraffic
      if (quietFor >= o.quiet || now >= deadline) {
        detach('rotor-auth: reconnecting with a new token')
        void connect()
      } else {
        later(Math.min(o.quiet - quietFor, deadline - now), check)
      }
    }
    check()
  }

  function shutdown(reason: string): void {
    if (status === 'closed') return
    status = 'closed'
    life.abort(new Error(reason))
    timer?.cancel()
    timer = undefined
    for (const off of unlisten.splice(0)) off()
    detach(reason)
    events.emit('close', { reason })
    events.clear()
  }

  void connect()

  return {
    get status() {
      return status
    },
    subscribe(key, message, unsubscribeMessage) {
      if (typeof key !== 'string') throw new TypeError('rotor-auth/socket: subscribe(key, message) needs a string key')
      if (typeof message !== 'function') throw new TypeError('rotor-auth/socket: subscribe(key, message): `message` must be a function building the subscribe message')
      if (unsubscribeMessage !== undefined && typeof unsubscribeMessage !== 'function') {
        throw new TypeError('rotor-auth/socket: subscribe(key, message, unsubscribeMessage): `unsubscribeMessage` must be a function')
      }
      const subscription: Subscription = { message, unsubscribe: unsubscribeMessage }
      subscriptions.set(key, subscription)
      if (status === 'open') rawSend(message())
      return () => {
        if (subscriptions.get(key) !== subscription) return
        subscriptions.delete(key)
        if (status === 'open' && unsubscribeMessage) rawSend(unsubscribeMessage())
      }
    },
    send(message) {
      if (status !== 'open') return false
      rawSend(message)
      return true
    },
    on: (event, listener) => events.on(event, listener),
    close(reason = 'rotor-auth: closed by the app') {
      shutdown(String(reason))
    },
  }
}
