/** The coordinator interface and the cross-tab wire types: what sessions of one name share and say. */
import type { LogoutReason } from '../errors.js'

/**
 * The session as every tab (or process) sharing a name sees it. Deadlines are epoch ms on the
 * local clock. Tokens are present only with the bearer transport.
 */
export type Snapshot = {
  /** Grows by one per login, rotation and logout; never goes back. */
  generation: number
  status: 'active' | 'signed-out'
  issuedAt: number | null
  accessExpiresAt: number | null
  refreshExpiresAt: number | null
  accessToken?: string
  refreshToken?: string
  /** Why the session ended, when signed out. */
  reason?: LogoutReason
  /**
   * Active, but this generation's RT is dead (refused, or both tokens expired) and a tab that
   * was re-authenticating went away: the next holder of the lock re-authenticates, never refreshes.
   */
  ending?: 'expired' | 'rejected'
  /**
   * Cookie transport: a tab sent this generation's refresh at this moment (epoch ms) and has not
   * published the answer yet. If that tab is gone (a reload), its refresh may still complete
   * (`keepalive`) and store the new RT cookie: the next holder of the lock waits for it.
   */
  rotatingSince?: number
  /**
   * The login this state belongs to: a random id and when it was made (epoch ms), kept by its
   * rotations and by the state that ends it. Orders a login against an older session's logout
   * when no stored counter numbered it above that logout (src/core/login-order.ts).
   */
  login?: { id: string; at: number }
  /** Signed out: when the session ended (epoch ms). */
  endedAt?: number
}

/** What sessions of one name tell each other (the cross-tab protocol). */
export type Message =
  /** `answers`: the `call` of the hello this state answers (a lock holder's roll call counts who answered). */
  | { rotor: 1; type: 'state'; from: string; snapshot: Snapshot; answers?: string | undefined }
  | { rotor: 1; type: 'rotating'; from: string; generation: number }
  | { rotor: 1; type: 'rotated'; from: string; generation: number; ok: boolean }
  /** `call`: a lock holder's roll call, echoed in each answer as `answers` (src/core/roll-call.ts). */
  | { rotor: 1; type: 'hello'; from: string; call?: string }
  | { rotor: 1; type: 'activity'; from: string; at: number }
  /**
   * `reauthenticate()` runs in the sender (`active: true`) or is over (`false`); `handover`: the
   * sender was disposed before it finished, and another tab must take the job.
   */
  | { rotor: 1; type: 'reauthenticating'; from: string; active: boolean; handover?: 'expired' | 'rejected' }
  /**
   * Where only the leader may refresh (no lock across tabs): another tab needs a generation
   * above `generation`. The leader rotates from it, or answers with its newer state.
   */
  | { rotor: 1; type: 'rotate-request'; from: string; generation: number }
  /** `session.trace({ tabs: true })` asks every member for its trace (src/trace/peers.ts)… */
  | { rotor: 1; type: 'trace-request'; from: string; id: string }
  /** …and each answers with its entries: untrusted, each checked and capped by the asker. */
  | { rotor: 1; type: 'trace'; from: string; id: string; tab: string; entries: unknown[] }

type Payload<M> = M extends Message ? Omit<M, 'rotor' | 'from'> : never
/** A message as a session posts it; the coordinator adds `rotor` and `from`. */
export type OutgoingMessage = Payload<Message>

type MaybePromise<T> = T | Promise<T>

/** What a lock holder is about to do. */
export type LockOptions = {
  /**
   * `fn` may call the refresh endpoint (present the RT). A coordinator whose lock is not
   * exclusive across members (the default one where tabs have no Web Locks) lets only its
   * leader run such an `fn`; the others wait until a newer state arrives, then run it (it
   * adopts that state instead of refreshing).
   */
  refresh?: boolean
  /**
   * With `refresh`: the generation the rotation is to supersede. Where only the leader refreshes,
   * a follower asks it for a generation above this one; a leader already past it answers with its
   * state instead of refreshing again. Default: the newest generation the member knows of.
   */
  generation?: number
}

/**
 * What a lock holder is told about its hold. A lock that can run out under its holder (the
 * Redis coordinator's lease: a paused process outlives it) says so here, and the rotator asks
 * right before it presents the RT; a lock that cannot run out passes none.
 */
export type Lease = {
  /** False once the hold may have passed to another member: presenting the RT now could spend it twice. */
  held(): boolean
}

