/** Unit tests for src/core/idle.ts on virtual time: activity comes from the platform's event source, never from globals. */
import { describe, expect, test } from 'vitest'
import { IdleTracker, type IdleWiring } from '../../src/core/idle.js'
import { eventSource, virtualTime } from '../helpers/virtual-time.js'

function tracker(time = virtualTime(), events = eventSource()) {
  const seen: string[] = []
  const wiring: IdleWiring = {
    now: time.now,
    clock: time.clock,
    on: events.on,
    onWarning: event => seen.push(event),
    onTimeout: () => seen.push('timeout'),
    broadcast: () => undefined,
  }
  const idle = new IdleTracker({ timeout: 10_000, warning: 2_000, activityEvents: ['pointerdown', 'keydown'] }, wiring)
  return { idle, time, events, seen }
}

describe('IdleTracker', () => {
  test('activity heard through platform.on resets the idle clock', () => {
    const { idle, time, events, seen } = tracker()
    idle.start()
    time.advance(7_000)
    events.fire('keydown')
    time.advance(7_000)
    // 14 s since the start, 7 s since the keydown: no warning yet.
    expect(seen).toEqual([])
    time.advance(1_000)
    expect(seen).toEqual(['idle-warning'])
    events.fire('pointerdown')
    expect(seen).toEqual(['idle-warning', 'idle-resume'])
    time.advance(9_999)
    expect(seen).toEqual(['idle-warning', 'idle-resume', 'idle-warning'])
    time.advance(1)
    expect(seen.at(-1)).toBe('timeout')
  })

  test('listens while running only, and stop() removes every listener it added', () => {
    const { idle, events } = tracker()
    expect(events.count()).toBe(0)
    idle.start()
    expect(events.count()).toBe(2)
    idle.start()
    expect(events.count()).toBe(2)
    idle.stop()
    expect(events.count()).toBe(0)
    idle.start()
    idle.dispose()
    expect(events.count()).toBe(0)
    idle.start()
    expect(events.count()).toBe(0)
  })

  test('without activity, the warning comes at timeout − warning and the logout at timeout', () => {
    const { idle, time, seen } = tracker()
    idle.start()
    time.advance(7_999)
    expect(seen).toEqual([])
    time.advance(1)
    expect(seen).toEqual(['idle-warning'])
    expect(idle.warningFor()).toBe(10_000)
    time.advance(2_000)
    expect(seen).toEqual(['idle-warning', 'timeout'])
  })
})
