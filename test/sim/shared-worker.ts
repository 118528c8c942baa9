/** The origin's rotation worker in the simulator: the real hub of src/worker/hub.ts on a platform of the scheduler, reached by tabs over port pairs whose messages the scheduler delivers. */
import { defaultPlatform } from '../../src/platform/defaults.js'
import type { Platform, SharedWorkerLike } from '../../src/platform/types.js'
import type { SessionOptions } from '../../src/types.js'
import { createHub, type Hub } from '../../src/worker/hub.js'
import type { Origin } from './origin.js'
import type { Scheduler } from './scheduler.js'
import type { ModelServer } from './server.js'
import type { InvariantName } from './invariants.js'
import { EPOCH } from './tab.js'

/**
 * Seeds of `--worker` (1–300, npm test's range) that fail, with the invariant they break. One
 * class, all bearer, all with the worker killed by the browser (docs/simulation.md): the killed
 * run took its RT along, as documented, but the family's newest RT came from a login that a tab
 * held (or had held before it reloaded), and the tabs split: some end `rejected`
 * (`no-unasked-logout`) or stay apart (`converges`). Not yet told apart: Rotor's (a login's RT
 * that should have reached the new run) from the oracle's (it cannot tell a login RT whose every
 * holder is gone from a held one). 13 seeds before a tab holding an RT rejoined a run without one.
 *
 * Cookie worlds have none: the 33 cookie seeds that failed `converges` before (25, 35, 37, 39,
 * 42, 48, 53, 68, 70, 74, 86, 109, 113, 115, 117, 121, 126, 132, 134, 142, 156, 165, 181, 183,
 * 206, 233, 239, 248, 253, 256, 274, 288, 293, drawn when worker worlds were cookie only) pass:
 * a tab that fell back now tries the worker again and rejoins it (src/worker/link.ts). 149 and
 * 263 failed on the way there (a rejoin that took the worker's own end over a login the jar
 * held; a killed worker unnoticed by tabs that asked it nothing): `reconcile` and the heartbeat.
 */
// prettier-ignore
export const OPEN_FINDINGS_WORKER: Record<number, InvariantName> = {
  18: 'converges', 39: 'converges', 189: 'converges', 202: 'converges',
  56: 'no-unasked-logout', 183: 'no-unasked-logout',
}

/**
 * Seeds of `--worker` that failed and pass since their fix, each run by worker-seeds.test.ts:
 * - 793 (`no-live-rt-after-logout`, bearer, seeds 301–800): the user signed out in the tab
 *   that had signed in, right after the browser killed the worker; the tab asked the dead
 *   worker to call the logout endpoint and, unanswered, called nothing, leaving its login live.
 *   Rotor's: a worker that cannot end the session makes the tab call the endpoint with what
 *   it holds (src/coordinator/worker.ts `logout`; test/worker/killed-worker.test.ts).
 */
export const REGRESSION_SEEDS_WORKER = [793]

/** Where the tabs load the worker's script from (the probe of a slow worker fetches it). */
export const WORKER_SCRIPT = 'https://app.sim/rotor-worker.js'

/** One end of a port pair: what it is told reaches `onmessage` on the far side, later, in order. */
type End = { onmessage: ((event: MessageEvent) => void) | null; open: boolean }

/** One run of the worker, from the first tab's connect to its death (its last tab gone, or killed by the browser). */
class Incarnation {
  readonly id: string
  readonly hub: Hub
  alive = true
  /** The tabs' ends connected to this run, by tab. */
  readonly ports = new Map<End, string>()
  #ids = 0

  constructor(id: string, scheduler: Scheduler, origin: Origin, server: ModelServer, locks: boolean) {
    this.id = id
    const run = (fn: () => void) => void (this.alive && fn())
    const platform: Platform = {
      ...defaultPlatform(),
      // The worker runs in the browser: the origin's system clock, its Web Locks.
      now: () => EPOCH + scheduler.now + origin.clockOffset,
      monotonic: () => scheduler.now,
      after: (ms, fn) => scheduler.after(ms, `timer ${id}`, () => run(fn)),
      random: () => scheduler.random.next(),
      randomId: () => `${id}.${++this.#ids}`,
      on: () => () => undefined,
      channel: undefined,
      locks: locks ? origin.locks(id, run) : undefined,
      election: undefined,
      realms: new Map(),
      storage: undefined,
      location: () => ({ href: WORKER_SCRIPT, base: WORKER_SCRIPT, origin: 'https://app.sim' }),
      browsing: true,
      // The worker's bearer RT is its own: it never enters a page, and dies with the run (server.ts `mayHold`).
      fetch: () => server.fetchFor(() => this.alive, id),
      sharedWorker: undefined,
      indexedDB: undefined,
      debug: undefined,
    }
    this.hub = createHub('sim', {}, platform)
  }
}

