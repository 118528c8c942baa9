/** Timers as the parts of a session take them: the platform's `after` (see src/platform/types.ts). */
import { afterOn, platformTimers } from '../platform/defaults.js'
import type { Platform, Timer } from '../platform/types.js'
import type { Timers } from '../types.js'

export { MAX_TIMEOUT } from '../platform/defaults.js'
export type { Timer }

/** What a part needs of the platform to arm timers. */
export type Clock = Pick<Platform, 'after'>

/** A clock on `{ setTimeout, clearTimeout }` (the `timers` option of sockets and streams), or the runtime's. */
export function createClock(timers: Timers = platformTimers): Clock {
  return { after: afterOn(timers) }
}
