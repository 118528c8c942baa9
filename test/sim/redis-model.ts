/** A model of one Redis key space on an injected clock: GET/SET/PTTL/PEXPIRE with expiry, and the coordinator's Lua scripts (src/redis/scripts.ts) transcribed to JS, line for line. */
import { ACQUIRE, EPOCH, HOLD, RELEASE, WRITE } from '../../src/redis/scripts.js'

/** A value and the clock reading after which it is gone (Infinity: no expiry). */
type Entry = { value: string; expiresAt: number }

/** What Redis answers a script or command it cannot run: node-redis rejects with an `ErrorReply`, which the coordinator does not retry. */
export class ErrorReply extends Error {
  override name = 'ErrorReply'
}

/**
 * The key space. Redis counts a key expired once its clock is past the expiry instant (`now >
 * when`), frozen for the length of one script: each call here runs at one clock reading, so a
 * script is atomic as it is in Redis. `published` is told of every PUBLISH a script makes.
 */
export class RedisKeySpace {
  #data = new Map<string, Entry>()
  readonly #now: () => number
  readonly #published: (channel: string, message: string) => void

  constructor(now: () => number, published: (channel: string, message: string) => void = () => undefined) {
    this.#now = now
    this.#published = published
  }

  /** FLUSHALL: a restart without persistence. */
  flush(): void {
    this.#data = new Map()
  }

  /** The live keys, sorted (for comparisons). */
  keys(): string[] {
    return [...this.#data.keys()].filter(key => this.#live(key)).sort()
  }

  get(key: string): string | null {
    return this.#live(key)?.value ?? null
  }

  /** SET key value [NX] [PX ms]; false when NX found the key. A SET without PX clears the expiry, as Redis's does. */
  set(key: string, value: string, options: { px?: string | number; nx?: boolean } = {}): boolean {
    if (options.nx && this.#live(key)) return false
    const px = options.px === undefined ? Infinity : Number(options.px)
    this.#data.set(key, { value, expiresAt: this.#now() + px })
    return true
  }

  /** -2: no key, -1: no expiry, else the ms left. */
  pttl(key: string): number {
    const entry = this.#live(key)
    if (!entry) return -2
    return entry.expiresAt === Infinity ? -1 : entry.expiresAt - this.#now()
  }

  pexpire(key: string, ms: string | number): number {
    const entry = this.#live(key)
    if (!entry) return 0
    if (Number(ms) <= 0) this.#data.delete(key)
    else entry.expiresAt = this.#now() + Number(ms)
    return 1
  }

  del(key: string): number {
    return this.#live(key) && this.#data.delete(key) ? 1 : 0
  }

  publish(channel: string, message: string): void {
    this.#published(channel, message)
  }

  /** EVAL: the script is known by identity (the coordinator sends scripts.ts's strings); any other is an error reply. */
  eval(script: string, keys: readonly string[], args: readonly string[]): unknown {
    switch (script) {
      case EPOCH:
        return this.#ensureEpoch(keys[0]!, keys[1]!, args[0]!, args[1]!, args[2]!)
      case ACQUIRE:
        return this.#acquire(keys, args)
      case HOLD:
        return this.#hold(keys, args)
      case RELEASE:
        return this.#release(keys, args)
      case WRITE:
        return this.#write(keys, args)
      default:
        throw new ErrorReply('NOSCRIPT the model knows only the scripts of src/redis/scripts.ts')
    }
  }

  #live(key: string): Entry | undefined {
    const entry = this.#data.get(key)
    if (entry && this.#now() > entry.expiresAt) {
      this.#data.delete(key)
      return undefined
    }
    return entry
  }

  /** scripts.ts ensureEpoch: the epoch, set when missing; a caller that knew one starts the quiet period. */
  #ensureEpoch(epochKey: string, quietKey: string, known: string, fresh: string, lease: string): string {
    let epoch = this.get(epochKey)
    if (epoch === null) {
      epoch = fresh
      this.set(epochKey, epoch)
      if (known !== '') this.set(quietKey, '1', { px: lease })
    }
    return epoch
  }

  /** KEYS: lock, fence, epoch, quiet. ARGV: owner, lease, known epoch, fresh epoch. */
  #acquire([lock, fenceKey, epochKey, quietKey]: readonly string[], [owner, lease, known, fresh]: readonly string[]): unknown {
    const epoch = this.#ensureEpoch(epochKey!, quietKey!, known!, fresh!, lease!)
    const current = this.get(lock!)
    const prefix = `${owner}:`
    if (current !== null && current.startsWith(prefix)) return [Number(current.slice(prefix.length)), 0, epoch]
    const quiet = this.pttl(quietKey!)
    if (quiet > 0) return [0, quiet, epoch]
    const fence = Number(this.get(fenceKey!) ?? '0') + 1
    if (this.set(lock!, `${prefix}${fence}`, { nx: true, px: lease! })) {
      this.set(fenceKey!, String(fence))
      return [fence, 0, epoch]
    }
    return [0, this.pttl(lock!), epoch]
  }

  /** KEYS: lock, fence, state, epoch. ARGV: lock value, lease, our fence, known epoch. */
  #hold([lock, fenceKey, state, epochKey]: readonly string[], [value, lease, fence, known]: readonly string[]): unknown {
    let held = 0
    const current = this.get(lock!)
    if (current === value) {
      this.pexpire(lock!, lease!)
      held = 1
    } else if (current === null && Number(this.get(fenceKey!) ?? '0') <= Number(fence)) {
      this.set(lock!, value!, { px: lease! })
      this.set(fenceKey!, fence!)
      if (known !== '' && this.get(epochKey!) === null) this.set(epochKey!, known!)
      held = 1
    }
    // Lua's false in a reply array is a nil bulk: node-redis hands null.
    return [this.get(state!), held]
  }

  /** KEYS: lock, channel. ARGV: lock value, the release notice. */
  #release([lock, channel]: readonly string[], [value, notice]: readonly string[]): number {
    if (this.get(lock!) !== value) return 0
    this.del(lock!)
    this.publish(channel!, notice!)
    return 1
  }

  /** KEYS: state, channel, fence, epoch. ARGV: the value read, the new value, the message, lifetime, fencing token. */
  #write([state, channel, fenceKey, epochKey]: readonly string[], [read, value, message, lifetime, token]: readonly string[]): number {
    const fence = Number(token)
    if (fence > 0 && Number(this.get(fenceKey!) ?? '0') > fence) return -1
    if ((this.get(state!) ?? '') !== read) return 0
    this.set(state!, value!, { px: lifetime! })
    this.pexpire(fenceKey!, lifetime!)
    this.pexpire(epochKey!, lifetime!)
    this.publish(channel!, message!)
    return 1
  }
}
