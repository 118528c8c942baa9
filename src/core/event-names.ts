/** The events `session.on()` accepts, and the check of its arguments. */
import { RotorTypeError } from '../errors.js'
import type { SessionEvents } from '../types.js'
import { closest, shown } from '../utils/option-errors.js'

/** Every event `on()` accepts: a misspelt name would be a listener that never runs. */
const EVENTS: Record<keyof SessionEvents, true> = {
  change: true,
  rotate: true,
  'rotate-error': true,
  logout: true,
  'idle-warning': true,
  'storage-error': true,
  dispose: true,
  'idle-resume': true,
  'session-ending': true,
  'worker-fallback': true,
  'clock-skew': true,
  trace: true,
}

/**
 * Checked at the call: a typo'd name or a non-function would otherwise fail silently, or at the
 * first emit. The worker's build drops it (`notInWorker:`): nothing there calls `session.on()`,
 * and the session's own subscriptions are typed.
 */
export function checkListener(event: unknown, listener: unknown): void {
  notInWorker: {
    if (typeof event !== 'string' || !Object.hasOwn(EVENTS, event)) {
      const hint = typeof event === 'string' ? closest(event, Object.keys(EVENTS)) : undefined
      throw new RotorTypeError('ERR_USAGE', `rotor-auth: session.on(): unknown event ${shown(event)}${hint ? ` (did you mean '${hint}'?)` : ''}`)
    }
    if (typeof listener !== 'function')
      throw new RotorTypeError('ERR_USAGE', `rotor-auth: session.on('${event}', listener): listener must be a function, got ${shown(listener)}`)
  }
}
