/** The default coordinator: store, channel, lock and leadership of this browser (or Node process) composed. */
import type { Coordinator, StorageLike } from '../types.js'
import { openChannel } from './channel.js'
import { createLocks, webLocks } from './locks.js'
import { joinRealm, leaveRealm } from './realm.js'
import { createStore } from './store.js'

export type LocalCoordinatorOptions = {
  /** Channel and lock name; undefined: this session shares nothing (crossTab: false). */
  name: string | undefined
  storage: StorageLike | undefined
  storageKey: string
  persistTokens: boolean
}

export function randomId(): string {
  return globalThis.crypto?.randomUUID?.() ?? Math.random().toString(36).slice(2)
}

/** Sessions of one name in this browser (tabs, workers) or this Node process. */
export function createLocalCoordinator(options: LocalCoordinatorOptions): Coordinator & { readonly id: string } {
  const id = randomId()
  const { name } = options
  const realm = joinRealm(name, id)
  const store = createStore(realm, options)
  const locks = createLocks(name, realm, id)
  const channel = name === undefined ? undefined : openChannel(name, id)
  const crossTabLocks = name !== undefined && webLocks() !== undefined
  let closed = false
  return {
    id,
    read: store.read,
    write: store.write,
    lock: locks.lock,
    isLeader: locks.isLeader,
    post(message) {
      channel?.post(message)
    },
    subscribe(listener) {
      return channel?.subscribe(listener) ?? (() => undefined)
    },
    hasPeers() {
      if (name === undefined) return false
      // In a browser other tabs may be listening without this realm knowing them.
      return crossTabLocks || realm.members.length > 1
    },
    close() {
      if (closed) return
      closed = true
      locks.release()
      leaveRealm(name, realm, id)
      channel?.close()
    },
  }
}
