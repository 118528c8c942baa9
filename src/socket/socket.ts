/** One authenticated WebSocket over a session: ready() before every (re)connect, subscriptions after the server's ack, re-auth on refusal and rotation. */
import { isRotorError, RotorTypeError } from '../errors.js'
import type { Session } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, type Timer } from '../utils/timers.js'
import { assertListener, normalizeSocketOptions } from './options.js'
import { ConnectionClosedError } from './errors.js'
import { Reconnects } from './reconnect.js'
import { sessionEnded, sessionReady } from './session-wait.js'
import type { CloseCause, ConnectContext, ConnectionError, RotorSocket, SocketEvents, SocketOptions, SocketStatus, WebSocketLike } from './types.js'

const EVENTS = ['open', 'message', 'disconnect', 'error', 'close'] satisfies Array<keyof SocketEvents>

type Subscription = { message: () => unknown; unsubscribe: (() => unknown) | undefined }

/** The token to connect with, once a managed request could go (rotating first when needed). */
async function credentials(session: Session, attempt: number, signal: AbortSignal): Promise<ConnectContext> {
  let token: string | undefined
  await sessionReady(session, signal)
  try {
    token = await session.accessToken({ signal })
  } catch (error) {
    // Cookie transport: the handshake carries the cookie; ready() above waited for a usable one.
    if (!(error instanceof TypeError)) throw error
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
    throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: createSocket(session, options) needs a session from createSession()')
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
  /** Backoff after failures, and the refusal count that ends a "refresh, reconnect, refused" loop. */
  const reconnects = new Reconnects(o.backoff, o.maxRefusals, o.random)
  /** When the current connection was acknowledged (o.now()), and its AT's expiry then. */
  let authAt: number | undefined
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
    session.on('logout', ({ reason }) => shutdown(`rotor-auth: session ended (${reason})`, 'session-ended')),
    session.on('dispose', () => shutdown('rotor-auth: session disposed', 'session-disposed')),
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
      if (sessionEnded(error)) return shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      // RotationError: refresh kept failing for queueTimeout; keep trying, backing off.
      return retry({ reason: isRotorError(error) ? 'rotation-failed' : 'connect-failed' })
    }
    if (my !== epoch || closed()) return
    let socket: WebSocketLike
    try {
      const [target, protocols, init] = await Promise.all([o.url(ctx), o.protocols(ctx), o.init?.(ctx)])
      if (my !== epoch || closed()) return
      socket = o.init ? new o.WebSocket(target, protocols, init as never) : new o.WebSocket(target, protocols)
    } catch {
      // A url/protocols/init builder that threw, or a constructor refusing the URL.
      if (my === epoch && !closed()) retry({ reason: 'connect-failed' })
      return
    }
    attempt++
    generation = ctx.generation
    handedOver = undefined
    authAt = undefined
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
      else if (o.isUnauthorized(message)) refusedByMessage()
      else events.emit('message', message)
    }
    socket.onerror = () => undefined
    socket.onclose = ({ code, reason }) => {
      if (my !== epoch) return
      ws = undefined
      const auth = o.authCloseCodes.includes(code)
      const opened = status !== 'connecting'
      events.emit('disconnect', { code, reason, auth })
      if (closed()) return
      if (auth) return void refused({ code })
      reconnects.ended(authAt, expiresAt, o.now())
      retry({ reason: opened ? 'interrupted' : 'connect-failed', code })
    }
  }

  function authenticated(): void {
    // An open socket acknowledging the token onRotate handed it: nothing to replay.
    if (status === 'open') {
      if (handedOver !== undefined && handedOver > generation) {
        generation = handedOver
        // The old token lasted until its rotation, and the new one was taken: both worked.
        reconnects.cured()
      }
      handedOver = undefined
      return
    }
    status = 'open'
    authAt = o.now()
    for (const subscription of subscriptions.values()) rawSend(subscription.message())
    events.emit('open', { generation, attempt: attempt - 1 })
    // A rotation that landed while this connection was being made.
    if (session.state.generation > generation) rotated()
  }

  /** An `unauthorized` message on a connection the server may keep open: we close it, and say so. */
  function refusedByMessage(): void {
    const reason = 'rotor-auth: token refused'
    detach(reason)
    events.emit('disconnect', { code: 1000, reason, auth: true })
    void refused()
  }

  /**
   * The server refused the token. The session rotates (`authFailed`, once per generation);
   * the first refusal reconnects at once, later ones back off, and `maxRefusals` in a row,
   * none cured by the fresh token, close the socket for good.
   */
  async function refused(detail: Pick<ConnectionError, 'code'> = {}): Promise<void> {
    reconnects.ended(authAt, expiresAt, o.now())
    const verdict = reconnects.refused(generation)
    if (verdict.giveUp) {
      fail({ reason: 'unauthorized-repeated', willRetry: false, ...detail })
      return shutdown(`rotor-auth: the server refused ${verdict.refusals} tokens in a row, each after a fresh rotation`, 'unauthorized-repeated')
    }
    status = 'waiting'
    fail({ reason: 'unauthorized', willRetry: true, retryIn: verdict.delay, ...detail })
    // A listener may have closed the socket.
    if (closed()) return
    const my = epoch
    if (verdict.report) {
      try {
        await session.authFailed(generation, { signal: life.signal })
      } catch (error) {
        if (sessionEnded(error)) return shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      }
    }
    if (my !== epoch || closed()) return
    if (verdict.delay === 0) void connect()
    else later(verdict.delay, () => void connect())
  }

  /** A connection failed for another reason than its token: back off. */
  function retry(failure: Omit<ConnectionError, 'willRetry' | 'retryIn'>): void {
    if (closed()) return
    status = 'waiting'
    const delay = reconnects.failed()
    fail({ ...failure, willRetry: true, retryIn: delay })
    // A listener may have closed the socket: nothing is scheduled after close().
    if (!closed()) later(delay, () => void connect())
  }

  function fail(error: ConnectionError): void {
    events.emit('error', error)
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
        // Leaving a connection whose token lasted until its rotation: that token worked.
        reconnects.cured()
        detach('rotor-auth: reconnecting with a new token')
        void connect()
      } else {
        later(Math.min(o.quiet - quietFor, deadline - now), check)
      }
    }
    check()
  }

  function shutdown(reason: string, cause: CloseCause): void {
    if (status === 'closed') return
    status = 'closed'
    life.abort(new ConnectionClosedError(reason))
    timer?.cancel()
    timer = undefined
    for (const off of unlisten.splice(0)) off()
    detach(reason)
    events.emit('close', { reason, cause })
    events.clear()
  }

  void connect()

  return {
    get status() {
      return status
    },
    subscribe(key, message, unsubscribeMessage) {
      if (typeof key !== 'string') throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message) needs a string key')
      if (typeof message !== 'function') throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message): `message` must be a function building the subscribe message')
      if (unsubscribeMessage !== undefined && typeof unsubscribeMessage !== 'function') {
        throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message, unsubscribeMessage): `unsubscribeMessage` must be a function')
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
    on(event, listener) {
      assertListener(EVENTS, event, listener)
      return events.on(event, listener)
    },
    close(reason = 'rotor-auth: closed by the app') {
      shutdown(String(reason), 'app')
    },
  }
}
