/** The session-ending warning: `session-ending` `warning` ms before the RT expires, then the end, in every tab. */
import type { DebugSink } from '../platform/types.js'
import type { Clock, Timer } from '../utils/timers.js'
import type { SessionMachine, Transition } from './state.js'

/** What the watch is wired to: the session's state, clock and timers, and how to end it. */
export type EndingWiring = {
  machine: SessionMachine
  clock: Clock
  now: () => number
  /** The RT is dead: end the session (or let `reauthenticate` bring a new one). */
  end: () => Promise<void>
  /** Records a decision in the session's trace. */
  trace?: DebugSink
}

/**
 * Watches the RT expiry of the current snapshot. Every tab holds the same snapshot (a
 * rotation in any tab reaches the others, `refreshExpiresAt` with it), so every tab arms its
 * own timers from it and re-arms them whenever it moves: stripes-core re-arms only in the
 * tab that rotated, and the other tabs warned, then logged out, a session that had been
 * extended. A warning is given once per expiry, however often the same snapshot arrives.
 */
export function watchEnding(warning: number, { machine, clock, now, end, trace }: EndingWiring): () => number | null {
  /** The RT expiry the timers are armed for. */
  let armedFor: number | null = null
  /** The expiry being warned about now (for a UI that mounts after the event). */
  let shown: number | null = null
  let timer: Timer | undefined

  function arm(warned: boolean): void {
    const endsAt = armedFor!
    const left = endsAt - now()
    if (left <= 0) {
      // Another tab's end may arrive while this expiry is still the snapshot's: end once.
      armedFor = shown = null
      if (machine.snapshot.status === 'active' && machine.refreshExpired()) void end().catch(() => undefined)
      return
    }
    if (!warned && left <= warning) machine.emit('session-ending', { endsAt: (shown = endsAt) })
    warned ||= left <= warning
    timer = clock.after(warned ? left : left - warning, () => arm(warned))
  }

  const follow = (transition: Transition): void => {
    const { status, refreshExpiresAt } = machine.snapshot
    // Only a new snapshot (or the end) moves the expiry; requests coming and going do not.
    if (transition === 'flight' || transition === 'reauth' || (transition !== 'disposed' && status === 'active' && refreshExpiresAt === armedFor)) return
    timer?.cancel()
    shown = null
    armedFor = transition === 'disposed' || status !== 'active' ? null : refreshExpiresAt
    // Not from inside the transition: a tab that opens within the warning window adopts the
    // snapshot while createSession() runs, before anyone could listen.
    if (armedFor === null) return
    trace?.('ending-armed', { warnAt: armedFor - warning, endsAt: armedFor })
    timer = clock.after(0, () => arm(false))
  }
  machine.watch(follow)
  // Loaded on demand: the session may have become active (a login, or another tab's snapshot
  // adopted) before this ran.
  follow('entered')
  return () => shown
}
