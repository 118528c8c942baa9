/** The rotation lock where tabs share no exclusive lock (no Web Locks: plain-http origins): only the elected leader refreshes, and the others ask it. */
import { SessionExpiredError } from '../errors.js'
import { BroadcastChannel as PackageChannel, createLeaderElection, type LeaderElector } from 'broadcast-channel'
import { MAX_GENERATION_JUMP } from './protocol.js'
import type { Channel } from './channel.js'
import type { Mutex } from './realm.js'
import type { LockOptions, Snapshot } from './types.js'

/** How long a claim listens for a competing one before it holds (a message crosses tabs in ~1 ms). */
const CLAIM_WINDOW_MS = 50
/** A follower repeats its request this often: a leader elected meanwhile never heard the first. */
const REQUEST_EVERY_MS = 1000
/** How often a follower polls for leadership while the leader is gone (the package's own cycle). */
const ELECTION_FALLBACK_MS = 1000
/**
 * A claim stops counting after this long without word from its holder. Any page of the origin
 * can post a claim: a forged one costs the others this much, not the whole hold limit. A live
 * holder loses nothing by it: it answers the next claim with `held`, which counts afresh.
 */
const CLAIM_SILENT_MS = 10_000

export type LeaderLockOptions = {
  name: string
  /** The platform channel of the session protocol: requests go out on it, state comes in. */
  channel: Channel
  /** The shared store (localStorage here): a follower wakes when it moves past what it had. */
  read: () => Snapshot | undefined
  /** The realm's mutex: one holder among the sessions of this tab. */
  mutex: Mutex
  /** The longest another tab's claim counts in all, however often its holder renews it. */
  holdLimitMs: number
  /** How long a follower waits for a new state before its rotation fails (transiently). */
  followerLimitMs: number
  /** How long a claim counts without a word from its holder (default CLAIM_SILENT_MS; tests shorten it). */
  claimSilentMs?: number
}

export type LeaderLock = {
  lock<T>(fn: () => Promise<T>, options?: LockOptions): Promise<T>
  isLeader(): boolean
  release(): void
}

type ClaimMessage =
  | { rotorLock: 1; t: 'claim'; id: string; at: number }
  | { rotorLock: 1; t: 'held'; id: string; to: string }
  | { rotorLock: 1; t: 'release'; id: string }

function parseClaim(data: unknown): ClaimMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m['rotorLock'] !== 1 || typeof m['id'] !== 'string') return undefined
  if (m['t'] === 'claim' && typeof m['at'] === 'number') return m as ClaimMessage
  if (m['t'] === 'held' && typeof m['to'] === 'string') return m as ClaimMessage
  if (m['t'] === 'release') return m as ClaimMessage
  return undefined
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/**
 * Two layers, because messages are all these tabs share:
 * - **Leadership** (the broadcast-channel package's election, on a channel of its own that
 *   nothing else posts to): only the leader ever refreshes. A follower that needs a rotation
 *   posts `rotate-request` with the newest generation it knows and waits until a newer state
 *   arrives (or it becomes the leader). A leader that is closed says so (`death`); one that
 *   is frozen (Page Lifecycle) steps down first; a silent one is replaced by the package's
 *   fallback cycle.
 * - **Claims** among leaders: during a hand-over (a thawed tab that still believes it leads)
 *   two tabs may lead for a moment. Before it runs, a holder posts a claim and listens for
 *   `CLAIM_WINDOW_MS`: a tab holding the lock answers `held`, and of two claims the earlier
 *   (then the lower id) wins. The loser waits for the winner's `release`, then re-reads the
 *   state it rotated, so it adopts instead of presenting a spent RT. A claim stops counting
 *   `CLAIM_SILENT_MS` after its holder's last word, so a forged one (or a tab frozen
 *   mid-refresh) holds the others that long, never the whole hold limit.
 */