/**
 * Everything the sessions of one name share: a snapshot store, an exclusive lock, leadership
 * and a message bus. One coordinator object belongs to one session (its membership); the
 * session calls `close()` when it is disposed. The default is BroadcastChannel + Web Locks
 * in browsers and an in-process store and lock in Node; pass your own to `createSession` to
 * share a session through something else (a worker, Redis) or to replay races in a test.
 *
 * Guarantees each implementation must give:
 * - `read()` returns the newest snapshot written by any member, or undefined. It may be
 *   synchronous (then a new tab joins at once) or a promise.
 * - `write(s)` never replaces a stored snapshot that supersedes `s` (a higher generation, or
 *   the same generation signed out): a late writer cannot move the store backwards. A write
 *   that resolved is visible to every `read()` that starts after it.
 * - `lock(fn, options)` runs `fn` while no other member of the name runs its own: at most one
 *   holder at a time, everywhere. The session re-reads the store inside the lock before it
 *   refreshes. Where that cannot be had, `{ refresh: true }` holders must be one member (the
 *   leader) and the others must wait for its new state (see LockOptions).
 * - `post(m)` delivers `m` to every other member, best effort, never to the sender;
 *   `subscribe` hands each incoming message to the listener (validate what you receive:
 *   `parseMessage` is exported for that).
 * - `isLeader()` is true for at most one member at a time where possible (timer rotation uses
 *   it only to decide who rotates first; correctness rests on the lock and the store).
 * - `hasPeers()` is false only when no other member can exist (a refresh in flight at
 *   `dispose()` is then aborted instead of finished for the others).
 * - `logout()`, optional: a coordinator that keeps the tokens from its members (the rotation
 *   worker keeps the RT) ends the session on the server itself; undefined or rejected (it
 *   could not), the session calls the logout endpoint with the tokens it holds.
 * - `sharesTokens`, optional: how a member's bearer tokens reach the others. `'store'` (or
 *   absent): a `read()` holds them, so the lock holder's re-read is enough. `'message'`: only a
 *   `state` message carries them (browser tabs that do not persist tokens), so a lock holder
 *   first asks its peers (`hello`) before it presents an RT one of them may just have spent.
 * - `marksSpent`, optional: true where every member sees a write at once, before the lock passes
 *   on (one store in one place: the rotation worker's). A bearer session then marks the RT spent
 *   (`ending`) as a refresh's 2xx headers arrive, before it reads the body, as the default
 *   coordinator does: a holder that dies before the body leaves the others a mark, not an RT
 *   they would present again. Absent, a custom coordinator keeps its documented limit (Redis:
 *   a member read the mark and ended the session before the grant reached it over pub/sub).
 * - `livePeers()`, optional: lets that ask end as soon as every listed member answered. It must
 *   list every other member still running (one left out lets the asker present an RT it spent);
 *   undefined, the asker listens for a fixed time instead.
 * - `peersAhead(mine)` and `holding(s)`, optional: lets that ask end at once where no other member
 *   holds a state that supersedes the asker's. The default coordinator names each tab's state in
 *   a Web Lock (src/coordinator/presence.ts), asked for before the tab lets the rotation lock go.
 */
export interface Coordinator {
  /** The newest snapshot any member wrote, or undefined (synchronous where it can be: a new tab then joins at once). */
  read(): MaybePromise<Snapshot | undefined>
  /** Stores `snapshot` unless the stored one supersedes it; visible to every `read()` that starts after it resolved. */
  write(snapshot: Snapshot): MaybePromise<void>
  /** Runs `fn` while no other member runs its own; a lock that can run out passes `fn` a `Lease`. */
  lock<T>(fn: (lease?: Lease) => Promise<T>, options?: LockOptions): Promise<T>
  /** Sends `message` to every other member, best effort, never to the sender. */
  post(message: OutgoingMessage): void
  /** Hands every incoming message to `listener`; returns the unsubscribe. */
  subscribe(listener: (message: Message) => void): () => void
  /** True for at most one member at a time where possible: who rotates first on a timer. */
  isLeader(): boolean
  /** False only when no other member can exist. */
  hasPeers(): boolean
  /**
   * Optional: ends the session on the server for a coordinator that keeps the tokens; undefined,
   * the session calls the logout endpoint. `held`: the session's state as this member holds it
   * (its AT), for a coordinator whose own state ended meanwhile.
   */
  logout?(held?: Snapshot): Promise<void> | undefined
  /** Optional: how bearer tokens reach the other members, `'store'` (the default) or `'message'`. */
  readonly sharesTokens?: 'store' | 'message'
  /** Optional: every member sees a write before the lock passes on, so a bearer session may mark an RT spent at a 2xx's headers. */
  readonly marksSpent?: boolean
  /**
   * Optional: the ids (`from` of their messages) of every other live member, or undefined where
   * they cannot be listed. A listed member that does not answer a `hello` only makes the asker wait.
   */
  livePeers?(): Promise<readonly string[]> | undefined
  /**
   * Optional: whether another live member holds a state that supersedes `mine` (as its `holding`
   * said), or undefined where that cannot be known. False lets that ask end at once: no member
   * holds newer tokens. It must count every member's newest state from before the lock passed
   * to the asker (one missed lets it present an RT a peer spent).
   */
  peersAhead?(mine: Snapshot): Promise<boolean> | undefined
  /** Optional: this member now holds `snapshot` (the session calls it at every change of its state), for `peersAhead`. */
  holding?(snapshot: Snapshot): void
  /** Ends this membership: the session calls it from `dispose()`; calls waiting on it reject (`ERR_COORDINATOR_CLOSED`). */
  close(): void
}
