/** The simulated Redis server and its connections on the scheduler: commands answered in order with drawn latency, pub/sub delivered late or lost while a subscriber is down, connections that drop and come back, a restart that forgets every key. */
import type { RedisClientLike, RedisSubscriberLike } from '../../src/redis/options.js'
import { ACQUIRE, EPOCH, HOLD, RELEASE, WRITE } from '../../src/redis/scripts.js'
import { RedisKeySpace } from './redis-model.js'
import type { Scheduler } from './scheduler.js'

/** The process a connection belongs to: what it hears runs through `run` (later while it is paused, never once it crashed). */
export type Host = { readonly id: string; run(fn: () => void): void; sent?(label: string): void; answered?(label: string): void }

/** What node-redis rejects the commands already sent with when their connection drops. */
export class SocketClosedError extends Error {
  override name = 'SocketClosedUnexpectedlyError'
}

/** The scripts by name, for the trace and the faults that strike at one of them. */
const SCRIPTS = new Map([
  [ACQUIRE, 'ACQUIRE'],
  [EPOCH, 'EPOCH'],
  [HOLD, 'HOLD'],
  [RELEASE, 'RELEASE'],
  [WRITE, 'WRITE'],
])

/** How late a published message reaches one subscriber: most at once, some late (a slow consumer, a busy link) while faults are on. */
const DELIVERY: ReadonlyArray<readonly [number, 'fast' | 'late']> = [
  [9, 'fast'],
  [1, 'late'],
]

/**
 * One connection to the server. Commands leave in order and run in order (Redis's one thread),
 * answers come back in order; while it is down commands wait in the client's offline queue
 * (node-redis's), those on the wire are rejected, and it connects again once the server is up.
 */
class Connection {
  readonly host: Host
  connected = false
  closed = false
  /** Bumped by each drop: what was on the wire of an older generation is lost. */
  generation = 0
  readonly server: SimRedis
  readonly #offline: Array<() => void> = []
  readonly #onWire = new Set<(error: Error) => void>()
  readonly #ready = new Set<() => void>()
  #lastRun = 0
  #lastAnswer = 0

  constructor(server: SimRedis, host: Host) {
    this.server = server
    this.host = host
  }

  onReady(listener: () => void, add: boolean): void {
    if (add) this.#ready.add(listener)
    else this.#ready.delete(listener)
  }

