/** The rotation lock and leadership: Web Locks across tabs, an elected leader where tabs have no lock, the realm's mutex in one process. */
import { RotationPendingError, SessionExpiredError } from '../errors.js'
import type { Platform } from '../platform/types.js'
import { sleep, Waiters } from '../utils/until.js'
import type { Channel } from './channel.js'
import type { LeaderKit, LeaderLock } from './leader-lock.js'
import { holdPresence } from './presence.js'
import { farAhead } from './protocol.js'
import type { Realm } from './realm.js'
import type { LockOptions, Snapshot } from './types.js'

/** What deciding how tabs share a lock asks of the platform. */
type LockPlatform = Pick<Platform, 'locks' | 'browsing'>

/**
 * Tabs of this name can exist but share no lock: a page served over plain http from a host
 * other than localhost is not a secure context and has no `navigator.locks`.
 */
export function electsLeader(name: string | undefined, platform: LockPlatform): boolean {
  return name !== undefined && platform.locks === undefined && platform.browsing
}

/** Sessions of this name may live in other tabs, beyond what this realm knows. */
export function sharesAcrossContexts(name: string | undefined, platform: LockPlatform): boolean {
  return name !== undefined && (platform.locks !== undefined || electsLeader(name, platform))
}

export type Locks = {
  lock<T>(fn: () => Promise<T>, options?: LockOptions): Promise<T>
  isLeader(): boolean
  /** The other members alive across tabs (Web Locks' presence); undefined where they cannot be listed. */
  livePeers(): Promise<readonly string[]> | undefined
  /** Whether another member holds a state that supersedes `mine` (Web Locks' presence); undefined where that cannot be known. */
  peersAhead(mine: Snapshot): Promise<boolean> | undefined
  /** This member now holds `snapshot` (named in its presence lock). */
  holding(snapshot: Snapshot): void
  release(): void
}

export type LocksOptions = {
  name: string | undefined
  realm: Realm
  id: string
  channel: Channel | undefined
  read: () => Snapshot | undefined
  /** Longest a rotation may take anywhere (a tab frozen mid-refresh holds others this long). */
  rotationLimitMs: number
  /** How long a tab waits for the leader's rotation. */
  followerLimitMs: number
  /** Web Locks and the kind of context come from here (and the leader lock's clock, once it takes one). */
  platform: Platform
}

/**
 * With Web Locks, the holder of `<name>:primary` leads: when its tab closes the browser hands
 * the lock to the next tab in line at once. Without them in a browser, leadership is elected
 * by messages and only the leader refreshes (`leader-lock.ts`, loaded on demand: most origins
 * are secure and never need it). In one process (Node), the first member of the realm leads
 * and the realm's mutex is the rotation lock.
 */
export function createLocks(options: LocksOptions): Locks {
  const { name, realm, id, channel, platform } = options
  if (electsLeader(name, platform) && channel) return electedLocks(options, name!, channel)
  const locks = name === undefined ? undefined : platform.locks
  let leader = false
  let stepDown: (() => void) | undefined
  let released = false
  const presence = locks && name !== undefined ? holdPresence(locks, name, id) : undefined
  if (locks && name !== undefined) {
    void locks
      .request(`${name}:primary`, () => {
        if (released) return Promise.resolve()
        leader = true
        return new Promise<void>(resolve => (stepDown = resolve))
      })
      .catch(() => undefined)
  }
  return {
    lock(fn) {
      // Not `fn` itself: Web Locks call it with their Lock, which is no Lease.
      if (locks && name !== undefined) return locks.request(`${name}:rotate`, () => fn()) as ReturnType<typeof fn>
      return realm.mutex.run(fn)
    },
    isLeader() {
      return locks ? leader : realm.members[0] === id
    },
    livePeers: () => presence?.livePeers(),
    peersAhead: mine => presence?.peersAhead(mine),
    holding: snapshot => presence?.holding(snapshot),
    release() {
      released = true
      stepDown?.()
      presence?.leave()
    },
  }
}

/** What the election chunk shares with the page, handed to it (leader-lock.ts: why not imported). */
export const LEADER_KIT: LeaderKit = { Waiters, sleep, farAhead, SessionExpiredError, RotationPendingError }

function electedLocks(options: LocksOptions, name: string, channel: Channel): Locks {
  let leaderLock: LeaderLock | undefined
  let released = false
  const loading = import('./leader-lock.js').then(({ createLeaderLock }) => {
    if (released) return undefined
    return (leaderLock = createLeaderLock({
      kit: LEADER_KIT,
      name,
      channel,
      read: options.read,
      mutex: options.realm.mutex,
      holdLimitMs: options.rotationLimitMs,
      followerLimitMs: options.followerLimitMs,
      platform: options.platform,
    }))
  })
  return {
    async lock(fn, lockOptions) {
      const lock = await loading
      if (!lock) throw new SessionExpiredError('disposed')
      return lock.lock(fn, lockOptions)
    },
    isLeader: () => leaderLock?.isLeader() ?? false,
    livePeers: () => undefined,
    peersAhead: () => undefined,
    holding: () => undefined,
    release() {
      released = true
      leaderLock?.release()
    },
  }
}
