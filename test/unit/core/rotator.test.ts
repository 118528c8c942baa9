// The rotator on virtual time with a memory coordinator: one refresh at a time, once per generation everywhere, within the budget, never on a lost lease.
import { describe, expect, it } from 'vitest'
import { RefreshRefusedError } from '../../../src/errors.js'
import { createMemoryCoordinator } from '../../../src/testing/memory-coordinator.js'
import { fakeServer, sessionCore, settle, virtualTime } from './virtual.js'

function setup() {
  const time = virtualTime()
  const server = fakeServer(time)
  const shared = createMemoryCoordinator()
  return { time, server, shared }
}

describe('Rotator', () => {
  it('single flight: concurrent rotations in one session send one refresh', async () => {
    const { time, server, shared } = setup()
    const tab = sessionCore(time, server, shared)
    await tab.start()
    const generation = tab.machine.snapshot.generation
    await Promise.all([tab.rotator.rotateFrom(generation), tab.rotator.rotateFrom(generation), tab.rotator.rotateFrom(generation)])
    expect(server.presented).toEqual(['rt-1'])
    expect(tab.machine.snapshot.generation).toBe(generation + 1)
  })

  it('once per generation everywhere: two sessions rotating from one generation send one refresh, and both hold its tokens', async () => {
    const { time, server, shared } = setup()
    const a = sessionCore(time, server, shared)
    const b = sessionCore(time, server, shared)
    await a.start()
    await settle()
    expect(b.machine.snapshot.accessToken).toBe('at-1')
    const generation = a.machine.snapshot.generation
    await Promise.all([a.rotator.rotateFrom(generation), b.rotator.rotateFrom(generation)])
    await settle()
    expect(server.presented).toEqual(['rt-1'])
    expect(a.machine.snapshot.accessToken).toBe('at-2')
    expect(b.machine.snapshot.accessToken).toBe('at-2')
  })

  it('a rotation asked while one from an older generation is in flight goes after it, when that one ends without passing it (sim seed 134868)', async () => {
    const { time, server, shared } = setup()
    const a = sessionCore(time, server, shared)
    const b = sessionCore(time, server, shared)
    await a.start()
    await settle()
    // Another member holds the lock (the worker's session, its login form open): a's rotation from 1 waits for it.
    let release = () => {}
    void b.coordinator.lock(() => new Promise<void>(resolve => (release = resolve)))
    const first = a.rotator.rotateFrom(1)
    // Meanwhile a newer login with a live RT reaches a (a tab brought it): a rotation from it joins the flight from 1.
    await b.start()
    await settle()
    expect(a.machine.snapshot.generation).toBe(2)
    const second = a.rotator.rotateFrom(2)
    release()
    await Promise.all([first, second])
    // The flight from 1 found 2 and refreshed nothing; the rotation from 2 then refreshed its RT.
    expect(server.presented).toEqual(['rt-2'])
    expect(a.machine.snapshot.generation).toBe(3)
  })

  it('budget reached: the next rotation is deferred, no refresh is sent, and rotate-error says when', async () => {
    const { time, server, shared } = setup()
    const tab = sessionCore(time, server, shared, { budget: { perLifetime: 1, perMinute: 6 } })
    await tab.start()
    await tab.rotator.rotateFrom(tab.machine.snapshot.generation)
    await expect(tab.rotator.rotateFrom(tab.machine.snapshot.generation)).rejects.toMatchObject({ code: 'ERR_REFRESH_BUDGET' })
    expect(server.presented).toEqual(['rt-1'])
    expect(tab.errors.at(-1)).toMatchObject({ willRetry: true, retryIn: 60_000 })
    expect(tab.backoff.backingOff()).toBe(true)
  })

  it('lease lost: no refresh is sent; a coded transient rotate-error and a backoff follow; the next lock refreshes', async () => {
    const { time, server, shared } = setup()
    const tab = sessionCore(time, server, shared)
    await tab.start()
    const generation = tab.machine.snapshot.generation
    // The lock is granted, then its lease runs out before the RT is presented.
    const lock = tab.coordinator.lock.bind(tab.coordinator)
    let expireOnce = true
    tab.coordinator.lock = (fn, options) =>
      lock(lease => {
        if (expireOnce) shared.expireLease()
        expireOnce = false
        return fn(lease)
      }, options)
    await expect(tab.rotator.rotateFrom(generation)).rejects.toMatchObject({ code: 'ERR_LEASE_LOST' })
    expect(server.presented).toEqual([])
    expect(tab.errors).toEqual([expect.objectContaining({ willRetry: true, attempt: 1, retryIn: expect.any(Number) })])
    expect(tab.errors[0]!.error).toMatchObject({ name: 'LeaseLostError' })
    expect(tab.backoff.backingOff()).toBe(true)
    expect(tab.machine.snapshot.generation).toBe(generation)
    await tab.rotator.rotateFrom(generation)
    expect(server.presented).toEqual(['rt-1'])
  })

  it('a refused RT ends the session in every member, after checking no other member rotated first', async () => {
    const { time, server, shared } = setup()
    const a = sessionCore(time, server, shared)
    const b = sessionCore(time, server, shared)
    await a.start()
    await settle()
    server.presented.push('rt-1') // the server has seen rt-1 already: presenting it again is a reuse
    await expect(a.rotator.rotateFrom(a.machine.snapshot.generation)).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
    await settle()
    expect(a.errors.at(-1)).toMatchObject({ willRetry: false })
    expect(b.machine.snapshot.status).toBe('signed-out')
    expect(shared.snapshot?.status).toBe('signed-out')
  })

  it('no RT held (a worker run started after the browser killed the one holding it): transient while the AT lives, the end once it expired (sim seed 101699)', async () => {
    const { time, server, shared } = setup()
    const a = sessionCore(time, server, shared)
    const b = sessionCore(time, server, shared)
    const { refreshToken: _, ...withoutRt } = server.grant()
    await a.start(withoutRt)
    await settle()
    // What src/core/refresh-call.ts throws before sending anything when no RT is held.
    server.answerWith(rt => Promise.reject(new RefreshRefusedError(0, `no refresh token is held (${rt})`)))
    const generation = a.machine.snapshot.generation
    // A tab holding the family's RT may still bring it: the AT lives on, everywhere.
    await expect(a.rotator.rotateFrom(generation)).rejects.toBeInstanceOf(RefreshRefusedError)
    await settle()
    expect(a.errors.at(-1)).toMatchObject({ willRetry: true })
    expect(a.machine.snapshot).toMatchObject({ status: 'active', generation })
    expect(b.machine.snapshot.status).toBe('active')
    // Once the AT has expired, nothing more can come in time: the end, everywhere.
    await time.advance(60_000)
    await expect(a.rotator.rotateFrom(generation)).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
    await settle()
    expect(a.errors.at(-1)).toMatchObject({ willRetry: false })
    expect(b.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'rejected' })
    // Nothing reached a server: no RT was ever presented.
    expect(server.presented).toEqual([undefined, undefined])
  })

  it("no RT held, and the wall clock set back past the AT's issue: its life cannot be read on this clock, so the end (or a login) comes at once (sim `--worker` seed 2966)", async () => {
    const { time, server, shared } = setup()
    const a = sessionCore(time, server, shared)
    const { refreshToken: _, ...withoutRt } = server.grant()
    await a.start(withoutRt)
    await settle()
    server.answerWith(rt => Promise.reject(new RefreshRefusedError(0, `no refresh token is held (${rt})`)))
    await time.advance(1_000)
    // Set back 10 minutes: the AT (60 s, dead at the server in 59 s) would look alive for 10 more.
    time.jump(-10 * 60_000)
    await expect(a.rotator.rotateFrom(a.machine.snapshot.generation)).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
    await settle()
    expect(a.errors.at(-1)).toMatchObject({ willRetry: false })
    expect(a.machine.snapshot).toMatchObject({ status: 'signed-out', reason: 'rejected' })
  })
})
