// The gate on virtual time: requests park while no usable AT exists, are released together, ask the policy once, and fail at their deadline only after a failure.
import { describe, expect, it } from 'vitest'
import { Gate } from '../../../src/core/gate.js'
import type { Failure } from '../../../src/core/policy.js'
import { SessionMachine } from '../../../src/core/state.js'
import type { Snapshot } from '../../../src/types.js'
import { settle, virtualTime } from './virtual.js'

function setup() {
  const time = virtualTime()
  const machine = new SessionMachine({ now: time.now, leeway: undefined })
  let asked = 0
  let failure: Failure | undefined
  const gate = new Gate({
    view: machine,
    clock: time,
    now: time.now,
    queueTimeout: 10_000,
    needRotation: () => void asked++,
    lastFailure: () => failure,
  })
  const enter = (generation: number, lifetime = 60_000) => {
    const at = time.now()
    const snapshot: Snapshot = {
      generation,
      status: 'active',
      issuedAt: at,
      accessExpiresAt: at + lifetime,
      refreshExpiresAt: at + 600_000,
      accessToken: `at-${generation}`,
      refreshToken: `rt-${generation}`,
    }
    machine.enter(snapshot, 'remote', 'adopt')
  }
  return { time, machine, gate, enter, asked: () => asked, fail: (error: unknown) => (failure = { error, at: time.now() }) }
}

describe('Gate', () => {
  it('lets a request go at once with a usable AT, and asks for nothing', async () => {
    const { gate, enter, asked } = setup()
    enter(1)
    expect(gate.ready()).toBe(true)
    await gate.wait()
    expect(asked()).toBe(0)
  })

  it('parks requests that need a newer AT, asks the policy, and releases them all when it arrives', async () => {
    const { gate, enter, asked } = setup()
    enter(1)
    const released: number[] = []
    const waits = Array.from({ length: 100 }, (_, i) => gate.wait({ stale: 1 }).then(() => void released.push(i)))
    await settle()
    expect(released).toEqual([])
    expect(gate.waiting).toBe(100)
    expect(asked()).toBeGreaterThanOrEqual(1)
    enter(2)
    await Promise.all(waits)
    expect(released).toHaveLength(100)
    expect(gate.waiting).toBe(0)
  })

  it('a deadline passed while nothing failed starts over; after a failure it rejects with RotationError', async () => {
    const { time, gate, enter, fail } = setup()
    enter(1)
    let outcome: unknown = 'waiting'
    void gate.wait({ stale: 1 }).then(
      () => (outcome = 'released'),
      error => (outcome = error),
    )
    await time.advance(10_000)
    expect(outcome).toBe('waiting')
    fail(new TypeError('network'))
    await time.advance(10_000)
    expect(outcome).toMatchObject({ code: 'ERR_ROTATION' })
  })

  it('rejects every waiter when the session ends, and at once when it is disposed', async () => {
    const { machine, gate, enter } = setup()
    enter(1)
    const waiting = gate.wait({ stale: 1 })
    machine.end({ generation: 2, status: 'signed-out', issuedAt: null, accessExpiresAt: null, refreshExpiresAt: null, reason: 'user' }, 'remote')
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_SESSION_EXPIRED' })
    machine.dispose(false)
    await expect(gate.wait()).rejects.toMatchObject({ reason: 'disposed' })
  })

  it('an aborted signal rejects its waiter only', async () => {
    const { gate, enter } = setup()
    enter(1)
    const controller = new AbortController()
    const aborted = gate.wait({ stale: 1, signal: controller.signal })
    const other = gate.wait({ stale: 1 })
    controller.abort(new DOMException('stop', 'AbortError'))
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' })
    expect(gate.waiting).toBe(1)
    enter(2)
    await other
  })
})
