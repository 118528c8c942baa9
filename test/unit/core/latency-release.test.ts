// Waiters of a tab whose own rotation still waits for the lock go as soon as another tab's newer tokens arrive (issue 32).
import { describe, expect, it } from 'vitest'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

type Core = ReturnType<typeof sessionCore>

/** Another holder takes the rotation lock (another tab's refresh, or one slow to let go), then a stale waiter parks in `tab`. */
async function parkedBehindLock(shared: ReturnType<typeof createMemoryCoordinator>, tab: Core) {
  let unlock!: () => void
  const held = shared.join().lock(() => new Promise<void>(resolve => (unlock = resolve)))
  await settle()
  const state = { released: false }
  const waiting = tab.gate.wait({ stale: 1 }).then(() => void (state.released = true))
  await settle()
  return { state, waiting, unlock: async () => (unlock(), await held) }
}

describe('waiters behind a rotation that waits for the lock', () => {
  it('are released by the newer generation another tab publishes, before the lock comes free, and no refresh follows', async () => {
    const time = virtualTime()
    const server = fakeServer(time)
    const shared = createMemoryCoordinator()
    const a = sessionCore(time, server, shared)
    const b = sessionCore(time, server, shared)
    await a.start()
    await settle()
    expect(b.machine.snapshot.generation).toBe(1)
    const { state, waiting, unlock } = await parkedBehindLock(shared, b)
    expect(b.machine.flight('rotation')).toBeDefined()
    expect(state.released).toBe(false)
    // The new tokens arrive from tab a while b's rotation still waits for the lock.
    await a.sync.publish(server.grant(), 'rotate')
    await settle()
    expect(b.machine.snapshot.generation).toBe(2)
    expect(state.released).toBe(true)
    expect(b.machine.flight('rotation')).toBeDefined()
    await unlock()
    await waiting
    await settle()
    // b's rotation found generation 2 under the lock and adopted it: the server saw no refresh.
    expect(server.presented).toEqual([])
    expect(b.machine.flight('rotation')).toBeUndefined()
  })

  it('stay parked while the rotation in flight has brought nothing newer', async () => {
    const time = virtualTime()
    const server = fakeServer(time)
    const shared = createMemoryCoordinator()
    const b = sessionCore(time, server, shared)
    await b.start()
    const { state, waiting, unlock } = await parkedBehindLock(shared, b)
    expect(state.released).toBe(false)
    await unlock()
    await waiting
    expect(state.released).toBe(true)
    expect(server.presented).toEqual(['rt-1'])
  })
})
