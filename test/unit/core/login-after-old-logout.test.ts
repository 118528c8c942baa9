// A fresh login against an older session's logout (sim seed 993927): the login survives a logout it could not be numbered above, and a logout still wins over every state of the login it ended.
import { describe, expect, it } from 'vitest'
import { outlives, owes } from '../../../src/core/login-order.js'
import { SessionMachine } from '../../../src/core/state.js'
import { Sync } from '../../../src/core/sync.js'
import { parseSnapshot, SIGNED_OUT } from '../../../src/coordinator/protocol.js'
import type { Message, Snapshot } from '../../../src/coordinator/types.js'
import { createMemoryCoordinator, type MemoryCoordinator, type MemoryMember } from '../../../src/testing/memory-coordinator.js'
import { settle, virtualTime, type VirtualTime } from './virtual.js'

/** A tab's member whose messages can be held (a frozen page) and whose store read can be replaced (nothing usable stored, or a read taken before another tab's write). */
function member(shared: MemoryCoordinator, read?: () => Snapshot | undefined) {
  const inner = shared.join()
  let held: Message[] | undefined
  const listeners = new Set<(message: Message) => void>()
  inner.subscribe(message => (held ? held.push(message) : listeners.forEach(l => l(message))))
  const coordinator: MemoryMember = {
    ...inner,
    read: read ?? inner.read,
    subscribe: listener => (listeners.add(listener), () => void listeners.delete(listener)),
  }
  return {
    coordinator,
    freeze: () => void (held = []),
    thaw: () => {
      const queued = held ?? []
      held = undefined
      for (const message of queued) listeners.forEach(l => l(message))
    },
  }
}

let ids = 0
function tab(time: VirtualTime, shared: MemoryCoordinator, read?: () => Snapshot | undefined) {
  const m = member(shared, read)
  const machine = new SessionMachine({ now: time.now, leeway: undefined })
  const sync = new Sync({
    coordinator: m.coordinator,
    machine,
    clock: time,
    now: time.now,
    transport: 'cookie',
    shared: true,
    rotatingTimeout: 91_000,
    randomId: () => `id-${++ids}`,
  })
  const logouts: string[] = []
  machine.on('logout', event => logouts.push(event.reason))
  sync.join()
  const tokens = () => ({ issuedAt: time.now(), accessExpiresAt: time.now() + 60_000, refreshExpiresAt: time.now() + 600_000 })
  return { ...m, machine, sync, logouts, login: () => sync.publish(tokens(), 'login'), rotate: () => sync.publish(tokens(), 'rotate') }
}

const activeAbove = (shared: MemoryCoordinator, generation: number) =>
  shared.messages.filter(m => m.type === 'state' && m.snapshot.status === 'active' && m.snapshot.generation > generation)

describe('a login made with nothing stored, against an older logout a frozen tab holds', () => {
  it('the thawed tab answers the new tab hello with its signed-out state above the login: the login is numbered above it and every tab adopts it', async () => {
    const time = virtualTime()
    const shared = createMemoryCoordinator()
    const old = tab(time, shared)
    await old.login()
    await old.rotate()
    await old.sync.publishEnd('rejected') // the session ends at generation 3 (the server refused its RT)
    expect(old.machine.snapshot).toMatchObject({ status: 'signed-out', generation: 3 })
    old.freeze()
    await time.advance(20_000)

    const fresh = tab(time, shared, () => undefined) // nothing usable stored: its hello goes to the frozen tab's queue
    await settle()
    await time.advance(15_000)
    await fresh.login() // numbered from 0: generation 1, below the frozen tab's 3
    expect(fresh.machine.snapshot).toMatchObject({ status: 'active', generation: 1 })
    await settle()

    old.thaw() // answers the hello with signed-out at 3, then hears the login at 1
    await settle()
    expect(fresh.logouts).toEqual([]) // before the fix: ['rejected'], the new session ended by an older one's end
    expect(fresh.machine.snapshot).toMatchObject({ status: 'active', generation: 4 })
    expect(old.machine.snapshot).toMatchObject({ status: 'active', generation: 4, login: fresh.machine.snapshot.login })
    expect(activeAbove(shared, 3).filter(m => m.from === fresh.coordinator.id)).toHaveLength(1) // one renumbering, by the tab that heard the answer
    expect(activeAbove(shared, 4)).toEqual([]) // (the thawed tab then pays the hello it owed, at 4: nothing climbs)
  })
})

describe('a logout still wins', () => {
  /** A tab (the stale one) opens as another logs out: it read the active state before the logout's write and never hears the logout's message; a third tab's hello brings the logout's answer. */
  async function openedAsAnotherLogsOut(jumpBack: number) {
    const time = virtualTime()
    const shared = createMemoryCoordinator()
    const a = tab(time, shared)
    await a.login()
    await a.rotate()
    await time.advance(60_000)
    const before = shared.snapshot // the stale tab's read, before the logout's write
    time.jump(-jumpBack) // the wall clock set back (or not) between the login and the logout
    await a.sync.publishEnd('user')
    await settle()
    const stale = tab(time, shared, () => before) // its channel opens after the logout's message went by
    await settle()
    expect(stale.machine.snapshot).toMatchObject({ status: 'active', generation: 2 })
    const late = tab(time, shared) // reads the logout, says hello; the logged-out tab answers with it
    await settle()
    await time.advance(1_000)
    return { shared, a, stale, late, before }
  }

  it('the stale tab of the ended login ends on the answer, and nobody publishes that login again', async () => {
    const { shared, a, stale, late } = await openedAsAnotherLogsOut(0)
    expect(stale.logouts).toEqual(['user'])
    for (const t of [a, stale, late]) expect(t.machine.snapshot.status).toBe('signed-out')
    expect(activeAbove(shared, 2)).toEqual([]) // the unmerged "answers renumber" fix republished the stale session at 4 here
  })

  it('so it does with the wall clock set back an hour between the login and the logout: the logout names the login it ended', async () => {
    const { shared, a, stale, late, before } = await openedAsAnotherLogsOut(3_600_000)
    expect(a.machine.snapshot.endedAt).toBeLessThan(before?.login?.at ?? 0) // by the clocks alone, the logout is older than the login
    expect(stale.logouts).toEqual(['user'])
    for (const t of [a, stale, late]) expect(t.machine.snapshot.status).toBe('signed-out')
    expect(activeAbove(shared, 2)).toEqual([])
  })
})

