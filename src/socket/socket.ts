/** One authenticated WebSocket over a session: ready() before every (re)connect, subscriptions after the server's ack, re-auth on refusal and rotation. */
import type {} from '../utils/zoo.js' // the bug zoo's global (types only: nothing is imported at run time)
import { isRotorError, RotorTypeError } from '../errors.js'
import type { Session } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, type Clock, type Timer } from '../utils/timers.js'
import { assertListener, normalizeSocketOptions, type SocketConfig } from './options.js'
import { ConnectionClosedError } from './errors.js'
import { Reconnects } from './reconnect.js'
import { credentials, sessionEnded } from './session-wait.js'
import type { CloseCause, ConnectContext, ConnectionError, RotorSocket, SocketEvents, SocketOptions, SocketStatus, WebSocketLike } from './types.js'

const EVENTS = ['open', 'message', 'disconnect', 'error', 'close'] satisfies Array<keyof SocketEvents>

type Subscription = { message: () => unknown; unsubscribe: (() => unknown) | undefined }

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
  return new Socket(session, normalizeSocketOptions(options))
}

/** One socket's life: its connections one after another, the subscriptions they carry, and when to make the next. */
class Socket implements RotorSocket {
  readonly #session: Session
  readonly #config: SocketConfig
  readonly #clock: Clock
  readonly #events = new Emitter<SocketEvents>()
  readonly #subscriptions = new Map<string, Subscription>()
  #status: SocketStatus = 'connecting'
  #ws: WebSocketLike | undefined
  /** Every connection attempt gets a number: callbacks of an older one are ignored. */
  #epoch = 0
  #attempt = 0
  /** Backoff after failures, and the refusal count that ends a "refresh, reconnect, refused" loop. */
  readonly #reconnects: Reconnects
  /** When the current connection was acknowledged (config.now()), and its AT's expiry then. */
  #authAt: number | undefined
  /**
   * The generation, and local AT expiry, of the token the current connection authenticated
   * with. A token handed over by onRotate counts once the server acknowledged it: a 4401 that
   * crosses the hand-over may be for the old token, and reporting the new one would rotate
   * again for nothing (at worst the reconnect, made with the new token, is refused and
   * reports that one).
   */
  #generation = -1
  #handedOver: number | undefined
  #expiresAt: number | null = null
  #lastTraffic = 0
  #timer: Timer | undefined
  /** Aborted by close(): a wait in ready() or authFailed() leaves the session's queue at once. */
  readonly #life = new AbortController()
  readonly #unlisten: Array<() => void>

