/** The sealed store: the name's snapshot in one Redis key, read (a holder renewing its lock in the same step) and written by compare-and-set, never backwards; a value that cannot be trusted is reported once. */
import { supersedes } from '../coordinator/protocol.js'
import type { Snapshot } from '../coordinator/types.js'
import { LeaseLostError } from '../errors.js'
import type { Platform } from '../platform/types.js'
import { backoff } from '../utils/backoff.js'
import { Listeners } from '../utils/listeners.js'
import { Waiters } from '../utils/until.js'
import { RedisClosedError, RedisConflictError, RedisStateError, type RedisStateProblem } from './errors.js'
import { COMMAND_BACKOFF, type Hold, type RunScript } from './lock.js'
import type { RedisClientLike } from './options.js'
import { WRITE, type RedisKeys } from './scripts.js'
import type { Sealer } from './seal.js'

/** How long a state outlives its RT's expiry in Redis (a process whose clock lags may still read it). */
const EXPIRY_MARGIN_MS = 3_600_000
/** The lifetime of a state whose RT expiry is unknown (or that is signed out). */
const UNKNOWN_EXPIRY_MS = 30 * 24 * 3_600_000
/** Attempts of one write whose compare-and-set keeps losing to other writers (a writer without the key can keep it losing). */
const MAX_WRITE_ATTEMPTS = 20

export type RedisStoreOptions = {
  client: Pick<RedisClientLike, 'get'>
  run: RunScript
  keys: RedisKeys
  sealer: Sealer
  /** The name, for the errors it reports (never a token: nothing read from Redis is quoted). */
  name: string
  /** This member's id: the `from` of the state message the write script publishes. */
  id: string
  /** The lock: its holder reads and renews in one step, and fences its markers. */
  lock: { readonly hold: Hold | undefined; renewReading(hold: Hold): Promise<unknown> }
  platform: Pick<Platform, 'after' | 'now' | 'random'>
  /** Aborted by the coordinator's close(): retries stop, listeners go. */
  signal: AbortSignal
}

/** How long Redis keeps a state: its RT's remaining life plus a margin, long when unknown. */
function lifetime(snapshot: Snapshot, now: number): number {
  if (snapshot.status !== 'active' || snapshot.refreshExpiresAt === null) return UNKNOWN_EXPIRY_MS
  return Math.max(0, Math.min(snapshot.refreshExpiresAt - now, UNKNOWN_EXPIRY_MS)) + EXPIRY_MARGIN_MS
}

/** Redis answered with an error (a script or type error): trying again cannot help. */
function isReply(error: unknown): boolean {
  for (let p = Object.getPrototypeOf(error); p; p = Object.getPrototypeOf(p)) if (p.constructor?.name === 'ErrorReply') return true
  return false
}

/**
 * What Redis holds for the name. Redis cannot open a sealed state, so it judges nothing: the
 * writer reads and opens the stored value, decides, and the WRITE script replaces the value only
 * if it is still the one read (scripts.ts).
 */
export class RedisStore {
  readonly #o: RedisStoreOptions
  readonly #errors = new Listeners<RedisStateError>()
  /** Wakes a retry's pause when the coordinator closes. */
  readonly #waiters: Waiters
  /** The newest snapshot seen (written, read or heard): what this member re-seeds an emptied Redis with. */
  #latest: Snapshot | undefined
  /** The last value reported, so that a value polled again and again is reported once. */
  #reported = ''

  constructor(options: RedisStoreOptions) {
    this.#o = options
    this.#waiters = new Waiters(options.platform.after)
    options.signal.addEventListener(
      'abort',
      () => {
        this.#errors.clear()
        this.#waiters.wake()
      },
      { once: true },
    )
  }

  get latest(): Snapshot | undefined {
    return this.#latest
  }

  /** Listens to the values set aside (see RedisCoordinator's `error` event); returns the undo. */
  onError(listener: (error: RedisStateError) => void): () => void {
    return this.#errors.add(listener)
  }

