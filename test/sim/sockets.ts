/** Sockets and event streams in the simulator (`--sockets`): each tab's app keeps one of each open through the real `rotor-auth/socket`, and the sockets' invariants are checked after every step. */
import { createEventStream, createSocket, type ConnectionFailure } from '../../src/socket/index.js'
import type { Timer } from '../../src/platform/types.js'
import type { Timers } from '../../src/types.js'
import { carriesToken, type InvariantName, type Verdict } from './invariants.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'
import type { ModelServer } from './server.js'
import { SocketServer, type ServerMood } from './socket-server.js'
import { EVENTS_PATH, EventsEndpoint } from './sse-server.js'
import type { Tab } from './tab.js'

/** A socket or stream may open at most this many connections within RECONNECT_WINDOW_MS: more is a storm, whatever the server does. */
export const MAX_ATTEMPTS_PER_WINDOW = 20
export const RECONNECT_WINDOW_MS = 10_000

const FAILURES: ReadonlySet<string> = new Set<ConnectionFailure>([
  'connect-failed',
  'interrupted',
  'http-status',
  'not-event-stream',
  'unauthorized',
  'unauthorized-repeated',
  'rotation-failed',
])

/**
 * One socket or stream of a tab as the checks see it: its connection attempts, whether it is
 * between a (re)connect and its outcome (`open` or an `error`), and since when.
 */
type Watched = { kind: 'socket' | 'stream'; tab: Tab; attempts: number[]; pending: () => boolean; since: number; closed: boolean }

/** How the socket server's moods are drawn while faults are on. */
const MOODS: ReadonlyArray<readonly [number, ServerMood | 'restart']> = [
  [6, 'fine'],
  [2, 'restart'],
  [2, 'down'],
  [1, 'acks-then-refuses'],
]

/**
 * The sockets part of a world: the socket server and the events endpoint on the auth server's
 * tokens, the apps that keep a socket (subscribed to `orders`, sending work now and then) and a
 * stream open in every tab, and the checks: work only after the server's acknowledgement
 * (`socket-auth-first`), reconnects bounded (`socket-reconnects-bounded`), every (re)connect
 * settling within the bound of a request (`socket-settles`), no token in any event.
 */
/** The sockets' `connectTimeout` here: longer than any schedule's settle bound (schedule.ts). */
const CONNECT_TIMEOUT_MS = 3_600_000

export class Sockets {
  readonly server: SocketServer
  readonly events: EventsEndpoint
  readonly #watched: Watched[] = []
  readonly #streams = new Map<string, Watched>()
  readonly #scheduler: Scheduler
  readonly #verdict: Verdict
  readonly #origin: Origin
  readonly #bearer: boolean

  constructor(scheduler: Scheduler, verdict: Verdict, auth: ModelServer, origin: Origin, bearer: boolean) {
    this.#scheduler = scheduler
    this.#verdict = verdict
    this.#origin = origin
    this.#bearer = bearer
    this.server = new SocketServer(scheduler, auth, !bearer, detail => this.#fail('socket-auth-first', detail))
    this.events = new EventsEndpoint(scheduler, auth)
    const moods = () => {
      if (auth.faultsOn) this.#mood(scheduler.random.weighted(MOODS))
      scheduler.after(scheduler.random.int(10_000, 60_000), 'ws mood', moods)
    }
    scheduler.after(scheduler.random.int(10_000, 60_000), 'ws mood', moods)
  }

  /** A tab's fetch: its stream's requests go to the events endpoint, the rest to `base`. */
  fetchFor(tab: () => Tab | undefined, base: typeof fetch): typeof fetch {
    return this.events.fetchFor(tab, base, () => {
      const watched = this.#streams.get(tab()?.id ?? '')
      if (watched) this.#attempted(watched)
    })
  }

  /** The app of `tab` opens its socket and its stream. */
  attach(tab: Tab): void {
    this.#openSocket(tab)
    this.#openStream(tab)
  }

  /** After every step: the servers' checks, then every socket's and stream's bound. */
  check(now: number, bound: number): void {
    this.server.check()
    this.events.check()
    for (const watched of this.#watched) {
      // Frozen, signed out or gone, a page waits by design: the bound counts from when it could connect again.
      if (watched.closed || watched.tab.disposed || watched.tab.frozen || watched.tab.session.state.status !== 'active' || !watched.pending()) watched.since = now
      else if (now - watched.since > bound) {
        watched.since = now
        this.#fail('socket-settles', `${watched.tab.id} ${watched.kind} neither open nor failed for ${bound} ms`)
      }
    }
  }

  #mood(mood: ServerMood | 'restart'): void {
    this.#scheduler.note(`ws mood ${mood}`)
    if (mood === 'restart') {
      this.server.restart()
      mood = 'down'
    }
    this.server.mood = mood
    this.events.down = mood === 'down'
    const ms = mood === 'down' ? this.#scheduler.random.int(50, 60_000) : this.#scheduler.random.int(5_000, 60_000)
    if (mood !== 'fine') this.#scheduler.after(ms, 'ws mood fine', () => ((this.server.mood = 'fine'), (this.events.down = false)))
  }

