// The scheduler on virtual time: it says "due" at the rotation point (leader) or the backup point (others), on wake-ups, and on clock jumps.
import { describe, expect, it } from 'vitest'
import { ClockWatch } from '../../../src/core/clock-watch.js'
import { Scheduler } from '../../../src/core/scheduler.js'
import { SessionMachine } from '../../../src/core/state.js'
import type { Snapshot } from '../../../src/types.js'
import { virtualTime } from './virtual.js'

const AT = 60_000

function setup(options: { leader?: boolean; rotation?: 'timer' | 'request' } = {}) {
  const time = virtualTime()
  const machine = new SessionMachine({ now: time.now, leeway: undefined })
  const calls: Array<{ what: 'due' | 'jump'; at: number }> = []
  const watch = new ClockWatch(time.now, time.monotonic)
  const scheduler = new Scheduler({
    view: machine,
    platform: time,
    watch,
    rotation: options.rotation ?? 'timer',
    rotateAt: 0.8,
    isLeader: () => options.leader ?? true,
    onDue: () => void calls.push({ what: 'due', at: time.now() }),
    onClockJump: () => void calls.push({ what: 'jump', at: time.now() }),
  })
  const t0 = time.now()
  const snapshot: Snapshot = { generation: 1, status: 'active', issuedAt: t0, accessExpiresAt: t0 + AT, refreshExpiresAt: t0 + 10 * AT }
  return { time, machine, scheduler, calls, t0, enter: () => machine.enter(snapshot, 'local', 'login') }
}

describe('Scheduler', () => {
  it('the leader is due at rotateAt of the AT lifetime, once', async () => {
    const { time, calls, t0, enter } = setup()
    enter()
    await time.advance(2 * AT)
    expect(calls).toEqual([{ what: 'due', at: t0 + 0.8 * AT }])
  })

  it('an AT issued "after now" (the clock set back before this session was there to see it) is due at rotateAt of its lifetime from now at the latest (sim `--worker --no-locks` seed 70516)', async () => {
    const { time, machine, calls, t0 } = setup()
    const ahead = 10 * AT
    machine.enter({ generation: 1, status: 'active', issuedAt: t0 + ahead, accessExpiresAt: t0 + ahead + AT, refreshExpiresAt: t0 + ahead + 10 * AT }, 'remote', 'adopt')
    await time.advance(2 * AT)
    // Before: due at its issue + 0.8 × AT on this clock, ten lifetimes away, the AT long dead at the server.
    expect(calls).toEqual([{ what: 'due', at: t0 + 0.8 * AT }])
  })

  it('a follower holds a backup point halfway from rotateAt to expiry', async () => {
    const { time, calls, t0, enter } = setup({ leader: false })
    enter()
    await time.advance(2 * AT)
    expect(calls).toEqual([{ what: 'due', at: t0 + 0.9 * AT }])
  })

  it('request mode is due only when both tokens died', async () => {
    const { time, calls, t0, enter } = setup({ rotation: 'request' })
    enter()
    await time.advance(20 * AT)
    expect(calls).toEqual([{ what: 'due', at: t0 + 10 * AT }])
  })

  it('a wake-up after the point passed (timers throttled) is due at once; a wall-clock jump is a jump', async () => {
    const { time, calls, t0, enter } = setup()
    enter()
    time.fire('visibilitychange')
    expect(calls).toEqual([])
    time.stall(AT)
    time.fire('visibilitychange')
    expect(calls).toEqual([{ what: 'due', at: t0 + AT }])
    time.jump(3_600_000)
    time.fire('focus')
    expect(calls.map(c => c.what)).toEqual(['due', 'jump'])
  })

  it('dispose stops the timer and the wake-up listeners', async () => {
    const { time, scheduler, calls, enter } = setup()
    enter()
    scheduler.dispose()
    await time.advance(2 * AT)
    time.fire('pageshow')
    expect(calls).toEqual([])
    expect(time.pending).toBe(0)
  })
})
