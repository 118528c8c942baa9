/** The message bus between sessions of one name: the platform's channel, every message validated. */
import { defaultPlatform } from '../platform/defaults.js'
import type { ChannelLike } from '../platform/types.js'
import type { Message, OutgoingMessage } from '../types.js'
import { Listeners } from '../utils/listeners.js'
import { parseMessage } from './protocol.js'

export type Channel = {
  post(message: OutgoingMessage): void
  subscribe(listener: (message: Message) => void): () => void
  close(): void
}

/** Opens a channel by name: the platform's `channel` piece. */
export type OpenChannel = (name: string) => ChannelLike

/**
 * The platform's channel (a BroadcastChannel in browsers, workers, Node >= 18), not the
 * broadcast-channel package: the package's own handler throws on any message that is not in
 * its envelope, so one foreign or forged post to the channel name raised uncaught errors in
 * every tab (test/session/cross-tab.test.ts, "garbage on the channel"). Every message is
 * validated by parseMessage instead, and a member never hears itself.
 */
class ValidatedChannel implements Channel {
  readonly #listeners = new Listeners<Message>()
  readonly #channel: ChannelLike
  readonly #id: string
  #closed = false

  constructor(channel: ChannelLike, id: string) {
    this.#channel = channel
    this.#id = id
    // Node: an open channel keeps the process alive; a session alone must not.
    ;(channel as { unref?: () => void }).unref?.()
    channel.onmessage = event => {
      const message = parseMessage(event.data)
      if (message && message.from !== id) this.#listeners.emit(message)
    }
    channel.onmessageerror = () => undefined
  }

  post(message: OutgoingMessage): void {
    if (this.#closed) return
    try {
      this.#channel.postMessage({ ...message, rotor: 1, from: this.#id })
    } catch {
      // A closed channel (tab unloading): nothing left to tell.
    }
  }

  subscribe(listener: (message: Message) => void): () => void {
    return this.#listeners.add(listener)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#listeners.clear()
    this.#channel.close()
  }
}

/** Opens channel `name` as member `id`, through `open` (the session passes its platform's). */
export function openChannel(name: string, id: string, open: OpenChannel = defaultChannel): Channel {
  return new ValidatedChannel(open(name), id)
}

/** The runtime's channel, for callers without a platform (unit tests). */
function defaultChannel(name: string): ChannelLike {
  return defaultPlatform().channel!(name)
}
