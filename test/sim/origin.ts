/** One simulated browser origin: its BroadcastChannels, Web Locks and localStorage, every delivery and grant timed by the scheduler. */
import type { ChannelLike, LockManagerLike } from '../../src/platform/types.js'
import type { StorageLike } from '../../src/types.js'
import { Elections } from './election.js'
import type { Scheduler } from './scheduler.js'
import { EPOCH } from './tab.js'

type SimChannel = ChannelLike & { readonly tab: string; readonly name: string; open: boolean; deliver: (fn: () => void) => void }
type Waiting = { tab: string; callback: () => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void; deliver: (fn: () => void) => void }

/**
 * BroadcastChannel as browsers give it: a message reaches every other open channel of the
 * name, a structured clone, in order per sender and receiver, after a delay the scheduler
 * draws (so messages of different senders interleave in any order).
 */
export class Origin {
  readonly #scheduler: Scheduler
  readonly #channels = new Set<SimChannel>()
  /** The last delivery time per sender→receiver pair: BroadcastChannel keeps a sender's order. */
  readonly #lastDelivery = new Map<string, number>()
  readonly #held = new Map<string, string>()
  /** When each held lock was granted (virtual ms): how long its holder has kept it. */
  readonly #since = new Map<string, number>()
  /** Locks granted whose callback has not run yet (the grant is an event of its own; a frozen page runs it on resume). */
  readonly #undelivered = new Map<string, object>()
  readonly #queues = new Map<string, Waiting[]>()
  readonly #items = new Map<string, string>()
  /** Messages delivered; a measure of how busy the channel was. */
  delivered = 0
  /** The browser's clock offset from true time (ms): one system clock for every tab, moved by clock jumps. */
  clockOffset = 0

  /** The browser's system clock (epoch ms): what every tab and the origin's worker read as `Date.now()`. */
  now(): number {
    return EPOCH + this.#scheduler.now + this.clockOffset
  }
  /** Bug zoo: Web Locks that grant every request at once (two holders at a time). */
  nonExclusiveLocks = false
  /** Bug zoo: a share of channel messages never arrives (BroadcastChannel loses none). */
  dropRate = 0

