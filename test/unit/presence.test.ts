// Presence across tabs: each member holds `<name>:member:<id>` while it lives; livePeers() lists the others from Web Locks' query(); the roll call's ids survive the channel's validation.
import { describe, expect, it } from 'vitest'
import { holdPresence } from '../../src/coordinator/presence.js'
import { parseMessage } from '../../src/coordinator/protocol.js'
import type { LockManagerLike } from '../../src/platform/types.js'

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
  if (withQuery) locks.query = async () => ({ held: [...held].map(name => ({ name })), pending: [{ name: 'app:member:asking' }, {}] })
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
