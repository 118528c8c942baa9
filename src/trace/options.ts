/** The `debug` and `traceSize` options' checks, as rules of createSession's option schema (src/core/options.ts): what the trace keeps and where its entries go as they happen. */
import type { DebugLogger } from './recorder.js'

export type { DebugLogger, DebugOption } from './recorder.js'

/** Past this a trace is no longer a bug report's attachment but a memory leak. */
const MAX_TRACE_SIZE = 100_000

/** Entries kept by default (500: a few minutes of a busy session's decisions); 0 keeps none. */
export const TRACE_SIZE = 500

/**
 * Each option's check and the wording of what it must be (a rule of src/core/options.ts; a value
 * left out is not checked). A logger is an object with at least one of the levels' methods.
 */
export const TRACE_RULES = {
  debug: [
    // A boolean, a function, or a logger with one of the levels (`'yes'.log`, `null?.log`: undefined).
    (v: boolean | DebugLogger | null) => typeof v === 'boolean' || [v, v?.debug, v?.info, v?.warn, v?.log].some(f => typeof f === 'function'),
    'true, a function or a logger',
  ],
  traceSize: [(v: number) => Number.isInteger(v) && v >= 0 && v <= MAX_TRACE_SIZE, 'a whole number from 0 to 100000'],
} as const
