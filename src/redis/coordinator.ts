/** The Redis coordinator: one token pair shared by sessions in many processes and machines. */
import { RotorTypeError } from '../errors.js'
import { randomUUID } from 'node:crypto'
import { parseMessage, supersedes } from '../coordinator/protocol.js'
import type { Coordinator, Message, Snapshot } from '../coordinator/types.js'
import { normalizeRedisOptions, type RedisCoordinatorOptions, type RedisSubscriberLike } from './options.js'
import { ACQUIRE, EPOCH, HOLD, keysOf, RELEASE, WRITE } from './scripts.js'
import { RedisStateError, type RedisStateProblem } from './errors.js'
import { keyedSealer, omittingSealer } from './seal.js'

/** Longest pause between two attempts at a taken lock; a release notice wakes waiters sooner. */
const MAX_POLL_MS = 250
/** First pause after a failed command (Redis unreachable); it doubles per failure up to MAX_BACKOFF_MS. */
const ERROR_BACKOFF_MS = 200
const MAX_BACKOFF_MS = 5_000
/**
 * The share of the lease a holder counts on, from the moment it sent the command that granted
 * or renewed it (monotonic time): Redis started the lease later than that, so the lock is
 * still ours while this share runs, whatever this process's pauses (GC, SIGSTOP) were.
 */
const LEASE_TRUSTED = 0.8
/** How long a state outlives its RT's expiry in Redis (a process whose clock lags may still read it). */
const EXPIRY_MARGIN_MS = 3_600_000
/** The lifetime of a state whose RT expiry is unknown (or that is signed out). */
const UNKNOWN_EXPIRY_MS = 30 * 24 * 3_600_000
/** Longest a read waits for the channel's subscription before it reads anyway (see read). */
const SUBSCRIBE_WAIT_MS = 2_000
/** Attempts of one write whose compare-and-set keeps losing to other writers (a writer without the key can keep it losing). */
const MAX_WRITE_ATTEMPTS = 20
/** The bus's own notice that the lock is free; no session message looks like it. */
const RELEASED = JSON.stringify({ rotorRedis: 1, type: 'released' })

type Grant = {
  value: string
  fence: number
  /** Another owner holds the lock (a renewal said so). */
  lost: boolean
  /** performance.now() until which the lease is surely ours (see LEASE_TRUSTED). */
  validUntil: number
}

/** Whether the holder may still act on its lock: a refresh goes out only under a live lease. */
const live = (grant: Grant) => !grant.lost && performance.now() < grant.validUntil

/** The jittered pause before attempt `failures + 1` of a command that failed `failures` times. */
const backoff = (failures: number) => Math.min(ERROR_BACKOFF_MS * 2 ** Math.min(failures, 10), MAX_BACKOFF_MS) * (0.5 + Math.random() / 2)

/** How long Redis keeps a state: its RT's remaining life plus a margin, long when unknown. */
function lifetime(snapshot: Snapshot): number {
  if (snapshot.status !== 'active' || snapshot.refreshExpiresAt === null) return UNKNOWN_EXPIRY_MS
  return Math.max(0, Math.min(snapshot.refreshExpiresAt - Date.now(), UNKNOWN_EXPIRY_MS)) + EXPIRY_MARGIN_MS
}

/** Redis answered with an error (a script or type error): trying again cannot help. */
function isReply(error: unknown): boolean {
  for (let p = Object.getPrototypeOf(error); p; p = Object.getPrototypeOf(p)) if (p.constructor?.name === 'ErrorReply') return true
  return false
}

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

/**
 * A coordinator on Redis (see `Coordinator` for the guarantees). The snapshot lives in one
 * key, sealed; the rotation lock is a key taken with SET NX PX and a fencing token, renewed
 * while its holder runs and released by compare-and-delete; messages go over pub/sub on a
 * connection of its own, and after a reconnect the store is read again. One per session.
 */
