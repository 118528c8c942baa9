/** What tabs tell each other about refreshes on the wire: this tab's (announced, and repeated to a tab that asks) and the peers' (a flag that times out). */
import type { Coordinator } from '../types.js'
import type { Clock, Timer } from '../utils/timers.js'
import type { SessionMachine } from './state.js'
import { leftOf } from './deadlines.js'

export type RotationNewsOptions = {
  coordinator: Pick<Coordinator, 'post'>
  machine: Pick<SessionMachine, 'snapshot' | 'remoteRotating'>
  clock: Clock
  /** The wall clock: when a peer's news was heard. */
  now: () => number
  /** Longest a refresh may take anywhere: a tab closed mid-rotation never says it is done. */
  rotatingTimeout: number
}

export class RotationNews {
  readonly #options: RotationNewsOptions
  /** Clears a peer's "rotating" that never said it was done. */
  #timer: Timer | undefined
  /** The generation this tab's own refresh is on the wire for. */
  #own: number | undefined
  /** The generation a peer said it is rotating from, while that news stands. */
  #heard: number | undefined
  /** When that news was heard: the peer's call went on the wire about then. */
  #heardAt: number | undefined

  constructor(options: RotationNewsOptions) {
    this.#options = options
  }

  /** This tab's refresh of `generation` goes on the wire. */
  started(generation: number): void {
    this.#own = generation
    this.#options.coordinator.post({ type: 'rotating', generation })
  }

  /** This tab's refresh failed (a success is told by its new state). */
  failed(generation: number, ok: boolean): void {
    this.#own = undefined
    this.#options.coordinator.post({ type: 'rotated', generation, ok })
  }

  /** This tab published a new state: its refresh, if any, is over. */
  published(): void {
    this.#own = undefined
    this.clear()
  }

  /**
   * A tab asked for our state (hello): one that joined mid-rotation hears ours again. `relay`
   * (a cookie tab's join, not a roll call): also the one we heard of. A page reloaded with its
   * cookie refresh on the wire is gone, and without `persist` nothing stored says so, but its
   * call lands: the tab it became must wait as we do (sim seed 157893: it presented the RT the
   * call had spent). Only then: a relayed "rotating" is not ordered with the rotating tab's own
   * outcome, so it may arrive stale; a joiner that holds it waits at most a second for nothing.
   */
  repeat(relay = false): void {
    const { generation } = this.#options.machine.snapshot
    if (this.#own === generation || (relay && this.#heard === generation)) this.#options.coordinator.post({ type: 'rotating', generation })
  }

  /** A peer says it is rotating from `generation`. */
  heard(generation: number): void {
    const { machine, clock, rotatingTimeout } = this.#options
    // Only a rotation of the generation held here is news to wait for: one "from" a
    // generation we do not hold says nothing we could use (and may be forged far ahead).
    if (generation !== machine.snapshot.generation) return
    this.#timer?.cancel()
    this.#timer = clock.after(rotatingTimeout, () => this.clear())
    this.#heard = generation
    this.#heardAt = this.#options.now()
    machine.remoteRotating(true)
  }

  /** What is left of `limit` since the peer's rotation was heard (none heard: 0). */
  heardFor(limit: number): number {
    return leftOf(limit, this.#heardAt, this.#options.now())
  }

  /** No peer's rotation is awaited any longer (it delivered, failed, or the session ended). */
  clear(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#heard = this.#heardAt = undefined
    this.#options.machine.remoteRotating(false)
  }
}
