/** The platform contract: everything a session asks of the runtime it runs in, as one object handed to every part. */
import type { TraceKind } from '../trace/kinds.js'

/** Minimal Storage, so tests and non-browser hosts can pass their own. */
export type StorageLike = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>

/** An armed timer; `cancel()` is idempotent. */
export type Timer = { cancel(): void }

/** The runtime's events a session listens to: wake-ups, the page lifecycle and user activity. */
export type PlatformEvent =
  /** Wake-ups: a sleeping laptop or a throttled tab may have missed its timers. */
  | 'visibilitychange'
  | 'pageshow'
  | 'online'
  | 'focus'
  /** The page lifecycle: frozen (timers stop), resumed, leaving (maybe into the back/forward cache). */
  | 'freeze'
  | 'resume'
  | 'pagehide'
  /** Anything else: user activity (`idle.activityEvents`), passive and in the capture phase. */
  | (string & {})

/** What a listener may read of the event: `pagehide`'s `persisted` (the page goes into the back/forward cache). */
export type PlatformEventDetail = { persisted?: boolean }

/** A BroadcastChannel as Rotor uses it. */
export type ChannelLike = {
  postMessage(message: unknown): void
  onmessage: ((event: { data: unknown }) => void) | null
  onmessageerror: ((event: unknown) => void) | null
  close(): void
}

/** Web Locks as Rotor uses them (exclusive mode only). */
export type LockManagerLike = {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>
  /** The locks held and asked for across the origin's tabs (a bearer lock holder lists its live peers); optional: fakes may lack it. */
  query?(): Promise<{ held?: Array<{ name?: string }>; pending?: Array<{ name?: string }> }>
}

/** A SharedWorker as Rotor's worker client uses it. */
export type SharedWorkerLike = {
  port: MessagePort
  addEventListener(type: 'error', listener: () => void): void
}

/** Records one decision of kind `kind` (src/trace/kinds.ts) with its fields: never a token, cookie or body. */
export type DebugSink = (kind: TraceKind, fields?: Record<string, unknown>) => void

/** One membership of a leader election among tabs: a channel nothing else posts to, and this member's elector on it. */
export type ElectionRoom = {
  /** Posts on the room's channel; settles (never rejects) even when the channel is gone. */
  post(message: unknown): Promise<void>
  readonly isLeader: boolean
  /** Resolves once this member is elected; settles (never rejects) if it leaves first. */
  awaitLeadership(): Promise<void>
  close(): Promise<void>
}

/** What a room tells its member: a message of another member, or that two leaders found each other. */
export type RoomEvents = { message(data: unknown): void; duplicate(): void }

/** Joins the election named `name` (src/coordinator/election.ts). */
export type OpenRoom = (name: string, events: RoomEvents) => ElectionRoom

/**
 * What every part of Rotor takes instead of reaching for globals: built once per session by
 * `createPlatform` (src/platform/defaults.ts, the only file that names the runtime's globals),
 * overridable piece by piece (the `now`, `timers`, `fetch`, `storage` and `platform` options),
 * so tests and the simulator run every part on virtual time with virtual tabs.
 */
export interface Platform {
  /** Wall clock, epoch ms: may jump when the user or NTP sets it. */
  now(): number
  /** Monotonic ms: never jumps; undefined where none can be trusted (an injected `now` alone). */
  monotonic: (() => number) | undefined
  /**
   * Calls `fn` after `ms` (clamped to 0…2^31-1). In Node the timer is unref'd unless
   * `keepAlive`: an idle session never keeps a job's process alive, a request waiting on it does.
   */
  after(ms: number, fn: () => void, keepAlive?: boolean): Timer
  /** Uniform in [0, 1): jitter and backoff. */
  random(): number
  /** A fresh unique id (members, tabs, proofs). */
  randomId(): string
  /** Listens to a runtime event (on `document` for visibilitychange/freeze/resume, else the global); returns its undo. */
  on(type: PlatformEvent, listener: (event?: PlatformEventDetail) => void): () => void
  /** A message channel between contexts of this origin; undefined where the runtime has none. */
  channel: ((name: string) => ChannelLike) | undefined
  /** Web Locks, where the context has them (secure contexts only). */
  locks: LockManagerLike | undefined
  /**
   * What sessions of one name share inside one JS realm (src/coordinator/realm.ts owns the
   * entries): one registry per realm, so a simulated tab gets its own.
   */
  realms: Map<string, unknown>
  /** Persistent storage (localStorage where readable). */
  storage: StorageLike | undefined
  /** The page's own address and its base URL (`<base href>`), where there is a page. */
  location(): { href: string | undefined; base: string | undefined; origin: string | undefined }
  /** A page or a worker (tabs of one user may share a session), not a server process. */
  browsing: boolean
  /** The fetch the session sends through when no `fetch` option or install() says otherwise, looked up at call time. */
  fetch(): typeof fetch
  /** Starts a SharedWorker; undefined where the browser has none. */
  sharedWorker: ((url: URL, name: string) => SharedWorkerLike) | undefined
  /** IndexedDB, where the runtime has it (DPoP keys). */
  indexedDB: IDBFactory | undefined
  /** WebCrypto. */
  crypto: Crypto
  /** Where decisions are recorded (the session's trace; see the `debug` option); undefined: nowhere. */
  debug: DebugSink | undefined
  /** How tabs without Web Locks elect their leader; undefined: the broadcast-channel package's election, loaded with it (the simulator models one). */
  election: OpenRoom | undefined
}
