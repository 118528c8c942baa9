/** The Redis coordinator: one token pair shared by sessions in many processes and machines, composed of a lock, a sealed store and a bus. */
import type { Coordinator, Lease, Message, OutgoingMessage, Snapshot } from '../coordinator/types.js'
import { LeaseLostError, RotorTypeError } from '../errors.js'
import { RedisBus } from './bus.js'
import type { RedisStateError } from './errors.js'
import { RedisLock, type RunScript } from './lock.js'
import { normalizeRedisOptions, type RedisConfig, type RedisCoordinatorOptions } from './options.js'
import { keysOf } from './scripts.js'
import { keyedSealer, omittingSealer } from './seal.js'
import { RedisStore } from './store.js'

/** Longest a read waits for the channel's subscription before it reads anyway (see read). */
const SUBSCRIBE_WAIT_MS = 2_000

/** What `createRedisCoordinator` returns: a `Coordinator` for the session's `coordinator` option, plus its Redis-side events. */
export type RedisCoordinator = Coordinator & {
  /** This member's id: the `from` of what it posts, and the owner in the lock's value. */
  readonly id: string
  /**
   * A state read from Redis (or heard on its channel) was set aside: it cannot be opened with
   * the configured keys, or it is older than one this process has seen. Each distinct value
   * is reported once. Returns the unsubscribe function.
   */
  on(type: 'error', listener: (error: RedisStateError) => void): () => void
}

/** Runs `task` one at a time; a call while it runs asks for one more run once it is done. */
function coalesced(task: () => Promise<void>): () => void {
  let running = false
  let again = false
  const start = (): void => {
    if (running) {
      again = true
      return
    }
    running = true
    void task()
      .catch(() => undefined)
      .finally(() => {
        running = false
        if (again) {
          again = false
          start()
        }
      })
  }
  return start
}

/**
 * One member of a name: the lock, the store and the bus wired together, and what needs more
 * than one of them (a read after subscribing, the resync after a reconnect, the session's
 * write and its post of the same snapshot).
 */
class RedisMember {
  readonly id: string
  readonly #life = new AbortController()
  readonly #client: RedisConfig['client']
  readonly #lock: RedisLock
  readonly #store: RedisStore
  readonly #bus: RedisBus
  /** After a reconnect (see #resyncOnce). */
  readonly #resync = coalesced(() => this.#resyncOnce())
  /** After another member's hello (see #reseedOnce). */
  readonly #reseed = coalesced(() => this.#reseedOnce())
  /** The snapshot just written: its write script already published it, the session's post of it is skipped. */
  #justWritten: Snapshot | undefined

