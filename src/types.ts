/** The public types of rotor-auth: the session, its state and events; the options' and coordinator's types are re-exported. */
import type { LogoutReason } from './errors.js'
import type { TraceEntry, TraceExport } from './trace/recorder.js'
import type { Grant } from './options-types.js'

// The options' types live in options-types.ts, the coordinator's beside it; all are public and re-exported from here.
export type {
  Grant,
  IdleOptions,
  RefreshBudgetOptions,
  RefreshContext,
  RefreshOption,
  RefreshStyle,
  ScopeOption,
  SessionEndingOptions,
  SessionOptions,
  StorageLike,
  Timers,
} from './options-types.js'
export type { LogoutReason } from './errors.js'

/** What a session knows now (`session.state`, the `change` event): never a token. */
export type SessionState = {
  /** `'active'` between a login (here or in another tab) and the end of the session. */
  status: 'signed-out' | 'active'
  /** A rotation is in flight in this tab or, with `crossTab`, in another one. */
  rotating: boolean
  /** Epoch ms on the local clock, or null when signed out / unknown. */
  accessExpiresAt: number | null
  /** Epoch ms on the local clock; null when signed out or the RT expiry is not known (opaque RT). */
  refreshExpiresAt: number | null
  /** +1 per successful rotation (and per login), shared by all tabs. */
  generation: number
}

/** Where a rotation or logout happened: in this session (`'local'`) or another tab or process of its name (`'remote'`). */
export type Origin = 'local' | 'remote'

/** The `rotate-error` event's payload: one failed rotation attempt. */
export type RotateErrorEvent = {
  /** What failed: a RotorError with a code (`RefreshRefusedError`, `RefreshBudgetError`, `LeaseLostError`, …) or the network's error. */
  error: unknown
  /** true while another attempt will follow; false exactly once, when the session gives up (the RT was refused). */
  willRetry: boolean
  /** 1-based count of consecutive failed attempts since the last success. */
  attempt: number
  /** ms until the next attempt, when one is scheduled. */
  retryIn?: number
}

/** Every event `session.on()` takes, and what its listener receives. No payload ever carries a token. */
export type SessionEvents = {
  /** The state changed (login, rotation, logout, `rotating` on or off), here or in another tab. */
  change: SessionState
  /** A rotation succeeded: new tokens for every tab. `origin` says whether this session sent the refresh. */
  rotate: { state: SessionState; origin: Origin }
  /**
   * A rotation attempt failed. `willRetry: true`: another attempt follows (after `retryIn` ms);
   * `false` (once): the RT was refused and the session ends (a `logout` follows unless `reauthenticate` saves it).
   */
  'rotate-error': RotateErrorEvent
  /**
   * The session ended. `error`: with reason `'rejected'`, in the tab whose refresh was refused,
   * the `RefreshRefusedError` (HTTP `status`, and `body`: the server's words, token-redacted).
   */
  logout: { reason: LogoutReason; origin: Origin; error?: unknown }
  /** `idle.warning` ms before the idle logout (in every tab): `logoutAt` is when it happens (epoch ms), unless activity in any tab resumes the session. */
  'idle-warning': { logoutAt: number }
  /**
   * Persistent storage refused a write (full, disabled): the session goes on in memory and on
   * the channel. The stored state was removed (`cleared`) so that a reload starts signed out
   * instead of resuming a spent RT or a logged-out session; if even that failed, it is stale.
   */
  'storage-error': { error: unknown; cleared: boolean }
  /** dispose() was called: the last event; sockets and streams built on the session close with it. */
  dispose: Record<never, never>
  /** Activity in any tab after an `idle-warning`: the warning is over; `logoutAt` is the new deadline. */
  'idle-resume': { logoutAt: number }
  /** `sessionEnding.warning` ms before the RT expires (epoch ms, local clock), once per expiry, in every tab. */
  'session-ending': { endsAt: number }
  /**
   * The `worker` option was given but this tab's session runs without the rotation worker:
   * it could not start (no SharedWorker, a CSP forbidding it, the script not served, no answer,
   * another version of the app holding it) or stopped answering. `reason` says which. The
   * session goes on with the page's own coordinator; nothing waiting is lost.
   */
  'worker-fallback': { reason: string }
  /**
   * A grant's absolute expirations were put on the local clock with an offset (server clock
   * minus local, ms): measured from the answer's `Date` header (`date`) or, where a
   * cross-origin answer hides it, from the JWT's `iat` (`iat`); or `assumed`: the AT arrived
   * already expired and nothing readable told the offset (or the server said `expires_in <= 0`),
   * so the AT is taken to live 60 s from receipt and the RT keeps its spacing from the AT.
   */
  'clock-skew': { offset: number; source: 'date' | 'iat' | 'assumed' }
  /** One decision the session took (see `session.trace()` and the `debug` option); never a token, cookie or body. */
  trace: TraceEntry
}

/** `session.fetch` takes fetch's init, and one flag of its own. */
export type SessionRequestInit = RequestInit & {
  /**
   * Send this request untouched: no waiting for a rotation, no credentials or `Authorization`
   * added, no replay after a 401 (stripes-core's `rtrIgnore`). The header `X-Rotor-Ignore`
   * (any value; it is removed before sending) does the same, for XHR and `Request` objects.
   */
  rtrIgnore?: boolean
}

export type { Coordinator, Lease, LockOptions, Message, OutgoingMessage, Snapshot } from './coordinator/types.js'

