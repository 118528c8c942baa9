// A bearer lock holder's probe ends once every live peer (Web Locks presence) answered its hello, or at once where no peer's state lock names a newer state, and not before: a listed peer that stays silent, or is ahead, keeps the whole wait.
import { describe, expect, it } from 'vitest'
import { SIGNED_OUT, supersedes } from '../../../src/coordinator/protocol.js'
import { createMemoryCoordinator, type MemoryMember } from '../../../src/testing/memory-coordinator.js'
import { RollCall } from '../../../src/core/roll-call.js'
import type { Snapshot } from '../../../src/types.js'
import { Waiters } from '../../../src/utils/until.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator({ sharesTokens: 'message' })
  const tab = () => sessionCore(time, server, shared, { probeFirst: true })
  return { time, server, shared, tab }
}

/** What Web Locks' query() tells this member: these ids hold a presence lock. */
function lists(member: MemoryMember, ids: () => string[]): void {
  ;(member as { livePeers?: () => Promise<readonly string[]> }).livePeers = () => Promise.resolve(ids())
}

/** What the peers' state locks say (presence.ts): each listed peer holds the state `held()` gives for it; also records what this member named. */
function names(member: MemoryMember, held: () => Snapshot[]): Snapshot[] {
  const mine: Snapshot[] = []
  Object.assign(member, {
    peersAhead: (me: Snapshot) => Promise.resolve(held().some(theirs => supersedes(theirs, me))),
    holding: (snapshot: Snapshot) => mine.push(snapshot),
  })
  return mine
}

/** A started tab `a` whose one listed peer is frozen (never answers), its presence lock naming `theirs(a's state)`. */
async function besideFrozen(theirs: (mine: Snapshot) => Snapshot) {
  const world = setup()
  const a = world.tab()
  await a.start()
  await settle()
  lists(a.coordinator, () => ['member-frozen'])
  names(a.coordinator, () => [theirs(a.machine.snapshot)])
  return { ...world, a }
}

/** The RT goes at once: presented (rt-1) with no virtual time passed. */
async function expectAtOnce({ time, server }: Pick<ReturnType<typeof setup>, 'time' | 'server'>, rotation: Promise<void>): Promise<void> {
  await settle()
  expect(server.presented).toEqual(['rt-1'])
  expect(time.now()).toBe(1_900_000_000_000)
  await rotation
}

/** The probe runs its whole 60 ms: nothing is presented at 59 ms, the RT (rt-1) once it ends. */
async function expectWholeProbe({ time, server }: Pick<ReturnType<typeof setup>, 'time' | 'server'>, rotation: Promise<void>): Promise<void> {
  await time.advance(59)
  expect(server.presented).toEqual([])
  await time.advance(1)
  await rotation
  expect(server.presented).toEqual(['rt-1'])
}