  constructor({ client, name, keys: sealing, lease, platform }: RedisConfig) {
    const keys = keysOf(name)
    const sealer = sealing.length ? keyedSealer(sealing, name, platform.crypto) : omittingSealer()
    const { signal } = this.#life
    const run: RunScript = (script, k, args) => client.eval(script, { keys: k, arguments: args.map(String) })
    this.id = platform.randomId()
    this.#client = client
    this.#lock = new RedisLock({ run, keys, lease, id: this.id, platform, signal })
    this.#store = new RedisStore({ client, run, keys, sealer, name, id: this.id, lock: this.#lock, platform, signal })
    this.#bus = new RedisBus({
      client,
      channel: keys.channel,
      id: this.id,
      sealer,
      platform,
      signal,
      open: raw => this.#heardState(raw),
      onRelease: () => this.#lock.wake(),
      onReconnect: this.#resync,
      // A read that stopped waiting for the subscription may have missed a state published before it.
      onSubscribed: () => void this.#reread().catch(() => undefined),
    })
    client.on('ready', this.#resync)
    this.#bus.subscribe(message => void (message.type === 'hello' && message.from !== this.id && this.#reseed()))
    // Learn the data set's epoch early: a restart is only noticed by a member that knew it.
    void this.#lock.markDataSet().catch(() => undefined)
  }

  async read(): Promise<Snapshot | undefined> {
    // A state written after this read and before the subscription would be heard by nobody
    // here: a process that joined just as another logged in stayed signed out (and sent its
    // requests without a token) until the next rotation. Subscribed first, every later state
    // arrives as a message.
    await this.#bus.subscribed(SUBSCRIBE_WAIT_MS)
    return this.#store.read()
  }

  /** The session's write: it posts the same snapshot next, which the write script already published. */
  async write(snapshot: Snapshot): Promise<void> {
    this.#refuseUnleasedRecord(snapshot)
    await this.#store.write(snapshot)
    this.#justWritten = snapshot
    this.#refuseUnleasedRecord(snapshot)
  }

  lock<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    return this.#lock.run(fn)
  }

  post(message: OutgoingMessage): void {
    if (message.type === 'state' && message.snapshot === this.#justWritten) {
      this.#justWritten = undefined
      return
    }
    this.#bus.post(message)
  }

  subscribe(listener: (message: Message) => void): () => void {
    return this.#bus.subscribe(listener)
  }

  onError(listener: (error: RedisStateError) => void): () => void {
    return this.#store.onError(listener)
  }

  close(): void {
    if (this.#life.signal.aborted) return
    this.#client.off('ready', this.#resync)
    this.#life.abort()
  }

  /**
   * The cookie transport records its refresh (`rotatingSince`) right before sending it: a holder
   * whose lease ran out must not record a refresh it will not send (the next holder would wait
   * for it). Checked after the write too, the last moment before the refresh goes out.
   */
  #refuseUnleasedRecord(snapshot: Snapshot): void {
    const hold = this.#lock.hold
    if (snapshot.rotatingSince !== undefined && hold && !hold.held()) {
      throw new LeaseLostError('rotor-auth/redis: the lock lease ran out; not recording a refresh')
    }
  }

  async #heardState(raw: unknown): Promise<Snapshot | undefined> {
    const snapshot = await this.#store.open(raw, 'bus')
    if (snapshot) this.#store.note(snapshot)
    return snapshot
  }

  /** Hands the store's state to the session as a message: it adopts it if it is newer than its own. */
  async #reread(): Promise<void> {
    const stored = await this.read()
    if (stored) this.#bus.deliver({ rotor: 1, type: 'state', from: 'redis', snapshot: stored })
  }

  /**
   * After a reconnect: messages sent meanwhile are lost, and Redis may have restarted empty.
   * Mark the data set (a member that finds it gone starts the quiet period), take a held
   * lock back at once, put back the newest snapshot this member knows (a write never
   * replaces a newer one), and hand the store's state to the session.
   */
  async #resyncOnce(): Promise<void> {
    if (this.#life.signal.aborted) return
    await this.#lock.markDataSet()
    await this.#lock.renew()
    const latest = this.#store.latest
    if (latest) await this.#store.write(latest)
    await this.#reread()
  }

  /**
   * Another member asks (a process joining): if the store lost the state (a foreign write, a
   * delete), put back the newest snapshot this member knows. A joiner that found nothing would
   * number its login from 0, below the live members' generation, and a live member's answer
   * arriving after that login would replace it with the older session (sim seed 3320).
   */
  async #reseedOnce(): Promise<void> {
    const latest = this.#store.latest
    if (latest && !(await this.#store.holdsState())) await this.#store.write(latest)
  }
}

/**
 * A coordinator on Redis (see `Coordinator` for the guarantees). The snapshot lives in one
 * key, sealed (store.ts); the rotation lock is a key taken with SET NX PX and a fencing token,
 * renewed while its holder runs, released by compare-and-delete, and its holder is handed a
 * lease (lock.ts); messages go over pub/sub on a connection of its own (bus.ts), and after a
 * reconnect the store is read again. One per session.
 */
export function createRedisCoordinator(options: RedisCoordinatorOptions): RedisCoordinator {
  const member = new RedisMember(normalizeRedisOptions(options))
  // A plain object, as before: a caller may wrap it by spreading it.
  return {
    id: member.id,
    read: () => member.read(),
    write: snapshot => member.write(snapshot),
    lock: fn => member.lock(fn),
    post: message => member.post(message),
    subscribe: listener => member.subscribe(listener),
    on(type, listener) {
      if (type !== 'error') throw new RotorTypeError('ERR_USAGE', `rotor-auth/redis: unknown event \`${String(type)}\` (the coordinator emits \`error\`)`)
      if (typeof listener !== 'function') throw new RotorTypeError('ERR_USAGE', "rotor-auth/redis: on('error', listener): listener must be a function")
      return member.onError(listener)
    },
    // Everyone may rotate at the leader's moment: the lock and the re-read inside it keep it
    // to one refresh per generation; the others take the lock only to adopt.
    isLeader: () => true,
    // Other processes may share the name at any time.
    hasPeers: () => true,
    close: () => member.close(),
  }
}