export function createLeaderLock(options: LeaderLockOptions): LeaderLock {
  const { channel, mutex } = options
  const silentMs = options.claimSilentMs ?? CLAIM_SILENT_MS
  const id = Math.random().toString(36).slice(2) + Date.now().toString(36)
  let electionChannel: PackageChannel<unknown> | undefined
  let elector: LeaderElector | undefined
  let closed = false
  let frozen = false
  /** Claims of other tabs that hold (or compete for) the lock: id → since when, and until when it counts. */
  const others = new Map<string, { since: number; until: number }>()
  let mine: { at: number; lost: boolean } | undefined
  let holding = false
  /** A duplicate leader was reported while this tab held: it steps down once it releases. */
  let stepDown = false
  /** The newest generation seen in any state message. */
  let seen = 0
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const fn of [...wakers]) fn()
  }

  const unsubscribe = channel.subscribe(message => {
    if (message.type !== 'state') return
    // A forged far-ahead generation must not become the one followers ask for forever.
    const { generation } = message.snapshot
    if (generation > seen && generation - Math.max(options.read()?.generation ?? 0, seen) <= MAX_GENERATION_JUMP) seen = generation
    // After the session's own listener has adopted it (it runs later in the same dispatch).
    queueMicrotask(wake)
  })

  /** `other` claims the lock: it counts for `silentMs` from now, never past the hold limit from its first word. */
  function counts(other: string): void {
    const now = Date.now()
    const since = others.get(other)?.since ?? now
    others.set(other, { since, until: Math.min(since + options.holdLimitMs, now + silentMs) })
  }

  function onClaim(data: unknown): void {
    const m = parseClaim(data)
    if (!m || m.id === id) return
    if (m.t === 'release') {
      others.delete(m.id)
      wake()
      return
    }
    if (m.t === 'held') {
      if (m.to !== id) return
      counts(m.id)
      if (mine) mine.lost = true
      return
    }
    counts(m.id)
    if (holding) void post({ rotorLock: 1, t: 'held', id, to: m.id })
    else if (mine && (m.at < mine.at || (m.at === mine.at && m.id < id))) mine.lost = true
  }

  function post(message: ClaimMessage, on = electionChannel): Promise<void> {
    return on?.postMessage(message).catch(() => undefined) ?? Promise.resolve()
  }

  function join(): void {
    if (closed) return
    const bc = (electionChannel = new PackageChannel<unknown>(`${options.name}:leader`, { type: 'native' }))
    bc.addEventListener('message', onClaim)
    const el = (elector = createLeaderElection(bc, { fallbackInterval: ELECTION_FALLBACK_MS }))
    // Two leaders found each other (a thawed tab): both step down and run again; the claims
    // keep the rotation exclusive meanwhile. A holder finishes first: leaving would release its
    // claim mid-refresh, and any page can post the `tell` that reports a duplicate.
    el.onduplicate = () => {
      if (holding) stepDown = true
      else rejoin()
    }
    void el.awaitLeadership().then(wake, () => undefined)
  }

  function rejoin(): void {
    void leave().then(() => sleep(Math.random() * 300)).then(() => frozen || closed || join())
  }

  async function leave(): Promise<void> {
    const bc = electionChannel
    electionChannel = undefined
    elector = undefined
    if (!bc) return
    // Leaving (closing, freezing, a duplicate) while holding: the others must not wait on us.
    if (holding) await post({ rotorLock: 1, t: 'release', id }, bc)
    await bc.close().catch(() => undefined)
  }

  // A frozen tab cannot answer: the leader hands leadership over before it freezes. A claim
  // it holds stays counted by the others (they wait for its release or the hold limit).
  const doc = (globalThis as { document?: EventTarget }).document
  const onFreeze = () => {
    frozen = true
    if (!holding) void leave()
  }
  const onResume = () => {
    frozen = false
    if (!electionChannel) join()
  }
  const onPageHide = () => void leave()
  doc?.addEventListener('freeze', onFreeze)
  doc?.addEventListener('resume', onResume)
  globalThis.addEventListener?.('pagehide', onPageHide)
  join()

  /** Resolves when `condition()` holds (checked at every wake) or after `ms`. */
  function until(condition: () => boolean, ms: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true)
    return new Promise(resolve => {
      const timer = setTimeout(() => finish(false), ms)
      const check = () => condition() && finish(true)
      const finish = (met: boolean) => {
        clearTimeout(timer)
        wakers.delete(check)
        resolve(met)
      }
      wakers.add(check)
    })
  }

  function liveOthers(): boolean {
    const now = Date.now()
    for (const [other, { until }] of others) if (until <= now) others.delete(other)
    return others.size > 0
  }

  /** The claim layer: returns holding; waits for other holders first. */
  async function acquire(): Promise<void> {
    const deadline = Date.now() + options.holdLimitMs
    for (;;) {
      if (closed) throw new SessionExpiredError('disposed')
      if (liveOthers()) {
        // Someone holds: wait for its release (or its claim to lapse), then try again.
        await until(() => !liveOthers() || closed, Math.max(10, Math.min(...[...others.values()].map(o => o.until)) - Date.now()))
        continue
      }
      mine = { at: Date.now(), lost: false }
      await post({ rotorLock: 1, t: 'claim', id, at: mine.at })
      await sleep(CLAIM_WINDOW_MS)
      const claim = mine
      mine = undefined
      if (!claim.lost) {
        holding = true
        return
      }
      // Withdraw, so that nobody waits on a claim that lost.
      await post({ rotorLock: 1, t: 'release', id })
      if (Date.now() > deadline) others.clear()
    }
  }

  async function releaseClaim(): Promise<void> {
    holding = false
    await post({ rotorLock: 1, t: 'release', id })
    if (frozen) void leave()
    else if (stepDown) {
      stepDown = false
      rejoin()
    }
  }

  const isLeader = () => !closed && !frozen && elector?.isLeader === true

  async function asLeader<T>(fn: () => Promise<T>): Promise<T> {
    await acquire()
    try {
      return await fn()
    } finally {
      await releaseClaim()
    }
  }

  /** A follower's turn: ask the leader, and run `fn` once a newer state is here (it adopts it) or we lead. */
  async function asFollower<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + options.followerLimitMs
    for (;;) {
      if (closed) throw new SessionExpiredError('disposed')
      if (isLeader()) return asLeader(fn)
      const known = Math.max(options.read()?.generation ?? 0, seen)
      channel.post({ type: 'rotate-request', generation: known })
      const newer = () => Math.max(options.read()?.generation ?? 0, seen) > known
      await until(() => newer() || isLeader() || closed, Math.min(REQUEST_EVERY_MS, Math.max(0, deadline - Date.now())))
      if (newer()) return fn()
      if (Date.now() >= deadline && !isLeader()) {
        throw new Error('rotor-auth: no tab rotated the session (the leading tab did not answer)')
      }
    }
  }

  return {
    lock(fn, lockOptions) {
      // Only a refresh must come from the leader; the rest (an ending, the idle logout)
      // presents no RT twice and needs exclusion only.
      return mutex.run(() => (lockOptions?.refresh && !isLeader() ? asFollower(fn) : asLeader(fn)))
    },
    isLeader,
    release() {
      if (closed) return
      closed = true
      wake()
      unsubscribe()
      doc?.removeEventListener('freeze', onFreeze)
      doc?.removeEventListener('resume', onResume)
      globalThis.removeEventListener?.('pagehide', onPageHide)
      void leave()
    },
  }
}
