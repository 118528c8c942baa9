/** Server-sent events through `session.fetch`: a stream that resumes with `Last-Event-ID` and a current token after expiry, refusal and rotation. */
import { isRotorError, RotorTypeError } from '../errors.js'
import type { Session } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, type Clock, type Timer } from '../utils/timers.js'
import { assertListener, normalizeStreamOptions, type StreamConfig } from './options.js'
import { ConnectionClosedError } from './errors.js'
import { Reconnects } from './reconnect.js'
import { sessionEnded, sessionReady } from './session-wait.js'
import { parseEvents, type ServerSentEvent } from './sse-parse.js'
import type { CloseCause, ConnectionError } from './types.js'
import type { EventStreamOptions } from './types.js'

export type { ServerSentEvent }

export type { EventStreamOptions }

/** Every event `stream.on()` takes, and what its listener receives. */
export type EventStreamEvents = {
  /** A stream was answered 2xx with `text/event-stream` and is being read. */
  open: { generation: number }
  event: ServerSentEvent
  /** An open stream ended; another follows unless `close` comes too. */
  disconnect: { auth: boolean; rotated: boolean }
  /** A request or a stream failed, or the token was refused: why, and when the next attempt goes. */
  error: ConnectionError
  /** For good: `close()`, logout, the session disposed or over, or repeated refusals. The last event. */
  close: { reason: string; cause: CloseCause }
}

/** What `createEventStream` returns: server-sent events that resume after a rotation, from the last event id. */
export interface RotorEventStream {
  /** The id of the last event received: sent as `Last-Event-ID` on every reconnect. */
  readonly lastEventId: string | undefined
  on<K extends keyof EventStreamEvents>(event: K, listener: (payload: EventStreamEvents[K]) => void): () => void
  close(reason?: string): void
}

const EVENTS = ['open', 'event', 'disconnect', 'error', 'close'] satisfies Array<keyof EventStreamEvents>

/** `text/event-stream`, whatever its parameters: anything else (a proxy's HTML, an API's JSON) is no stream. */
const isEventStream = (contentType: string | null) => contentType?.split(';')[0]?.trim().toLowerCase() === 'text/event-stream'

/**
 * Opens a server-sent-events stream through `session.fetch` and keeps it open: every
 * (re)connect waits for `ready()` and goes through the session (a 401 is rotated and
 * replayed there), resumes with `Last-Event-ID`, and a rotation reconnects at once so the
 * server never holds a stream whose token is about to expire. Every failure is an `error`
 * event with its reason; retries back off; refusals that fresh tokens do not cure end it.
 */
export function createEventStream(session: Session, options: EventStreamOptions): RotorEventStream {
  if (typeof session?.ready !== 'function' || typeof session.fetch !== 'function') {
    throw new RotorTypeError('ERR_USAGE', 'rotor-auth/socket: createEventStream(session, options) needs a session from createSession()')
  }
  return new EventStream(session, normalizeStreamOptions(options))
}

/** One stream's life: connect, read, and decide after each end whether, and when, to go again. */
class EventStream implements RotorEventStream {
  readonly #session: Session
  readonly #config: StreamConfig
  readonly #clock: Clock
  readonly #events = new Emitter<EventStreamEvents>()
  readonly #reconnects: Reconnects
  #closed = false
  #lastEventId: string | undefined
  #current: AbortController | undefined
  #rotated = false
  /** A stream is open and being read (not a request in flight). */
  #streaming = false
  /** When the stream being read opened (the config's clock), and its AT's expiry then. */
  #openedAt = 0
  #expiresAt: number | null = null
  #timer: Timer | undefined
  #wake: (() => void) | undefined
  /** Aborted by close(): a wait in ready() or authFailed() leaves the session's queue at once. */
  readonly #life = new AbortController()
  readonly #unlisten: Array<() => void>

