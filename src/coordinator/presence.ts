/** Presence across tabs: each member holds a Web Lock naming it and the state it holds, so any tab can list the live ones and whether one is ahead. */
import type { LockManagerLike } from '../platform/types.js'
import { supersedes, type Ordered } from './protocol.js'
import type { Snapshot } from './types.js'

export type Presence = {
  /** The ids of the other members holding (or asking for) their presence lock; undefined where Web Locks cannot be queried. */
  livePeers(): Promise<readonly string[]> | undefined
  /** Whether another member's presence lock names a state that supersedes `mine`; undefined where Web Locks cannot be queried. */
  peersAhead(mine: Snapshot): Promise<boolean> | undefined
  /** This member now holds `snapshot`: its presence lock is named after it. */
  holding(snapshot: Snapshot): void
  /** This member leaves: its presence lock is let go. */
  leave(): void
}

/** Holds lock `name` until the returned function is called (before the grant too: the grant then ends at once). */
function hold(locks: LockManagerLike, name: string): () => void {
  let done = false
  let release: (() => void) | undefined
  void locks.request(name, () => (done ? Promise.resolve() : new Promise<void>(resolve => (release = resolve)))).catch(() => undefined)
  return () => ((done = true), release?.())
}

/**
 * Holds `<name>:member:<mark>:<id>` until `leave()`, where the mark is what `supersedes` reads
 * of the state this member holds: its generation, then `a` active, `e` ending, `o` signed out
 * (`-`: none yet). Never a token. Each new state's lock is asked for before the last one is let
 * go, so the member is never missing from a listing. A tab that closes or crashes loses its lock
 * (the browser releases it); a frozen tab keeps it, and is listed (it then cannot answer, which
 * only makes an asker wait its full time). Asked-for locks count as present too: a member is
 * listed from the moment it asks, not only once granted.
 *
 * Why the state in the name: a bearer lock holder must not present an RT a peer has spent. A
 * peer's new state reaches it by message, maybe after the lock; but the lock manager is one
 * place, and a tab asks for its new state's lock before it lets the rotation lock go, so the next
 * holder's query sees it. No peer ahead there, it need not wait for every peer's answer (a busy
 * or frozen tab answers late or never: docs/concepts/rotation-across-tabs.md, the roll call).
 * Any page of the origin can take a lock of any name: a forged mark ahead only brings back the
 * whole wait, as a silent peer does.
 */
export function holdPresence(locks: LockManagerLike, name: string, id: string): Presence {
  const prefix = `${name}:member:`
  let left = false
  let mark = '-'
  let letGo = hold(locks, `${prefix}${mark}:${id}`)
  /** Every other member's id and mark (two marks while it moves to a new state). */
  const members = () =>
    locks.query?.().then(({ held = [], pending = [] }) =>
      [...held, ...pending].flatMap(({ name: lock }) => {
        const [theirs = '', ...peer] = lock?.startsWith(prefix) ? lock.slice(prefix.length).split(':') : []
        return peer.length && peer.join(':') !== id ? [[peer.join(':'), theirs] as const] : []
      }),
    )
  const ahead = (theirs: string, mine: Snapshot) => {
    const kind = theirs.slice(-1)
    const state: Ordered = { generation: Number(theirs.slice(0, -1)), status: kind === 'o' ? 'signed-out' : 'active' }
    if (kind === 'e') state.ending = 'rejected'
    return /^\d+[aeo]$/.test(theirs) && supersedes(state, mine)
  }
  return {
    livePeers: () => members()?.then(found => [...new Set(found.map(([peer]) => peer))]),
    peersAhead: mine => members()?.then(found => found.some(([, theirs]) => ahead(theirs, mine))),
    holding({ generation, status, ending }) {
      const next = `${generation}${status !== 'active' ? 'o' : ending ? 'e' : 'a'}`
      if (left || next === mark) return
      mark = next
      const previous = letGo
      letGo = hold(locks, `${prefix}${mark}:${id}`)
      previous()
    },
    leave() {
      left = true
      letGo()
    },
  }
}
