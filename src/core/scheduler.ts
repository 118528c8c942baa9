/** When the session is due: the rotation point, the backup timer and expiry, on a timer and the page's wake-up events. */
import type { Platform, Timer } from '../platform/types.js'
import { MAX_TIMEOUT } from '../utils/timers.js'
import type { ClockWatch } from './clock-watch.js'
import type { SessionView } from './state.js'

/** The runtime's wake-up events: a sleeping laptop or a throttled tab may have missed its timers. */
const WAKE_EVENTS = ['pageshow', 'online', 'focus', 'visibilitychange'] as const

export type SchedulerOptions = {
  view: SessionView
  platform: Pick<Platform, 'after' | 'now' | 'on'>
  /** The wall clock was set: deadlines are in doubt. */
  watch: Pick<ClockWatch, 'jumped'>
  rotation: 'timer' | 'request'
  rotateAt: number
  isLeader: () => boolean
  /** The session's next deadline passed (the rotation point, the backup timer, expiry). */
  onDue: () => void
  /** The wall clock jumped: every deadline is in doubt. */
  onClockJump: () => void
}

/**
 * Says when the session is due: it keeps one timer on the next deadline and, because timers in
 * a sleeping laptop or a throttled background tab fire late or not at all, also looks at the
 * page's wake-up events. What is then done (rotate, end, nothing) is the policy's to decide.
 */
export class Scheduler {
  readonly #options: SchedulerOptions
  #at: number | undefined
  #timer: Timer | undefined
  #disposed = false
  readonly #wake = () => {
    if (this.#options.watch.jumped() !== 0) this.#options.onClockJump()
    else if (this.#at !== undefined && this.#options.platform.now() >= this.#at) this.#fire()
  }
  readonly #unlisten: Array<() => void>

  constructor(options: SchedulerOptions) {
    this.#options = options
    this.#unlisten = WAKE_EVENTS.map(type => options.platform.on(type, this.#wake))
    options.view.watch(transition => {
      if (transition === 'entered' || transition === 'ended') this.#schedule(this.#nextDue())
    })
  }

  /** When the timer should next look at the session. */
  #nextDue(): number | undefined {
    const s = this.#options.view.snapshot
    if (s.status !== 'active' || s.accessExpiresAt === null || s.issuedAt === null) return undefined
    const { rotateAt } = this.#options
    const lifetime = s.accessExpiresAt - s.issuedAt
    let due: number
    if (this.#options.rotation === 'timer') {
      // The leader rotates at rotateAt; the others hold a backup timer halfway to expiry,
      // which only fires if the leader is gone or throttled (its rotation would have moved
      // the generation on and rescheduled them).
      const at = this.#options.isLeader() ? rotateAt : rotateAt + (1 - rotateAt) / 2
      // Never further than that from now: an AT issued "after now" (the clock set back since, before this session
      // was there to see it jump) has an age this clock cannot tell (sim `--worker --no-locks` seed 70516: a new run
      // armed its rotation 598 s out, the AT dead at the server after 60).
      due = lifetime * at + Math.min(s.issuedAt, this.#options.platform.now())
      // An RT that dies before the AT's rotation point must be used while it still works.
      if (s.refreshExpiresAt !== null) due = Math.min(due, s.issuedAt + (s.refreshExpiresAt - s.issuedAt) * at)
    } else {
      // Request mode rotates only on demand; the timer just notices that both tokens died.
      due = Math.max(s.accessExpiresAt, s.refreshExpiresAt ?? Number.POSITIVE_INFINITY)
    }
    if (s.refreshExpiresAt !== null) due = Math.min(due, Math.max(s.refreshExpiresAt, s.accessExpiresAt))
    return Number.isFinite(due) ? due : undefined
  }

  #schedule(at: number | undefined): void {
    if (this.#disposed) at = undefined
    this.#timer?.cancel()
    this.#timer = undefined
    this.#at = at
    if (at !== undefined) this.#arm()
  }

  #arm(): void {
    const at = this.#at
    if (at === undefined) return
    const delay = at - this.#options.platform.now()
    // Long delays are clamped to setTimeout's limit and re-armed when it fires early.
    this.#timer = this.#options.platform.after(Math.min(delay, MAX_TIMEOUT), () => {
      this.#timer = undefined
      if (this.#at !== at) return
      // Set back, the clock would keep this rotation an hour away; set forward, both tokens
      // would look dead: either way the deadline is in doubt.
      if (this.#options.watch.jumped() !== 0) this.#options.onClockJump()
      else if (this.#options.platform.now() >= at || delay <= 0) this.#fire()
      else this.#arm()
    })
  }

  #fire(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#at = undefined
    this.#options.onDue()
  }

  dispose(): void {
    this.#disposed = true
    this.#schedule(undefined)
    for (const undo of this.#unlisten.splice(0)) undo()
  }
}
