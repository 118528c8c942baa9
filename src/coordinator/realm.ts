/** What the sessions of one name share inside this JS realm: the in-process lock, snapshot and members. */
import type { Snapshot } from '../types.js'

/** A FIFO mutex: each holder runs after the previous one settled. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    this.#tail = result.catch(() => undefined)
    return result
  }
}

/**
 * Where Web Locks are absent (Node, older Safari) this is what makes the lock exclusive and
 * the snapshot readable between sessions of one process. Symbol.for keeps it single even if
 * the library is loaded twice (ESM and CJS builds side by side).
 */
export type Realm = { mutex: Mutex; snapshot: Snapshot | undefined; members: string[] }

const REALMS_KEY = Symbol.for('rotor-auth.realms')

function registry(): Map<string, Realm> {
  const g = globalThis as { [REALMS_KEY]?: Map<string, Realm> }
  return (g[REALMS_KEY] ??= new Map())
}

/** The realm entry of `name`, with `id` as a member; a private one when name is undefined. */
export function joinRealm(name: string | undefined, id: string): Realm {
  if (name === undefined) return { mutex: new Mutex(), snapshot: undefined, members: [id] }
  const realms = registry()
  let realm = realms.get(name)
  if (!realm) realms.set(name, (realm = { mutex: new Mutex(), snapshot: undefined, members: [] }))
  realm.members.push(id)
  return realm
}

/**
 * Removes `id`. In-memory state dies with the last session holding it, as a tab's memory
 * does, and the entry goes with it: nothing is left behind per name.
 */
export function leaveRealm(name: string | undefined, realm: Realm, id: string): void {
  const at = realm.members.indexOf(id)
  if (at >= 0) realm.members.splice(at, 1)
  if (realm.members.length > 0) return
  realm.snapshot = undefined
  if (name !== undefined && registry().get(name) === realm) registry().delete(name)
}

/** How many names have a realm entry in this process (for tests: nothing leaks per name). */
export function realmCount(): number {
  return registry().size
}
