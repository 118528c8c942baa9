/**
 * Unit tests for src/core/on-demand.ts on virtual time: the idle tracker loaded on demand (its
 * chunk arrives when the test says) logs out, warns and listens exactly as one loaded at once.
 */
import { describe, expect, test } from 'vitest'
import { watchEnding } from '../../src/core/ending.js'
import { IdleTracker } from '../../src/core/idle.js'
import { SessionMachine } from '../../src/core/state.js'
import { idleOnDemand, OnDemand } from '../../src/core/on-demand.js'
import { eventSource, virtualTime } from '../helpers/virtual-time.js'

/** An idle tracker (10 s, warning 2 s) whose chunk loads when `arrive()` is called. */
function lateIdle() {
  const time = virtualTime(1_000)
  const events = eventSource()
  const seen: Array<[string, number]> = []
  let arrive!: () => void
  const chunk = new Promise<void>(resolve => (arrive = resolve))
  let loads = 0
  const idle = idleOnDemand(
    { timeout: 10_000, warning: 2_000, activityEvents: ['keydown'] },
    { ...time, on: events.on },
    {
      onWarning: event => seen.push([event, time.now()]),
      onTimeout: () => seen.push(['timeout', time.now()]),
      broadcast: () => undefined,
    },
    () => (loads++, chunk.then(() => ({ IdleTracker }))),
  )
  /** Lets the chunk's promise settle and the recorded calls replay. */
  const settle = async () => {
    arrive()
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  return { idle, time, events, seen, settle, loads: () => loads }
}

describe('the idle tracker on demand', () => {
  test('started before its chunk arrived: the page is heard at once, and the warning and logout keep their times', async () => {
    const { idle, time, events, seen, settle, loads } = lateIdle()
    expect(loads()).toBe(1) // asked for at creation, not at the first call
    idle.start() // at 1,000
    expect(events.count()).toBe(1) // listening before the chunk arrived
    time.advance(3_000)
    events.fire('keydown') // at 4,000: the idle clock restarts here
    time.advance(3_000) // 7,000: the chunk arrives late
    await settle()
    expect(events.count()).toBe(1) // the tracker's own listener, the stand-in's removed
    expect(seen).toEqual([])
    time.advance(10_000)
    // Warning at 4,000 + 8,000, logout at 4,000 + 10,000: as if the tracker had been there all along.
    expect(seen).toEqual([
      ['idle-warning', 12_000],
      ['timeout', 14_000],
    ])
    expect(events.count()).toBe(0)
  })

  test('a deadline that passed while the chunk was on its way is acted on when it arrives', async () => {
    const { idle, time, seen, settle } = lateIdle()
    idle.start()
    time.advance(15_000)
    expect(idle.isIdle()).toBe(false) // nothing loaded: no tab is idle yet
    await settle()
    time.advance(0)
    expect(seen.map(([event]) => event)).toContain('timeout')
  })

  test('busy() before the chunk arrived holds the session awake until released', async () => {
    const { idle, time, seen, settle } = lateIdle()
    idle.start()
    const release = idle.hold()
    await settle()
    time.advance(30_000)
    expect(seen).toEqual([])
    release()
    time.advance(10_000)
    expect(seen.map(([event]) => event)).toEqual(['idle-warning', 'timeout'])
  })

  test('disposed before its chunk arrived: nothing listens, nothing fires', async () => {
    const { idle, time, events, seen, settle } = lateIdle()
    idle.start()
    idle.dispose()
    expect(events.count()).toBe(0)
    await settle()
    time.advance(60_000)
    expect(events.count()).toBe(0)
    expect(seen).toEqual([])
  })
})

describe('OnDemand', () => {
  test('a chunk that failed to load is asked for again at the next call, and the calls wait for it', async () => {
    const time = virtualTime()
    const ran: number[] = []
    let attempts = 0
    const part = new OnDemand(time, () => (++attempts === 1 ? Promise.reject(new TypeError('offline')) : Promise.resolve('part')))
    await Promise.resolve()
    await Promise.resolve()
    expect(attempts).toBe(1)
    part.run(() => ran.push(time.now()))
    expect(attempts).toBe(2)
    await Promise.resolve()
    await Promise.resolve()
    expect(ran).toEqual([0])
    expect(part.part).toBe('part')
  })
})

describe('the session-ending watch, loaded after the session became active', () => {
  test('arms from the snapshot it finds: the warning and the end come at their times', () => {
    const time = virtualTime()
    const machine = new SessionMachine({ now: time.now, leeway: undefined })
    const warned: number[] = []
    machine.on('session-ending', ({ endsAt }) => void warned.push(endsAt))
    machine.enter({ generation: 1, status: 'active', issuedAt: 0, accessExpiresAt: 60_000, refreshExpiresAt: 100_000, accessToken: 'at-1' }, 'local', 'login')
    time.advance(10_000) // the chunk arrives now
    let ended = 0
    const shown = watchEnding(20_000, { machine, clock: time, now: time.now, end: async () => void ended++ })
    time.advance(69_999)
    expect(warned).toEqual([])
    time.advance(1)
    expect(warned).toEqual([100_000])
    expect(shown()).toBe(100_000)
    time.advance(20_000)
    expect(ended).toBe(1)
  })
})
