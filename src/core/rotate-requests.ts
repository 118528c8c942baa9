/** What the tab that refreshes for everyone (a leader without Web Locks) does with a peer's `rotate-request`. */
import { plausible, rotateRequestVerdict } from '../coordinator/protocol.js'
import type { Coordinator, Snapshot } from '../types.js'
import { settled } from '../utils/when.js'
import type { SessionMachine } from './state.js'

export type RotateRequestsOptions = {
  coordinator: Pick<Coordinator, 'isLeader'>
  machine: Pick<SessionMachine, 'snapshot' | 'disposed'>
  /** Tells the peers what this tab holds (a peer behind it gets the state it missed). */
  answer: () => void
  /** Adopts whatever newer state the store holds. */
  catchUp: () => Promise<Snapshot | undefined>
  /** Rotates for the peer: past `generation`, the one it holds. */
  rotate: (generation: number) => void
}

/** Returns the handler of a peer's request for a generation above the one given (see rotateRequestVerdict). */
export function rotateRequests(options: RotateRequestsOptions): (generation: number) => void {
  const { coordinator, machine } = options
  /** The generation this tab last rotated for at a peer's request (once per generation). */
  let honoured: number | undefined
  /** The store is being read for a request ahead of this tab (readAhead). */
  let reading: boolean | undefined
  const heard = (generation: number, again?: boolean): void => {
    if (!coordinator.isLeader()) return
    const verdict = rotateRequestVerdict(generation, machine.snapshot.generation, honoured)
    // Behind us: our state is the answer (a bearer tab gets the tokens it missed).
    if (verdict === 'answer') return options.answer()
    if (verdict === 'rotate') return void ((honoured = generation), options.rotate(generation))
    if (!again && !reading) reading = readAhead(options, generation, () => void ((reading = false), machine.disposed || heard(generation, true)))
  }
  return heard
}

/**
 * A request ahead of the leader's generation may be news it missed, not a forgery: a login
 * disposed as it published wrote the store and posted nothing, and the tab elected leader,
 * signed out, ignored the active tab's requests for good (sim seed 505491). So the leader reads
 * the store, one read at a time however many requests come, and weighs the request again
 * (`then`); one far ahead is a forgery by the far-ahead rule and reads nothing. The worker's
 * build drops this: the hub hands its session only requests for the hub's own generation
 * (src/worker/hub.ts).
 */
function readAhead({ machine, catchUp }: RotateRequestsOptions, generation: number, then: () => void): boolean | undefined {
  notInWorker: {
    if (generation <= machine.snapshot.generation || !plausible({ generation }, machine.snapshot)) return false
    void settled(catchUp()).then(then)
    return true
  }
}
