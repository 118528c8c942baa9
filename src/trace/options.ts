/** The `debug` and `traceSize` options, checked: what the trace keeps and where its entries go as they happen. */
import { optionError } from '../utils/option-errors.js'
import type { DebugOption } from './recorder.js'

export type { DebugLogger, DebugOption } from './recorder.js'

/** Past this a trace is no longer a bug report's attachment but a memory leak. */
const MAX_TRACE_SIZE = 100_000

export function checkDebug(debug: unknown): DebugOption | undefined {
  const logger = debug as Record<string, unknown> | null
  if (typeof debug === 'object' ? !['debug', 'info', 'warn', 'log'].some(k => typeof logger?.[k] === 'function') : !/^(u|bo|f)/.test(typeof debug)) {
    throw optionError('rotor-auth', 'debug', 'true, a function or a logger', debug)
  }
  return debug as DebugOption | undefined
}

/** Entries kept by default (500: a few minutes of a busy session's decisions); 0 keeps none. */
export function checkTraceSize(size: unknown = 500): number {
  if (Number.isInteger(size) && (size as number) >= 0 && (size as number) <= MAX_TRACE_SIZE) return size as number
  throw optionError('rotor-auth', 'traceSize', 'a whole number from 0 to 100000', size)
}
