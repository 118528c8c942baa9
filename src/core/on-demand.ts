/** A part of the session loaded on demand (idle logout, session-ending warning): what is asked of it before it loads runs on it once loaded, as of the time it was asked. */
import type { Platform } from '../platform/types.js'
import type { EndingWiring } from './ending.js'
import type { IdleTracker, IdleWiring } from './idle.js'

/** The time a part on demand sees: the platform's, except while a call made before it loaded replays. */
export type PartTime = Pick<Platform, 'now' | 'after'>

/**
 * Holds the calls made before the part loaded, each with the time it was made, and replays them
 * in order on the loaded part while its clock reads that time; a timer armed meanwhile keeps its
 * deadline (its delay counts from then), so what a page sees does not depend on how fast the
 * chunk arrived. A chunk that failed to load (offline) is asked for again at the next call.
 */
export class OnDemand<T> {
  #part: T | undefined
  #pending: Array<[at: number, run: (part: T) => void]> = []
  #replaying: number | undefined
  #loading = false
  readonly #platform: PartTime
  readonly #load: (time: PartTime) => Promise<T>
  /** The part's clock: at replay, the recorded time, and timers armed as of it. */
  readonly time: PartTime

  constructor(platform: PartTime, load: (time: PartTime) => Promise<T>) {
    this.#platform = platform
    this.#load = load
    this.time = {
      now: () => this.#replaying ?? platform.now(),
      after: (ms, fn, keepAlive) => platform.after(Math.max(0, ms - platform.now() + (this.#replaying ?? platform.now())), fn, keepAlive),
    }
    this.ensure()
  }

  /** The part, once loaded. */
  get part(): T | undefined {
    return this.#part
  }

  /** Runs `run` on the part now, or once it loaded as of now. */
  run(run: (part: T) => void): void {
    if (this.#part) return run(this.#part)
    this.#pending.push([this.#platform.now(), run])
    this.ensure()
  }

  /** Loads the part, unless it is loaded or loading: a load that failed is tried again. */
  ensure(): void {
    if (this.#loading) return
    this.#loading = true
    this.#load(this.time).then(
      part => {
        for (const [at, run] of this.#pending) {
          this.#replaying = at
          try {
            run(part)
          } finally {
            this.#replaying = undefined
          }
        }
        this.#pending = []
        this.#part = part
      },
      () => (this.#loading = false),
    )
  }
}

/** What the session asks of its idle tracker, loaded or not (the tracker's own interface). */
export type IdlePart = Pick<IdleTracker, 'start' | 'stop' | 'isIdle' | 'warningFor' | 'hold' | 'activity' | 'remoteActivity' | 'dispose'>

/**
 * The idle tracker on demand (a chunk of its own, loaded at once): until it loads, no tab is
 * idle and no warning is given, and the stand-in hears the page's activity itself (a started
 * session listens at once, as the tracker would); everything else waits for the tracker, as of
 * when it was asked.
 */
export function idleOnDemand(
  options: ConstructorParameters<typeof IdleTracker>[0],
  platform: PartTime & Pick<Platform, 'on'>,
  wiring: Omit<IdleWiring, 'now' | 'clock' | 'on'>,
  /** The tracker's chunk (tests hand in one that arrives when they say). */
  chunk: () => Promise<{ IdleTracker: typeof IdleTracker }> = () => import('./idle.js'),
): IdlePart {
  let unlisten: Array<() => void> | undefined
  const listen = (on: boolean) => {
    unlisten?.forEach(undo => undo())
    unlisten = on && !idle.part ? options.activityEvents.map(type => platform.on(type, part.activity)) : undefined
  }
  const load = (time: PartTime) => chunk().then(({ IdleTracker }) => (listen(false), new IdleTracker(options, { ...wiring, now: time.now, clock: time, on: platform.on })))
  const idle = new OnDemand(platform, load)
  const part: IdlePart = {
    start: () => (listen(true), idle.run(p => p.start())),
    stop: () => (listen(false), idle.run(p => p.stop())),
    isIdle: () => idle.part?.isIdle() ?? false,
    warningFor: () => idle.part?.warningFor() ?? null,
    hold() {
      let release: (() => void) | undefined
      idle.run(p => (release = p.hold()))
      return () => idle.run(() => release?.())
    },
    activity: () => idle.run(p => p.activity()),
    remoteActivity: at => idle.run(p => p.remoteActivity(at)),
    dispose: () => (listen(false), idle.run(p => p.dispose())),
  }
  return part
}

/**
 * The session-ending watch on demand (a chunk of its own, loaded at once; a failed load is asked
 * for again whenever the session becomes active): it arms from the snapshot it finds.
 */
export function endingOnDemand(warning: number, platform: PartTime, wiring: Omit<EndingWiring, 'now' | 'clock'>): OnDemand<() => number | null> {
  const { machine } = wiring
  const load = () => import('./ending.js').then(({ watchEnding }) => (machine.disposed ? () => null : watchEnding(warning, { ...wiring, now: platform.now, clock: platform })))
  const ending = new OnDemand(platform, load)
  machine.watch(transition => transition === 'entered' && ending.ensure())
  return ending
}
