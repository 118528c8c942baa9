/** createMemoryCoordinator: an in-memory coordinator several sessions of one test share, on the platform's (or fake) timers. */
import { supersedes } from '../coordinator/protocol.js'
import type { Coordinator, Lease, Message, OutgoingMessage, Snapshot } from '../coordinator/types.js'
import type { Platform } from '../platform/types.js'

/** What `createMemoryCoordinator` takes. */
export type MemoryCoordinatorOptions = {
  /**
   * How long a posted message takes to reach the other members, ms. Undefined: the next
   * microtask (still asynchronous, as every real bus is). A number: on `after`.
   */
  delay?: number
  /** The timer messages wait on when `delay` is a number (a test's virtual clock). @default setTimeout */
  after?: Platform['after']
  /** What the members answer for `Coordinator.sharesTokens`. @default 'store' */
  sharesTokens?: 'store' | 'message'
}

/** One member's coordinator: what `createSession({ coordinator })` takes, plus its id; its store answers synchronously. */
export type MemoryMember = Omit<Coordinator, 'read' | 'write'> & { readonly id: string; read(): Snapshot | undefined; write(snapshot: Snapshot): void }

/** The shared place: join it once per session; look at (or upset) what the sessions share. */
export type MemoryCoordinator = {
  /** A coordinator for one more session (a member: a tab, a process). */
  join(): MemoryMember
  /** The stored snapshot (a copy), as every member's `read()` returns it. */
  readonly snapshot: Snapshot | undefined
  /** Members that joined and have not closed. */
  readonly members: number
  /** Every message posted so far, in order (tokens included: for assertions, never for logs). */
  readonly messages: readonly Message[]
  /** The member holding the lock, if any. */
  readonly holder: string | undefined
  /**
   * The lock's lease runs out under its holder (as a Redis lease does under a paused process):
   * its `lease.held()` turns false and the next waiter gets the lock.
   */
  expireLease(): void
}

type Hold = { member: string; held: boolean; grant: () => void }

/** A coordinator for users' own tests: store with the supersedes rule, FIFO lock with a lease, asynchronous bus. */
export function createMemoryCoordinator(options: MemoryCoordinatorOptions = {}): MemoryCoordinator {
  let stored: Snapshot | undefined
  const listeners = new Map<string, Set<(message: Message) => void>>()
  const queue: Hold[] = []
  const messages: Message[] = []
  let counter = 0
  const after = options.after ?? ((ms: number, fn: () => void) => setTimeout(fn, ms))
  const deliver = (fn: () => void) => (options.delay === undefined ? queueMicrotask(fn) : void after(options.delay, fn))

  /** Passes the lock to the first waiter whose hold is still wanted. */
  const grantNext = () => {
    const next = queue[0]
    if (next && !next.held) {
      next.held = true
      next.grant()
    }
  }
  const release = (hold: Hold) => {
    const at = queue.indexOf(hold)
    if (at < 0) return
    queue.splice(at, 1)
    if (at === 0) grantNext()
  }

  function join(): MemoryMember {
    const id = `member-${++counter}`
    const own = new Set<(message: Message) => void>()
    listeners.set(id, own)
    return {
      id,
      sharesTokens: options.sharesTokens ?? 'store',
      read: () => (stored ? { ...stored } : undefined),
      write(snapshot) {
        if (stored && supersedes(stored, snapshot)) return
        stored = { ...snapshot }
      },
      async lock<T>(fn: (lease?: Lease) => Promise<T>): Promise<T> {
        const hold: Hold = { member: id, held: false, grant: () => undefined }
        const granted = new Promise<void>(resolve => (hold.grant = resolve))
        queue.push(hold)
        grantNext()
        await granted
        // Held while first in line: expireLease() takes it out of the queue.
        const lease: Lease = { held: () => queue[0] === hold }
        try {
          return await fn(lease)
        } finally {
          release(hold)
        }
      },
      post(message: OutgoingMessage) {
        const full = { ...message, rotor: 1, from: id } as Message
        messages.push(full)
        for (const [member, set] of listeners) {
          if (member === id) continue
          deliver(() => {
            for (const listener of [...set]) listener(full)
          })
        }
      },
      subscribe(listener) {
        own.add(listener)
        return () => void own.delete(listener)
      },
      isLeader: () => listeners.keys().next().value === id,
      hasPeers: () => listeners.size > 1,
      close() {
        listeners.delete(id)
        for (const hold of queue.filter(h => h.member === id && !h.held)) release(hold)
      },
    }
  }

  return {
    join,
    get snapshot() {
      return stored ? { ...stored } : undefined
    },
    get members() {
      return listeners.size
    },
    messages,
    get holder() {
      return queue[0]?.held ? queue[0].member : undefined
    },
    expireLease() {
      const current = queue[0]
      if (current?.held) release(current)
    },
  }
}
