/** The default coordinator: store, channel, lock and leadership of this browser (or Node process) composed. */
import type { Platform } from '../platform/types.js'
import type { Coordinator, StorageLike } from '../types.js'
import { openChannel } from './channel.js'
import { createLocks, sharesAcrossContexts } from './locks.js'
import { joinRealm, leaveRealm } from './realm.js'
import { createStore } from './store.js'
import { DEFAULT_TIMING, followerLimitMs as followerLimit, rotationLimitMs as rotationLimit } from '../core/deadlines.js'

export type LocalCoordinatorOptions = {
  /** Channel and lock name; undefined: this session shares nothing (crossTab: false). */
  name: string | undefined
  storage: StorageLike | undefined
  storageKey: string
  persistTokens: boolean
  /** A write to storage failed; see StoreOptions. */
  onStorageError?: (error: unknown, cleared: boolean) => void
  /** Longest a rotation may take anywhere; without Web Locks, a silent tab's claim lasts this long. */
  rotationLimitMs?: number
  /** Without Web Locks, how long a tab waits for the leader's rotation. */
  followerLimitMs?: number
  /** The runtime: channel, Web Locks, the realm registry, ids and the kind of context (the session's `cfg.platform`). */
  platform: Platform
}

/** Sessions of one name in this browser (tabs, workers) or this Node process. */
export function createLocalCoordinator(options: LocalCoordinatorOptions): Coordinator & { readonly id: string } {
  const { name, platform } = options
  const id = platform.randomId()
  const realm = joinRealm(name, id, platform.realms)
  const store = createStore(realm, options)
  const channel = name === undefined || !platform.channel ? undefined : openChannel(name, id, platform.channel)
  const { rotationLimitMs = rotationLimit(DEFAULT_TIMING), followerLimitMs = followerLimit(DEFAULT_TIMING) } = options
  const locks = createLocks({ name, realm, id, channel, read: store.read, rotationLimitMs, followerLimitMs, platform })
  const otherContexts = sharesAcrossContexts(name, platform)
  let closed = false
  return {
    id,
    read: store.read,
    write: store.write,
    lock: locks.lock,
    isLeader: locks.isLeader,
    livePeers: locks.livePeers,
    peersAhead: locks.peersAhead,
    holding: locks.holding,
    // Tabs of a browser that keep tokens out of storage hand them over by message only.
    sharesTokens: otherContexts && !options.persistTokens ? 'message' : 'store',
    post(message) {
      channel?.post(message)
    },
    subscribe(listener) {
      return channel?.subscribe(listener) ?? (() => undefined)
    },
    hasPeers() {
      if (name === undefined) return false
      return otherContexts || realm.members.length > 1
    },
    close() {
      if (closed) return
      closed = true
      locks.release()
      leaveRealm(name, realm, id, platform.realms)
      channel?.close()
    },
  }
}
