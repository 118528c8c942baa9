// Sync on virtual time over a memory coordinator: members join without rotating, adopt each other's states, refuse replays, and the leader hears a peer's rotate-request once per generation.
import { describe, expect, it, vi } from 'vitest'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  return { time, server, shared, tab: () => sessionCore(time, server, shared) }
}

/** A signed-in tab, its state, that state without the RT, and a peer that tells it states. */
async function signedIn() {
  const { tab, shared } = setup()
  const a = tab()
  await a.start()
  const mine = { ...a.machine.snapshot }
  const { refreshToken: _held, ...withoutRT } = mine
  return { a, mine, withoutRT, peer: shared.join() }
}

describe('Sync', () => {
  it('a member joining a running session adopts it without a refresh', async () => {
    const { server, tab } = setup()
    const a = tab()
    await a.start()
    const b = tab()
    await settle()
    expect(b.machine.snapshot).toMatchObject({ status: 'active', generation: a.machine.snapshot.generation, accessToken: 'at-1' })
    expect(server.presented).toEqual([])
  })

  it("a member's logout ends every member", async () => {
    const { tab } = setup()
    const a = tab()
    const b = tab()
    await a.start()
    await settle()
    await a.sync.publishEnd('user')
    await settle()
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'user' })
  })

  it('a replayed state carrying an RT this member moved past is refused', async () => {
    const { server, tab, shared } = setup()
    const a = tab()
    await a.start()
    const old = { ...a.machine.snapshot }
    await a.rotator.rotateFrom(old.generation)
    expect(server.presented).toEqual(['rt-1'])
    // A forged or replayed message brings rt-1 back under a higher generation.
    shared.join().post({ type: 'state', snapshot: { ...old, generation: old.generation + 5 } })
    await settle()
    expect(a.machine.snapshot.refreshToken).toBe('rt-2')
  })

  it('the same grant told without its RT (a worker run keeps it) leaves it unspent: told back with it, the tab takes it (sim seed 169721)', async () => {
    const { a, mine, withoutRT, peer } = await signedIn()
    // The run's copy, numbered anew by a tab's rejoin: the same grant, without the RT.
    peer.post({ type: 'state', snapshot: { ...withoutRT, generation: mine.generation + 1 } })
    await settle()
    expect(a.machine.snapshot).toMatchObject({ generation: mine.generation + 1, accessToken: 'at-1' })
    expect(a.machine.snapshot.refreshToken).toBeUndefined()
    // A rejoin to a new run brings the RT back, one above: this tab's own, never presented.
    peer.post({ type: 'state', snapshot: { ...mine, generation: mine.generation + 2 } })
    await settle()
    expect(a.machine.snapshot).toMatchObject({ generation: mine.generation + 2, refreshToken: 'rt-1' })
  })

  it('a mark of the same grant (its RT refused) counts the RT spent: told back with it, refused', async () => {
    const { a, mine, withoutRT, peer } = await signedIn()
    peer.post({ type: 'state', snapshot: { ...withoutRT, generation: mine.generation + 1, ending: 'rejected' } })
    await settle()
    expect(a.machine.snapshot).toMatchObject({ generation: mine.generation + 1, ending: 'rejected' })
    peer.post({ type: 'state', snapshot: { ...mine, generation: mine.generation + 2 } })
    await settle()
    expect(a.machine.snapshot.generation).toBe(mine.generation + 1)
    expect(a.machine.snapshot.refreshToken).toBeUndefined()
  })

  it("the leader hears a peer's rotate-request once per generation", async () => {
    const { tab, shared } = setup()
    const leader = tab()
    await leader.start()
    const heard: number[] = []
    leader.sync.onRotateRequest(generation => void heard.push(generation))
    const peer = shared.join()
    const generation = leader.machine.snapshot.generation
    peer.post({ type: 'rotate-request', generation })
    peer.post({ type: 'rotate-request', generation })
    await settle()
    expect(heard).toEqual([generation])
  })
})