  /** The leader elections of tabs without Web Locks. */
  readonly elections: Elections
  readonly #onClose = new Map<string, Array<() => void>>()

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler
    this.elections = new Elections(scheduler, this)
  }

  readonly #closed = new Set<string>()

  /** Runs `fn` when tab `tab` closes without a goodbye (at once if it has). */
  onClose(tab: string, fn: () => void): void {
    if (this.#closed.has(tab)) return fn()
    this.#onClose.set(tab, [...(this.#onClose.get(tab) ?? []), fn])
  }

  /** The channel factory of tab `tab` (the platform's `channel`); `deliver` runs a delivery (later, if the tab is frozen). */
  channel(tab: string, deliver: (fn: () => void) => void): (name: string) => ChannelLike {
    return name => {
      const channel: SimChannel = {
        tab,
        name,
        open: true,
        onmessage: null,
        onmessageerror: null,
        deliver,
        postMessage: data => this.#post(channel, data),
        close: () => void ((channel.open = false), this.#channels.delete(channel)),
      }
      this.#channels.add(channel)
      return channel
    }
  }

  /** A forged post on `name` from a same-origin page that is not a session. */
  forge(name: string, data: unknown): void {
    this.#post({ tab: 'forger', name, open: true, onmessage: null, onmessageerror: null, deliver: fn => fn(), postMessage: () => undefined, close: () => undefined }, data)
  }

  /** Told each message a tab's channel receives (worker worlds: which tab an RT reached, server.ts `heard`). */
  heard: ((tab: string, data: unknown) => void) | undefined

  #post(from: SimChannel, data: unknown): void {
    if (!from.open) throw new DOMException('closed', 'InvalidStateError')
    const copy = structuredClone(data)
    for (const to of this.#channels) {
      if (to === from || to.name !== from.name || to.tab === from.tab) continue
      if (this.dropRate > 0 && this.#scheduler.random.chance(this.dropRate)) continue
      const pair = `${from.tab}>${to.tab}`
      const at = Math.max(this.#lastDelivery.get(pair) ?? 0, this.#scheduler.now + this.#scheduler.random.int(0, 8))
      this.#lastDelivery.set(pair, at)
      this.#scheduler.after(at - this.#scheduler.now, `deliver ${pair}`, () => {
        to.deliver(() => {
          if (!to.open) return
          this.delivered++
          this.heard?.(to.tab, copy)
          to.onmessage?.({ data: copy })
        })
      })
    }
  }

  /**
   * Web Locks of tab `tab` (exclusive mode): one holder per name, granted in request order;
   * `deliver` runs the grant's callback (on resume, if the tab is frozen: a frozen page runs no
   * task, and the lock stays held meanwhile).
   */
  locks(tab: string, deliver: (fn: () => void) => void = fn => fn()): LockManagerLike {
    return {
      request: (name, callback) =>
        new Promise((resolve, reject) => {
          const queue = this.#queues.get(name) ?? []
          this.#queues.set(name, queue)
          queue.push({ tab, callback, resolve, reject, deliver })
          this.#grant(name)
        }),
      // What the origin's tabs hold and wait for (a bearer lock holder lists its live peers by it).
      query: async () => ({
        held: [...this.#held.keys()].map(name => ({ name })),
        pending: [...this.#queues].flatMap(([name, queue]) => queue.map(() => ({ name }))),
      }),
    }
  }

  /**
   * Tab `tab` closed without a goodbye (crashed, killed): as a browser does, its channels
   * close, the locks it held are released and its queued requests dropped.
   */
  closeTab(tab: string): void {
    this.#closed.add(tab)
    for (const fn of this.#onClose.get(tab) ?? []) fn()
    this.#onClose.delete(tab)
    for (const channel of [...this.#channels]) if (channel.tab === tab) channel.close()
    for (const [name, queue] of this.#queues)
      this.#queues.set(
        name,
        queue.filter(waiting => waiting.tab !== tab),
      )
    for (const [name, holder] of [...this.#held]) {
      if (holder !== tab) continue
      this.#held.delete(name)
      this.#grant(name)
    }
  }

  /** Each held lock: its name, its holder and since when (the lock-bounded invariant). */
  holds(): Array<{ name: string; holder: string; since: number }> {
    return [...this.#held].map(([name, holder]) => ({ name, holder, since: this.#since.get(name) ?? 0 }))
  }

  /**
   * The Web Locks tab `tab` holds now, by name (a session disposed in a live page must let go of
   * them): not one granted whose callback has not run yet, which the tab cannot have let go of
   * (sim seed 73106: a disposed tab's queued request granted 2 ms before the check).
   */
  heldBy(tab: string): string[] {
    return [...this.#held].filter(([name, holder]) => holder === tab && !this.#undelivered.has(name)).map(([name]) => name)
  }

  #grant(name: string): void {
    if (this.#held.has(name) && !this.nonExclusiveLocks) return
    const next = this.#queues.get(name)?.shift()
    if (!next) return
    this.#held.set(name, next.tab)
    this.#since.set(name, this.#scheduler.now)
    const granted = {}
    this.#undelivered.set(name, granted)
    const grant = () =>
      next.deliver(() => {
        if (this.#undelivered.get(name) === granted) this.#undelivered.delete(name)
        let result: Promise<unknown>
        try {
          result = Promise.resolve(next.callback())
        } catch (error) {
          result = Promise.reject(error)
        }
        void result.then(next.resolve, next.reject).finally(() => {
          if (this.#held.get(name) !== next.tab) return // released when its tab closed
          this.#held.delete(name)
          this.#grant(name)
        })
      })
    // A tab's presence lock (no other tab asks for it) is granted at once: no event, no draw, so
    // every schedule runs as it did before tabs held one.
    if (name.includes(':member:')) return grant()
    // The grant is an event of its own: what else is due may run before it.
    this.#scheduler.after(this.#scheduler.random.int(0, 2), `grant ${name.replace(/^.*:/, '')} ${next.tab}`, grant)
  }

  /** localStorage of the origin, shared by its tabs. */
  readonly storage: StorageLike & { foreignWrite(key: string, value: string): void; keys(): string[] } = {
    keys: () => [...this.#items.keys()].sort(),
    getItem: key => this.#items.get(key) ?? null,
    setItem: (key, value) => void this.#items.set(key, String(value)),
    removeItem: key => void this.#items.delete(key),
    foreignWrite: (key, value) => void this.#items.set(key, value),
  }
}
