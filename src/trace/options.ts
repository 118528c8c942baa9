/** The `debug` and `traceSize` options, checked: what the trace keeps and where its entries go as they happen. */
import { optionError } from '../utils/option-errors.js'
import type { Sink } from './recorder.js'

/** A logger object: each entry goes to the method of its level (debug, info, warn), else `log`. */
export type DebugLogger = { debug?: (...args: unknown[]) => void; info?: (...args: unknown[]) => void; warn?: (...args: unknown[]) => void; log?: (...args: unknown[]) => void }
export type DebugOption = boolean | Sink | DebugLogger

/** Entries `session.trace()` keeps by default: a few minutes of a busy session's decisions. */
export const DEFAULT_TRACE_SIZE = 500
/** Past this a trace is no longer a bug report's attachment but a memory leak. */
const MAX_TRACE_SIZE = 100_000

export function checkDebug(debug: unknown): DebugOption | undefined {
  if (debug === undefined || typeof debug === 'boolean' || typeof debug === 'function') return debug as DebugOption | undefined
  const logger = debug as DebugLogger | null
  if (typeof logger === 'object' && logger !== null && ['debug', 'info', 'warn', 'log'].some(k => typeof logger[k as keyof DebugLogger] === 'function')) return logger
  throw optionError('rotor-auth', 'debug', 'true, a function (entry) => void, or a logger with debug/info/warn/log methods', debug)
}

export function checkTraceSize(size: unknown): number {
  if (size === undefined) return DEFAULT_TRACE_SIZE
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > MAX_TRACE_SIZE) {
    throw optionError('rotor-auth', 'traceSize', `a whole number of entries from 0 to ${MAX_TRACE_SIZE}`, size)
  }
  return size
}
