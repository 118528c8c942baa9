/** The simulated WebSocket server of `--sockets` worlds, and the WebSocket a page opens to it: handshakes, frames and closes are events of the scheduler. */
import type { WebSocketConstructor, WebSocketLike } from '../../src/socket/types.js'
import type { Scheduler } from './scheduler.js'
import type { ModelServer } from './server.js'

/** The close code the server refuses a token with (the socket's default `authCloseCodes`). */
export const AUTH_CLOSE = 4401

/** What a page is to the network: still there or not, and its task queue (a frozen page's tasks run on resume). */
export type Page = { readonly id: string; readonly disposed: boolean; run(fn: () => void): void }

/** What may go wrong with one connection while faults are on. */
type Fault = 'none' | 'slow' | 'refuse' | 'drop'
const FAULTS: ReadonlyArray<readonly [number, Fault]> = [
  [80, 'none'],
  [8, 'slow'],
  [6, 'refuse'],
  [6, 'drop'],
]

/** How a socket world's server may misbehave for a while (drawn by sockets.ts). */
export type ServerMood = 'fine' | 'down' | 'acks-then-refuses'

/** One connection as the server sees it: the token it authenticated with, if any. */
type Connection = { client: SimWebSocket; page: Page; token: string | undefined; authed: boolean; closing: boolean }

/** Frames a page sends as work: the ones that must wait for the server's acknowledgement. */
const isWork = (frame: { type?: unknown }) => frame.type === 'subscribe' || frame.type === 'work' || frame.type === 'unsubscribe'

/**
 * The server: bearer pages authenticate by their first frame (`{ type: 'auth', token }`, again
 * after a rotation), cookie pages by the jar's AT at the handshake. It acknowledges with
 * `{ type: 'authenticated' }` and closes 4401 when a token is refused, runs out, or was
 * forgotten (the auth server restarted): `check()` looks after every step. While faults are on a
 * connection may be slow, refused (1006 before open) or dropped later (1006); `mood` says
 * whether it is down (refuses every handshake) or acknowledges and then refuses every token.
 */
export class SocketServer {
  mood: ServerMood = 'fine'
  readonly stats = { connects: 0, refused: 0, acks: 0, authCloses: 0, frames: 0 }
  readonly #connections = new Set<Connection>()
  readonly #scheduler: Scheduler
  readonly #auth: ModelServer
  readonly #cookie: boolean
  /** A work frame the page sent before its connection was acknowledged (the seed's SocketCluster failure). */
  readonly #early: (detail: string) => void

  constructor(scheduler: Scheduler, auth: ModelServer, cookie: boolean, early: (detail: string) => void) {
    this.#scheduler = scheduler
    this.#auth = auth
    this.#cookie = cookie
    this.#early = early
  }

