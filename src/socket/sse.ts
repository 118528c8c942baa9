/** Server-sent events through `session.fetch`: a stream that resumes with `Last-Event-ID` and a current token after expiry, refusal and rotation. */
import { isRotorError, RotorTypeError } from '../errors.js'
import type { Session, Timers } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, type Timer } from '../utils/timers.js'
import { assertListener, normalizeStreamOptions } from './options.js'
import { ConnectionClosedError } from './errors.js'
import { Reconnects } from './reconnect.js'
import { sessionEnded, sessionReady } from './session-wait.js'
import { parseEvents, type ServerSentEvent } from './sse-parse.js'
import type { CloseCause, ConnectionError } from './types.js'

export type { ServerSentEvent }

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
  /** Timers, for tests. @default the platform's @example { setTimeout: fake.set, clearTimeout: fake.clear } */
  timers?: Timers
  /** Clock, the session's. @default Date.now @example () => fakeNow */
  now?: () => number
}

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
  const o = normalizeStreamOptions(options)
  const clock = createClock(o.timers)
  const events = new Emitter<EventStreamEvents>()
  const reconnects = new Reconnects(o.backoff, o.maxRefusals, o.random)
  let closed = false
  let lastEventId: string | undefined
  let current: AbortController | undefined
  let rotated = false
  /** A stream is open and being read (not a request in flight). */
  let streaming = false
  let timer: Timer | undefined
  let wake: (() => void) | undefined
  /** Aborted by close(): a wait in ready() or authFailed() leaves the session's queue at once. */
  const life = new AbortController()

  const unlisten = [
    session.on('rotate', () => {
      // An open stream moves to the new token at once. A request in flight is left alone: the
      // rotation may be session.fetch's own, after a 401, and aborting its replay made a
      // server that refuses every token cost a refresh per request, in a loop.
      if (!streaming) return
      rotated = true
      current?.abort()
    }),
    session.on('logout', ({ reason }) => shutdown(`rotor-auth: session ended (${reason})`, 'session-ended')),
    session.on('dispose', () => shutdown('rotor-auth: session disposed', 'session-disposed')),
  ]

  function pause(ms: number): Promise<void> {
    return new Promise<void>(resolve => {
      wake = resolve
      timer = clock.after(ms, resolve, true)
    })
  }

  /** A failure other than a refusal: say why, then back off. */
  function failed(failure: Omit<ConnectionError, 'willRetry' | 'retryIn'>): Promise<void> {
    const delay = reconnects.failed()
    events.emit('error', { ...failure, willRetry: true, retryIn: delay })
    // A listener may have closed the stream: nothing is scheduled after close().
    return closed ? Promise.resolve() : pause(delay)
  }

  /**
   * The token of `generation` was refused: the session rotates (`authFailed`, once per
   * generation), the first refusal reconnects at once, later ones back off, and the
   * `maxRefusals`-th in a row closes the stream. False when the stream is over.
   */
  async function refused(generation: number, detail: Pick<ConnectionError, 'status'> = {}): Promise<boolean> {
    const verdict = reconnects.refused(generation)
    if (verdict.giveUp) {
      events.emit('error', { reason: 'unauthorized-repeated', willRetry: false, ...detail })
      shutdown(`rotor-auth: the server refused ${verdict.refusals} tokens in a row, each after a fresh rotation`, 'unauthorized-repeated')
      return false
    }
    events.emit('error', { reason: 'unauthorized', willRetry: true, retryIn: verdict.delay, ...detail })
    if (verdict.report && !closed) {
      await session.authFailed(generation, { signal: life.signal }).catch((error: unknown) => {
        if (sessionEnded(error)) shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
      })
    }
    if (verdict.delay > 0 && !closed) await pause(verdict.delay)
    return !closed
  }

  function shutdown(reason: string, cause: CloseCause): void {
    if (closed) return
    closed = true
    life.abort(new ConnectionClosedError(reason))
    for (const off of unlisten.splice(0)) off()
    timer?.cancel()
    wake?.()
    current?.abort()
    events.emit('close', { reason, cause })
    events.clear()
  }

  async function run(): Promise<void> {
    while (!closed) {
      const controller = (current = new AbortController())
      rotated = false
      let response: Response
      let generation = session.state.generation
      try {
        await sessionReady(session, life.signal)
        generation = session.state.generation
        const headers = new Headers(o.init?.headers)
        headers.set('accept', 'text/event-stream')
        if (lastEventId !== undefined) headers.set('last-event-id', lastEventId)
        response = await session.fetch(o.url(), { ...o.init, headers, signal: controller.signal })
      } catch (error) {
        if (closed) return
        if (sessionEnded(error)) return shutdown(`rotor-auth: session ended (${error.reason})`, 'session-ended')
        // A RotationError: the session's refresh kept failing; anything else: the network.
        await failed({ reason: isRotorError(error) ? 'rotation-failed' : 'connect-failed' })
        continue
      }
      const { status } = response
      if (status === 401) {
        // session.fetch already rotated and replayed once: the token was refused again.
        void response.body?.cancel()
        if (!(await refused(generation, { status }))) return
        continue
      }
      if (!response.ok) {
        void response.body?.cancel()
        await failed({ reason: 'http-status', status })
        continue
      }
      const contentType = response.headers.get('content-type')
      if (!isEventStream(contentType) || response.body === null) {
        // A proxy's HTML page or an API's JSON is not a stream: reading it as one would
        // report `open`, find no events, and reconnect in a loop.
        void response.body?.cancel()
        await failed({ reason: 'not-event-stream', status, ...(contentType === null ? {} : { contentType }) })
        continue
      }
      const openedAt = o.now()
      const expiresAt = session.state.accessExpiresAt
      events.emit('open', { generation })
      let auth = false
      streaming = true
      try {
        for await (const event of parseEvents(response.body)) {
          if (event.id !== undefined) lastEventId = event.id
          if (event.event === o.unauthorizedEvent) {
            auth = true
            break
          }
          events.emit('event', event)
        }
      } catch {
        // Aborted (a rotation, close()) or the connection broke: reconnect below.
      }
      streaming = false
      controller.abort()
      if (closed) return
      events.emit('disconnect', { auth, rotated })
      // A stream that a rotation ended had a token that worked; one that lasted starts over.
      if (rotated) reconnects.cured()
      else reconnects.ended(openedAt, expiresAt, o.now())
      if (auth) {
        if (!(await refused(generation))) return
      } else if (!rotated) {
        // The server ended the stream, or the network broke it: back off.
        await failed({ reason: 'interrupted' })
      }
    }
  }

  void run()

  return {
    get lastEventId() {
      return lastEventId
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