  #fail(invariant: InvariantName, detail: string): void {
    this.#verdict.fail(invariant, detail, this.#scheduler.now)
  }

  #attempted(watched: Watched): void {
    const now = this.#scheduler.now
    watched.attempts = watched.attempts.filter(at => now - at < RECONNECT_WINDOW_MS)
    watched.attempts.push(now)
    if (watched.attempts.length > MAX_ATTEMPTS_PER_WINDOW)
      this.#fail('socket-reconnects-bounded', `${watched.tab.id} ${watched.kind}: ${watched.attempts.length} connections within ${RECONNECT_WINDOW_MS} ms`)
  }

  /** The tab's clock, timers and chance, as the socket options take them: the page's, on the scheduler. */
  #platformOf(tab: Tab): { timers: Timers; now: () => number; random: () => number } {
    const scheduler = this.#scheduler
    return {
      timers: { setTimeout: (fn, ms) => scheduler.after(ms, `timer ${tab.id}`, () => tab.run(fn)), clearTimeout: timer => (timer as Timer).cancel() },
      now: () => this.#origin.now(),
      random: () => scheduler.random.next(),
    }
  }

  /** Checks what a socket or stream emits: no token anywhere, failures typed, and when a (re)connect settled. */
  #heard(watched: Watched, event: string, payload: unknown): void {
    if (carriesToken(payload)) this.#fail('no-token-leak', `${watched.tab.id} ${watched.kind} event ${event}`)
    const reason = (payload as { reason?: unknown } | undefined)?.reason
    if (event === 'error' && !FAILURES.has(String(reason))) this.#fail('socket-settles', `${watched.tab.id} ${watched.kind} error without a documented reason`)
    if (event === 'open' || event === 'error' || event === 'disconnect') watched.since = this.#scheduler.now
    if (event !== 'close') return
    watched.closed = true
    this.#scheduler.note(`${watched.kind} closed ${watched.tab.id} ${String((payload as { cause: string }).cause)}`)
    if ((payload as { cause: string }).cause !== 'session-disposed') this.#reopen(watched)
  }

  /** The app opens a new one once the session is active again (after a logout, or a close for repeated refusals: 5–30 s later). */
  #reopen(watched: Watched): void {
    const { tab } = watched
    const open = () => tab.run(() => (watched.kind === 'socket' ? this.#openSocket(tab) : this.#openStream(tab)))
    if (tab.session.state.status === 'active') return void this.#scheduler.after(this.#scheduler.random.int(5_000, 30_000), `reopen ${tab.id}`, open)
    const off = tab.session.on('change', state => state.status === 'active' && (off(), open()))
  }

  #watch(kind: Watched['kind'], tab: Tab, pending: () => boolean): Watched {
    const watched: Watched = { kind, tab, attempts: [], pending, since: this.#scheduler.now, closed: false }
    this.#watched.push(watched)
    return watched
  }

  #openSocket(tab: Tab): void {
    if (tab.disposed) return
    const token = (ctx: { token: string | undefined }) => ({ type: 'auth', token: ctx.token })
    let status = () => 'connecting'
    const watched = this.#watch('socket', tab, () => status() === 'connecting' || status() === 'authenticating')
    const socket = createSocket(tab.session, {
      WebSocket: this.server.constructorFor(tab, () => this.#attempted(watched)),
      url: 'wss://app.sim/live',
      ...(this.#bearer ? { authMessage: token, onRotate: token } : {}),
      // Beyond every settle bound of the model: a refusal the socket did not notice is caught as
      // itself (the zoo's socket-refused-silent), not rescued 10 s later by the default timeout,
      // which test/socket/connect-timeout.test.ts proves against real servers.
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...this.#platformOf(tab),
    })
    status = () => socket.status
    for (const event of ['open', 'disconnect', 'error', 'close'] as const) socket.on(event, payload => this.#heard(watched, event, payload))
    socket.subscribe('orders', () => ({ type: 'subscribe', channel: 'orders' }))
    const work = () => {
      if (watched.closed || tab.disposed) return
      tab.run(() => void socket.send({ type: 'work' }))
      this.#scheduler.after(this.#scheduler.random.int(2_000, 20_000), `work ${tab.id}`, work)
    }
    this.#scheduler.after(this.#scheduler.random.int(2_000, 20_000), `work ${tab.id}`, work)
  }

  #openStream(tab: Tab): void {
    if (tab.disposed) return
    let open = false
    const watched = this.#watch('stream', tab, () => !open)
    this.#streams.set(tab.id, watched)
    const stream = createEventStream(tab.session, { url: `https://app.sim${EVENTS_PATH}`, ...this.#platformOf(tab) })
    stream.on('open', () => (open = true))
    stream.on('disconnect', () => (open = false))
    for (const event of ['open', 'disconnect', 'error', 'close'] as const) stream.on(event, payload => this.#heard(watched, event, payload))
  }
}
