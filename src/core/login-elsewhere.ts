/** Waits, holding the lock, for the login another tab owes (its "ending" mark seen): its login, the end, or no tab saying it is logging in. */
import { SessionExpiredError } from '../errors.js'
import type { Snapshot } from '../coordinator/types.js'
import type { Clock } from '../utils/timers.js'
import { Waiters } from '../utils/until.js'
import type { SessionMachine } from './state.js'

/** What a state newer than a rotation's own generation is: another tab's rotation (or login), or its mark (the RT is dead, a login owed). */
export type Newer = 'rotated' | 'marked' | undefined

/** What `snapshot` is to a rotation asked for at `generation`. */
export function newer(snapshot: Snapshot, generation: number): Newer {
  return snapshot.generation <= generation ? undefined : snapshot.ending ? 'marked' : 'rotated'
}

/** How long the tab that wrote a mark may take to say it is logging in: it posts "reauthenticating" just after the mark. */
const FLAG_IN_FLIGHT_MS = 1000

export class LoginElsewhere {
  readonly #machine: SessionMachine
  readonly #now: () => number
  readonly #waiters: Waiters

  constructor(machine: SessionMachine, clock: Clock, now: () => number) {
    this.#machine = machine
    this.#now = now
    this.#waiters = new Waiters((ms, fn) => clock.after(ms, fn))
    // Every transition, the "reauthenticating" flag's included (it is no `change`).
    machine.watch(() => this.#waiters.wake())
  }

  /**
   * The state held is another tab's mark (its RT is dead, its login owed): resolves once a newer
   * state is here (its login) or the session ended, once no tab says it is logging in (that tab
   * is gone: the caller takes the login over), or after `ms` at most. Says what the state is then
   * to a rotation asked for at `generation`; rejects once the session ended.
   */
  async outcome(ms: number, generation: number): Promise<Newer> {
    const machine = this.#machine
    const mark = machine.snapshot.generation
    const deadline = this.#now() + ms
    const decided = () => machine.disposed || machine.snapshot.status !== 'active' || machine.snapshot.generation > mark
    await this.#waiters.until(() => decided() || machine.remoteReauth, Math.min(FLAG_IN_FLIGHT_MS, ms))
    // Within `ms` whatever the wall clock does meanwhile (set back, the deadline would recede).
    await this.#waiters.until(() => decided() || !machine.remoteReauth, Math.min(ms, Math.max(0, deadline - this.#now())))
    if (machine.snapshot.status !== 'active') throw new SessionExpiredError(machine.snapshot.reason ?? 'expired')
    return newer(machine.snapshot, generation)
  }
}
