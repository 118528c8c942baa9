/** The message bus between sessions of one name: the platform's BroadcastChannel, every message validated. */
import type { Message, OutgoingMessage } from '../types.js'
import { parseMessage } from './protocol.js'

export type Channel = {
  post(message: OutgoingMessage): void
  subscribe(listener: (message: Message) => void): () => void
  close(): void
}

/**
 * The platform's BroadcastChannel (browsers, workers, Node >= 18), not the broadcast-channel
 * package: the package's own handler throws on any message that is not in its envelope, so
 * one foreign or forged post to the channel name raised uncaught errors in every tab
 * (test/session/cross-tab.test.ts, "garbage on the channel"). Every message is validated by
 * parseMessage instead, and a member never hears itself.
 */
export function openChannel(name: string, id: string): Channel {
  const listeners = new Set<(message: Message) => void>()
  let closed = false
  const channel = new BroadcastChannel(name)
  // Node: an open channel keeps the process alive; a session alone must not.
  ;(channel as { unref?: () => void }).unref?.()
  channel.onmessage = event => {
    const message = parseMessage(event.data)
    if (!message || message.from === id) return
    for (const listener of [...listeners]) listener(message)
  }
  channel.onmessageerror = () => undefined
  return {
    post(message) {
      if (closed) return
      try {
        channel.postMessage({ ...message, rotor: 1, from: id })
      } catch {
        // A closed channel (tab unloading): nothing left to tell.
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    close() {
      if (closed) return
      closed = true
      listeners.clear()
      channel.close()
    },
  }
}
