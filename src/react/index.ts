/** rotor-auth/react: a session in React context, and hooks for its state, the idle and session-ending warnings, and its fetch. */
import { RotorTypeError } from '../errors.js'
import { createContext, createElement, useCallback, useContext, useMemo, useSyncExternalStore, type ReactElement, type ReactNode } from 'react'
import type { Session, SessionState } from '../types.js'
import { createClock, type Timer } from '../utils/timers.js'
import { Listeners } from '../utils/listeners.js'

/** What a warning modal or banner needs. */
export type Warning = {
  /** Show it now. */
  show: boolean
  /** When the session ends if nothing happens (epoch ms, local clock); null while hidden. */
  endsAt: number | null
  /** Whole seconds until `endsAt`, counting down while shown; null while hidden. */
  secondsLeft: number | null
}

/** What `useIdleWarning()` returns: the idle logout's warning (the `idle` option). */
export type IdleWarning = Warning & {
  /** "Keep working": counts as activity, which ends the warning in every tab. */
  keepWorking: () => void
}

/** What `useSessionEnding()` returns: the warning before the RT expires (the `sessionEnding` option). */
export type SessionEnding = Warning & {
  /**
   * "Keep working": rotates now. Where the server grants a new RT lifetime the expiry moves
   * and the warning ends in every tab; under a fixed-length session it stays, as it should.
   */
  keepWorking: () => Promise<void>
}

type Store<T> = { get: () => T; set: (next: T) => void; subscribe: (listener: () => void) => () => void; watched: () => boolean }

/** A value that notifies only when it really changed, so useSyncExternalStore re-renders only then. */
function store<T>(initial: T, same: (a: T, b: T) => boolean, onWatched?: (watched: boolean) => void): Store<T> {
  let value = initial
  const listeners = new Listeners<void>()
  return {
    get: () => value,
    set(next) {
      if (same(value, next)) return
      value = next
      listeners.emit()
    },
    subscribe(listener) {
      const remove = listeners.add(listener)
      if (listeners.size === 1) onWatched?.(true)
      let subscribed = true
      return () => {
        if (!subscribed) return
        subscribed = false
        remove()
        if (listeners.size === 0) onWatched?.(false)
      }
    },
    watched: () => listeners.size > 0,
  }
}

const HIDDEN: Warning = { show: false, endsAt: null, secondsLeft: null }
const SERVER_STATE: SessionState = { status: 'signed-out', rotating: false, accessExpiresAt: null, refreshExpiresAt: null, generation: 0 }
const sameState = (a: SessionState, b: SessionState) =>
  a.status === b.status && a.rotating === b.rotating && a.accessExpiresAt === b.accessExpiresAt && a.refreshExpiresAt === b.refreshExpiresAt && a.generation === b.generation
const sameWarning = (a: Warning, b: Warning) => a.show === b.show && a.endsAt === b.endsAt && a.secondsLeft === b.secondsLeft

/** How often a shown warning's countdown is looked at; it re-renders only when the second changes. */
const TICK_MS = 250

/** The countdowns' timers: the runtime's, looked up when armed (fake timers in tests apply), unref'd in Node. */
const clock = createClock()

/**
 * A warning shown from `endsAt` until hidden; its countdown ticks only while a component
 * is subscribed (a disposed session's last warning never keeps a timer running unwatched).
 * `now` is the session's clock: `endsAt` counts on it, whatever the machine's says.
 */
function warningStore(now: () => number) {
  let endsAt: number | null = null
  let ticker: Timer | undefined
  const value = (): Warning => (endsAt === null ? HIDDEN : { show: true, endsAt, secondsLeft: Math.max(0, Math.ceil((endsAt - now()) / 1000)) })
  const tick = (on: boolean) => {
    ticker?.cancel()
    ticker = undefined
    if (!on || endsAt === null) return
    // A component subscribing to a warning shown a while ago sees its count now, not a tick later.
    s.set(value())
    ticker = clock.after(TICK_MS, () => tick(true))
  }
  const s = store<Warning>(HIDDEN, sameWarning, tick)
  return {
    ...s,
    show(at: number) {
      endsAt = at
      s.set(value())
      tick(s.watched())
    },
    hide() {
      endsAt = null
      tick(false)
      s.set(HIDDEN)
    },
    endsAt: () => endsAt,
  }
}