/** What `install()` patches: `globalThis` by default, or any object with a `fetch` (and an `XMLHttpRequest`). */
export type InstallTarget = { fetch: typeof fetch; XMLHttpRequest?: typeof XMLHttpRequest }
/** The XMLHttpRequest facade of `rotor-auth/xhr` (opaque: pass it to `install`). */
export type XhrFacade = { readonly __rotorXhrFacade: true }

/** What `install()` patches on its target. */
export type InstallOptions = {
  /** Patch `target.fetch`. @default true */
  fetch?: boolean
  /**
   * The XMLHttpRequest facade, `import { xhr } from 'rotor-auth/xhr'`, to patch
   * `target.XMLHttpRequest` too; omitted or `false`: XHR is left alone.
   */
  xhr?: XhrFacade | false
}

/** What the waiting primitives (`ready`, `accessToken`, `authFailed`) take. */
export type WaitSignal = {
  /** Aborting it stops the wait: the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined
}

/** What `createSession(options)` returns: a fetch that keeps the session alive, and the session's controls. */
export interface Session {
  /** Same signature as fetch; requests in scope are held, authorised, rotated and replayed. */
  fetch(input: RequestInfo | URL, init?: SessionRequestInit): Promise<Response>
  /**
   * Begin the session from the app's own login answer (a Response or a Grant). Rejects with
   * `LoginSupersededError` when a later `start()` won, or `logout()` was called before this
   * login was published (that login is then revoked at the logout endpoint).
   */
  start(grant: Grant | Response): Promise<void>
  /** Rotate now: single-flight, and once per generation across tabs. */
  rotate(): Promise<void>
  /**
   * Resolves when a managed request could go now (a usable AT, no rotation in flight),
   * rotating first if needed and waiting for `reauthenticate`; rejects with
   * `SessionExpiredError` when the session is over. For sockets and streams. `signal` stops
   * waiting (rejecting with its reason): a socket closed meanwhile leaves nothing queued.
   * A session that has not started yet is not over: this waits for `start()` (here or in
   * another tab), bounded only by `signal` and `dispose()`.
   */
  ready(options?: WaitSignal): Promise<void>
  /**
   * Bearer transport: the AT once `ready()` (so it too waits for a session that has not
   * started). The cookie transport rejects with a TypeError (code `ERR_USAGE`).
   */
  accessToken(options?: WaitSignal): Promise<string>
  /**
   * A connection reports that the AT of `generation` was refused (e.g. a 4401 close): the
   * session rotates once unless a newer generation exists, then resolves as `ready()` does.
   */
  authFailed(generation: number, options?: WaitSignal): Promise<void>
  /** Best-effort server logout, then local and every tab. Called again while one is on its way, settles with it. */
  logout(): Promise<void>
  /** Counts as user activity for the idle timeout. */
  keepAlive(): void
  /**
   * Keeps the session from idling out (in every tab) while `work` runs, e.g. a long upload
   * or import; timer rotations go on meanwhile. Returns `work`.
   */
  busy<T>(work: Promise<T>): Promise<T>
  /** The session's state now (a fresh copy each read): status, expirations, `generation`, whether a rotation is in flight. */
  readonly state: SessionState
  /**
   * The warnings being given now, for a UI that mounts after their events (a tab reloaded
   * inside the warning window): `idle` is the idle logout's deadline while `idle-warning`
   * holds, `ending` the `endsAt` of the `session-ending` warning given; null otherwise.
   */
  readonly warnings: { idle: number | null; ending: number | null }
  /** The session's wall clock (the `now` option, or the platform's): what its deadlines (`accessExpiresAt`, a warning's `endsAt`) count on. */
  now(): number
  /** Returns its own unsubscribe. An unknown event or a non-function listener is a TypeError (`ERR_USAGE`) here. */
  on<K extends keyof SessionEvents>(event: K, listener: (payload: SessionEvents[K]) => void): () => void
  /**
   * Patch `target.fetch` (and `target.XMLHttpRequest` where it exists) so every request
   * goes through the session. Idempotent; returns uninstall. Uninstall restores what was
   * there when nothing wrapped the session's functions since; otherwise they become
   * pass-throughs, so a wrapper installed later (monitoring, another session) keeps working.
   */
  install(target?: InstallTarget, options?: InstallOptions): () => void
  /** Release timers, the channel and listeners; waiting requests reject. */
  dispose(): void
  /**
   * The session's last decisions (`traceSize`), as one JSON-serialisable document for a bug
   * report. `{ tabs: true }`: merged with what the session's other tabs (or processes) hold,
   * asked over the coordinator (tabs that do not answer within `timeout`, 500 ms, are left out).
   */
  trace(): TraceExport
  trace(options: { tabs: true; timeout?: number }): Promise<TraceExport>
  /**
   * With `dpop`: a DPoP proof (the `DPoP` header's value) for `method` and `url`, signed with
   * the session's key, with the nonce that origin last gave (or `nonce`), and `ath` when
   * `accessToken` is given (e.g. for a socket server that takes a proof: docs/guides/dpop.md).
   * Without `dpop` it rejects with a TypeError (`ERR_USAGE`).
   */
  dpopProof(method: string, url: string | URL, options?: { accessToken?: string; nonce?: string }): Promise<string>
  /**
   * With `dpop`: fetch with a proof from the session's key, for the app's own login (the
   * token request whose answer goes to `start()`); a `use_dpop_nonce` refusal is retried once
   * with the server's nonce. Not the session's managed fetch: no waiting, no AT added.
   */
  dpopFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>
}
