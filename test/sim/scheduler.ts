/** The simulator's scheduler: virtual time, one queue of pending events, and the trace of every decision taken. */
import { createHash } from 'node:crypto'
import type { Timer } from '../../src/platform/types.js'
import { Random } from './random.js'

type Pending = { at: number; seq: number; label: string; run: () => void; cancelled: boolean }

/** Whether `a` runs before `b`: the earlier time, and on a tie the one scheduled first. */
const before = (a: Pending, b: Pending): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** Lets every promise chain the last event started run to its end before the next event (no real timer involved). */
function settle(): Promise<void> {
  return new Promise<void>(resolve => setImmediate(resolve))
}

/**
 * Virtual time moves only here: `step()` takes the earliest pending event (ties in the order
 * they were scheduled), moves the clock to it, runs it and lets the promises it started
 * settle. Chance comes from `random` alone, so a seed fixes the whole run; the trace records
 * each event run (never a token) and its hash is the run's fingerprint.
 *
 * The queue is a binary heap on (time, scheduling order): a step costs O(log n) and allocates
 * nothing (the list it replaced was filtered and scanned whole at every step). A cancelled
 * event stays in the heap, marked, and is dropped when it reaches the top.
 */
export class Scheduler {
  readonly random: Random
  readonly trace: string[] = []
  #now = 0
  #seq = 0
  #live = 0
  readonly #heap: Pending[] = []

  constructor(seed: number) {
    this.random = new Random(seed)
  }

  /** Virtual ms since the run began. */
  get now(): number {
    return this.#now
  }

  /** Runs `run` `ms` from now (at least 0); `label` names it in the trace. */
  after(ms: number, label: string, run: () => void): Timer {
    const event: Pending = { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.#seq++, label, run, cancelled: false }
    this.#push(event)
    this.#live++
    return {
      cancel: () => {
        if (event.cancelled) return
        event.cancelled = true
        this.#live--
      },
    }
  }

  /** Appends a decision (a fault drawn, an action chosen) to the trace. */
  note(line: string): void {
    this.trace.push(`${this.#now} ${line}`)
  }

  /** Pending events (cancelled ones not counted). */
  pending(): number {
    return this.#live
  }

  /**
   * Moves the clock to `to` where no event is due before it (time passes in an idle world too);
   * returns how far it moved.
   */
  idleUntil(to: number): number {
    const from = this.#now
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop()
    if (to <= from || (this.#heap.length > 0 && this.#heap[0]!.at <= to)) return 0
    this.#now = to
    this.trace.push(`${to} idle`)
    return to - from
  }

  /** Runs the next event; false when none is left or the next one is past `until`. */
  async step(until = Infinity): Promise<boolean> {
    const next = this.#take(until)
    if (!next) return false
    this.#now = next.at
    this.trace.push(`${next.at} ${next.label}`)
    next.run()
    await settle()
    return true
  }

  #take(until: number): Pending | undefined {
    const heap = this.#heap
    while (heap.length > 0 && heap[0]!.cancelled) this.#pop()
    if (heap.length === 0 || heap[0]!.at > until) return undefined
    const next = this.#pop()
    // Taken events count as run: a late cancel() of one is a no-op.
    next.cancelled = true
    this.#live--
    return next
  }

  #push(event: Pending): void {
    const heap = this.#heap
    let i = heap.push(event) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(event, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = event
  }

  #pop(): Pending {
    const heap = this.#heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const child = left + 1 < heap.length && before(heap[left + 1]!, heap[left]!) ? left + 1 : left
      if (!before(heap[child]!, last)) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = last
    return top
  }

  /** The run's fingerprint: two runs of one seed must give the same. */
  hash(): string {
    return createHash('sha256').update(this.trace.join('\n')).digest('hex').slice(0, 16)
  }
}
