/** The `debug` option's console and logger sinks: each entry written at its level. Loaded only by a session whose `debug` is `true` or a logger. */
import type { DebugLogger, DebugOption, Sink, TraceRecorder } from './recorder.js'

/** Kinds that are not routine: a logger hears them at `warn` (these) or `info` (the end of a session). */
const WARN = /^(budget|lease|worker)/
const INFO = /^(logout|reauthenticate-called)/

/**
 * The `debug` option as a sink: `true` logs to `logger` (the console), a function receives
 * each entry, a logger object gets each at its level.
 */
export function debugSink(debug: DebugOption | undefined, logger: DebugLogger): Sink | undefined {
  if (!debug || typeof debug === 'function') return debug || undefined
  const target = debug === true ? logger : debug
  return entry => {
    const write = target[WARN.test(entry.kind) ? 'warn' : INFO.test(entry.kind) ? 'info' : 'debug'] ?? target.log
    write?.call(target, `rotor-auth ${entry.kind}`, entry)
  }
}

/** Hands `recorder`'s entries to the `debug` option's sink: those it holds first (recorded while this module loaded), then each new one. */
export function attach(recorder: TraceRecorder, debug: DebugOption, logger: DebugLogger): void {
  const sink = debugSink(debug, logger)
  if (!sink) return
  for (const entry of recorder.entries()) sink(entry)
  recorder.options.sinks.push(sink)
}