type Stores = { state: Store<SessionState>; idle: ReturnType<typeof warningStore>; ending: ReturnType<typeof warningStore> }

/**
 * One set of stores per session, subscribed to its events as soon as a provider renders and
 * starting from the warnings the session is giving then (`session.warnings`): a warning that
 * fired before the provider or a hook mounted is not lost. They live as long as the session does.
 */
const registry = new WeakMap<Session, Stores>()

function storesOf(session: Session): Stores {
  let stores = registry.get(session)
  if (stores) return stores
  const now = () => session.now()
  stores = { state: store(session.state, sameState), idle: warningStore(now), ending: warningStore(now) }
  const { state, idle, ending } = stores
  session.on('change', next => {
    state.set(next)
    // A new RT expiry (a rotation in any tab) or the end: the session-ending warning given is over.
    if (next.status !== 'active' || next.refreshExpiresAt !== ending.endsAt()) ending.hide()
  })
  session.on('idle-warning', ({ logoutAt }) => idle.show(logoutAt))
  session.on('idle-resume', () => idle.hide())
  session.on('session-ending', ({ endsAt }) => ending.show(endsAt))
  session.on('logout', () => {
    idle.hide()
    ending.hide()
  })
  // Warnings already being given (a tab reloaded inside the window, a provider mounted late).
  const given = session.warnings
  if (given.idle !== null) idle.show(given.idle)
  if (given.ending !== null) ending.show(given.ending)
  registry.set(session, stores)
  return stores
}

const SessionContext = createContext<Session | null>(null)

/**
 * Makes `session` available to the hooks below it. Create the session once, outside React
 * (module scope or a ref). Typed to return a ReactElement: @types/react 18 before 18.2.8
 * rejects a component typed to return ReactNode.
 */
export function SessionProvider({ session, children }: { session: Session; children?: ReactNode }): ReactElement {
  storesOf(session)
  return createElement(SessionContext.Provider, { value: session }, children)
}

function useSessionObject(hook: string): Session {
  const session = useContext(SessionContext)
  if (session === null) throw new RotorTypeError('ERR_USAGE', `rotor-auth/react: ${hook}() must be called inside <SessionProvider session={…}>`)
  return session
}

/**
 * The session and its state (`status`, `rotating`, expirations, `generation`). Re-renders
 * when the state changes; the returned object is the same between changes. On the server
 * (and while hydrating) the state is signed-out.
 */
export function useSession(): { session: Session; state: SessionState } {
  const session = useSessionObject('useSession')
  const { state } = storesOf(session)
  const value = useSyncExternalStore(state.subscribe, state.get, () => SERVER_STATE)
  return useMemo(() => ({ session, state: value }), [session, value])
}

function useWarning<K extends 'idle' | 'ending', A>(hook: string, kind: K, action: (session: Session) => A): Warning & { keepWorking: A } {
  const session = useSessionObject(hook)
  const warning = storesOf(session)[kind]
  const value = useSyncExternalStore(warning.subscribe, warning.get, () => HIDDEN)
  const keepWorking = useMemo(() => action(session), [session, action])
  return useMemo(() => ({ ...value, keepWorking }), [value, keepWorking])
}

const keepAlive = (session: Session) => () => session.keepAlive()
const rotate = (session: Session) => () => session.rotate()

/**
 * The idle timeout's "Keep working?" modal: `show` from `idle-warning` (in every tab) until
 * activity in any tab (`idle-resume`) or the logout. Re-renders only when what it returns
 * changes: not on rotations, and once a second while shown.
 */
export function useIdleWarning(): IdleWarning {
  return useWarning('useIdleWarning', 'idle', keepAlive)
}

/**
 * The session-ending banner (`sessionEnding` option): `show` from `session-ending` (in every
 * tab) until a rotation moves the RT expiry or the session ends.
 */
export function useSessionEnding(): SessionEnding {
  return useWarning('useSessionEnding', 'ending', rotate)
}

/** The session's fetch, for effects and event handlers: waits for rotations, replays a 401 once. Stable. */
export function useSessionFetch(): Session['fetch'] {
  const session = useSessionObject('useSessionFetch')
  return useCallback<Session['fetch']>((input, init) => session.fetch(input, init), [session])
}
