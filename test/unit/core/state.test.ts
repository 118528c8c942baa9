// The state machine: named transitions over one snapshot, generations that only grow, and what waiters are told when it ends.
import { describe, expect, it } from 'vitest'
import { SessionMachine } from '../../../src/core/state.js'
import type { Snapshot } from '../../../src/types.js'
import { virtualTime } from './virtual.js'

function active(generation: number, now: number, lifetime = 60_000): Snapshot {
  return { generation, status: 'active', issuedAt: now, accessExpiresAt: now + lifetime, refreshExpiresAt: now + 10 * lifetime, accessToken: `at-${generation}` }
}

describe('SessionMachine', () => {
  it('not started → active → rotated → ended, each a change event, and the public state follows', () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: undefined })
    const seen: number[] = []
    machine.on('change', state => void seen.push(state.generation))
    expect(machine.notStarted).toBe(true)
    machine.enter(active(1, time.now()), 'local', 'login')
    machine.enter(active(2, time.now()), 'local', 'rotate')
    expect(machine.view).toMatchObject({ status: 'active', generation: 2 })
    machine.end({ generation: 3, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' }, 'local')
    expect(machine.view.status).toBe('signed-out')
    expect(seen).toEqual([1, 2, 3])
    expect(machine.over()).toMatchObject({ code: 'ERR_SESSION_EXPIRED', reason: 'user' })
  })

  it('an AT is usable until its expiry (minus leeway), then the session needs a rotation', async () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: 0 })
    machine.enter(active(1, time.now()), 'local', 'login')
    expect(machine.usable()).toBe(true)
    expect(machine.ready()).toBe(true)
    time.jump(60_001)
    expect(machine.usable()).toBe(false)
    expect(machine.refreshExpired()).toBe(false)
    time.jump(600_000)
    expect(machine.refreshExpired()).toBe(true)
  })

  it('a rotation in flight makes the session not ready until it settles', async () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: undefined })
    machine.enter(active(1, time.now()), 'local', 'login')
    let finish!: () => void
    machine.track('rotation', new Promise<void>(resolve => (finish = resolve)))
    expect(machine.ready()).toBe(false)
    finish()
    await machine.flight('rotation')
    await Promise.resolve()
    expect(machine.flight('rotation')).toBeUndefined()
    expect(machine.ready()).toBe(true)
  })

  it('whenStarted waits for the first active state, and dispose rejects it', async () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: undefined })
    const started = machine.whenStarted()
    machine.enter(active(1, time.now()), 'local', 'login')
    await started
    const other = new SessionMachine({ now: time.now, leeway: undefined })
    const never = other.whenStarted()
    other.dispose(false)
    await expect(never).rejects.toMatchObject({ reason: 'disposed' })
  })
})
