/**
 * An in-memory stand-in for Redis as the lock uses it, on virtual time: the lock's scripts
 * (scripts.ts) emulated in JS, so that the lock's decisions can be tested without a server or
 * a sleep. Each case mirrors its Lua line for line; the Lua itself is tested against a real
 * redis-server in coordinator.test.ts, and a change there must be made here too.
 */
import { ACQUIRE, EPOCH, HOLD, RELEASE } from '../../src/redis/scripts.js'

type Entry = { value: string; expiresAt: number | undefined }

/** Timers that fire only when the test moves the clock; `pause` moves the clocks without firing them (a stopped process). */
export class VirtualTime {
  #now = 0
  #seq = 0
  #ids = 0
  readonly #timers = new Map<number, { at: number; fn: () => void }>()

  readonly platform = {
    now: () => this.#now,
    monotonic: () => this.#now,
    random: () => 0.5,
    randomId: () => `id${++this.#ids}`,
    after: (ms: number, fn: () => void) => {
      const id = ++this.#seq
      this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn })
      return { cancel: () => void this.#timers.delete(id) }
    },
  }

  get now(): number {
    return this.#now
  }

  /** Moves time on by `ms`, firing each timer due on the way (in order) and settling what it started. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      await settle()
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const entry of this.#timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry
      if (!next) break
      this.#timers.delete(next[0])
      this.#now = Math.max(this.#now, next[1].at)
      next[1].fn()
    }
    this.#now = target
    await settle()
  }

  /** The process stops for `ms`: the clocks move on, no timer fires (the next advance fires the overdue ones). */
  pause(ms: number): void {
    this.#now += ms
  }
}

/** Lets every promise chain already started run to its end (no timer is involved). */
export const settle = () => new Promise<void>(resolve => setImmediate(resolve))

export class FakeRedis {
  readonly #data = new Map<string, Entry>()
  readonly #now: () => number
  /** Every script run, by name, in order. */
  readonly calls: string[] = []
  /** Messages published: the lock's release notices. */
  readonly published: Array<{ channel: string; message: string }> = []
  /** Called on each publish (a subscriber). */
  onPublish: ((channel: string, message: string) => void) | undefined
  /** While true every command fails, as when Redis is unreachable. */
  down = false

  constructor(now: () => number) {
    this.#now = now
  }

  get(key: string): string | null {
    const entry = this.#data.get(key)
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) this.#data.delete(key)
    return this.#data.get(key)?.value ?? null
  }

  set(key: string, value: string, px?: number): void {
    this.#data.set(key, { value, expiresAt: px === undefined ? undefined : this.#now() + px })
  }

  del(key: string): void {
    this.#data.delete(key)
  }

  /** Redis restarted without persistence. */
  flush(): void {
    this.#data.clear()
  }

  pttl(key: string): number {
    const value = this.get(key)
    if (value === null) return -2
    const { expiresAt } = this.#data.get(key)!
    return expiresAt === undefined ? -1 : expiresAt - this.#now()
  }

  /** node-redis's `eval`, for the lock's scripts. */
  async eval(script: string, { keys, arguments: args }: { keys: string[]; arguments: string[] }): Promise<unknown> {
    await Promise.resolve()
    if (this.down) throw new Error('fake Redis: connection lost')
    const run = this.#scripts.get(script)
    if (!run) throw new Error('fake Redis: a script the lock does not use')
    return run(keys, args)
  }

  readonly #scripts = new Map<string, (keys: string[], args: string[]) => unknown>([
    [EPOCH, ([epoch, quiet], [known, fresh, lease]) => this.#ensureEpoch(epoch!, quiet!, known!, fresh!, lease!)],
    [ACQUIRE, (k, a) => this.#acquire(k, a)],
    [HOLD, (k, a) => this.#hold(k, a)],
    [
      RELEASE,
      ([lock, channel], [value, notice]) => {
        this.calls.push('RELEASE')
        if (this.get(lock!) !== value) return 0
        this.del(lock!)
        this.#publish(channel!, notice!)
        return 1
      },
    ],
  ])

  #ensureEpoch(epochKey: string, quiet: string, known: string, fresh: string, lease: string): string {
    let epoch = this.get(epochKey)
    if (epoch === null) {
      epoch = fresh
      this.set(epochKey, epoch)
      if (known !== '') this.set(quiet, '1', Number(lease))
    }
    return epoch
  }

  #acquire([lock, fence, epochKey, quiet]: string[], [owner, lease, known, fresh]: string[]): unknown {
    this.calls.push('ACQUIRE')
    const epoch = this.#ensureEpoch(epochKey!, quiet!, known!, fresh!, lease!)
    const current = this.get(lock!)
    const prefix = `${owner}:`
    if (current?.startsWith(prefix)) return [Number(current.slice(prefix.length)), 0, epoch]
    const quietFor = this.pttl(quiet!)
    if (quietFor > 0) return [0, quietFor, epoch]
    const next = Number(this.get(fence!) ?? '0') + 1
    if (current !== null) return [0, this.pttl(lock!), epoch]
    this.set(lock!, `${prefix}${next}`, Number(lease))
    this.set(fence!, String(next))
    return [next, 0, epoch]
  }

  #hold([lock, fence, state, epochKey]: string[], [value, lease, ours, known]: string[]): unknown {
    this.calls.push('HOLD')
    let held = 0
    const current = this.get(lock!)
    if (current === value) {
      this.set(lock!, value!, Number(lease))
      held = 1
    } else if (current === null && Number(this.get(fence!) ?? '0') <= Number(ours)) {
      this.set(lock!, value!, Number(lease))
      this.set(fence!, ours!)
      if (known !== '' && this.get(epochKey!) === null) this.set(epochKey!, known!)
      held = 1
    }
    return [this.get(state!) ?? false, held]
  }

  #publish(channel: string, message: string): void {
    this.published.push({ channel, message })
    this.onPublish?.(channel, message)
  }
}