  constructor(session: Session, config: SocketConfig) {
    this.#session = session
    this.#config = config
    this.#clock = createClock(config.timers)
    this.#reconnects = new Reconnects(config.backoff, config.maxRefusals, config.random)
    this.#unlisten = [
      session.on('rotate', () => this.#rotated()),
      session.on('logout', ({ reason }) => this.#shutdown(`rotor-auth: session ended (${reason})`, 'session-ended')),
      session.on('dispose', () => this.#shutdown('rotor-auth: session disposed', 'session-disposed')),
    ]
    void this.#connect()
  }

  get status(): SocketStatus {
    return this.#status
  }

  subscribe(key: string, message: () => unknown, unsubscribeMessage?: () => unknown): () => void {
    if (typeof key !== 'string') throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message) needs a string key')
    if (typeof message !== 'function')
      throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message): `message` must be a function building the subscribe message')
    if (unsubscribeMessage !== undefined && typeof unsubscribeMessage !== 'function') {
      throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: subscribe(key, message, unsubscribeMessage): `unsubscribeMessage` must be a function')
    }
    const subscription: Subscription = { message, unsubscribe: unsubscribeMessage }
    this.#subscriptions.set(key, subscription)
    if (this.#status === 'open') this.#rawSend(message())
    return () => {
      if (this.#subscriptions.get(key) !== subscription) return
      this.#subscriptions.delete(key)
      if (this.#status === 'open' && unsubscribeMessage) this.#rawSend(unsubscribeMessage())
    }
  }

  send(message: unknown): boolean {
    if (this.#status !== 'open') return false
    this.#rawSend(message)
    return true
  }

  on<K extends keyof SocketEvents>(event: K, listener: (payload: SocketEvents[K]) => void): () => void {
    assertListener(EVENTS, event, listener)
    return this.#events.on(event, listener)
  }

  close(reason = 'rotor-auth: closed by the app'): void {
    this.#shutdown(String(reason), 'app')
  }

  /** Read through a call: TypeScript would narrow `status` across an await. */
  #isClosed(): boolean {
    return this.#status === 'closed'
  }

  #later(ms: number, fn: () => void): void {
    this.#timer?.cancel()
    // Kept alive in Node: a process whose only work is this socket must not exit while it waits.
    this.#timer = this.#clock.after(ms, () => ((this.#timer = undefined), fn()), true)
  }

  #rawSend(message: unknown): void {
    this.#ws?.send(this.#config.serialize(message))
    this.#lastTraffic = this.#config.now()
  }

  /** Stops listening to the current socket and closes it; its close event is ignored. */
  #detach(reason: string): void {
    this.#epoch++
    const old = this.#ws
    this.#ws = undefined
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

  async #connect(): Promise<void> {
    this.#timer?.cancel()
    const my = ++this.#epoch
    this.#status = 'connecting'
    let ctx: ConnectContext
    try {
      ctx = await credentials(this.#session, this.#attempt, this.#life.signal)
    } catch (error) {
      if (my !== this.#epoch || this.#isClosed()) return
      if (sessionEnded(error)) return this.#shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      // RotationError: refresh kept failing for queueTimeout; keep trying, backing off.
      return this.#retry({ reason: isRotorError(error) ? 'rotation-failed' : 'connect-failed' })
    }
    if (my !== this.#epoch || this.#isClosed()) return
    let socket: WebSocketLike
    try {
      const [target, protocols, init] = await Promise.all([this.#config.url(ctx), this.#config.protocols(ctx), this.#config.init?.(ctx)])
      if (my !== this.#epoch || this.#isClosed()) return
      socket = this.#config.init ? new this.#config.WebSocket(target, protocols, init as never) : new this.#config.WebSocket(target, protocols)
    } catch {
      // A url/protocols/init builder that threw, or a constructor refusing the URL.
      if (my === this.#epoch && !this.#isClosed()) this.#retry({ reason: 'connect-failed' })
      return
    }
    this.#attempt++
    this.#generation = ctx.generation
    this.#handedOver = undefined
    this.#authAt = undefined
    this.#expiresAt = this.#session.state.accessExpiresAt
    this.#ws = socket
    // A server that never answers the handshake, or never acknowledges the token, must not leave the socket waiting for good.
    this.#later(this.#config.connectTimeout, () => this.#timedOut(my))
    socket.onopen = () => {
      if (my !== this.#epoch) return
      this.#status = 'authenticating'
      const first = this.#config.authMessage?.(ctx)
      if (first !== undefined) this.#rawSend(first)
      // Bug zoo: subscriptions replayed as the connection opens, before the server acknowledged its token (the SocketCluster failure).
      if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('socket-subscribes-early')) for (const s of this.#subscriptions.values()) this.#rawSend(s.message())
    }
    socket.onmessage = event => {
      if (my !== this.#epoch) return
      this.#lastTraffic = this.#config.now()
      const message = this.#config.parse(event.data)
      if (this.#config.isAuthenticated(message)) this.#authenticated()
      else if (this.#config.isUnauthorized(message)) this.#refusedByMessage()
      else this.#events.emit('message', message)
    }
    socket.onerror = () => undefined
    socket.onclose = ({ code, reason }) => {
      if (my !== this.#epoch) return
      this.#ws = undefined
      const auth = this.#config.authCloseCodes.includes(code)
      const opened = this.#status !== 'connecting'
      // Bug zoo: a handshake refused before open goes unnoticed, the socket left connecting for good.
      if (typeof __ROTOR_ZOO__ === 'object' && __ROTOR_ZOO__.has('socket-refused-silent') && !opened) return
      this.#events.emit('disconnect', { code, reason, auth })
      if (this.#isClosed()) return
      if (auth) return void this.#refused({ code })
      this.#reconnects.ended(this.#authAt, this.#expiresAt, this.#config.now())
      this.#retry({ reason: opened ? 'interrupted' : 'connect-failed', code })
    }
  }

  #authenticated(): void {
    // An open socket acknowledging the token onRotate handed it: nothing to replay.
    if (this.#status === 'open') {
      if (this.#handedOver !== undefined && this.#handedOver > this.#generation) {
        this.#generation = this.#handedOver
        // The old token lasted until its rotation, and the new one was taken: both worked.
        this.#reconnects.cured()
      }
      this.#handedOver = undefined
      return
    }
    this.#timer?.cancel() // the connect timeout
    this.#status = 'open'
    this.#authAt = this.#config.now()
    for (const subscription of this.#subscriptions.values()) this.#rawSend(subscription.message())
    this.#events.emit('open', { generation: this.#generation, attempt: this.#attempt - 1 })
    // A rotation that landed while this connection was being made.
    if (this.#session.state.generation > this.#generation) this.#rotated()
  }

  /** An `unauthorized` message on a connection the server may keep open: we close it, and say so. */
  #refusedByMessage(): void {
    const reason = 'rotor-auth: token refused'
    this.#detach(reason)
    this.#events.emit('disconnect', { code: 1000, reason, auth: true })
    void this.#refused()
  }

  /**
   * The server refused the token. The session rotates (`authFailed`, once per generation);
   * the first refusal reconnects at once, later ones back off, and `maxRefusals` in a row,
   * none cured by the fresh token, close the socket for good.
   */
  async #refused(detail: Pick<ConnectionError, 'code'> = {}): Promise<void> {
    this.#reconnects.ended(this.#authAt, this.#expiresAt, this.#config.now())
    const verdict = this.#reconnects.refused(this.#generation)
    if (verdict.giveUp) {
      this.#fail({ reason: 'unauthorized-repeated', willRetry: false, ...detail })
      return this.#shutdown(`rotor-auth: the server refused ${verdict.refusals} tokens in a row, each after a fresh rotation`, 'unauthorized-repeated')
    }
    this.#status = 'waiting'
    this.#fail({ reason: 'unauthorized', willRetry: true, retryIn: verdict.delay, ...detail })
    // A listener may have closed the socket.
    if (this.#isClosed()) return
    const my = this.#epoch
    if (verdict.report) {
      try {
        await this.#session.authFailed(this.#generation, { signal: this.#life.signal })
      } catch (error) {
        if (sessionEnded(error)) return this.#shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      }
    }
    if (my !== this.#epoch || this.#isClosed()) return
    if (verdict.delay === 0) void this.#connect()
    else this.#later(verdict.delay, () => void this.#connect())
  }

  /** No acknowledgement within `connectTimeout` of the connection's start: give it up, back off and try again. */
  #timedOut(my: number): void {
    if (my !== this.#epoch || this.#status === 'open' || this.#isClosed()) return
    const reason = `rotor-auth: no acknowledgement within ${this.#config.connectTimeout} ms`
    this.#detach(reason)
    this.#events.emit('disconnect', { code: 1000, reason, auth: false })
    this.#retry({ reason: 'connect-failed' })
  }

  /** A connection failed for another reason than its token: back off. */
  #retry(failure: Omit<ConnectionError, 'willRetry' | 'retryIn'>): void {
    if (this.#isClosed()) return
    this.#status = 'waiting'
    const delay = this.#reconnects.failed()
    this.#fail({ ...failure, willRetry: true, retryIn: delay })
    // A listener may have closed the socket: nothing is scheduled after close().
    if (!this.#isClosed()) this.#later(delay, () => void this.#connect())
  }

  #fail(error: ConnectionError): void {
    this.#events.emit('error', error)
  }

  /** The session holds a newer token: hand it over the open socket, or reconnect at a quiet moment. */
  #rotated(): void {
    if (this.#status !== 'open' || this.#session.state.generation <= this.#generation) return
    if (this.#config.onRotate) {
      const my = this.#epoch
      void credentials(this.#session, this.#attempt, this.#life.signal).then(
        ctx => {
          if (my !== this.#epoch || this.#status !== 'open' || ctx.generation <= (this.#handedOver ?? this.#generation)) return
          const message = this.#config.onRotate?.(ctx)
          if (message === undefined) return this.#quietReconnect()
          this.#handedOver = ctx.generation
          this.#expiresAt = this.#session.state.accessExpiresAt
          this.#rawSend(message)
        },
        () => undefined,
      )
      return
    }
    this.#quietReconnect()
  }

  #quietReconnect(): void {
    const start = this.#config.now()
    // The old token still works until it expires: use the first half of what is left.
    const deadline = start + Math.max(0, ((this.#expiresAt ?? start) - start) / 2)
    const check = () => {
      if (this.#status !== 'open') return
      const now = this.#config.now()
      const quietFor = now - this.#lastTraffic
      if (quietFor >= this.#config.quiet || now >= deadline) {
        // Leaving a connection whose token lasted until its rotation: that token worked.
        this.#reconnects.cured()
        this.#detach('rotor-auth: reconnecting with a new token')
        void this.#connect()
      } else {
        this.#later(Math.min(this.#config.quiet - quietFor, deadline - now), check)
      }
    }
    check()
  }

  #shutdown(reason: string, cause: CloseCause): void {
    if (this.#status === 'closed') return
    this.#status = 'closed'
    this.#life.abort(new ConnectionClosedError(reason))
    this.#timer?.cancel()
    this.#timer = undefined
    for (const off of this.#unlisten.splice(0)) off()
    this.#detach(reason)
    this.#events.emit('close', { reason, cause })
    this.#events.clear()
  }
}