describe('a hello heard before the session reached this tab', () => {
  it('is answered once this tab adopts the session: the newcomer is not left signed out beside it', async () => {
    const { tab, shared } = setup()
    const b = tab()
    await settle()
    // A tab opened just after a login's message was posted says hello; b has nothing to tell yet.
    const newcomer = shared.join()
    newcomer.post({ type: 'hello' })
    newcomer.post({ type: 'hello' })
    await settle()
    const before = shared.messages.length
    // The login's state reaches b now.
    const login = { status: 'active', generation: 1, issuedAt: 0, accessToken: 'at-1', refreshToken: 'rt-1', accessExpiresAt: 2e12, refreshExpiresAt: 2e12 } as const
    shared.join().post({ type: 'state', snapshot: login })
    await settle()
    expect(b.machine.snapshot).toMatchObject({ status: 'active', generation: 1 })
    // One answer for both hellos, carrying what b adopted.
    const answers = shared.messages.slice(before).filter(m => m.type === 'state' && m.snapshot.generation === 1)
    expect(answers).toHaveLength(2) // the login's own message, and b's one answer
  })
})

describe('news this tab missed, and news that is none', () => {
  const login = { status: 'active', generation: 1, issuedAt: 0, accessToken: 'at-1', refreshToken: 'rt-1', accessExpiresAt: 2e12, refreshExpiresAt: 2e12 } as const

  it('a signed-out leader asked to rotate past a generation it missed reads the store, adopts it, and rotates (sim seed 505491)', async () => {
    const { tab, shared, server } = setup()
    const leader = tab()
    await settle()
    const heard: number[] = []
    leader.sync.onRotateRequest(generation => void heard.push(generation))
    // A login disposed as it published: in the store, never posted.
    shared.join().write(login)
    expect(leader.coordinator.isLeader()).toBe(true)
    expect(leader.machine.snapshot.status).toBe('signed-out')
    // The tab holding it (joined from the store) needs a rotation and asks the leader.
    shared.join().post({ type: 'rotate-request', generation: 1 })
    await settle()
    expect(heard).toEqual([1])
    // It rotated for the tab that asked: one refresh, of the stored login's RT.
    expect(server.presented).toEqual(['rt-1'])
    expect(leader.machine.snapshot).toMatchObject({ status: 'active', generation: 2 })
  })

  it('a request ahead of anything stored changes nothing, and a flood of them reads the store one at a time', async () => {
    const { tab, shared } = setup()
    const leader = tab()
    await leader.start()
    const heard: number[] = []
    leader.sync.onRotateRequest(generation => void heard.push(generation))
    const read = vi.spyOn(leader.coordinator, 'read')
    const forger = shared.join()
    for (let i = 0; i < 50; i++) forger.post({ type: 'rotate-request', generation: 7 })
    // Far ahead (a forgery by the far-ahead rule): not even a read.
    forger.post({ type: 'rotate-request', generation: 2 ** 30 })
    await settle()
    expect(heard).toEqual([])
    expect(leader.machine.snapshot.generation).toBe(1)
    // The first request starts a read; the rest of the burst arrives while it is under way.
    expect(read.mock.calls.length).toBeGreaterThanOrEqual(1)
    expect(read.mock.calls.length).toBeLessThan(50)
  })

  it.each([
    ['signed out', { generation: 2 ** 30, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null }],
    ['active, its RT expired', { ...login, generation: 2 ** 30, refreshExpiresAt: 1 }],
  ] as const)(
    "a tab joining over a forged far-ahead state in the store (%s) does not take its generation, and adopts the live session's (sim seed 504059)",
    async (_, forged) => {
      const { tab, shared } = setup()
      shared.join().write(forged)
      const joiner = tab()
      await settle()
      expect(joiner.machine.snapshot).toMatchObject({ status: 'signed-out', generation: 0 })
      // A live tab answers its hello with the session.
      shared.join().post({ type: 'state', snapshot: { ...login, generation: 5 } })
      await settle()
      expect(joiner.machine.snapshot).toMatchObject({ status: 'active', generation: 5 })
    },
  )
})