describe('the roll call before a bearer refresh', () => {
  it('a bearer holder whose every peer answered presents the RT without waiting 60 ms', async () => {
    const { time, server, tab } = setup()
    const a = tab()
    const b = tab()
    const c = tab()
    await a.start()
    await settle()
    lists(b.coordinator, () => [a.coordinator.id, c.coordinator.id])
    const asked = time.now()
    const rotation = b.rotator.rotateFrom(1)
    await settle()
    // No virtual time passed: the answers ended the wait.
    expect(server.presented).toEqual(['rt-1'])
    expect(time.now()).toBe(asked)
    await rotation
    await settle()
    expect(a.machine.snapshot.generation).toBe(2)
    expect(c.machine.snapshot.generation).toBe(2)
  })

  it('a listed peer that cannot answer (a frozen tab keeps its locks) keeps the whole 60 ms', async () => {
    const { time, server, tab } = setup()
    const a = tab()
    const b = tab()
    await a.start()
    await settle()
    lists(b.coordinator, () => [a.coordinator.id, 'member-frozen'])
    const rotation = b.rotator.rotateFrom(1)
    await settle()
    await expectWholeProbe({ time, server }, rotation)
  })

  it('the peer holding newer tokens answers with them: adopted, nothing presented', async () => {
    const { time, server, shared, tab } = setup()
    const a = tab()
    await a.start()
    await settle()
    // A peer rotated while this tab missed it (frozen): it answers the hello with generation 2.
    const peer = shared.join()
    const newer = { ...a.machine.snapshot, generation: 2, accessToken: 'at-peer', refreshToken: 'rt-peer' }
    peer.subscribe(message => {
      if (message.type === 'hello' && message.call) peer.post({ type: 'state', snapshot: newer, answers: message.call })
    })
    lists(a.coordinator, () => [peer.id])
    const rotation = a.rotator.rotateFrom(1)
    await settle()
    expect(a.machine.snapshot.generation).toBe(2)
    expect(time.now()).toBe(1_900_000_000_000)
    await time.advance(60)
    await rotation
    expect(server.presented).toEqual([])
  })

  it("an answer to another tab's hello does not count for this one", async () => {
    const { time, server, shared, tab } = setup()
    const a = tab()
    await a.start()
    await settle()
    const peer = shared.join()
    // The peer answers, but to a call that is not ours: this tab must keep waiting for it.
    peer.subscribe(message => {
      if (message.type === 'hello') peer.post({ type: 'state', snapshot: a.machine.snapshot, answers: 'someone-else' })
    })
    lists(a.coordinator, () => [peer.id])
    const rotation = a.rotator.rotateFrom(1)
    await settle()
    await expectWholeProbe({ time, server }, rotation)
  })

  it("a listed peer that cannot answer, whose state lock names this tab's generation: the RT goes at once", async () => {
    const world = await besideFrozen(mine => ({ ...mine }))
    await expectAtOnce(world, world.a.rotator.rotateFrom(1))
  })

  it('the locks are queried once per roll call: the peers are listed only where one is ahead', async () => {
    for (const ahead of [false, true]) {
      const world = await besideFrozen(mine => (ahead ? { ...mine, generation: 2 } : { ...mine }))
      let listed = 0
      lists(world.a.coordinator, () => (listed++, ['member-frozen']))
      const rotation = world.a.rotator.rotateFrom(1)
      await settle()
      expect(listed, `a peer ahead: ${ahead}`).toBe(ahead ? 1 : 0)
      await world.time.advance(60)
      await rotation
    }
  })

  it('a peer whose state lock names a newer state keeps the wait: silent, it holds the RT back the whole 60 ms (a later generation, or the same one ending)', async () => {
    for (const theirs of [(mine: Snapshot) => ({ ...mine, generation: 2 }), (mine: Snapshot): Snapshot => ({ ...mine, ending: 'rejected' })]) {
      const world = await besideFrozen(theirs)
      await expectWholeProbe(world, world.a.rotator.rotateFrom(1))
    }
  })

  it('each state this tab enters is named (holding) before the rotation lock is let go', async () => {
    const { tab } = setup()
    const a = tab()
    const named = names(a.coordinator, () => [])
    lists(a.coordinator, () => [])
    await a.start()
    let atRelease: number[] = []
    const lock = a.coordinator.lock.bind(a.coordinator)
    a.coordinator.lock = (fn, options) => lock(lease => fn(lease).finally(() => (atRelease = named.map(s => s.generation))), options)
    await a.rotator.rotateFrom(1)
    expect(a.machine.snapshot.generation).toBe(2)
    expect(atRelease.at(-1)).toBe(2)
  })

  it('a later logout heard by a tab signed out already is named too, though it is no change of state', async () => {
    const { tab } = setup()
    const a = tab()
    await a.start()
    a.sync.adopt({ ...SIGNED_OUT, generation: 3 })
    const named = names(a.coordinator, () => [])
    a.sync.adopt({ ...SIGNED_OUT, generation: 5 })
    expect(a.machine.snapshot.generation).toBe(5)
    expect(named.map(s => [s.generation, s.status])).toEqual([[5, 'signed-out']])
  })

  it('only a bearer tab names its state: a cookie tab (no roll call reads it) asks for no lock at its changes', () => {
    for (const transport of ['cookie', 'bearer'] as const) {
      const named: Snapshot[] = []
      const coordinator = { post: () => undefined, holding: (s: Snapshot) => void named.push(s) }
      const roll = new RollCall({ coordinator, held: () => SIGNED_OUT, transport, now: () => 0, waiters: new Waiters(() => ({ cancel: () => undefined })) })
      roll.holding()
      expect(named.length, transport).toBe(transport === 'bearer' ? 2 : 0) // at construction, then the change
    }
  })

  it('with no peer alive the RT goes at once', async () => {
    const { time, server, tab } = setup()
    const a = tab()
    await a.start()
    lists(a.coordinator, () => [])
    await expectAtOnce({ time, server }, a.rotator.rotateFrom(1))
  })

  it('a newer generation in the store whose tokens no live tab holds: the whole 1 s, answers or not (its tab may have closed with its state on the channel)', async () => {
    const { time, server, shared, tab } = setup()
    const a = tab()
    const b = tab()
    await a.start()
    await settle()
    const { accessToken: _, refreshToken: __, ...untokened } = a.machine.snapshot
    shared.join().write({ ...untokened, generation: 2 })
    lists(a.coordinator, () => [b.coordinator.id])
    let settled = false
    const rotation = a.rotator.rotateFrom(1).finally(() => (settled = true))
    rotation.catch(() => undefined)
    await settle()
    await time.advance(999)
    expect(settled).toBe(false) // b answered long ago: the wait goes on
    await time.advance(1)
    await expect(rotation).rejects.toMatchObject({ name: 'RotationPendingError' })
    expect(server.presented).toEqual([])
  })
})
