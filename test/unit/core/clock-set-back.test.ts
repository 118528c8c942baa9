// A wall clock set back makes every time stamped before it lie in the future: no wait under the lock may grow with it (sim seed 75255).
import { describe, expect, it } from 'vitest'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

describe('the wall clock set back', () => {
  it("another tab's refresh stamp from before the jump holds the lock no longer than its limit", async () => {
    const time = virtualTime()
    const server = fakeServer(time)
    const shared = createMemoryCoordinator()
    const first = sessionCore(time, server, shared)
    await first.start()
    await settle()
    // What a tab wrote before the clock went back 700 s: its refresh on the wire since "now + 700 s".
    const stamped = { ...shared.snapshot!, rotatingSince: time.now() + 700_000 }
    shared.join().write(stamped)
    const late = sessionCore(time, server, shared)
    await settle()
    expect(late.machine.snapshot.rotatingSince).toBe(stamped.rotatingSince)
    const rotation = late.rotator.rotateFrom(late.machine.snapshot.generation)
    // The limit here is 0 (bearer, nothing completes without its tab); the 1 s a marked state waits is the longest.
    await time.advance(1_000)
    // Before: the holder waited for the stamp plus its limit, 700 s, holding the lock.
    expect(server.presented).toEqual(['rt-1'])
    await rotation
    expect(shared.holder).toBeUndefined()
  })
})
