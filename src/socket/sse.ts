/** Server-sent events through `session.fetch`: a stream that resumes with `Last-Event-ID` and a current token after expiry, refusal and rotation. */
import type { SessionExpiredError } from '../errors.js'
import type { Session, Timers } from '../types.js'
import { Emitter } from '../utils/emitter.js'
import { createClock, platformTimers, type Timer } from '../utils/timers.js'

export type ServerSentEvent = {
  /** The `event:` field; 'message' when absent. */
  event: string
  data: string
  /** The `id:` field, when the event had one. */
  id: string | undefined
}

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
   */
  backoff?: { initial?: number; max?: number }
  /** Timers, for tests. @default the platform's */
  timers?: Timers
}

export type EventStreamEvents = {
  /** A stream was answered 200 and is being read. */
  open: { generation: number }
  event: ServerSentEvent
  /** A stream ended; another follows unless `close` comes too. */
  disconnect: { auth: boolean; rotated: boolean }
  /** For good: `close()`, logout, the session disposed or over. The last event. */
  close: { reason: string }
}

export interface RotorEventStream {
  /** The id of the last event received: sent as `Last-Event-ID` on every reconnect. */
  readonly lastEventId: string | undefined
  on<K extends keyof EventStreamEvents>(event: K, listener: (payload: EventStreamEvents[K]) => void): () => void
  close(reason?: string): void
}

const ended = (error: unknown): error is SessionExpiredError => (error as { code?: unknown } | null)?.code === 'ERR_SESSION_EXPIRED'

/** Splits a text/event-stream body into events (the WHATWG parsing rules, minus `retry:`). */
async function* parseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | undefined
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      const lines = buffer.split(/\r\n|\r|\n/)
      buffer = lines.pop() ?? ''
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id }
          event = ''
          data = []
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = text
        else if (field === 'data') data.push(text)
        else if (field === 'id' && !text.includes('\0')) id = text
      }
    }
  } finally {
    reader.releaseLock()
  }
}

/**
 * Opens a server-sent-events stream through `session.fetch` and keeps it open: every
 * (re)connect waits for `ready()` and goes through the session (a 401 is rotated and
 * replayed there), resumes with `Last-Event-ID`, and a rotation reconnects at once so the
 * server never holds a stream whose token is about to expire.
 */
export function createEventStream(session: Session, options: EventStreamOptions): RotorEventStream {
  if (typeof session?.ready !== 'function' || typeof session.fetch !== 'function') {
    throw new TypeError('rotor-auth/socket: createEventStream(session, options) needs a session from createSession()')
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('rotor-auth/socket: createEventStream(session, options) takes an options object')
  for (const name of Object.keys(options)) {
    if (!['url', 'init', 'unauthorizedEvent', 'backoff', 'timers'].includes(name)) throw new TypeError(`rotor-auth/socket: unknown option \`${name}\``)
  }
  const { url } = options
  if (typeof url !== 'string' && !(url instanceof URL) && typeof url !== 'function') {
    throw new TypeError('rotor-auth/socket: option `url` must be a URL or a function returning one')
  }
  const initial = options.backoff?.initial ?? 250
  const max = options.backoff?.max ?? 30_000
  if (!(initial > 0) || !(max >= initial)) throw new TypeError('rotor-auth/socket: option `backoff` must be { initial > 0, max >= initial }')
  const unauthorizedEvent = options.unauthorizedEvent ?? 'unauthorized'
  const clock = createClock(options.timers ?? platformTimers)
  const events = new Emitter<EventStreamEvents>()
  let closed = false
  let lastEventId: string | undefined
  let current: AbortController | undefined
  let rotated = false
  let failures = 0
  let refusals = 0
  let timer: Timer | undefined
  let wake: (() => void) | undefined
  /** Aborted by close(): a wait in ready() or authFailed() leaves the session's queue at once. */
  const life = new AbortController()

  const unlisten = [
    session.on('rotate', () => {
      rotated = true
      current?.abort()
    }),
    session.on('logout', ({ reason }) => shutdown(`rotor-auth: session ended (${reason})`)),
    session.on('dispose', () => shutdown('rotor-auth: session disposed')),
  ]

  function backoff(): Promise<void> {
    failures++
    const ceiling = Math.min(max, initial * 2 ** (failures - 1))
    return new Promise<void>(resolve => {
      wake = resolve
      timer = clock.after(ceiling / 2 + Math.random() * (ceiling / 2), resolve, true)
    })
  }

  function shutdown(reason: string): void {
    if (closed) return
    closed = true
    life.abort(new Error(reason))
    for (const off of unlisten.splice(0)) off()
    timer?.cancel()
    wake?.()
    current?.abort()
    events.emit('close', { reason })
    events.clear()
  }

  async function run(): Promise<void> {
    while (!closed) {
      const controller = (current = new AbortController())
      rotated = false
      let response: Response
      let generation = session.state.generation
      try {
        await session.ready({ signal: life.signal })
        generation = session.state.generation
        const headers = new Headers(options.init?.headers)
        headers.set('accept', 'text/event-stream')
        if (lastEventId !== undefined) headers.set('last-event-id', lastEventId)
        response = await session.fetch(String(typeof url === 'function' ? url() : url), { ...options.init, headers, signal: controller.signal })
      } catch (error) {
        if (ended(error)) return shutdown(`rotor-auth: session ended (${error.reason})`)
        if (closed) return
        if (!rotated) await backoff()
        continue
      }
      if (response.status === 401) {
        // session.fetch already rotated and replayed once: the token was refused again.
        void response.body?.cancel()
        refusals++
        await session.authFailed(generation, { signal: life.signal }).catch((error: unknown) => ended(error) && shutdown(`rotor-auth: session ended (${error.reason})`))
        if (refusals > 1) await backoff()
        continue
      }
      if (!response.ok || response.body === null) {
        void response.body?.cancel()
        await backoff()
        continue
      }
      failures = 0
      refusals = 0
      events.emit('open', { generation })
      let auth = false
      try {
        for await (const event of parseEvents(response.body)) {
          if (event.id !== undefined) lastEventId = event.id
          if (event.event === unauthorizedEvent) {
            auth = true
            break
          }
          events.emit('event', event)
        }
      } catch {
        // Aborted (a rotation, close()) or the connection broke: reconnect below.
      }
      controller.abort()
      if (closed) return
      events.emit('disconnect', { auth, rotated })
      // A refused token or a rotation reconnects at once; a stream that just ended backs off.
      if (!auth && !rotated) await backoff()
    }
  }

  void run()

  return {
    get lastEventId() {
      return lastEventId
    },
    on: (event, listener) => events.on(event, listener),
    close(reason = 'rotor-auth: closed by the app') {
      shutdown(String(reason))
    },
  }
}