/**
 * The browser's SharedWorker of the origin's session name: the first `new SharedWorker` starts
 * it, later ones connect to the same run; it lives while any tab holds a port and dies with the
 * last (or when `kill()` says the browser terminated it). A dead run handles nothing more: its
 * timers, fetch answers and incoming messages are dropped, its Web Locks released, and the
 * tabs' ports to it go silent (a browser tells them nothing: they find out by ping).
 */
export class SharedWorkers {
  readonly #scheduler: Scheduler
  readonly #origin: Origin
  readonly #server: ModelServer
  readonly #locks: boolean
  #current: Incarnation | undefined
  #runs = 0
  /** Every run started, by id: whether one still lives (an RT's holder, server.ts `trackHolders`). */
  readonly #all = new Map<string, Incarnation>()
  /** Runs started and killed: what the schedule did. */
  started = 0
  killed = 0

  constructor(scheduler: Scheduler, origin: Origin, server: ModelServer, locks: boolean) {
    this.#scheduler = scheduler
    this.#origin = origin
    this.#server = server
    this.#locks = locks
  }

  /** The session options and platform pieces of tab `tab` (its deliveries wait while it is frozen). */
  optionsFor(tab: string, deliver: (fn: () => void) => void): Partial<SessionOptions> {
    const scriptServed: typeof fetch = async () => new Response('/* rotor-auth worker */', { status: 200 })
    return {
      worker: WORKER_SCRIPT,
      platform: { sharedWorker: () => this.#connect(tab, deliver), fetch: () => scriptServed },
    }
  }

  /** Whether run `id` (`w1`, …) still runs. */
  alive(id: string): boolean {
    return this.#all.get(id)?.alive === true
  }

  /** The browser terminates the worker (memory pressure, a crash): nothing of it runs again. */
  kill(): void {
    const run = this.#current
    if (!run) return
    this.#scheduler.note(`kill ${run.id}`)
    this.killed++
    this.#end(run)
  }

  #end(run: Incarnation): void {
    run.alive = false
    if (this.#current === run) this.#current = undefined
    this.#origin.closeTab(run.id)
  }

  #connect(tab: string, deliver: (fn: () => void) => void): SharedWorkerLike {
    const run = (this.#current ??= this.#start())
    const tabEnd: End & { postMessage(data: unknown): void; start(): void; close(): void } = {
      onmessage: null,
      open: true,
      postMessage: data => this.#send(`${tab}>${run.id}`, data, hubEnd, fn => fn(), run, run.id),
      start: () => undefined,
      close: () => this.#close(run, tabEnd),
    }
    const hubEnd: End & { postMessage(data: unknown): void; close(): void } = {
      onmessage: null,
      open: true,
      postMessage: data => this.#send(`${run.id}>${tab}`, data, tabEnd, deliver, run, tab),
      close: () => void (hubEnd.open = false),
    }
    run.ports.set(tabEnd, tab)
    this.#origin.onClose(tab, () => this.#close(run, tabEnd))
    this.#scheduler.note(`connect ${tab} ${run.id}`)
    run.hub.connect(hubEnd)
    return { port: tabEnd as unknown as MessagePort, addEventListener: () => undefined }
  }

  #start(): Incarnation {
    this.started++
    const run = new Incarnation(`w${++this.#runs}`, this.#scheduler, this.#origin, this.#server, this.#locks)
    this.#all.set(run.id, run)
    this.#scheduler.note(`start ${run.id}`)
    return run
  }

  /** The tab's end closed (disposed, or the page went): the last one ends the worker. */
  #close(run: Incarnation, end: End): void {
    end.open = false
    if (!run.ports.delete(end) || run.ports.size > 0 || !run.alive) return
    this.#scheduler.note(`end ${run.id}`)
    this.#end(run)
  }

  readonly #lastDelivery = new Map<string, number>()

  /** A structured clone of `data`, delivered 0–4 ms later in order per direction, while the worker runs and the far end (`receiver`) is open. */
  #send(pair: string, data: unknown, to: End, deliver: (fn: () => void) => void, run: Incarnation, receiver: string): void {
    if (!run.alive) return
    const copy: unknown = structuredClone(data)
    const at = Math.max(this.#lastDelivery.get(pair) ?? 0, this.#scheduler.now + this.#scheduler.random.int(0, 4))
    this.#lastDelivery.set(pair, at)
    this.#scheduler.after(at - this.#scheduler.now, `port ${pair}`, () => {
      if (!run.alive) return
      deliver(() => {
        if (!to.open) return
        this.#server.heard(receiver, copy)
        to.onmessage?.({ data: copy } as MessageEvent)
      })
    })
  }
}