  /** The `WebSocket` option of a page's socket: every `new` is one attempt, reported to `attempted`. */
  constructorFor(page: Page, attempted: () => void): WebSocketConstructor {
    const accept = (client: SimWebSocket) => (attempted(), this.#accept(client, page))
    const [scheduler, early] = [this.#scheduler, this.#early]
    return class extends SimWebSocket {
      constructor() {
        super(page, scheduler, early)
        accept(this)
      }
    }
  }

  /** Closes every connection (a restart of the socket server): 1012, then refusals for a while. */
  restart(): void {
    for (const connection of this.#connections) this.#close(connection, 1012, 'service restart')
  }

  /** After every step: a connection whose page is gone ends; one whose token stopped working is closed 4401. */
  check(): void {
    for (const connection of this.#connections) {
      if (connection.page.disposed) this.#connections.delete(connection)
      else if (connection.authed && !connection.closing && !this.#auth.takes(connection.token)) this.#refuse(connection, 'token expired')
    }
  }

  #latency(fault: Fault): number {
    return fault === 'slow' ? this.#scheduler.random.int(200, 3000) : this.#scheduler.random.int(1, 40)
  }

  #accept(client: SimWebSocket, page: Page): void {
    this.stats.connects++
    const fault = this.#auth.faultsOn ? this.#scheduler.random.weighted(FAULTS) : 'none'
    this.#scheduler.note(`ws connect ${page.id} ${fault} ${this.mood}`)
    // The handshake carries the jar's AT cookie as it was when the page opened the socket.
    const jarAt = this.#auth.cookies.get('at')
    this.#scheduler.after(this.#latency(fault), `ws handshake ${page.id}`, () => {
      if (page.disposed) return
      if (fault === 'refuse' || this.mood === 'down') {
        this.stats.refused++
        return client.deliverClose(1006, '', this.#latency('none'))
      }
      const connection: Connection = { client, page, token: undefined, authed: false, closing: false }
      this.#connections.add(connection)
      client.link = { frame: data => this.#receive(connection, data), closed: () => this.#connections.delete(connection) }
      client.deliverOpen(this.#latency(fault))
      if (fault === 'drop') this.#scheduler.after(this.#scheduler.random.int(100, 20_000), `ws drop ${page.id}`, () => this.#close(connection, 1006, ''))
      if (this.#cookie) this.#authenticate(connection, jarAt)
    })
  }

  #receive(connection: Connection, data: string): void {
    this.stats.frames++
    if (connection.closing || !this.#connections.has(connection)) return
    const frame = JSON.parse(data) as { type?: string; token?: string }
    if (frame.type === 'auth') return this.#authenticate(connection, frame.token)
    // A frame on a connection whose token stopped working is refused, as a real server would.
    if (isWork(frame) && connection.authed && !this.#auth.takes(connection.token)) this.#refuse(connection, 'token expired')
  }

  #authenticate(connection: Connection, token: string | undefined): void {
    if (!this.#auth.takes(token)) return this.#refuse(connection, 'token refused')
    connection.token = token
    connection.authed = true
    this.stats.acks++
    connection.client.deliverFrame(JSON.stringify({ type: 'authenticated' }), this.#latency('none'))
    // The server that acknowledges and then refuses (a permission check after the handshake): the 634-refreshes storm's shape.
    if (this.mood === 'acks-then-refuses') this.#refuse(connection, 'forbidden')
  }

  #refuse(connection: Connection, reason: string): void {
    this.stats.authCloses++
    this.#close(connection, AUTH_CLOSE, reason)
  }

  #close(connection: Connection, code: number, reason: string): void {
    if (connection.closing) return
    connection.closing = true
    this.#connections.delete(connection)
    this.#scheduler.note(`ws close ${connection.page.id} ${code}`)
    connection.client.deliverClose(code, reason, this.#latency('none'))
  }
}

/**
 * The page's WebSocket: the browser's behaviour that the socket relies on. `send` while
 * connecting throws (InvalidStateError), after close it is dropped; events reach a frozen page
 * on resume and a page that is gone never; `close()` is answered by a close event.
 */
export class SimWebSocket implements WebSocketLike {
  readyState = 0
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onerror: ((event: unknown) => void) | null = null
  /** The server's end, once it accepted the handshake. */
  link: { frame(data: string): void; closed(): void } | undefined
  /** When the last event each way arrives: one connection delivers in order (TCP), whatever each latency drawn. */
  #lastOut = 0
  #lastIn = 0
  /** Whether the server's acknowledgement reached the page on this connection. */
  #acked = false
  readonly #page: Page
  readonly #scheduler: Scheduler
  readonly #early: (detail: string) => void

  constructor(page: Page, scheduler: Scheduler, early: (detail: string) => void) {
    this.#page = page
    this.#scheduler = scheduler
    this.#early = early
  }

  send(data: string): void {
    if (this.readyState === 0) throw new DOMException('Still in CONNECTING state.', 'InvalidStateError')
    if (this.readyState !== 1) return
    const frame = JSON.parse(data) as { type?: unknown }
    if (isWork(frame) && !this.#acked) this.#early(`${this.#page.id} sent ${String(frame.type)} before the server acknowledged the connection`)
    const link = this.link
    this.#scheduler.after(this.#outIn(this.#scheduler.random.int(1, 40)), `ws frame ${this.#page.id}`, () => link?.frame(data))
  }

  /** The delay that keeps this connection's frames to the server in order. */
  #outIn(ms: number): number {
    this.#lastOut = Math.max(this.#scheduler.now + ms, this.#lastOut)
    return this.#lastOut - this.#scheduler.now
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    this.readyState = 2
    const link = this.link
    this.link = undefined
    // The server hears the close after the frames before it; the page's close event follows the closing handshake.
    if (link) this.#scheduler.after(this.#outIn(this.#scheduler.random.int(1, 40)), `ws closed ${this.#page.id}`, () => link.closed())
    this.deliverClose(code, reason, this.#scheduler.random.int(1, 40))
  }

  deliverOpen(ms: number): void {
    this.#deliver(ms, 'open', () => {
      if (this.readyState !== 0) return
      this.readyState = 1
      this.onopen?.({})
    })
  }

  deliverFrame(data: string, ms: number): void {
    this.#deliver(ms, 'message', () => {
      if (this.readyState !== 1) return
      if ((JSON.parse(data) as { type?: unknown }).type === 'authenticated') this.#acked = true
      this.onmessage?.({ data })
    })
  }

  deliverClose(code: number, reason: string, ms: number): void {
    this.#deliver(ms, `close ${code}`, () => {
      if (this.readyState === 3) return
      this.readyState = 3
      this.link = undefined
      this.onclose?.({ code, reason })
    })
  }

  #deliver(ms: number, what: string, fn: () => void): void {
    this.#lastIn = Math.max(this.#scheduler.now + ms, this.#lastIn)
    this.#scheduler.after(this.#lastIn - this.#scheduler.now, `ws ${what} ${this.#page.id}`, () => this.#page.run(fn))
  }
}