  /** A snapshot seen elsewhere (heard on the bus): kept if it is the newest. */
  note(snapshot: Snapshot): void {
    if (!this.#latest || supersedes(snapshot, this.#latest)) this.#latest = snapshot
  }

  /**
   * Opens what Redis holds (or the channel carried). What cannot be opened is treated as
   * absent: a writer without the key must not be able to stop propagation or hand out a
   * state. What opens but is older than what this member saw (a sealed value put back) is
   * reported; the session refuses to go back to it by itself (generation, spent RTs).
   */
  async open(raw: unknown, from: 'store' | 'bus'): Promise<Snapshot | undefined> {
    if (typeof raw !== 'string') return undefined
    const snapshot = await this.#o.sealer.open(raw)
    if (!snapshot) this.#report('unreadable', raw)
    // Only the store: a peer that lags may well answer a `hello` with an older state.
    else if (from === 'store' && this.#latest && snapshot.generation < this.#latest.generation) this.#report('rolled-back', raw)
    return snapshot
  }

  async read(): Promise<Snapshot | undefined> {
    const { lock, client, keys } = this.#o
    const hold = lock.hold
    // The holder reads inside the lock right before it refreshes: it renews in the same step,
    // and the lease it handed the rotator counts from there.
    const raw = await this.#persist(() => (hold ? lock.renewReading(hold) : client.get(keys.state)))
    const snapshot = await this.open(raw, 'store')
    if (snapshot) this.note(snapshot)
    return snapshot
  }

  /** Whether Redis holds a state this member can open (not absent, not unreadable). */
  async holdsState(): Promise<boolean> {
    const raw = await this.#persist(() => this.#o.client.get(this.#o.keys.state))
    return typeof raw === 'string' && (await this.#o.sealer.open(raw)) !== undefined
  }

  /**
   * Writes unless the stored state supersedes `snapshot`, and publishes it in the same script.
   * A stored value nobody can open counts as absent, so a forged "newer" value cannot turn
   * every later write into a no-op.
   */
  async write(snapshot: Snapshot): Promise<void> {
    const { sealer, id, keys, client, run, platform } = this.#o
    const text = await sealer.seal(snapshot)
    const message = JSON.stringify({ rotor: 1, type: 'state', from: id, snapshot: text })
    const ttl = Math.round(lifetime(snapshot, platform.now()))
    const fence = this.#fenceFor(snapshot)
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const raw = await this.#persist(() => client.get(keys.state))
      const current = await this.open(raw, 'store')
      if (current && supersedes(current, snapshot)) {
        this.note(current)
        return
      }
      const expected = typeof raw === 'string' ? raw : ''
      const reply = await this.#persist(() => run(WRITE, [keys.state, keys.channel, keys.fence, keys.epoch], [expected, text, message, ttl, fence]))
      if (reply === 1) {
        this.note(snapshot)
        return
      }
      if (reply === -1) throw new LeaseLostError('rotor-auth/redis: a later holder of the lock exists; this holder may no longer write')
    }
    throw new RedisConflictError(`rotor-auth/redis: the stored state changed under each of ${MAX_WRITE_ATTEMPTS} attempts to write it`)
  }

  /**
   * A holder's markers (refresh on the wire, RT dead, signed out) describe the state as its lock
   * found it, and are refused once a later holder exists. The result of a refresh is not: it
   * holds the only live pair, and the later holder adopts it instead of presenting the RT that
   * refresh spent. 0: not fenced.
   */
  #fenceFor(snapshot: Snapshot): number {
    const hold = this.#o.lock.hold
    const marker = snapshot.status !== 'active' || snapshot.ending !== undefined || snapshot.rotatingSince !== undefined
    return hold && marker ? hold.fence : 0
  }

  /**
   * Runs a read or a write until it gets an answer. node-redis queues commands while it
   * reconnects, but rejects those already sent when the connection drops; both are
   * idempotent here, and giving up would be worse: a write that failed after a refresh the
   * server accepted loses the only valid pair, and the session would present the spent RT.
   */
  async #persist<T>(command: () => Promise<T>): Promise<T> {
    const { signal, platform } = this.#o
    for (let failures = 1; ; failures++) {
      if (signal.aborted) throw new RedisClosedError('rotor-auth/redis: coordinator closed')
      try {
        return await command()
      } catch (error) {
        if (isReply(error)) throw error
      }
      await this.#waiters.nap(backoff(failures, COMMAND_BACKOFF, platform.random))
    }
  }

  #report(problem: RedisStateProblem, raw: string): void {
    if (raw === this.#reported || this.#o.signal.aborted) return
    this.#reported = raw
    this.#errors.emit(new RedisStateError(problem, this.#o.name))
  }
}