  constructor(session: Session, config: StreamConfig) {
    this.#session = session
    this.#config = config
    this.#clock = createClock(config.timers)
    this.#reconnects = new Reconnects(config.backoff, config.maxRefusals, config.random)
    this.#unlisten = [
      session.on('rotate', () => {
        // An open stream moves to the new token at once. A request in flight is left alone: the
        // rotation may be session.fetch's own, after a 401, and aborting its replay made a
        // server that refuses every token cost a refresh per request, in a loop.
        if (!this.#streaming) return
        this.#rotated = true
        this.#current?.abort()
      }),
      session.on('logout', ({ reason }) => this.#shutdown(`rotor-auth: session ended (${reason})`, 'session-ended')),
      session.on('dispose', () => this.#shutdown('rotor-auth: session disposed', 'session-disposed')),
    ]
    void this.#run()
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId
  }

  on<K extends keyof EventStreamEvents>(event: K, listener: (payload: EventStreamEvents[K]) => void): () => void {
    assertListener(EVENTS, event, listener)
    return this.#events.on(event, listener)
  }

  close(reason = 'rotor-auth: closed by the app'): void {
    this.#shutdown(String(reason), 'app')
  }

  /** Connects, reads, and goes again until closed. */
  async #run(): Promise<void> {
    while (!this.#closed) {
      const controller = (this.#current = new AbortController())
      this.#rotated = false
      const answer = await this.#connect(controller.signal)
      if (this.#closed) return
      if (answer === undefined) continue
      const { response, generation } = answer
      if (!(await this.#opened(response, generation))) continue
      const auth = await this.#read(response.body!, generation)
      controller.abort()
      if (this.#closed) return
      if (!(await this.#ended(auth, generation))) return
    }
  }

  /** One request through the session once it is ready; undefined after a failure already reported (or the end). */
  async #connect(signal: AbortSignal): Promise<{ response: Response; generation: number } | undefined> {
    const session = this.#session
    try {
      await sessionReady(session, this.#life.signal)
      const generation = session.state.generation
      const headers = new Headers(this.#config.init?.headers)
      headers.set('accept', 'text/event-stream')
      if (this.#lastEventId !== undefined) headers.set('last-event-id', this.#lastEventId)
      // A server that never answers must not leave the stream connecting for good: the headers are due within connectTimeout.
      const due = this.#clock.after(this.#config.connectTimeout, () => this.#current?.abort(), true)
      try {
        return { response: await session.fetch(this.#config.url(), { ...this.#config.init, headers, signal }), generation }
      } finally {
        due.cancel()
      }
    } catch (error) {
      if (this.#closed) return undefined
      if (sessionEnded(error)) return void this.#shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      // A RotationError: the session's refresh kept failing; anything else: the network.
      await this.#failed({ reason: isRotorError(error) ? 'rotation-failed' : 'connect-failed' })
      return undefined
    }
  }

  /** True when `response` is a stream to read; otherwise its failure is reported (and waited out). */
  async #opened(response: Response, generation: number): Promise<boolean> {
    const { status } = response
    if (status === 401) {
      // session.fetch already rotated and replayed once: the token was refused again.
      void response.body?.cancel()
      await this.#refused(generation, { status })
      return false
    }
    if (!response.ok) {
      void response.body?.cancel()
      await this.#failed({ reason: 'http-status', status })
      return false
    }
    const contentType = response.headers.get('content-type')
    if (!isEventStream(contentType) || response.body === null) {
      // A proxy's HTML page or an API's JSON is not a stream: reading it as one would
      // report `open`, find no events, and reconnect in a loop.
      void response.body?.cancel()
      await this.#failed({ reason: 'not-event-stream', status, ...(contentType === null ? {} : { contentType }) })
      return false
    }
    return true
  }

  /** Reads an open stream to its end; true when it ended on the `unauthorizedEvent`. */
  async #read(body: ReadableStream<Uint8Array>, generation: number): Promise<boolean> {
    this.#openedAt = this.#config.now()
    this.#expiresAt = this.#session.state.accessExpiresAt
    this.#events.emit('open', { generation })
    let auth = false
    this.#streaming = true
    try {
      for await (const event of parseEvents(body)) {
        if (event.id !== undefined) this.#lastEventId = event.id
        if (event.event === this.#config.unauthorizedEvent) {
          auth = true
          break
        }
        this.#events.emit('event', event)
      }
    } catch {
      // Aborted (a rotation, close()) or the connection broke: reconnect below.
    }
    this.#streaming = false
    return auth
  }

  /** An open stream ended: false when the stream is over. */
  async #ended(auth: boolean, generation: number): Promise<boolean> {
    const rotated = this.#rotated
    this.#events.emit('disconnect', { auth, rotated })
    // A stream that a rotation ended had a token that worked; one that lasted starts over.
    if (rotated) this.#reconnects.cured()
    else this.#reconnects.ended(this.#openedAt, this.#expiresAt, this.#config.now())
    if (auth) return this.#refused(generation)
    // The server ended the stream, or the network broke it: back off.
    if (!rotated) await this.#failed({ reason: 'interrupted' })
    return true
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>(resolve => {
      this.#wake = resolve
      this.#timer = this.#clock.after(ms, resolve, true)
    })
  }

  /** A failure other than a refusal: say why, then back off. */
  #failed(failure: Omit<ConnectionError, 'willRetry' | 'retryIn'>): Promise<void> {
    const delay = this.#reconnects.failed()
    this.#events.emit('error', { ...failure, willRetry: true, retryIn: delay })
    // A listener may have closed the stream: nothing is scheduled after close().
    return this.#closed ? Promise.resolve() : this.#pause(delay)
  }

  /**
   * The token of `generation` was refused: the session rotates (`authFailed`, once per
   * generation), the first refusal reconnects at once, later ones back off, and the
   * `maxRefusals`-th in a row closes the stream. False when the stream is over.
   */
  async #refused(generation: number, detail: Pick<ConnectionError, 'status'> = {}): Promise<boolean> {
    const verdict = this.#reconnects.refused(generation)
    if (verdict.giveUp) {
      this.#events.emit('error', { reason: 'unauthorized-repeated', willRetry: false, ...detail })
      this.#shutdown(`rotor-auth: the server refused ${verdict.refusals} tokens in a row, each after a fresh rotation`, 'unauthorized-repeated')
      return false
    }
    this.#events.emit('error', { reason: 'unauthorized', willRetry: true, retryIn: verdict.delay, ...detail })
    if (verdict.report && !this.#closed) {
      await this.#session.authFailed(generation, { signal: this.#life.signal }).catch((error: unknown) => {
        if (sessionEnded(error)) this.#shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      })
    }
    if (verdict.delay > 0 && !this.#closed) await this.#pause(verdict.delay)
    return !this.#closed
  }

  #shutdown(reason: string, cause: CloseCause): void {
    if (this.#closed) return
    this.#closed = true
    this.#life.abort(new ConnectionClosedError(reason))
    for (const off of this.#unlisten.splice(0)) off()
    this.#timer?.cancel()
    this.#wake?.()
    this.#current?.abort()
    this.#events.emit('close', { reason, cause })
    this.#events.clear()
  }
}
