// A tab that joins while a gone page's cookie refresh is on the wire hears of it from the live tabs, and waits as they do (sim seed 157893), as long as a recorded refresh (sim seed 45637).
import { describe, expect, it } from 'vitest'
import { SessionMachine } from '../../../src/core/state.js'
import { Sync } from '../../../src/core/sync.js'
import { createMemoryCoordinator, type MemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { settle, virtualTime, type VirtualTime } from './virtual.js'

/** A cookie tab on `shared` (no `persist`: nothing stored, the state travels by message). */
function tab(time: VirtualTime, shared: MemoryCoordinator) {
  // Nothing stored: what a tab learns, it hears.
  const coordinator = { ...shared.join(), read: () => undefined, write: () => undefined }
  const machine = new SessionMachine({ now: time.now, leeway: undefined })
  const sync = new Sync({ coordinator, machine, clock: time, now: time.now, transport: 'cookie', shared: true, rotatingTimeout: 91_000 })
  return { coordinator, machine, sync }
}

/** A live tab that heard a peer's cookie refresh go on the wire; the peer then reloads (gone, it says nothing more; its call lands anyway). */
async function heardThenGone(time: VirtualTime) {
  const shared = createMemoryCoordinator()
  const live = tab(time, shared)
  const reloading = tab(time, shared)
  const at = time.now()
  await live.sync.publish({ issuedAt: at, accessExpiresAt: at + 60_000, refreshExpiresAt: at + 600_000 }, 'login')
  await settle()
  expect(reloading.machine.snapshot.status).toBe('active')
  reloading.sync.rotating(reloading.machine.snapshot.generation)
  await settle()
  expect(live.machine.rotatingElsewhere).toBe(true)
  reloading.coordinator.close()
  return { shared, live }
}

describe('a joining tab and a refresh on the wire', () => {
  it("a live tab repeats the news of a gone page's refresh to the tab that joins", async () => {
    const time = virtualTime()
    const { shared } = await heardThenGone(time)
    const joined = tab(time, shared)
    joined.sync.join()
    await settle()
    expect(joined.machine.snapshot.status).toBe('active')
    // Before: the joiner adopted the state and heard nothing of the refresh: its lock holder presented the RT that call had spent.
    expect(joined.machine.rotatingElsewhere).toBe(true)
  })

  it('no refresh heard, nothing repeated', async () => {
    const time = virtualTime()
    const shared = createMemoryCoordinator()
    const live = tab(time, shared)
    const at = time.now()
    await live.sync.publish({ issuedAt: at, accessExpiresAt: at + 60_000, refreshExpiresAt: at + 600_000 }, 'login')
    const joined = tab(time, shared)
    joined.sync.join()
    await settle()
    expect(joined.machine.snapshot.status).toBe('active')
    expect(joined.machine.rotatingElsewhere).toBe(false)
    expect(shared.messages.filter(m => m.type === 'rotating')).toEqual([])
  })

  /** The lock holder's wait for that refresh (a second at least, the in-flight limit 5 s from when it heard): whether it has ended. */
  function holderWaits(live: ReturnType<typeof tab>): () => boolean {
    let done = false
    void live.sync.awaitElsewhere(live.machine.snapshot.generation, 1_000, 5_000).then(() => (done = true))
    return () => done
  }

  it("the lock holder waits for a gone page's refresh as long as for a recorded one, from when it was heard (sim seed 45637)", async () => {
    const time = virtualTime()
    const { live } = await heardThenGone(time)
    await time.advance(1_500)
    const done = holderWaits(live)
    // Before: a second, then the holder presented the RT; the gone page's call landed after it.
    await time.advance(3_000)
    expect(done()).toBe(false)
    await time.advance(600)
    expect(done()).toBe(true)
  })

  it('never past the limit when the wall clock was set back since (sim seed 75255)', async () => {
    const time = virtualTime()
    const { live } = await heardThenGone(time)
    time.jump(-600_000)
    const done = holderWaits(live)
    await time.advance(4_900)
    expect(done()).toBe(false)
    await time.advance(200)
    expect(done()).toBe(true)
  })
})
