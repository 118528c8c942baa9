/** The simulated server-sent-events endpoint of `--sockets` worlds: `/api/events` answered on the scheduler, its stream cut with an `unauthorized` event when its token stops working. */
import type { Scheduler } from './scheduler.js'
import type { ModelServer } from './server.js'
import type { Page } from './socket-server.js'

/** The path the pages' streams read. */
export const EVENTS_PATH = '/api/events'

/** What may go wrong with one stream request while faults are on. */
type Fault = 'none' | 'slow' | 'drop' | '503' | 'proxy-html' | 'cut'
const FAULTS: ReadonlyArray<readonly [number, Fault]> = [
  [76, 'none'],
  [6, 'slow'],
  [5, 'drop'],
  [4, '503'],
  [3, 'proxy-html'],
  [6, 'cut'],
]

/**
 * One open stream: the page reading it, the token it was opened with, its body's controller;
 * `closing` once the server ended it, `ended` once the page saw the end; `last`: when its last
 * bytes arrive (a stream delivers in order, whatever each latency drawn).
 */
type Open = { page: Page; token: string | undefined; body: ReadableStreamDefaultController<Uint8Array>; closing: boolean; ended: boolean; last: number }

const encoder = new TextEncoder()

/**
 * The endpoint: a request with a token the resource server takes is answered 200
 * `text/event-stream` and fed an event every 2–20 s (with an `id`, so a reconnect sends
 * `Last-Event-ID`); one without is answered 401 (`session.fetch` rotates and replays). After
 * every step, a stream whose token stopped working (expired, revoked, forgotten by a restart)
 * gets `event: unauthorized` and ends. While faults are on a request may be slow, dropped,
 * answered 503 or with a proxy's HTML page, or its stream cut later. Bytes reach a frozen page
 * on resume and a page that is gone never.
 */
export class EventsEndpoint {
  readonly stats = { requests: 0, opened: 0, refused: 0, unauthorizedEvents: 0 }
  down = false
  readonly #open = new Set<Open>()
  readonly #scheduler: Scheduler
  readonly #auth: ModelServer
  #ids = 0

  constructor(scheduler: Scheduler, auth: ModelServer) {
    this.#scheduler = scheduler
    this.#auth = auth
  }

  /** A page's fetch: `/api/events` answered here (each request reported to `requested`), anything else by `base`. */
  fetchFor(page: () => Page | undefined, base: typeof fetch, requested: () => void): typeof fetch {
    return (input, init) => {
      // The URL read without building a Request: every refresh and API call of the tab passes here.
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      const current = page()
      if (new URL(url).pathname !== EVENTS_PATH || !current) return base(input, init)
      requested()
      return this.#serve(current, new Request(input, init), init?.signal ?? undefined)
    }
  }

  /** After every step: streams whose token stopped working are told so, and end. */
  check(): void {
    for (const open of this.#open) {
      if (open.page.disposed) this.#open.delete(open)
      else if (!this.#auth.takes(open.token)) {
        this.stats.unauthorizedEvents++
        this.#push(open, 'event: unauthorized\ndata: -\n\n')
        this.#end(open)
      }
    }
  }

  #serve(page: Page, request: Request, signal: AbortSignal | undefined): Promise<Response> {
    this.stats.requests++
    const random = this.#scheduler.random
    const fault: Fault = this.down ? 'drop' : this.#auth.faultsOn ? random.weighted(FAULTS) : 'none'
    this.#scheduler.note(`sse request ${page.id} ${fault}`)
    const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? this.#auth.cookies.get('at')
    return new Promise<Response>((resolve, reject) => {
      const aborted = () => reject(signal?.reason ?? new DOMException('aborted', 'AbortError'))
      if (signal?.aborted) return aborted()
      signal?.addEventListener('abort', aborted, { once: true })
      const answer = (fn: () => void) => {
        signal?.removeEventListener('abort', aborted)
        if (!signal?.aborted) fn()
      }
      const ms = fault === 'slow' ? random.int(200, 3000) : random.int(2, 80)
      this.#scheduler.after(ms, `sse answer ${page.id}`, () =>
        page.run(() =>
          answer(() => {
            if (fault === 'drop') return reject(new TypeError('fetch failed'))
            if (fault === '503') return resolve(new Response('busy', { status: 503, headers: { 'retry-after': '1' } }))
            if (fault === 'proxy-html') return resolve(new Response('<html>Bad gateway</html>', { status: 200, headers: { 'content-type': 'text/html' } }))
            if (!this.#auth.takes(token)) return (this.stats.refused++, resolve(new Response('unauthorized', { status: 401 })))
            resolve(this.#stream(page, token, signal, fault === 'cut'))
          }),
        ),
      )
    })
  }

  #stream(page: Page, token: string | undefined, signal: AbortSignal | undefined, cut: boolean): Response {
    this.stats.opened++
    let open: Open | undefined
    const body = new ReadableStream<Uint8Array>({
      start: controller => {
        open = { page, token, body: controller, closing: false, ended: false, last: 0 }
        this.#open.add(open)
      },
    })
    const stream = open!
    signal?.addEventListener('abort', () => this.#end(stream, signal.reason), { once: true })
    const feed = () => {
      if (stream.closing) return
      this.#push(stream, `id: ${++this.#ids}\ndata: tick\n\n`)
      this.#scheduler.after(this.#scheduler.random.int(2000, 20_000), `sse feed ${page.id}`, feed)
    }
    this.#scheduler.after(this.#scheduler.random.int(2000, 20_000), `sse feed ${page.id}`, feed)
    if (cut) this.#scheduler.after(this.#scheduler.random.int(100, 20_000), `sse cut ${page.id}`, () => this.#end(stream))
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
  }

  #push(open: Open, text: string): void {
    if (open.closing) return
    this.#inOrder(open, 'bytes', () => open.body.enqueue(encoder.encode(text)))
  }

  /** Runs `fn` in the page when the stream's next bytes arrive, after those sent before, unless the page saw the end. */
  #inOrder(open: Open, what: string, fn: () => void): void {
    open.last = Math.max(this.#scheduler.now + this.#scheduler.random.int(1, 40), open.last)
    this.#scheduler.after(open.last - this.#scheduler.now, `sse ${what} ${open.page.id}`, () => open.page.run(() => !open.ended && fn()))
  }

  /** Ends a stream: closed by the server after what it pushed, or errored when the page aborted it. */
  #end(open: Open, reason?: unknown): void {
    this.#open.delete(open)
    if (reason !== undefined && !open.ended) {
      open.closing = open.ended = true
      return open.body.error(reason)
    }
    if (open.closing) return
    open.closing = true
    this.#inOrder(open, 'end', () => ((open.ended = true), open.body.close()))
  }
}
