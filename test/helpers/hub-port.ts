/** A tab's port to the real hub, driven message by message: what the hub sent it, and a way to say something to the hub. */
import type { Hub } from '../../src/worker/hub.js'

export function hubPort(hub: Hub) {
  const received: Array<Record<string, unknown>> = []
  const port = {
    postMessage: (m: unknown) => void received.push(m as Record<string, unknown>),
    close: () => undefined,
    onmessage: null as ((event: MessageEvent) => void) | null,
  }
  hub.connect(port)
  return { received, say: (data: unknown) => port.onmessage?.({ data } as MessageEvent) }
}