  /** Sends `command`, run by the server in this connection's order; its answer reaches the host. */
  send<T>(command: () => T, label: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = () => this.#dispatch(command, label, resolve, reject)
      this.host.sent?.(label)
      if (this.closed) return reject(new SocketClosedError('the client is closed'))
      if (this.connected) go()
      else this.#offline.push(go)
    })
  }

  #dispatch<T>(command: () => T, label: string, resolve: (value: T) => void, reject: (error: unknown) => void): void {
    const scheduler = this.server.scheduler
    const generation = this.generation
    const onWire = (error: Error) => this.host.run(() => reject(error))
    this.#onWire.add(onWire)
    this.#lastRun = Math.max(this.#lastRun, scheduler.now + scheduler.random.int(1, 4))
    scheduler.after(this.#lastRun - scheduler.now, `redis ${this.host.id} ${label}`, () => {
      if (generation !== this.generation) return
      let outcome: { value: T } | { error: unknown }
      try {
        outcome = { value: command() }
      } catch (error) {
        outcome = { error }
      }
      this.#lastAnswer = Math.max(this.#lastAnswer, scheduler.now + scheduler.random.int(1, 4))
      scheduler.after(this.#lastAnswer - scheduler.now, `redis ${this.host.id} answer`, () => {
        if (generation !== this.generation) return
        this.#onWire.delete(onWire)
        this.host.answered?.(label)
        this.host.run(() => ('value' in outcome ? resolve(outcome.value) : reject(outcome.error)))
      })
    })
  }

  /** The link breaks: what is on the wire is rejected; it comes back once the server is up. */
  drop(): void {
    if (!this.connected) return
    this.connected = false
    this.generation++
    const error = new SocketClosedError('Socket closed unexpectedly')
    for (const reject of this.#onWire) reject(error)
    this.#onWire.clear()
    this.server.connectLater(this)
  }

  /** Connected (again): the offline queue goes out, and the client says it is ready. */
  up(): void {
    if (this.closed || this.connected) return
    this.connected = true
    for (const go of this.#offline.splice(0)) go()
    this.host.run(() => {
      for (const listener of [...this.#ready]) listener()
    })
  }

  close(): void {
    this.closed = true
    this.connected = false
    this.generation++
    this.#onWire.clear()
    this.#offline.length = 0
  }
}

/** A subscriber connection (`client.duplicate()`): what it is subscribed to lives on the server only while it is connected; node-redis subscribes again on reconnect. */
class Subscriber extends Connection {
  readonly listeners = new Map<string, (message: string, channel: string) => void>()
  #lastDelivery = 0

  /** A message published now reaches the host after a drawn delay, unless the link drops first. */
  deliver(channel: string, message: string, faults: boolean): void {
    const listener = this.listeners.get(channel)
    if (!listener || !this.connected) return
    const scheduler = this.server.scheduler
    const late = faults && scheduler.random.weighted(DELIVERY) === 'late'
    const generation = this.generation
    this.#lastDelivery = Math.max(this.#lastDelivery, scheduler.now + (late ? scheduler.random.int(50, 3000) : scheduler.random.int(1, 10)))
    scheduler.after(this.#lastDelivery - scheduler.now, `redis ${this.host.id} message${late ? ' late' : ''}`, () => {
      if (generation === this.generation) this.host.run(() => listener(message, channel))
    })
  }
}

/** The server: the key space, every connection, and its faults. */
export class SimRedis {
  readonly scheduler: Scheduler
  readonly space: RedisKeySpace
  /** Pub/sub messages are delayed now and then while true. */
  faultsOn = false
  restarts = 0
  #up = true
  readonly #connections = new Set<Connection>()
  readonly #subscribers = new Set<Subscriber>()

  constructor(scheduler: Scheduler) {
    this.scheduler = scheduler
    this.space = new RedisKeySpace(
      () => scheduler.now,
      (channel, message) => this.#publish(channel, message),
    )
  }

  /** A connected client for `host` (as `await createClient().connect()` gives). */
  client(host: Host): RedisClientLike {
    const connection = this.#open(host)
    connection.up()
    return {
      eval: (script, { keys, arguments: args }) => connection.send(() => this.space.eval(script, keys, args), `eval ${SCRIPTS.get(script) ?? '?'}`),
      get: key => connection.send(() => this.space.get(key), 'get'),
      publish: (channel, message) => connection.send(() => this.#publish(channel, message), 'publish'),
      duplicate: () => this.#subscriber(host),
      on: (_event, listener) => connection.onReady(listener, true),
      off: (_event, listener) => connection.onReady(listener, false),
    }
  }

  /** Every connection of `host` breaks (a network blip); each comes back after a drawn while. */
  dropConnections(host: Host): void {
    for (const connection of this.#connections) if (connection.host === host) connection.drop()
  }

  /** `host` is gone (a crash): its connections close, server side too. */
  closeConnections(host: Host): void {
    for (const connection of [...this.#connections]) if (connection.host === host) this.#close(connection)
  }

  /** A restart without persistence: every key forgotten, every connection dropped, back after `downMs`. */
  restart(downMs: number): void {
    this.restarts++
    this.#up = false
    this.space.flush()
    for (const connection of this.#connections) connection.drop()
    this.scheduler.after(downMs, 'redis up', () => {
      this.#up = true
      for (const connection of this.#connections) if (!connection.connected) this.connectLater(connection)
    })
  }

  /** A dropped connection tries again after a drawn while, as node-redis's reconnect strategy does, while the server is up. */
  connectLater(connection: Connection): void {
    this.scheduler.after(this.scheduler.random.int(20, 500), `redis ${connection.host.id} reconnect`, () => {
      if (!this.#up || connection.closed) return
      if (connection instanceof Subscriber) this.#resubscribe(connection)
      connection.up()
    })
  }

  #open(host: Host): Connection {
    const connection = new Connection(this, host)
    this.#connections.add(connection)
    return connection
  }

  #close(connection: Connection): void {
    connection.close()
    this.#connections.delete(connection)
    if (connection instanceof Subscriber) this.#subscribers.delete(connection)
  }

  #subscriber(host: Host): RedisSubscriberLike {
    const sub = new Subscriber(this, host)
    this.#connections.add(sub)
    const channels = new Map<string, (message: string, channel: string) => void>()
    const errors = new Set<() => void>()
    return {
      connect: () => {
        this.connectLater(sub)
        return sub.send(() => undefined, 'hello')
      },
      subscribe: (channel, listener) => {
        channels.set(channel, listener)
        return sub.send(() => void (this.#subscribers.add(sub), sub.listeners.set(channel, listener)), 'subscribe')
      },
      destroy: () => this.#close(sub),
      on: (event, listener) => (event === 'ready' ? sub.onReady(listener, true) : errors.add(listener)),
    }
  }

  /** Back after a drop: the server knew nothing of its channels (they went with the link); node-redis sends SUBSCRIBE again first. */
  #resubscribe(sub: Subscriber): void {
    const channels = [...sub.listeners]
    sub.listeners.clear()
    this.#subscribers.delete(sub)
    void sub
      .send(() => {
        this.#subscribers.add(sub)
        for (const [channel, listener] of channels) sub.listeners.set(channel, listener)
      }, 'resubscribe')
      .catch(() => undefined)
  }

  /** PUBLISH: each subscriber of the channel connected now hears it, late or never if its link drops. Returns the count, as Redis does. */
  #publish(channel: string, message: string): number {
    let count = 0
    for (const sub of this.#subscribers) {
      if (!sub.connected || !sub.listeners.has(channel)) continue
      count++
      sub.deliver(channel, message, this.faultsOn)
    }
    return count
  }
}