export function createRedisCoordinator(options: RedisCoordinatorOptions): RedisCoordinator {
  const { client, name, keys: sealing, lease } = normalizeRedisOptions(options)
  const keys = keysOf(name)
  const sealer = sealing.length ? keyedSealer(sealing, name) : omittingSealer()
  const id = randomUUID()
  const listeners = new Set<(message: Message) => void>()
  const errorListeners = new Set<(error: RedisStateError) => void>()
  /** The last value reported, so that a value polled again and again is reported once. */
  let reported = ''
  /** Wakes lock waiters: a release notice arrived, or the coordinator closed. */
  const wakers = new Set<() => void>()
  /** The newest snapshot seen (written, read or heard): what this member re-seeds an emptied Redis with. */
  let latest: Snapshot | undefined
  /** The snapshot just written: its write script already published it, the session's post of it is skipped. */
  let justWritten: Snapshot | undefined
  let knownEpoch = ''
  let held: Grant | undefined
  let renewing = false
  let renewTimer: ReturnType<typeof setInterval> | undefined
  let chain: Promise<unknown> = Promise.resolve()
  let outbox: Promise<void> = Promise.resolve()
  let locks = 0
  let closed = false
  let sub: RedisSubscriberLike | undefined
  let subReady = false
  let onSubscribed!: () => void
  /** Resolves once the channel is subscribed, or the coordinator closed. */
  const subscribed = new Promise<void>(resolve => (onSubscribed = resolve))
  let firstSubscription: Promise<void> | undefined

  const evalScript = (script: string, k: string[], args: Array<string | number>) =>
    client.eval(script, { keys: k, arguments: args.map(String) })

  /**
   * Runs a read or a write until it gets an answer. node-redis queues commands while it
   * reconnects, but rejects those already sent when the connection drops; both are
   * idempotent here, and giving up would be worse: a write that failed after a refresh the
   * server accepted loses the only valid pair, and the session would present the spent RT.
   */
  async function persist<T>(command: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; failures++) {
      if (closed) throw new Error('rotor-auth/redis: coordinator closed')
      try {
        return await command()
      } catch (error) {
        if (isReply(error)) throw error
      }
      await nap(backoff(failures))
    }
  }

  function report(problem: RedisStateProblem, raw: string): void {
    if (raw === reported || closed) return
    reported = raw
    const error = new RedisStateError(problem, name)
    for (const listener of [...errorListeners]) {
      try {
        listener(error)
      } catch {
        // A listener's failure is not the coordinator's.
      }
    }
  }

  function note(snapshot: Snapshot): void {
    if (!latest || supersedes(snapshot, latest)) latest = snapshot
  }

  /**
   * Opens what Redis holds (or the channel carried). What cannot be opened is treated as
   * absent: a writer without the key must not be able to stop propagation or hand out a
   * state. What opens but is older than what this member saw (a sealed value put back) is
   * reported; the session refuses to go back to it by itself (generation, spent RTs).
   */
  async function decode(raw: unknown, from: 'store' | 'bus'): Promise<Snapshot | undefined> {
    if (typeof raw !== 'string') return undefined
    const snapshot = await sealer.open(raw)
    if (!snapshot) report('unreadable', raw)
    // Only the store: a peer that lags may well answer a `hello` with an older state.
    else if (from === 'store' && latest && snapshot.generation < latest.generation) report('rolled-back', raw)
    return snapshot
  }

  function deliver(message: Message): void {
    for (const listener of [...listeners]) {
      try {
        listener(message)
      } catch {
        // One listener's failure must not starve the others.
      }
    }
  }

  /** Messages are opened one after the other (opening is asynchronous) so that they keep their order. */
  let inbox: Promise<void> = Promise.resolve()
  function onBus(raw: string): void {
    if (closed) return
    if (raw === RELEASED) {
      for (const wake of [...wakers]) wake()
      return
    }
    inbox = inbox.then(() => receive(raw)).catch(() => undefined)
  }

  async function receive(raw: string): Promise<void> {
    let data: Record<string, unknown>
    try {
      data = JSON.parse(raw) as Record<string, unknown>
    } catch {
      return
    }
    if (typeof data !== 'object' || data === null || data['from'] === id) return
    if (data['type'] === 'state') {
      const snapshot = await decode(data['snapshot'], 'bus')
      if (!snapshot) return
      data = { ...data, snapshot }
    }
    const message = parseMessage(data)
    if (!message || closed) return
    if (message.type === 'state') note(message.snapshot)
    deliver(message)
  }

  /** Hands the store's state to the session as a message: it adopts it if it is newer than its own. */
  async function reread(): Promise<void> {
    const stored = await read()
    if (stored && !closed) deliver({ rotor: 1, type: 'state', from: 'redis', snapshot: stored })
  }

  let resyncing: Promise<void> | undefined
  let again = false
  /**
   * After a reconnect: messages sent meanwhile are lost, and Redis may have restarted empty.
   * Mark the data set (a member that finds it gone starts the quiet period), take a held
   * lock back at once, put back the newest snapshot this member knows (a write never
   * replaces a newer one), and hand the store's state to the session.
   */
  function resync(): void {
    if (closed) return
    if (resyncing) {
      again = true
      return
    }
    resyncing = (async () => {
      const epoch = await evalScript(EPOCH, [keys.epoch, keys.quiet], [knownEpoch, randomUUID(), lease])
      if (typeof epoch === 'string') knownEpoch = epoch
      if (held) await renew()
      if (latest) await store(latest)
      await reread()
    })()
      .catch(() => undefined)
      .finally(() => {
        resyncing = undefined
        if (again) {
          again = false
          resync()
        }
      })
  }

  const onClientReady = () => resync()
  client.on('ready', onClientReady)

  function openSubscriber(): void {
    const connection = client.duplicate()
    sub = connection
    // Without a listener node-redis would throw its connection errors at the process.
    connection.on('error', () => undefined)
    connection.on('ready', () => {
      // The first connect is not a reconnect; node-redis subscribes again by itself after one.
      if (subReady) resync()
    })
    connection
      .connect()
      .then(() => connection.subscribe(keys.channel, onBus))
      .then(() => {
        subReady = true
        onSubscribed()
        // A read that stopped waiting for the subscription (SUBSCRIBE_WAIT_MS) may have missed
        // a state published before it: read again.
        return reread()
      })
      .catch(() => undefined)
  }
  openSubscriber()
  // Learn the data set's epoch early: a restart is only noticed by a member that knew it.
  void evalScript(EPOCH, [keys.epoch, keys.quiet], ['', randomUUID(), lease])
    .then(epoch => {
      if (typeof epoch === 'string' && knownEpoch === '') knownEpoch = epoch
    })
    .catch(() => undefined)

  /** Renews the holder's lease and reads the state in one step; learns whether the lock is still ours. */
  async function hold(grant: Grant): Promise<unknown> {
    const sent = performance.now()
    const reply = (await evalScript(HOLD, [keys.lock, keys.fence, keys.state, keys.epoch], [grant.value, lease, grant.fence, knownEpoch])) as [unknown, unknown]
    grant.lost = reply[1] !== 1
    if (!grant.lost) grant.validUntil = Math.max(grant.validUntil, sent + lease * LEASE_TRUSTED)
    return reply[0]
  }

  async function read(): Promise<Snapshot | undefined> {
    // A state written after this read and before the subscription would be heard by nobody
    // here: a process that joined just as another logged in stayed signed out (and sent its
    // requests without a token) until the next rotation. Subscribed first, every later state
    // arrives as a message. Waited for once, bounded: a subscriber that cannot connect must
    // not hold the session (the read after subscribing covers what this one misses).
    if (!subReady) await (firstSubscription ??= Promise.race([subscribed, napUnwoken(SUBSCRIBE_WAIT_MS)]))
    const grant = held
    // The holder reads inside the lock right before it refreshes: renew in the same step
    // (see post: no refresh without a live lease).
    const raw = await persist(() => (grant ? hold(grant) : client.get(keys.state)))
    const snapshot = await decode(raw, 'store')
    if (snapshot) note(snapshot)
    return snapshot
  }

  /**
   * Writes unless the stored state supersedes `snapshot`, and publishes in the same script.
   * The writer decides from what it opened; Redis only checks that the value is still the one
   * it read (WRITE). A stored value nobody can open counts as absent, so a forged "newer"
   * value cannot turn every later write into a no-op.
   */
  async function store(snapshot: Snapshot): Promise<void> {
    const text = await sealer.seal(snapshot)
    const message = JSON.stringify({ rotor: 1, type: 'state', from: id, snapshot: text })
    const ttl = Math.round(lifetime(snapshot))
    // Fenced: a holder's markers (refresh on the wire, RT dead, signed out) describe the
    // state as its lock found it, and are refused once a later holder exists. The result of a
    // refresh is not: it holds the only live pair, and the later holder adopts it instead of
    // presenting the RT that refresh spent.
    const grant = held
    const marker = snapshot.status !== 'active' || snapshot.ending !== undefined || snapshot.rotatingSince !== undefined
    const fence = grant && marker ? grant.fence : 0
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const raw = await persist(() => client.get(keys.state))
      const current = await decode(raw, 'store')
      if (current && supersedes(current, snapshot)) {
        note(current)
        return
      }
      const expected = typeof raw === 'string' ? raw : ''
      const reply = await persist(() => evalScript(WRITE, [keys.state, keys.channel, keys.fence, keys.epoch], [expected, text, message, ttl, fence]))
      if (reply === 1) {
        note(snapshot)
        return
      }
      if (reply === -1) throw new Error('rotor-auth/redis: a later holder of the lock exists; this holder may no longer write')
    }
    throw new Error(`rotor-auth/redis: the stored state changed under each of ${MAX_WRITE_ATTEMPTS} attempts to write it`)
  }

  /** The session's write: it posts the same snapshot next, which the script already published. */
  async function write(snapshot: Snapshot): Promise<void> {
    // The cookie transport records its refresh here right before sending it: the last moment
    // to find that the lease ran out meanwhile (see post). Checked before the write too, so
    // that no refresh is recorded that will not happen (the next holder would wait for it).
    const leaseRanOut = () => snapshot.rotatingSince !== undefined && held !== undefined && !live(held)
    if (leaseRanOut()) throw new Error('rotor-auth/redis: the lock lease ran out; not refreshing')
    await store(snapshot)
    justWritten = snapshot
    if (leaseRanOut()) throw new Error('rotor-auth/redis: the lock lease ran out; not refreshing')
  }

  async function renew(): Promise<void> {
    const grant = held
    if (!grant || renewing) return
    renewing = true
    try {
      await hold(grant)
    } catch {
      // Redis unreachable: node-redis queues the next attempt until it reconnects.
    } finally {
      renewing = false
    }
  }

  /** Waits `ms` (unref'd: a waiting request keeps the process alive, not this). */
  function napUnwoken(ms: number): Promise<void> {
    return new Promise(resolve => setTimeout(resolve, ms).unref?.())
  }

  /** Waits `ms` (unref'd: a waiting request keeps the process alive, not this), or less when woken. */
  function nap(ms: number): Promise<void> {
    return new Promise(resolve => {
      const done = () => {
        clearTimeout(timer)
        wakers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref?.()
      wakers.add(done)
    })
  }

  async function acquire(): Promise<Grant> {
    const owner = `${id}:${++locks}`
    for (let failures = 0; ; ) {
      if (closed) throw new Error('rotor-auth/redis: coordinator closed while waiting for the lock')
      let reply: [number, number, string] | undefined
      const sent = performance.now()
      try {
        reply = (await evalScript(ACQUIRE, [keys.lock, keys.fence, keys.epoch, keys.quiet], [owner, lease, knownEpoch, randomUUID()])) as [number, number, string]
      } catch {
        reply = undefined
      }
      if (reply) {
        const [fence, wait, epoch] = reply
        if (typeof epoch === 'string') knownEpoch = epoch
        if (fence > 0) return { value: `${owner}:${fence}`, fence, lost: false, validUntil: sent + lease * LEASE_TRUSTED }
        failures = 0
        // Jittered, so the waiters of several processes do not all retry in step.
        await nap(Math.min(Math.max(wait, 5), MAX_POLL_MS) * (0.5 + Math.random() / 2))
      } else {
        await nap(backoff(failures++))
      }
    }
  }

  async function locked<T>(fn: () => Promise<T>): Promise<T> {
    const grant = await acquire()
    if (closed) {
      void evalScript(RELEASE, [keys.lock, keys.channel], [grant.value, RELEASED]).catch(() => undefined)
      throw new Error('rotor-auth/redis: coordinator closed while waiting for the lock')
    }
    held = grant
    renewTimer = setInterval(() => void renew(), lease / 3)
    renewTimer.unref?.()
    try {
      return await fn()
    } finally {
      clearInterval(renewTimer)
      renewTimer = undefined
      held = undefined
      // Not awaited: the caller's result does not wait for Redis. Commands on one connection
      // run in order, so this member's next attempt comes after the release anyway.
      void evalScript(RELEASE, [keys.lock, keys.channel], [grant.value, RELEASED]).catch(() => undefined)
    }
  }

  return {
    id,
    read,
    write,
    lock<T>(fn: () => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new Error('rotor-auth/redis: lock() after close()'))
      // One attempt at the Redis lock at a time per member: the session's own lock calls queue here.
      const run = chain.then(() => locked(fn))
      chain = run.catch(() => undefined)
      return run
    },
    post(message) {
      if (closed) return
      if (message.type === 'rotating' && held && !live(held)) {
        // The session announces its refresh right before sending it. A renewal found the lock
        // in another member's hands, or this process was paused (GC, SIGSTOP, a partition
        // with no renewal) for longer than the lease it can vouch for, counted on monotonic
        // time from its last grant or renewal: another member may have taken the lock and
        // spent the RT meanwhile. Refusing here ends the attempt before the RT goes out; a
        // second presentation would revoke the family.
        throw new Error('rotor-auth/redis: the lock lease ran out (or another member holds the lock); not refreshing')
      }
      if (message.type === 'state' && message.snapshot === justWritten) {
        justWritten = undefined
        return
      }
      const wire: Record<string, unknown> = { ...message, rotor: 1, from: id }
      // Sealing is asynchronous: messages leave one after the other, in the order posted.
      outbox = outbox
        .then(async () => {
          if (message.type === 'state') wire['snapshot'] = await sealer.seal(message.snapshot)
          await client.publish(keys.channel, JSON.stringify(wire))
        })
        .catch(() => undefined)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    on(type, listener) {
      if (type !== 'error') throw new RotorTypeError('ERR_USAGE', `rotor-auth/redis: unknown event \`${String(type)}\` (the coordinator emits \`error\`)`)
      if (typeof listener !== 'function') throw new RotorTypeError('ERR_USAGE', 'rotor-auth/redis: on(\'error\', listener): listener must be a function')
      errorListeners.add(listener)
      return () => void errorListeners.delete(listener)
    },
    // Everyone may rotate at the leader's moment: the lock and the re-read inside it keep it
    // to one refresh per generation; the others take the lock only to adopt.
    isLeader: () => true,
    // Other processes may share the name at any time.
    hasPeers: () => true,
    close() {
      if (closed) return
      closed = true
      onSubscribed()
      client.off('ready', onClientReady)
      if (renewTimer) clearInterval(renewTimer)
      renewTimer = undefined
      for (const wake of [...wakers]) wake()
      listeners.clear()
      errorListeners.clear()
      const grant = held
      held = undefined
      if (grant) void evalScript(RELEASE, [keys.lock, keys.channel], [grant.value, RELEASED]).catch(() => undefined)
      // destroy(), not quit(): a subscriber that is still connecting (Redis down) has nothing to
      // flush. node-redis 4 has no destroy(); its disconnect() is the same.
      if (sub?.destroy) sub.destroy()
      else void sub?.disconnect?.().catch(() => undefined)
      sub = undefined
    },
  }
}
