/** The session's decision trace: a bounded ring of entries, each also handed to the `debug` sink as it happens. */
import type { TraceKind } from './kinds.js'

/** One decision. `at`: epoch ms on the session's clock; `tab`: the member that took it. */
export type TraceEntry = { at: number; tab: string; kind: TraceKind; [field: string]: unknown }

/** What `session.trace()` returns: one JSON-serialisable document for a bug report. */
export type TraceExport = {
  rotor: 'trace'
  version: 1
  /** When it was taken (epoch ms). */
  at: number
  /** The session's shared name (its channel), undefined for a session that shares nothing. */
  session: string | undefined
  /** The tabs (or processes) whose entries it holds, this one first. */
  tabs: string[]
  /** Oldest first; across tabs, ordered by `at`. */
  entries: TraceEntry[]
}

export type Sink = (entry: TraceEntry) => void

/** Kinds that are not routine: a logger object hears them at `warn`/`info` instead of `debug`. */
const LEVELS: Partial<Record<TraceKind, 'warn' | 'info'>> = {
  'budget-reached': 'warn', 'lease-lost': 'warn', 'worker-fallback': 'warn', logout: 'info', 'reauthenticate-called': 'info',
}

type Logger = { debug?: (...a: unknown[]) => void; info?: (...a: unknown[]) => void; warn?: (...a: unknown[]) => void; log?: (...a: unknown[]) => void }

/**
 * The `debug` option as a sink: `true` logs to `console` (checked at call time, so a test can
 * spy on it), a function receives each entry, a logger object gets each at its level.
 */
export function debugSink(debug: boolean | Sink | Logger | undefined, logger: Logger): Sink | undefined {
  if (!debug) return undefined
  if (typeof debug === 'function') return debug
  const target = debug === true ? logger : debug
  return entry => {
    const level = LEVELS[entry.kind] ?? 'debug'
    const write = target[level] ?? target.log
    write?.call(target, `rotor-auth ${entry.kind}`, entry)
  }
}

/**
 * A ring of the last `size` entries. Recording is cheap and happens only on decisions (a
 * request with a live AT records nothing), so it is always on: a trace is there when a user
 * reports a logout, without having turned anything on first.
 */
export class TraceRecorder {
  readonly #ring: Array<TraceEntry | undefined>
  #next = 0
  readonly #now: () => number
  readonly #tab: string
  readonly #sinks: Sink[]

  readonly #session: string | undefined

  constructor(options: { now: () => number; tab: string; session: string | undefined; size: number; sinks: Array<Sink | undefined> }) {
    this.#session = options.session
    this.#ring = new Array<TraceEntry | undefined>(options.size)
    this.#now = options.now
    this.#tab = options.tab
    this.#sinks = options.sinks.filter(s => s !== undefined)
  }

  get tab(): string {
    return this.#tab
  }

  /** Records one decision; a sink that throws is the app's bug, never the session's. */
  readonly record = (kind: TraceKind, fields?: Record<string, unknown>): void => {
    const entry: TraceEntry = { ...fields, at: this.#now(), tab: this.#tab, kind }
    if (this.#ring.length) this.#ring[this.#next++ % this.#ring.length] = entry
    for (const sink of this.#sinks) {
      try {
        sink(entry)
      } catch {
        // A debug sink must not change what the session does.
      }
    }
  }

  /** The entries held, oldest first. */
  entries(): TraceEntry[] {
    const n = this.#ring.length
    const out: TraceEntry[] = []
    for (let i = Math.max(0, this.#next - n); i < this.#next; i++) out.push(this.#ring[i % n]!)
    return out
  }

  /** This tab's entries, plus any others' (merged by time), as one exportable document. */
  export(others: TraceEntry[] = []): TraceExport {
    const entries = [...this.entries(), ...others].sort((a, b) => a.at - b.at)
    const tabs = [this.#tab, ...new Set(others.map(e => e.tab).filter(t => t !== this.#tab))]
    return { rotor: 'trace', version: 1, at: this.#now(), session: this.#session, tabs, entries }
  }
}
