/** The "reauthenticating" flag between tabs: ours renewed for the others while our hook runs, another tab's run out unless renewed. */
import type { Coordinator, Message } from '../types.js'
import type { Clock, Timer } from '../utils/timers.js'
import type { SessionMachine } from './state.js'

/**
 * How long another tab's "reauthenticating" holds unless renewed (every REMOTE_FLAG_RENEW_MS): while it holds,
 * waiting requests do not time out, so a forged one must not switch `queueTimeout` off for good.
 */
export const REMOTE_FLAG_MS = 30_000
const REMOTE_FLAG_RENEW_MS = 10_000

export class ReauthFlag {
  readonly #coordinator: Pick<Coordinator, 'post'>
  readonly #machine: SessionMachine
  readonly #clock: Clock
  /** Another tab's "reauthenticating" runs out here unless renewed (REMOTE_FLAG_MS); ours is renewed for the others by #renewTimer. */
  #remoteTimer: Timer | undefined
  #renewTimer: Timer | undefined

  constructor(coordinator: Pick<Coordinator, 'post'>, machine: SessionMachine, clock: Clock) {
    this.#coordinator = coordinator
    this.#machine = machine
    this.#clock = clock
  }

  /** Tells the other tabs this one's hook runs (or stopped; `handover`: stopped unfinished, one of them may take it). */
  post(active: boolean, handover?: 'expired' | 'rejected'): void {
    this.#renewTimer?.cancel()
    this.#renewTimer = undefined
    this.#coordinator.post(handover ? { type: 'reauthenticating', active, handover } : { type: 'reauthenticating', active })
    // A person may take minutes to log in: the flag is renewed so it never runs out meanwhile.
    if (active) this.#renewTimer = this.#clock.after(REMOTE_FLAG_RENEW_MS, () => this.post(true))
  }

  /** Another tab's flag heard: held here until it says otherwise or runs out. */
  heard(message: Extract<Message, { type: 'reauthenticating' }>): void {
    this.#remoteTimer?.cancel()
    this.#remoteTimer = message.active ? this.#clock.after(REMOTE_FLAG_MS, () => this.#machine.setRemoteReauth(false)) : undefined
    this.#machine.setRemoteReauth(message.active)
  }

  close(): void {
    this.#remoteTimer?.cancel()
    this.#renewTimer?.cancel()
  }
}
