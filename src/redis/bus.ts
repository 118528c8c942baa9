/** The name's pub/sub channel: a subscriber connection of its own, messages opened in order and handed on, posts sealed and sent in order, and a reconnect reported so that the coordinator resyncs. */
import { parseMessage } from '../coordinator/protocol.js'
import type { Message, OutgoingMessage, Snapshot } from '../coordinator/types.js'
import type { Platform } from '../platform/types.js'
import { Listeners } from '../utils/listeners.js'
import { Waiters } from '../utils/until.js'
import type { RedisClientLike, RedisSubscriberLike } from './options.js'
import { RELEASED } from './scripts.js'
import type { Sealer } from './seal.js'

export type RedisBusOptions = {
  client: Pick<RedisClientLike, 'duplicate' | 'publish'>
  channel: string
  /** This member's id: the `from` of what it posts (its own messages are not handed back). */
  id: string
  sealer: Pick<Sealer, 'seal'>
  /** Opens a state heard on the channel (undefined: set aside). */
  open(raw: unknown): Promise<Snapshot | undefined>
  /** The lock's release notice arrived. */
  onRelease(): void
  /** Subscribed for the first time: a state published before may have been missed. */
  onSubscribed(): void
  /** Subscribed again after a reconnect: messages sent meanwhile are lost. */
  onReconnect(): void
  platform: Pick<Platform, 'after'>
  /** Aborted by the coordinator's close(): the connection goes, listeners too. */
  signal: AbortSignal
}

export class RedisBus {
  readonly #o: RedisBusOptions
  readonly #listeners = new Listeners<Message>()
  /** Wakes the wait for the first subscription (subscribed, or closed). */
  readonly #waiters: Waiters
  #connection: RedisSubscriberLike | undefined
  #subscribed = false
  #firstWait: Promise<unknown> | undefined
  /** Messages are opened one after the other (opening is asynchronous) so that they keep their order. */
  #inbox: Promise<void> = Promise.resolve()
  /** Sealing is asynchronous too: posts leave one after the other, in the order posted. */
  #outbox: Promise<void> = Promise.resolve()

  constructor(options: RedisBusOptions) {
    this.#o = options
    this.#waiters = new Waiters(options.platform.after)
    options.signal.addEventListener('abort', () => this.#close(), { once: true })
    this.#connect()
  }

  /**
   * Resolves once the channel is subscribed, or after `ms` at most, counted from the first call.
   * Bounded: a subscriber that cannot connect must not hold the session (the read made once
   * subscribed covers what an earlier one misses).
   */
  async subscribed(ms: number): Promise<void> {
    if (this.#subscribed) return
    await (this.#firstWait ??= this.#waiters.until(() => this.#subscribed || this.#o.signal.aborted, ms))
  }

  subscribe(listener: (message: Message) => void): () => void {
    return this.#listeners.add(listener)
  }

  /** Hands `message` to this member's listeners. */
  deliver(message: Message): void {
    if (!this.#o.signal.aborted) this.#listeners.emit(message)
  }

  /** Sends `message` to the other members (best effort). */
  post(message: OutgoingMessage): void {
    if (this.#o.signal.aborted) return
    const { client, channel, sealer, id } = this.#o
    const wire: Record<string, unknown> = { ...message, rotor: 1, from: id }
    this.#outbox = this.#outbox
      .then(async () => {
        if (message.type === 'state') wire['snapshot'] = await sealer.seal(message.snapshot)
        await client.publish(channel, JSON.stringify(wire))
      })
      .catch(() => undefined)
  }

  #connect(): void {
    const connection = this.#o.client.duplicate()
    this.#connection = connection
    // Without a listener node-redis would throw its connection errors at the process.
    connection.on('error', () => undefined)
    connection.on('ready', () => {
      // The first connect is not a reconnect; node-redis subscribes again by itself after one.
      if (this.#subscribed && !this.#o.signal.aborted) this.#o.onReconnect()
    })
    connection
      .connect()
      .then(() => connection.subscribe(this.#o.channel, raw => this.#heard(raw)))
      .then(() => {
        if (this.#o.signal.aborted) return
        this.#subscribed = true
        this.#waiters.wake()
        this.#o.onSubscribed()
      })
      .catch(() => undefined)
  }

  #heard(raw: string): void {
    if (this.#o.signal.aborted) return
    if (raw === RELEASED) return this.#o.onRelease()
    this.#inbox = this.#inbox.then(() => this.#receive(raw)).catch(() => undefined)
  }

  async #receive(raw: string): Promise<void> {
    let data: Record<string, unknown>
    try {
      data = JSON.parse(raw) as Record<string, unknown>
    } catch {
      return
    }
    if (typeof data !== 'object' || data === null || data['from'] === this.#o.id) return
    if (data['type'] === 'state') {
      const snapshot = await this.#o.open(data['snapshot'])
      if (!snapshot) return
      data = { ...data, snapshot }
    }
    const message = parseMessage(data)
    if (message) this.deliver(message)
  }

  #close(): void {
    this.#waiters.wake()
    this.#listeners.clear()
    const connection = this.#connection
    this.#connection = undefined
    // destroy(), not quit(): a subscriber that is still connecting (Redis down) has nothing to
    // flush. node-redis 4 has no destroy(); its disconnect() is the same.
    if (connection?.destroy) connection.destroy()
    else void connection?.disconnect?.().catch(() => undefined)
  }
}
