/** What the sessions of one name share inside this JS realm: the in-process lock, snapshot and members. */
import { defaultPlatform } from '../platform/defaults.js'
import type { Platform } from '../platform/types.js'
import type { Snapshot } from '../types.js'

/** A FIFO mutex: each holder runs after the previous one settled. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    // Called with nothing: a lock's function may take a lease, never the previous holder's result.
    const result = this.#tail.then(() => fn())
    this.#tail = result.catch(() => undefined)
    return result
  }
}

/**
 * Where Web Locks are absent (Node, older Safari) this is what makes the lock exclusive and
 * the snapshot readable between sessions of one process. The registry is the platform's
 * `realms` (one per JS realm by default; one per simulated tab in test/sim/).
 */
export type Realm = { mutex: Mutex; snapshot: Snapshot | undefined; members: string[] }

type Registry = Platform['realms']

/** The realm entry of `name` in `realms`, with `id` as a member; a private one when name is undefined. */
export function joinRealm(name: string | undefined, id: string, realms: Registry = defaultPlatform().realms): Realm {
  if (name === undefined) return { mutex: new Mutex(), snapshot: undefined, members: [id] }
  let realm = realms.get(name) as Realm | undefined
  if (!realm) realms.set(name, (realm = { mutex: new Mutex(), snapshot: undefined, members: [] }))
  realm.members.push(id)
  return realm
}

/**
 * Removes `id`. In-memory state dies with the last session holding it, as a tab's memory
 * does, and the entry goes with it: nothing is left behind per name.
 */
export function leaveRealm(name: string | undefined, realm: Realm, id: string, realms: Registry = defaultPlatform().realms): void {
  const at = realm.members.indexOf(id)
  if (at >= 0) realm.members.splice(at, 1)
  if (realm.members.length > 0) return
  realm.snapshot = undefined
  if (name !== undefined && realms.get(name) === realm) realms.delete(name)
}

/** How many names have a realm entry in `realms` (for tests: nothing leaks per name). */
export function realmCount(realms: Registry = defaultPlatform().realms): number {
  return realms.size
}
