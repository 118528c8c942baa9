/** The exclusive rotation lock and leader election: Web Locks across tabs, the realm's mutex and member order otherwise. */
import type { Realm } from './realm.js'

type LockManagerLike = {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>
}

/** The page's Web Locks, where the context has them (secure contexts only). */
export function webLocks(): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
}

export type Locks = {
  lock<T>(fn: () => Promise<T>): Promise<T>
  isLeader(): boolean
  release(): void
}

/**
 * With Web Locks, the holder of `<name>:primary` leads: when its tab closes the browser hands
 * the lock to the next tab in line at once. Without them, the first member of the realm
 * leads and the realm's mutex is the rotation lock.
 */
export function createLocks(name: string | undefined, realm: Realm, id: string): Locks {
  const locks = name === undefined ? undefined : webLocks()
  let leader = false
  let stepDown: (() => void) | undefined
  let released = false
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
      if (locks && name !== undefined) return locks.request(`${name}:rotate`, fn) as ReturnType<typeof fn>
      return realm.mutex.run(fn)
    },
    isLeader() {
      return locks ? leader : realm.members[0] === id
    },
    release() {
      released = true
      stepDown?.()
    },
  }
}
