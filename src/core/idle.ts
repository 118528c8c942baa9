/** The idle timeout across tabs: activity anywhere resets it everywhere; a warning before the end. */
import type { DebugSink, Platform } from '../platform/types.js'
import type { Clock, Timer } from '../utils/timers.js'

type IdleConfig = { timeout: number; warning: number; activityEvents: string[] }
/** What the tracker is wired to: the session's clock and timers, the page's events, and the session's reactions. */
export type IdleWiring = {
  now: () => number
  clock: Clock
  /** Where user activity is heard (`activityEvents`): the platform's event source. */
  on: Platform['on']
  /** `idle-warning` fired, or (`idle-resume`) activity anywhere ended the warning given. */
  onWarning: (event: 'idle-warning' | 'idle-resume', logoutAt: number) => void
  onTimeout: () => void
  /** Tell the other tabs about local activity. */
  broadcast: (at: number) => void
  /** Records a decision in the session's trace. */
  trace?: DebugSink
}

/** Activity in one tab is news to the others at most this often. */
const BROADCAST_EVERY_MS = 1000

/**
 * Logs out after `timeout` ms without user activity in any tab. Activity anywhere resets it
 * everywhere (tabs broadcast theirs); `idle-warning` fires `warning` ms before the end.
 */
export class IdleTracker {
  readonly #cfg: IdleConfig
  readonly #wiring: IdleWiring
  #last = 0
  /** This tab's own latest activity: what it tells the others (never an echo of theirs). */
  #localAt = 0
  #lastBroadcast = Number.NEGATIVE_INFINITY
  #running = false
  #warned = false
  #timer: Timer | undefined
  #trailing: Timer | undefined
  /** Long operations in flight (session.busy): each counts as continuous activity. */
  #busy = 0
  #disposed = false
  readonly #onDomActivity = () => this.activity()
  /** Undoes the activity listeners while they are on. */
  #unlisten: Array<() => void> | undefined

  constructor(cfg: IdleConfig, wiring: IdleWiring) {
    this.#cfg = cfg
    this.#wiring = wiring
  }

  /** The session became active: the idle clock starts now. */
  start(): void {
    // A disposed session may still commit a login or refresh that was under way; it must not
    // listen to the page again.
    if (this.#disposed) return
    this.#running = true
    this.#last = this.#wiring.now()
    this.#warned = false
    this.#listen(true)
    this.#arm()
  }

  stop(): void {
    this.#running = false
    this.#timer?.cancel()
    this.#trailing?.cancel()
    this.#timer = undefined
    this.#trailing = undefined
    this.#listen(false)
  }

  /** No activity for long enough that keep-alive rotations should stop (the warning phase). */
  isIdle(): boolean {
    return this.#running && this.#busy === 0 && this.#wiring.now() >= this.#last + this.#cfg.timeout - this.#cfg.warning
  }

  /** The logout deadline while the warning is being given, else null. */
  warningFor(): number | null {
    return this.#running && this.#warned ? this.#last + this.#cfg.timeout : null
  }

  /** Counts as activity, in every tab, until the returned release is called. */
  hold(): () => void {
    this.#busy++
    this.activity()
    let released = false
    return () => {
      if (released) return
      released = true
      this.#busy--
      this.activity()
    }
  }

  activity(): void {
    if (!this.#running) return
    this.#last = this.#localAt = this.#wiring.now()
    this.#tell()
    this.#reset()
  }

  /** The idle clock starts over; a warning given is over too, and every "Keep working?" modal closes. */
  #reset(): void {
    const warned = this.#warned
    this.#warned = false
    this.#arm()
    if (warned && this.#running && !this.#warned) this.#wiring.onWarning('idle-resume', this.#last + this.#cfg.timeout)
  }

  /**
   * Tells the other tabs, at most once a second, and always the latest activity: a skipped
   * broadcast is sent at the end of its window, or the others' idle clocks would run up to a
   * second ahead and log out before `timeout` had passed since the last activity anywhere.
   */
  #tell(): void {
    const now = this.#wiring.now()
    const wait = this.#lastBroadcast + BROADCAST_EVERY_MS - now
    if (wait <= 0) {
      this.#trailing?.cancel()
      this.#trailing = undefined
      this.#lastBroadcast = now
      this.#wiring.broadcast(this.#localAt)
    } else if (this.#trailing === undefined) {
      this.#trailing = this.#wiring.clock.after(wait, () => {
        this.#trailing = undefined
        if (this.#running && this.#localAt > this.#lastBroadcast) this.#tell()
      })
    }
  }

  remoteActivity(at: number): void {
    if (!this.#running || at <= this.#last) return
    // Never trust a peer's clock to be in the future of ours.
    this.#last = Math.min(at, this.#wiring.now())
    this.#reset()
  }

  dispose(): void {
    this.#disposed = true
    this.stop()
  }

  /** The deadline last armed for (traced once per deadline, not per re-arm). */
  #armedAt: number | undefined

  #arm(): void {
    this.#timer?.cancel()
    const { timeout, warning } = this.#cfg
    if (this.#busy > 0) {
      // A long operation counts as continuous activity: renew it (and tell the other tabs)
      // well within the warning period.
      this.#timer = this.#wiring.clock.after(Math.max(BROADCAST_EVERY_MS, (timeout - warning) / 2), () => this.activity())
      return
    }
    const logoutAt = this.#last + timeout
    const warnAt = logoutAt - warning
    const now = this.#wiring.now()
    if (now >= logoutAt) {
      this.stop()
      this.#wiring.onTimeout()
      return
    }
    if (warning > 0 && !this.#warned && now >= warnAt) {
      this.#warned = true
      this.#wiring.onWarning('idle-warning', logoutAt)
    }
    const next = warning > 0 && !this.#warned ? warnAt : logoutAt
    if (next !== this.#armedAt) this.#wiring.trace?.('idle-armed', { logoutAt, warnAt })
    this.#armedAt = next
    this.#timer = this.#wiring.clock.after(next - now, () => this.#arm())
  }

  #listen(on: boolean): void {
    if (on === (this.#unlisten !== undefined)) return
    if (on) this.#unlisten = this.#cfg.activityEvents.map(type => this.#wiring.on(type, this.#onDomActivity))
    else {
      for (const undo of this.#unlisten!) undo()
      this.#unlisten = undefined
    }
  }
}
