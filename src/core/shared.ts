import type { LogoutReason, StorageLike } from '../types.js'

/**
 * The session as every tab sees it. Deadlines are epoch ms on the local clock, which all
 * tabs of one browser (and all sessions of one Node process) share.
 */
export type Snapshot = {
  generation: number
  status: 'active' | 'signed-out'
  issuedAt: number | null
  accessExpiresAt: number | null
  refreshExpiresAt: number | null
  accessToken?: string
  refreshToken?: string
  /** Why the session ended, when signed out. */
  reason?: LogoutReason
}

export const SIGNED_OUT: Snapshot = {
  generation: 0,
  status: 'signed-out',
  issuedAt: null,
  accessExpiresAt: null,
  refreshExpiresAt: null,
}

/**
 * True when `a` supersedes `b`. Generations only grow; at an equal generation a logout wins,
 * so a rotation answer that raced a logout in another tab can never revive the session.
 */
export function supersedes(a: Snapshot, b: Snapshot): boolean {
  return a.generation > b.generation || (a.generation === b.generation && a.status === 'signed-out' && b.status === 'active')
}

export type Message =
  | { rotor: 1; type: 'state'; from: string; snapshot: Snapshot }
  | { rotor: 1; type: 'rotating'; from: string; generation: number }
  | { rotor: 1; type: 'rotated'; from: string; generation: number; ok: boolean }
  | { rotor: 1; type: 'hello'; from: string }
  | { rotor: 1; type: 'activity'; from: string; at: number }

type Payload<M> = M extends Message ? Omit<M, 'rotor' | 'from'> : never
export type Outgoing = Payload<Message>

const nullableNumber = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v))
const optionalString = (v: unknown) => v === undefined || typeof v === 'string'
const REASONS = new Set(['expired', 'rejected', 'user', 'idle'])

/** Reads an untrusted snapshot (from the channel or storage); undefined when malformed. */
export function parseSnapshot(value: unknown): Snapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const s = value as Record<string, unknown>
  if (typeof s['generation'] !== 'number' || !Number.isSafeInteger(s['generation']) || s['generation'] < 0) return undefined
  if (s['status'] !== 'active' && s['status'] !== 'signed-out') return undefined
  if (!nullableNumber(s['issuedAt']) || !nullableNumber(s['accessExpiresAt']) || !nullableNumber(s['refreshExpiresAt'])) return undefined
  if (!optionalString(s['accessToken']) || !optionalString(s['refreshToken'])) return undefined
  if (s['status'] === 'active' && (typeof s['accessExpiresAt'] !== 'number' || typeof s['issuedAt'] !== 'number')) return undefined
  if (s['reason'] !== undefined && !REASONS.has(s['reason'] as string)) return undefined
  const snapshot: Snapshot = {
    generation: s['generation'],
    status: s['status'],
    issuedAt: s['issuedAt'] as number | null,
    accessExpiresAt: s['accessExpiresAt'] as number | null,
    refreshExpiresAt: s['refreshExpiresAt'] as number | null,
  }
  if (typeof s['accessToken'] === 'string') snapshot.accessToken = s['accessToken']
  if (typeof s['refreshToken'] === 'string') snapshot.refreshToken = s['refreshToken']
  if (typeof s['reason'] === 'string') snapshot.reason = s['reason'] as LogoutReason
  return snapshot
}

/** Validates a channel message; anything malformed or foreign is dropped. */
export function parseMessage(data: unknown): Message | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m['rotor'] !== 1 || typeof m['from'] !== 'string') return undefined
  const from = m['from']
  switch (m['type']) {
    case 'state': {
      const snapshot = parseSnapshot(m['snapshot'])
      return snapshot && { rotor: 1, type: 'state', from, snapshot }
    }
    case 'rotating':
    case 'rotated': {
      const generation = m['generation']
      if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) return undefined
      if (m['type'] === 'rotating') return { rotor: 1, type: 'rotating', from, generation }
      return typeof m['ok'] === 'boolean' ? { rotor: 1, type: 'rotated', from, generation, ok: m['ok'] } : undefined
    }
    case 'hello':
      return { rotor: 1, type: 'hello', from }
    case 'activity':
      return typeof m['at'] === 'number' && Number.isFinite(m['at']) ? { rotor: 1, type: 'activity', from, at: m['at'] } : undefined
    default:
      return undefined
  }
}

/**
 * What one session needs from its peers: a snapshot readable synchronously (so the tab that
 * takes the rotation lock sees a rotation another tab finished just before), an exclusive
 * lock, a message channel, and whether this tab is the primary (the one whose timer rotates).
 */
export interface Shared {
  readonly id: string
  read(): Snapshot | undefined
  write(snapshot: Snapshot): void
  post(message: Outgoing): void
  onMessage(listener: (message: Message) => void): void
  lock<T>(fn: () => Promise<T>): Promise<T>
  isPrimary(): boolean
  /** Whether other sessions may be listening (unknown in a browser: assumed). */
  hasPeers(): boolean
  close(): void
}

type LockManagerLike = {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>
}

function webLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
}

/** A FIFO mutex: each holder runs after the previous one settled. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    this.#tail = result.catch(() => undefined)
    return result
  }
}

/**
 * State shared by the sessions of one name inside this JS realm. Where Web Locks are absent
 * (Node, older Safari) this is what makes the lock exclusive and the snapshot readable
 * between sessions of one process; Symbol.for keeps it single even if the library is loaded
 * twice (ESM and CJS builds side by side).
 */
type Realm = { mutex: Mutex; snapshot: Snapshot | undefined; members: string[] }
const REALMS_KEY = Symbol.for('rotor-auth.realms')
function realm(name: string): Realm {
  const g = globalThis as { [REALMS_KEY]?: Map<string, Realm> }
  const realms = (g[REALMS_KEY] ??= new Map())
  let r = realms.get(name)
  if (!r) realms.set(name, (r = { mutex: new Mutex(), snapshot: undefined, members: [] }))
  return r
}

function randomId(): string {
  return globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2)
}

function withoutTokens(snapshot: Snapshot): Snapshot {
  const { accessToken: _a, refreshToken: _r, ...rest } = snapshot
  return rest
}

export type SharedOptions = {
  /** Channel and lock name; undefined: this session shares nothing (crossTab: false). */
  name: string | undefined
  /** Persistent storage for the snapshot (cookie transport: a reload resumes the session). */
  storage: StorageLike | undefined
  storageKey: string
  persistTokens: boolean
}

export function createShared(options: SharedOptions): Shared {
  const id = randomId()
  const { name, storage, storageKey, persistTokens } = options
  const local: Realm = name === undefined ? { mutex: new Mutex(), snapshot: undefined, members: [id] } : realm(name)
  if (name !== undefined) local.members.push(id)
  const locks = name === undefined ? undefined : webLocks()
  let listener: ((message: Message) => void) | undefined
  let channel: BroadcastChannel | undefined
  let primary = locks === undefined
  let releasePrimary: (() => void) | undefined
  let closed = false

  if (name !== undefined) {
    // The platform's BroadcastChannel (browsers, workers, Node >= 18), not the
    // broadcast-channel package: the package's own handler throws on any message that is not
    // in its envelope, so one foreign or forged post to the channel name raised uncaught
    // errors in every tab (test/session/cross-tab.test.ts, "garbage on the channel"). Every
    // message is validated by parseMessage instead.
    channel = new BroadcastChannel(name)
    // Node: an open channel keeps the process alive; a session alone must not.
    ;(channel as { unref?: () => void }).unref?.()
    channel.onmessage = event => {
      const message = parseMessage(event.data)
      if (message && message.from !== id) listener?.(message)
    }
    channel.onmessageerror = () => undefined
    if (locks) {
      // Web Locks leader election: the holder of this lock is the primary; when its tab
      // closes the browser hands the lock to the next tab in line at once.
      void locks
        .request(`${name}:primary`, () => {
          if (closed) return Promise.resolve()
          primary = true
          return new Promise<void>(resolve => (releasePrimary = resolve))
        })
        .catch(() => undefined)
    }
  }

  function readStorage(): Snapshot | undefined {
    if (!storage) return undefined
    try {
      const raw = storage.getItem(storageKey)
      return raw === null ? undefined : parseSnapshot(JSON.parse(raw))
    } catch {
      return undefined
    }
  }

  return {
    id,
    read() {
      const stored = readStorage()
      const held = local.snapshot
      if (!stored) return held
      if (!held) return stored
      return supersedes(stored, held) ? stored : held
    },
    write(snapshot) {
      if (!local.snapshot || !supersedes(local.snapshot, snapshot)) local.snapshot = snapshot
      if (!storage) return
      // Never move storage backwards: a reload must resume the newest state.
      const stored = readStorage()
      if (stored && supersedes(stored, snapshot)) return
      try {
        storage.setItem(storageKey, JSON.stringify(persistTokens ? snapshot : withoutTokens(snapshot)))
      } catch {
        // Storage full or disabled: the channel still carries the state to live tabs.
      }
    },
    post(message) {
      if (!channel || closed) return
      try {
        channel.postMessage({ ...message, rotor: 1, from: id })
      } catch {
        // A closed channel (tab unloading): nothing left to tell.
      }
    },
    onMessage(fn) {
      listener = fn
    },
    lock(fn) {
      if (locks && name !== undefined) return locks.request(`${name}:rotate`, fn) as ReturnType<typeof fn>
      return local.mutex.run(fn)
    },
    isPrimary() {
      if (locks) return primary
      return local.members[0] === id
    },
    hasPeers() {
      if (name === undefined) return false
      return locks ? true : local.members.length > 1
    },
    close() {
      if (closed) return
      closed = true
      releasePrimary?.()
      const at = local.members.indexOf(id)
      if (at >= 0) local.members.splice(at, 1)
      // In-memory state dies with the last session holding it, as a tab's memory does.
      if (local.members.length === 0) local.snapshot = undefined
      listener = undefined
      channel?.close()
    },
  }
}
