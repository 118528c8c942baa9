// createMemoryCoordinator (rotor-auth/testing): the store keeps the supersedes rule, the lock is FIFO with a lease, the bus is asynchronous, and real sessions share it.
import { describe, expect, it } from 'vitest'
import { createSession } from '../../../src/index.js'
import { createMemoryCoordinator } from '../../../src/testing/index.js'
import type { Snapshot } from '../../../src/types.js'
import { settle } from './virtual.js'

const active = (generation: number): Snapshot => ({ generation, status: 'active', issuedAt: 0, accessExpiresAt: 1, refreshExpiresAt: null })

describe('createMemoryCoordinator', () => {
  it('a write never replaces a snapshot that supersedes it', () => {
    const shared = createMemoryCoordinator()
    const a = shared.join()
    a.write(active(3))
    a.write(active(2))
    expect(a.read()?.generation).toBe(3)
    shared.join().write({ ...active(3), status: 'signed-out' })
    expect(shared.snapshot?.status).toBe('signed-out')
  })

  it('the lock is exclusive and first come, first served; an expired lease passes it on', async () => {
    const shared = createMemoryCoordinator()
    const [a, b, c] = [shared.join(), shared.join(), shared.join()]
    const order: string[] = []
    let release!: () => void
    let leaseOfA: { held(): boolean } | undefined
    const first = a.lock(async lease => {
      leaseOfA = lease
      order.push('a')
      await new Promise<void>(resolve => (release = resolve))
    })
    const second = b.lock(async () => void order.push('b'))
    const third = c.lock(async () => void order.push('c'))
    await settle()
    expect(order).toEqual(['a'])
    expect(shared.holder).toBe(a.id)
    shared.expireLease()
    expect(leaseOfA?.held()).toBe(false)
    await second
    await third
    release()
    await first
    expect(order).toEqual(['a', 'b', 'c'])
  })

  it('messages reach the other members only, asynchronously', async () => {
    const shared = createMemoryCoordinator()
    const [a, b] = [shared.join(), shared.join()]
    const heard: string[] = []
    a.subscribe(m => void heard.push(`a:${m.type}`))
    b.subscribe(m => void heard.push(`b:${m.type}`))
    a.post({ type: 'hello' })
    expect(heard).toEqual([])
    await settle()
    expect(heard).toEqual(['b:hello'])
    expect(shared.messages).toMatchObject([{ rotor: 1, type: 'hello', from: a.id }])
    expect(a.isLeader() && !b.isLeader() && a.hasPeers()).toBe(true)
  })

  it('two sessions on it: the second joins the first one, and rotating both from one generation refreshes once', async () => {
    const shared = createMemoryCoordinator()
    let refreshes = 0
    const options = {
      scope: 'http://api.test/',
      transport: 'bearer' as const,
      rotation: 'request' as const,
      refresh: async () => ({ accessToken: `at-${++refreshes}`, refreshToken: `rt-${refreshes}`, expiresIn: 60 }),
    }
    const a = createSession({ ...options, coordinator: shared.join() })
    const b = createSession({ ...options, coordinator: shared.join() })
    await a.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 60 })
    await settle()
    expect(b.state).toMatchObject({ status: 'active', generation: a.state.generation })
    await Promise.all([a.rotate(), b.rotate()])
    await settle()
    expect(refreshes).toBe(1)
    expect(await b.accessToken()).toBe('at-1')
    a.dispose()
    b.dispose()
    expect(shared.members).toBe(0)
  })
})
