// Presence across tabs: each member holds `<name>:member:<mark>:<id>` while it lives, the mark naming the state it holds; livePeers() and peersAhead() read the others from Web Locks' query(); the roll call's ids survive the channel's validation.
import { describe, expect, it } from 'vitest'
import { holdPresence } from '../../src/coordinator/presence.js'
import { parseMessage } from '../../src/coordinator/protocol.js'
import type { LockManagerLike } from '../../src/platform/types.js'
import type { Snapshot } from '../../src/types.js'

/** Web Locks of one origin: every request granted at once (names are unique here), released when its callback settles. */
function origin(withQuery = true): LockManagerLike & { held: Set<string> } {
  const held = new Set<string>()
  const locks: LockManagerLike & { held: Set<string> } = {
    held,
    request: (name, callback) => {
      held.add(name)
      return callback().finally(() => held.delete(name))
    },
  }
  if (withQuery) locks.query = async () => ({ held: [...held].map(name => ({ name })), pending: [{ name: 'app:member:-:asking' }, {}] })
  return locks
}

describe('presence', () => {
  it('lists the other live members (held or asked for), not this one nor other names', async () => {
    const locks = origin()
    const a = holdPresence(locks, 'app', 'a')
    holdPresence(locks, 'app', 'b')
    holdPresence(locks, 'other', 'c')
    await locks.request('app:rotate', async () => undefined)
    expect([...(await a.livePeers())!].sort()).toEqual(['asking', 'b'])
  })

  it('a member that left is no longer listed', async () => {
    const locks = origin()
    const a = holdPresence(locks, 'app', 'a')
    const b = holdPresence(locks, 'app', 'b')
    b.leave()
    await Promise.resolve()
    expect(await a.livePeers()).toEqual(['asking'])
  })

  it('without query() nobody can be listed: undefined (the asker keeps its whole wait)', () => {
    expect(holdPresence(origin(false), 'app', 'a').livePeers()).toBeUndefined()
    expect(holdPresence(origin(false), 'app', 'a').peersAhead(state(1))).toBeUndefined()
  })
})

function state(generation: number, status: Snapshot['status'] = 'active', ending?: Snapshot['ending']): Snapshot {
  const snapshot: Snapshot = { generation, status, issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: 3 }
  return ending ? { ...snapshot, ending } : snapshot
}

describe('the state each member holds, named in its presence lock', () => {
  it("asks for each new state's lock before it lets the last one go (never unlisted), and names nothing of the tokens", async () => {
    const locks = origin()
    const asked: string[] = []
    const request = locks.request
    locks.request = (name, callback) => (asked.push(name), request(name, callback))
    const a = holdPresence(locks, 'app', 'a')
    const b = holdPresence(locks, 'app', 'b')
    b.holding({ ...state(4), accessToken: 'at-secret', refreshToken: 'rt-secret' })
    b.holding(state(4)) // the same mark: no new lock
    expect(locks.held.has('app:member:4a:b')).toBe(true)
    b.holding(state(5))
    // Asked for while the old one was still held: a query between them sees one or both, never none.
    expect(asked).toEqual(['app:member:-:a', 'app:member:-:b', 'app:member:4a:b', 'app:member:5a:b'])
    expect(locks.held.has('app:member:4a:b')).toBe(true)
    expect([...(await a.livePeers())!].sort()).toEqual(['asking', 'b'])
    await Promise.resolve()
    expect([...locks.held].filter(name => name.endsWith(':b'))).toEqual(['app:member:5a:b'])
    expect(asked.join()).not.toMatch(/secret/)
    b.leave()
    a.leave()
    await Promise.resolve()
    expect([...locks.held]).toEqual([])
  })

  it('a peer is ahead when its state supersedes mine: a later generation, or the same one ending or signed out', async () => {
    const cases: Array<[Snapshot, boolean]> = [
      [state(6), true],
      [state(5), false],
      [state(4), false],
      [state(5, 'active', 'rejected'), true],
      [state(5, 'signed-out'), true],
      [state(4, 'signed-out'), false],
    ]
    for (const [theirs, ahead] of cases) {
      const locks = origin()
      const a = holdPresence(locks, 'app', 'a')
      a.holding(state(5))
      holdPresence(locks, 'app', 'b').holding(theirs)
      holdPresence(locks, 'other', 'c').holding(state(9)) // another name is another session
      expect(await a.peersAhead(state(5)), `${theirs.generation} ${theirs.status} ${theirs.ending}`).toBe(ahead)
    }
  })

  it("this member's own lock never counts, nor a name that is no state; ids with colons are read whole", async () => {
    const locks = origin()
    const a = holdPresence(locks, 'app', 'a:1')
    a.holding(state(9))
    holdPresence(locks, 'app', 'b:2').holding(state(3))
    for (const odd of ['app:member:xx:c', 'app:member::d', 'app:member:9:e', 'app:member:-:f'])
      await locks.request(odd, async () => expect(await a.peersAhead(state(3))).toBe(false))
    expect(await a.peersAhead(state(2))).toBe(true)
    expect([...(await a.livePeers())!].sort()).toEqual(['asking', 'b:2'])
  })

  it('a member that left names nothing; one told a state after leaving asks for no lock', async () => {
    const locks = origin()
    const a = holdPresence(locks, 'app', 'a')
    const b = holdPresence(locks, 'app', 'b')
    b.holding(state(7))
    b.leave()
    b.holding(state(8))
    await Promise.resolve()
    expect(await a.peersAhead(state(1))).toBe(false)
    expect(await a.livePeers()).toEqual(['asking'])
  })
})

describe('the roll call on the wire', () => {
  it("parseMessage keeps a hello's call and a state's answers, and drops them when they are not strings", () => {
    const snapshot = { generation: 1, status: 'active', issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: 3 }
    expect(parseMessage({ rotor: 1, type: 'hello', from: 'a', call: 'c1' })).toEqual({ rotor: 1, type: 'hello', from: 'a', call: 'c1' })
    expect(parseMessage({ rotor: 1, type: 'hello', from: 'a', call: 7 })).toEqual({ rotor: 1, type: 'hello', from: 'a' })
    expect(parseMessage({ rotor: 1, type: 'state', from: 'b', snapshot, answers: 'c1' })).toMatchObject({ answers: 'c1' })
    expect(parseMessage({ rotor: 1, type: 'state', from: 'b', snapshot, answers: {} })).not.toHaveProperty('answers')
  })
})
