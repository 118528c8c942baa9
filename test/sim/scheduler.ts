/** The simulator's scheduler: virtual time, one queue of pending events, and the trace of every decision taken. */
import { createHash } from 'node:crypto'
import type { Timer } from '../../src/platform/types.js'
import { Random } from './random.js'

type Pending = { at: number; seq: number; label: string; run: () => void; cancelled: boolean }

/** Lets every promise chain the last event started run to its end before the next event (no real timer involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 1; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

/**
 * Virtual time moves only here: `step()` takes the earliest pending event (ties in the order
 * they were scheduled), moves the clock to it, runs it and lets the promises it started
 * settle. Chance comes from `random` alone, so a seed fixes the whole run; the trace records
 * each event run (never a token) and its hash is the run's fingerprint.
 */
export class Scheduler {
  readonly random: Random
  readonly trace: string[] = []
  #now = 0
  #seq = 0
  #queue: Pending[] = []

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
    this.#queue.push(event)
    return { cancel: () => void (event.cancelled = true) }
  }

  /** Appends a decision (a fault drawn, an action chosen) to the trace. */
  note(line: string): void {
    this.trace.push(`${this.#now} ${line}`)
  }

  /** Pending events (cancelled ones dropped). */
  pending(): number {
    this.#queue = this.#queue.filter(event => !event.cancelled)
    return this.#queue.length
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
    let best: Pending | undefined
    let at = -1
    this.#queue = this.#queue.filter(event => !event.cancelled)
    this.#queue.forEach((event, i) => {
      if (!best || event.at < best.at || (event.at === best.at && event.seq < best.seq)) {
        best = event
        at = i
      }
    })
    if (!best || best.at > until) return undefined
    this.#queue.splice(at, 1)
    return best
  }

  /** The run's fingerprint: two runs of one seed must give the same. */
  hash(): string {
    return createHash('sha256').update(this.trace.join('\n')).digest('hex').slice(0, 16)
  }
}
