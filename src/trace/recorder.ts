/** The session's decision trace: a bounded list of entries, each also handed to the `debug` sink as it happens. */
import type { TraceKind } from './kinds.js'

/**
 * One decision. `at`: epoch ms on the session's clock; `tab`: the member that took it; `seq`:
 * its place among that member's entries (two decisions in one millisecond keep their order).
 */
export type TraceEntry = { at: number; tab: string; seq: number; kind: TraceKind; [field: string]: unknown }

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

/** A URL without its query and fragment (they may carry tokens). Most have neither: two searches cost less than a replace. */
const bare = (url: string): string => (url.includes('?') || url.includes('#') ? url.replace(/[?#][^]*/, '') : url)

/** A logger object: each entry goes to the method of its level (debug, info, warn), else `log`. */
export type DebugLogger = { [level in 'debug' | 'info' | 'warn' | 'log']?: (...args: unknown[]) => void }
export type DebugOption = boolean | Sink | DebugLogger

/**
 * The last `size` entries. Recording happens only on decisions (a request with a live AT
 * records nothing), so it is always on: a trace is there when a user reports a logout,
 * without having turned anything on first.
 */
export class TraceRecorder {
  readonly #entries: TraceEntry[] = []
  /** Entries written over the oldest since the list filled: once full it is a ring, and dropping the oldest moves nothing (a shift() per entry was most of an entry's cost). */
  #over = 0
  #seq = 0

  /** `sinks`: where each entry goes as it is recorded (the `debug` sink, the `trace` event; trace/sink.ts adds the console's). */
  constructor(
    readonly tab: string,
    readonly options: { now: () => number; session: string | undefined; size: number; sinks: Array<Sink | undefined> },
  ) {}

  /** Records one decision. A URL loses its query and fragment (they may carry tokens); a sink that throws is the app's bug, never the session's. */
  readonly record = (kind: TraceKind, fields?: Record<string, unknown>): void => {
    // Not `{ at, …, ...fields }`: Node 20's V8 adds each property to a spread copy on its slow
    // path (~7 µs an entry, most of a 100,000-request release); same keys, same order, this way.
    const entry = Object.assign({ at: this.options.now(), tab: this.tab, seq: this.#seq++, kind }, fields) as TraceEntry
    entry.url &&= bare(String(entry.url))
    const { size } = this.options
    if (this.#entries.length < size) this.#entries.push(entry)
    else if (size) this.#entries[this.#over++ % size] = entry
    for (const sink of this.options.sinks) {
      try {
        sink?.(entry)
      } catch {
        // A debug sink must not change what the session does.
      }
    }
  }

  /** The entries held, oldest first. */
  entries(): TraceEntry[] {
    const oldest = this.#over % this.#entries.length
    return this.#entries.slice(oldest).concat(this.#entries.slice(0, oldest))
  }

  /** This tab's entries as one exportable document (trace/peers.ts merges other tabs' into it). */
  export(): TraceExport {
    return { rotor: 'trace', version: 1, at: this.options.now(), session: this.options.session, tabs: [this.tab], entries: this.entries() }
  }
}
