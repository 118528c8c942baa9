/** The Redis coordinator: one token pair shared by sessions in many processes and machines. */
import { randomUUID } from 'node:crypto'
import { parseMessage, supersedes } from '../coordinator/protocol.js'
import type { Coordinator, Message, Snapshot } from '../coordinator/types.js'
import { normalizeRedisOptions, type RedisCoordinatorOptions, type RedisSubscriberLike } from './options.js'
import { ACQUIRE, EPOCH, HOLD, keysOf, RELEASE, WRITE } from './scripts.js'
import { aesSealer, omittingSealer } from './seal.js'

/** Longest pause between two attempts at a taken lock; a release notice wakes waiters sooner. */
const MAX_POLL_MS = 250
/** Pause after a failed command (Redis unreachable) before the next attempt. */
const ERROR_BACKOFF_MS = 200
/** The bus's own notice that the lock is free; no session message looks like it. */
const RELEASED = JSON.stringify({ rotorRedis: 1, type: 'released' })

type Grant = { value: string; fence: number; lost: boolean }

/** Redis answered with an error (a script or type error): trying again cannot help. */
function isReply(error: unknown): boolean {
  for (let p = Object.getPrototypeOf(error); p; p = Object.getPrototypeOf(p)) if (p.constructor?.name === 'ErrorReply') return true
  return false
}

export type RedisCoordinator = Coordinator & {
  /** This member's id: the `from` of what it posts, and the owner in the lock's value. */
  readonly id: string
}

/**
 * A coordinator on Redis (see `Coordinator` for the guarantees). The snapshot lives in one
 * key, sealed; the rotation lock is a key taken with SET NX PX and a fencing token, renewed
 * while its holder runs and released by compare-and-delete; messages go over pub/sub on a
 * connection of its own, and after a reconnect the store is read again. One per session.
 */
