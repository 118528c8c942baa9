/** The lock holder's roll call: asks every live peer for its state and knows when each one has answered. */
import type { Coordinator, Message, Snapshot } from '../coordinator/types.js'
import type { Waiters } from '../utils/until.js'

export type RollCallOptions = {
  coordinator: Pick<Coordinator, 'post' | 'livePeers' | 'peersAhead' | 'holding'>
  /** The state this tab holds: the wait ends at once where no live peer holds one that supersedes it. */
  held: () => Snapshot
  /** Only bearer tabs call the roll: cookie tabs (one jar, no tokens by message) name no state, a lock asked for and let go at each change saved. */
  transport: 'cookie' | 'bearer'
  /** A fresh id for each call, so an answer to another tab's hello never counts for ours; default: the time and a counter. */
  randomId?: (() => string) | undefined
  now: () => number
  /** Woken at every answer; the caller's other conditions (a newer generation) wake it too. */
  waiters: Waiters
}

/**
 * Bearer tokens travel by message only, so before presenting the RT the lock holder asks
 * (`hello`) and listens. Where the coordinator can list the live peers (Web Locks' `query()`:
 * every tab holds a presence lock), the wait ends once each of them answered this very hello:
 * the holder of the newest tokens is a live tab, which answers with them, or they exist
 * nowhere. A frozen tab holds its presence lock but cannot answer: the wait then runs to its
 * end. Sooner still, where the coordinator knows what each peer holds (`peersAhead`: Web Locks
 * name each tab's state) and none holds a state that supersedes this tab's, the wait ends at
 * once: a busy or frozen tab holding the same tokens no longer holds the RT back. Where peers
 * cannot be listed (no Web Locks, no `query()`), the whole wait is kept.
 */
export class RollCall {
  readonly #options: RollCallOptions
  /** The calls still listening, by their id: who has answered each. */
  readonly #open = new Map<string, Set<string>>()
  readonly #randomId: () => string
  #calls = 0

  constructor(options: RollCallOptions) {
    this.#options = options
    this.#randomId = options.randomId ?? (() => `${options.now()}.${++this.#calls}`)
    this.holding()
  }

  /** This tab's state changed: named where the peers' roll calls read it (Web Locks), at once, so before this tab lets the lock go. */
  holding(): void {
    if (this.#options.transport === 'bearer') this.#options.coordinator.holding?.(this.#options.held())
  }

  /** Resolves once `done()` holds, or (when `early`) no live peer holds a newer state or every one answered, or after `ms`. */
  call(ms: number, done: () => boolean, early = true): Promise<void> {
    const { coordinator, waiters } = this.#options
    const id = this.#randomId()
    const answered = new Set<string>()
    let peers: readonly string[] | undefined
    let noneAhead = false
    this.#open.set(id, answered)
    coordinator.post({ type: 'hello', call: id })
    if (early) {
      const list = () =>
        coordinator.livePeers?.()?.then(
          listed => {
            peers = listed
            waiters.wake()
          },
          () => undefined, // unlisted: the whole wait
        )
      // Where what each peer holds is known, the peers are listed only once one is ahead: one query of the locks per roll call, not two.
      const ahead = coordinator.peersAhead?.(this.#options.held())
      if (!ahead) list()
      else
        void ahead.then(
          found => (found ? list() : ((noneAhead = true), waiters.wake())),
          () => list(),
        )
    }
    const everyone = () => peers !== undefined && peers.every(peer => answered.has(peer))
    return waiters.until(() => done() || noneAhead || everyone(), ms).then(() => void this.#open.delete(id))
  }

  /** An incoming message: a state that answers one of our calls counts its sender (after the state was adopted). */
  heard(message: Message): void {
    if (message.type !== 'state' || message.answers === undefined) return
    const answered = this.#open.get(message.answers)
    if (!answered) return
    answered.add(message.from)
    this.#options.waiters.wake()
  }
}