describe('a logout is final for its login', () => {
  it('a stale tab that missed the logout of a login made with nothing stored, then hears an older logout above it, does not bring that login back', async () => {
    const time = virtualTime()
    const shared = createMemoryCoordinator()
    const frozen = tab(time, shared)
    await frozen.login()
    for (let i = 0; i < 3; i++) await frozen.rotate()
    await frozen.sync.publishEnd('user') // an older session ends at generation 5
    frozen.freeze()
    await time.advance(20_000)
    const a = tab(time, shared, () => undefined) // nothing usable stored: logs in at 1
    await settle()
    await a.login()
    await settle()
    const before = a.machine.snapshot
    await a.sync.publishEnd('user') // the user logs out of it at 2
    await settle()
    const stale = tab(time, shared, () => before) // opened as that logout went by: active at 1
    await settle()
    expect(stale.machine.snapshot).toMatchObject({ status: 'active', generation: 1 })
    frozen.thaw() // answers a's hello with the older logout at 5: the stale tab outlives it and renumbers
    await settle()
    await time.advance(1_000)
    expect(a.logouts).toEqual(['user'])
    for (const t of [frozen, a, stale]) expect(t.machine.snapshot.status).toBe('signed-out') // without the memory of ended logins: a and frozen adopted the stale tab's login at 6
    expect(stale.logouts).toEqual(['user'])
    // The stale tab's renumbering at 6, answered at 7 by each tab that heard the login end: nothing climbs further.
    expect(activeAbove(shared, 6)).toEqual([])
    expect(shared.messages.filter(m => m.type === 'state' && m.snapshot.generation > 7)).toEqual([])
  })
})

describe('outlives and owes: which logout or mark a held login survives', () => {
  const login = { id: 'new', at: 2_000 }
  const held: Snapshot = { generation: 1, status: 'active', issuedAt: 2_000, accessExpiresAt: 62_000, refreshExpiresAt: 602_000, login }
  const ended = (fields: Partial<Snapshot>): Snapshot => ({ ...SIGNED_OUT, generation: 5, ...fields })

  it('an older login ended before this one was made: survived', () => {
    expect(outlives(held, ended({ login: { id: 'old', at: 0 }, endedAt: 1_000 }))).toBe(true)
  })
  it('this very login, at any time: the logout wins', () => {
    expect(outlives(held, ended({ login, endedAt: 1_000 }))).toBe(false)
  })
  it('another login ended after this one was made (the user logged out since): the logout wins', () => {
    expect(outlives(held, ended({ login: { id: 'old', at: 0 }, endedAt: 3_000 }))).toBe(false)
  })
  it('a state without the marks (a tab of an earlier version): the logout wins, as before', () => {
    expect(outlives(held, ended({}))).toBe(false)
    const { login: _, ...unmarked } = held
    expect(outlives(unmarked, ended({ login: { id: 'old', at: 0 }, endedAt: 1_000 }))).toBe(false)
  })
  it("an older login's mark (its RT dead, a login owed) owes this login; not the mark of this login or of a later one, nor a state that is no mark", () => {
    const mark = (fields: Partial<Snapshot>): Snapshot => ({ ...held, generation: 5, ending: 'rejected', ...fields })
    expect(owes(mark({ login: { id: 'old', at: 1_000 } }), held)).toBe(true)
    expect(owes(mark({}), held)).toBe(false)
    expect(owes(mark({ login: { id: 'later', at: 3_000 } }), held)).toBe(false)
    const { ending: _, ...unmarked } = mark({ login: { id: 'old', at: 1_000 } })
    expect(owes(unmarked, held)).toBe(false)
    const { login: __, ...older } = mark({})
    expect(owes(older, held)).toBe(false)
  })
})

describe('the marks on the wire', () => {
  const active = { generation: 2, status: 'active', issuedAt: 1, accessExpiresAt: 2, refreshExpiresAt: 3 }

  it('a peer state keeps a well-formed login and end time', () => {
    expect(parseSnapshot({ ...active, login: { id: 'abc-1', at: 5 } })?.login).toEqual({ id: 'abc-1', at: 5 })
    expect(parseSnapshot({ ...SIGNED_OUT, generation: 3, login: { id: 'abc-1', at: 5 }, endedAt: 9 })).toMatchObject({ login: { id: 'abc-1', at: 5 }, endedAt: 9 })
  })

  it('a malformed mark is dropped, the state kept (a logout without marks wins, as before)', () => {
    for (const login of [{ id: 'x'.repeat(65), at: 5 }, { id: 'a', at: Number.NaN }, { id: 7, at: 5 }, 'abc', null]) {
      const parsed = parseSnapshot({ ...active, login })
      expect(parsed?.generation).toBe(2)
      expect(parsed?.login).toBeUndefined()
    }
    expect(parseSnapshot({ ...active, endedAt: 9 })?.endedAt).toBeUndefined() // an active state has not ended
    expect(parseSnapshot({ ...SIGNED_OUT, generation: 3, endedAt: 'yesterday' })?.endedAt).toBeUndefined()
  })
})