export function createRedisCoordinator(options: RedisCoordinatorOptions): RedisCoordinator {
  const { client, name, key, lease } = normalizeRedisOptions(options)
  const keys = keysOf(name)
  const sealer = key ? aesSealer(key, name) : omittingSealer()
  const id = randomUUID()
  const listeners = new Set<(message: Message) => void>()
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
  let locks = 0
  let closed = false
  let sub: RedisSubscriberLike | undefined
  let subReady = false

  const evalScript = (script: string, k: string[], args: Array<string | number>) =>
    client.eval(script, { keys: k, arguments: args.map(String) })

  /**
   * Runs a read or a write until it gets an answer. node-redis queues commands while it
   * reconnects, but rejects those already sent when the connection drops; both are
   * idempotent here, and giving up would be worse: a write that failed after a refresh the
   * server accepted loses the only valid pair, and the session would present the spent RT.
   */
  async function persist<T>(command: () => Promise<T>): Promise<T> {
    for (;;) {
      if (closed) throw new Error('rotor-auth/redis: coordinator closed')
      try {
        return await command()
      } catch (error) {
        if (isReply(error)) throw error
      }
      await nap(ERROR_BACKOFF_MS)
    }
  }

  function note(snapshot: Snapshot): void {
    if (!latest || supersedes(snapshot, latest)) latest = snapshot
  }

  function decode(raw: unknown): Snapshot | undefined {
    if (typeof raw !== 'string') return undefined
    try {
      return sealer.open(JSON.parse(raw))
    } catch {
      return undefined
    }
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

  function onBus(raw: string): void {
    if (closed) return
    if (raw === RELEASED) {
      for (const wake of [...wakers]) wake()
      return
    }
    let data: Record<string, unknown>
    try {
      data = JSON.parse(raw) as Record<string, unknown>
    } catch {
      return
    }
    if (typeof data !== 'object' || data === null || data['from'] === id) return
    if (data['type'] === 'state') {
      const snapshot = sealer.open(data['snapshot'])
      if (!snapshot) return
      data = { ...data, snapshot }
    }
    const message = parseMessage(data)
    if (!message) return
    if (message.type === 'state') note(message.snapshot)
    deliver(message)
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
      const stored = await read()
      if (stored && !closed) deliver({ rotor: 1, type: 'state', from: 'redis', snapshot: stored })
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

  async function read(): Promise<Snapshot | undefined> {
    const grant = held
    let raw: unknown
    if (grant) {
      // The holder reads inside the lock right before it refreshes: renew in the same step,
      // and learn whether the lock is still ours (see post: no refresh on a lost lease).
      const reply = (await persist(() => evalScript(HOLD, [keys.lock, keys.fence, keys.state, keys.epoch], [grant.value, lease, grant.fence, knownEpoch]))) as [
        unknown,
        unknown,
      ]
      grant.lost = reply[1] !== 1
      raw = reply[0]
    } else {
      raw = await persist(() => client.get(keys.state))
    }
    const snapshot = decode(raw)
    if (snapshot) note(snapshot)
    return snapshot
  }

  /** Writes (unless superseded) and publishes in one script. */
  async function store(snapshot: Snapshot): Promise<void> {
    const envelope = sealer.seal(snapshot)
    const message = JSON.stringify({ rotor: 1, type: 'state', from: id, snapshot: envelope })
    await persist(() => evalScript(WRITE, [keys.state, keys.channel], [snapshot.generation, snapshot.status, JSON.stringify(envelope), message]))
    note(snapshot)
  }

  /** The session's write: it posts the same snapshot next, which the script already published. */
  async function write(snapshot: Snapshot): Promise<void> {
    await store(snapshot)
    justWritten = snapshot
  }

  async function renew(): Promise<void> {
    const grant = held
    if (!grant || renewing) return
    renewing = true
    try {
      const reply = (await evalScript(HOLD, [keys.lock, keys.fence, keys.state, keys.epoch], [grant.value, lease, grant.fence, knownEpoch])) as [
        unknown,
        unknown,
      ]
      grant.lost = reply[1] !== 1
    } catch {
      // Redis unreachable: node-redis queues the next attempt until it reconnects.
    } finally {
      renewing = false
    }
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
    for (;;) {
      if (closed) throw new Error('rotor-auth/redis: coordinator closed while waiting for the lock')
      let reply: [number, number, string] | undefined
      try {
        reply = (await evalScript(ACQUIRE, [keys.lock, keys.fence, keys.epoch, keys.quiet], [owner, lease, knownEpoch, randomUUID()])) as [number, number, string]
      } catch {
        reply = undefined
      }
      if (reply) {
        const [fence, wait, epoch] = reply
        if (typeof epoch === 'string') knownEpoch = epoch
        if (fence > 0) return { value: `${owner}:${fence}`, fence, lost: false }
        // Jittered, so the waiters of several processes do not all retry in step.
        await nap(Math.min(Math.max(wait, 5), MAX_POLL_MS) * (0.5 + Math.random() / 2))
      } else {
        await nap(ERROR_BACKOFF_MS)
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
      if (message.type === 'rotating' && held?.lost) {
        // The session announces its refresh right after re-reading the state inside the lock;
        // that read found the lock in another member's hands (our lease ran out while Redis
        // was unreachable). Refusing here ends the attempt before the RT goes out: the other
        // holder may be presenting it now, and a second presentation revokes the family.
        throw new Error('rotor-auth/redis: the lock lease ran out and another member holds the lock; not refreshing')
      }
      if (message.type === 'state' && message.snapshot === justWritten) {
        justWritten = undefined
        return
      }
      let wire: Record<string, unknown> = { ...message, rotor: 1, from: id }
      try {
        if (message.type === 'state') wire = { ...wire, snapshot: sealer.seal(message.snapshot) }
      } catch {
        return
      }
      void client.publish(keys.channel, JSON.stringify(wire)).catch(() => undefined)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    // Everyone may rotate at the leader's moment: the lock and the re-read inside it keep it
    // to one refresh per generation; the others take the lock only to adopt.
    isLeader: () => true,
    // Other processes may share the name at any time.
    hasPeers: () => true,
    close() {
      if (closed) return
      closed = true
      client.off('ready', onClientReady)
      if (renewTimer) clearInterval(renewTimer)
      renewTimer = undefined
      for (const wake of [...wakers]) wake()
      listeners.clear()
      const grant = held
      held = undefined
      if (grant) void evalScript(RELEASE, [keys.lock, keys.channel], [grant.value, RELEASED]).catch(() => undefined)
      // destroy(), not quit(): a subscriber that is still connecting (Redis down) has nothing to flush.
      sub?.destroy()
      sub = undefined
    },
  }
}
