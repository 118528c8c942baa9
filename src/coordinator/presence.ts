/** Presence across tabs: each member holds a Web Lock named after it while it lives, so any tab can list the live ones. */
import type { LockManagerLike } from '../platform/types.js'

export type Presence = {
  /** The ids of the other members holding (or asking for) their presence lock; undefined where Web Locks cannot be queried. */
  livePeers(): Promise<readonly string[]> | undefined
  /** This member leaves: its presence lock is let go. */
  leave(): void
}

/**
 * Holds `<name>:member:<id>` until `leave()`. A tab that closes or crashes loses it with its
 * locks (the browser releases them); a frozen tab keeps it, and is listed (it then cannot
 * answer, which only makes an asker wait its full time). Asked-for locks count as present too:
 * a member is listed from the moment it asks, not only once granted.
 */
export function holdPresence(locks: LockManagerLike, name: string, id: string): Presence {
  const prefix = `${name}:member:`
  let leave: (() => void) | undefined
  let left = false
  void locks.request(prefix + id, () => (left ? Promise.resolve() : new Promise<void>(resolve => (leave = resolve)))).catch(() => undefined)
  return {
    livePeers() {
      if (typeof locks.query !== 'function') return undefined
      return locks.query().then(({ held = [], pending = [] }) => {
        const ids = new Set<string>()
        for (const { name: lock } of [...held, ...pending]) if (lock?.startsWith(prefix)) ids.add(lock.slice(prefix.length))
        ids.delete(id)
        return [...ids]
      })
    },
    leave() {
      left = true
      leave?.()
    },
  }
}
