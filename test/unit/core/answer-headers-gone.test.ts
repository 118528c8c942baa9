// A bearer refresh whose 2xx headers came (the server spent the RT) on a page gone before the body did: the next lock holder must not present that RT (sim seed 630).
import { describe, expect, it } from 'vitest'
import type { Tokens } from '../../../src/core/grant.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime, type Core } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  const [a, b] = [0, 1].map(() => sessionCore(time, server, shared))
  return { time, server, shared, a: a!, b: b! }
}

/** The page is gone: nothing it would still write or post reaches the others, and the browser releases its lock. */
function gone(core: Core, shared: ReturnType<typeof createMemoryCoordinator>): void {
  core.coordinator.write = () => undefined
  core.coordinator.post = () => undefined
  shared.expireLease()
}

describe('a 2xx refresh answer whose body never came, on a page that went away', () => {
  it('the next lock holder reads the RT as spent: it never presents it, and the session ends rejected', async () => {
    const { time, server, shared, a, b } = setup()
    await a.start()
    await settle()
    // The headers come (the server rotated), the body never does.
    server.answerWith(async (_rt, call) => {
      await call.onAnswered?.()
      return new Promise<Tokens>(() => undefined)
    })
    void a.rotator.rotateFrom(a.machine.snapshot.generation).catch(() => undefined)
    await settle()
    gone(a, shared)
    server.answerWith(undefined)
    // A few tries on virtual time (one may be told to wait for a rotation announced elsewhere).
    let second: unknown
    for (let attempt = 0; attempt < 3 && server.presented.length === 1; attempt++) {
      const rotation = b.rotator.rotateFrom(b.machine.snapshot.generation).catch((e: unknown) => e)
      await time.advance(5_000)
      second = await rotation
      if (b.machine.snapshot.status !== 'active') break
    }
    // Before: nothing said rt-1 was spent; b presented it again (the server saw ['rt-1', 'rt-1']).
    expect(server.presented).toEqual(['rt-1'])
    expect(second).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'rejected' })
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'rejected' })
  })

  it('the body that comes replaces the mark: every tab adopts the grant and nothing ends', async () => {
    const { server, a, b } = setup()
    await a.start()
    await settle()
    server.answerWith(async (_rt, call) => {
      await call.onAnswered?.()
      return server.grant()
    })
    await a.rotator.rotateFrom(a.machine.snapshot.generation)
    await settle()
    for (const core of [a, b]) {
      expect(core.machine.snapshot).toMatchObject({ status: 'active', refreshToken: 'rt-2' })
      expect(core.machine.snapshot.ending).toBeUndefined()
    }
    expect(server.presented).toEqual(['rt-1'])
  })
})
