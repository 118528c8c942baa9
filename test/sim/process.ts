/** One simulated Node process: its platform on the scheduler (clocks, timers and answers that wait while it is paused, seeded chance, a WebCrypto that derives keys at once) and a real session on the Redis coordinator. */
import { hkdfSync } from 'node:crypto'
import { createSession } from '../../src/index.js'
import type { Platform, Timer } from '../../src/platform/types.js'
import { createRedisCoordinator } from '../../src/redis/index.js'
import type { Session, SessionOptions } from '../../src/types.js'
import type { Host, SimRedis } from './redis-net.js'
import type { Scheduler } from './scheduler.js'
import { EPOCH } from './tab.js'

/** The deployment key every process of the name shares (the model's own: it seals nothing real). */
const DEPLOYMENT_KEY = new Uint8Array(32).fill(7)

/**
 * WebCrypto as the sealer uses it: HKDF on Node's synchronous call (WebCrypto's runs on a
 * thread pool, in real time, and would make a run unreplayable) and random bytes from the seed.
 */
function simCrypto(random: () => number): Crypto {
  const subtle = {
    importKey: async (_format: string, key: Uint8Array) => key,
    deriveBits: async (params: { salt: Uint8Array; info: Uint8Array }, key: Uint8Array, bits: number) => hkdfSync('sha256', key, params.salt, params.info, bits / 8),
  }
  const getRandomValues = <T extends ArrayBufferView | null>(array: T): T => {
    const bytes = new Uint8Array(array!.buffer, array!.byteOffset, array!.byteLength)
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256)
    return array
  }
  return { subtle, getRandomValues } as unknown as Crypto
}

export type ProcessOptions = Pick<SessionOptions, 'rotation' | 'refreshTimeout' | 'queueTimeout' | 'fetch'> & { lease: number }

/**
 * A process. Paused (SIGSTOP, a long GC), nothing of it runs: its timers, the answers Redis
 * and the auth server send it and the messages it is sent wait, and run on resume; its
 * monotonic clock runs on, as a real one does. Crashed, nothing of it runs again and its Redis
 * connections close; what it held in Redis stays until its lease runs out.
 */
export class Process implements Host {
  readonly id: string
  readonly session: Session
  paused = false
  disposed = false
  /** Pauses the process as the next answer to its lock's renewal (HOLD) arrives: the paused-holder fault. */
  pauseOnHold: (() => void) | undefined
  #ids = 0
  /** Refreshes sent whose answer this process has not handled yet. */
  #refreshing = 0
  /** A refresh went out and its holder has not released the lock since (the new pair may be in this process only). */
  #unreleased = false
  /** When the last refresh went out (its give-up counts from there), while one is unanswered. */
  #refreshSentAt: number | undefined
  readonly #waiting: Array<() => void> = []
  readonly #redis: SimRedis
  readonly #scheduler: Scheduler

  constructor(id: string, scheduler: Scheduler, redis: SimRedis, options: ProcessOptions) {
    this.id = id
    this.#redis = redis
    this.#scheduler = scheduler
    const { lease, ...sessionOptions } = options
    const platform: Partial<Platform> = {
      now: () => EPOCH + scheduler.now,
      monotonic: () => scheduler.now,
      after: (ms, fn): Timer => scheduler.after(ms, `timer ${this.id}`, () => this.run(fn)),
      random: () => scheduler.random.next(),
      randomId: () => `${this.id}.${++this.#ids}`,
      on: () => () => undefined,
      channel: undefined,
      locks: undefined,
      storage: undefined,
      realms: new Map(),
      location: () => ({ href: undefined, base: undefined, origin: undefined }),
      browsing: false,
      crypto: simCrypto(() => scheduler.random.next()),
    }
    const coordinator = createRedisCoordinator({ client: redis.client(this), name: 'sim', key: DEPLOYMENT_KEY, lease, platform })
    this.session = createSession({
      ...sessionOptions,
      scope: 'https://app.sim/api',
      transport: 'bearer',
      refresh: { url: 'https://app.sim/auth/refresh', style: 'json' },
      logout: 'https://app.sim/auth/logout',
      coordinator,
      fetch: this.#answersWait(options.fetch!),
      platform,
      // The session's decisions in the trace (`SIM_DEBUG=1`), as the tab worlds' (world.ts).
      ...(process.env['SIM_DEBUG'] ? { debug: (entry: unknown) => scheduler.note(`  dbg ${this.id} ${JSON.stringify(entry)}`) } : {}),
    })
  }

  /** Runs `fn` now, or on resume when paused; never once crashed. */
  run(fn: () => void): void {
    if (this.disposed) return
    if (this.paused) this.#waiting.push(fn)
    else fn()
  }

  /** Redis answered a command: the paused-holder fault strikes at a renewal's answer. */
  answered(label: string): void {
    if (label !== 'eval HOLD' || !this.pauseOnHold || this.refreshing) return
    const pause = this.pauseOnHold
    this.pauseOnHold = undefined
    pause()
  }

  /**
   * A refresh of this process is on the wire, or its answer not yet written and the lock not
   * released. A pause past the lease then is the documented limit of a lease
   * (docs/guides/redis.md, "What each fault does": the next holder presents the RT that refresh
   * spent, as when the holder is killed), not a promise the simulator checks.
   */
  get refreshing(): boolean {
    return this.#refreshing > 0 || this.#unreleased
  }

  /** When the unanswered refresh went out (undefined: none is on the wire). */
  get refreshSentAt(): number | undefined {
    return this.#refreshSentAt
  }

  /** A command left for Redis: the lock's release ends what a refresh put at stake. */
  sent(label: string): void {
    if (label === 'eval RELEASE') this.#unreleased = false
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (this.disposed || !this.paused) return
    this.paused = false
    for (const fn of this.#waiting.splice(0)) fn()
  }

  /** The faults stop: resumed, and no pause armed. */
  wake(): void {
    this.pauseOnHold = undefined
    this.resume()
  }

  /** Killed: nothing runs again, its connections close. */
  crash(): void {
    this.disposed = true
    this.paused = false
    this.#waiting.length = 0
    this.#redis.closeConnections(this)
  }

  /** The auth server's answers reach a paused process on resume, as its other input does. */
  #answersWait(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
    return (input, init) => {
      const refresh = String(input instanceof Request ? input.url : input).endsWith('/refresh')
      if (refresh) {
        this.#refreshing++
        this.#unreleased = true
        this.#refreshSentAt = this.#scheduler.now
      }
      const handled = () => void (refresh && --this.#refreshing === 0 && (this.#refreshSentAt = undefined))
      return new Promise((resolve, reject) =>
        fetch(input, init).then(
          response => this.run(() => (handled(), resolve(response))),
          error => this.run(() => (handled(), reject(error))),
        ),
      )
    }
  }
}
