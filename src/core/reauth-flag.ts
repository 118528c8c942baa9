/** The "reauthenticating" flag across tabs: ours renewed for the others while our hook runs, theirs held here until it runs out. */
import type { Coordinator } from '../types.js'
import type { Clock, Timer } from '../utils/timers.js'
import type { SessionMachine } from './state.js'

/** How long another tab's "reauthenticating" holds unless renewed (every REMOTE_FLAG_RENEW_MS): a forged one must not switch `queueTimeout` off for good. */
export const REMOTE_FLAG_MS = 30_000
const REMOTE_FLAG_RENEW_MS = 10_000

export class ReauthFlag {
  readonly #options: { coordinator: Coordinator; clock: Clock; machine: SessionMachine }
  /** Another tab's flag runs out here unless renewed (REMOTE_FLAG_MS). */
  #remoteTimer: Timer | undefined
  /** Renews ours for the others while it is up. */
  #renewTimer: Timer | undefined

  constructor(options: { coordinator: Coordinator; clock: Clock; machine: SessionMachine }) {
    this.#options = options
  }

  /** Tells the other tabs that this one's `reauthenticate` runs (or is over; `handover`: another must take the job). */
  post(active: boolean, handover?: 'expired' | 'rejected'): void {
    this.#renewTimer?.cancel()
    this.#renewTimer = undefined
    this.#options.coordinator.post(handover ? { type: 'reauthenticating', active, handover } : { type: 'reauthenticating', active })
    // A person may take minutes to log in: the flag is renewed so it never runs out meanwhile.
    if (active) this.#renewTimer = this.#options.clock.after(REMOTE_FLAG_RENEW_MS, () => this.post(true))
  }

  /** Another tab's flag, heard. */
  heard(active: boolean): void {
    const { machine } = this.#options
    this.#remoteTimer?.cancel()
    this.#remoteTimer = active ? this.#options.clock.after(REMOTE_FLAG_MS, () => machine.setRemoteReauth(false)) : undefined
    machine.setRemoteReauth(active)
  }

  close(): void {
    this.#remoteTimer?.cancel()
    this.#renewTimer?.cancel()
  }
}
